"""Tests of grouped-query attention (heads.grouped_query_attention): equal to multi-head attention
with repeated key/value heads, to plain multi-head attention when no heads are shared, to PyTorch."""

import numpy as np
import pytest

from attention_course import causal_mask, grouped_query_attention, scaled_dot_product_attention


def _qkv(rng, batch, heads, kv_heads, n_q=5, n_k=7, d=4):
    q = rng.normal(size=batch + (heads, n_q, d))
    k = rng.normal(size=batch + (kv_heads, n_k, d))
    v = rng.normal(size=batch + (kv_heads, n_k, d + 1))
    return q, k, v


@pytest.mark.parametrize("kv_heads", [1, 2, 4, 8])
@pytest.mark.parametrize("causal", [False, True])
def test_gqa_equals_sdpa_with_repeated_kv_heads(kv_heads, causal):
    rng = np.random.default_rng(kv_heads)
    q, k, v = _qkv(rng, (2,), 8, kv_heads)
    mask = rng.random((2, 8, 5, 7)) > 0.3  # a different mask per query head
    out, w = grouped_query_attention(q, k, v, mask=mask, causal=causal)
    group = 8 // kv_heads
    ref_out, ref_w = scaled_dot_product_attention(
        q, np.repeat(k, group, axis=-3), np.repeat(v, group, axis=-3), mask=mask, causal=causal
    )
    np.testing.assert_allclose(out, ref_out, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(w, ref_w, rtol=1e-13, atol=1e-14)
    assert out.shape == (2, 8, 5, 5) and w.shape == (2, 8, 5, 7)


def test_gqa_with_as_many_kv_heads_is_multi_head_attention():
    rng = np.random.default_rng(0)
    q, k, v = _qkv(rng, (3,), 4, 4)
    out, w = grouped_query_attention(q, k, v, causal=True)
    ref_out, ref_w = scaled_dot_product_attention(q, k, v, causal=True)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(w, ref_w)


@pytest.mark.parametrize("mask_shape", [(5, 7), (1, 5, 7), (2, 1, 1, 7), (2, 6, 5, 7)])
def test_gqa_mask_broadcasting(mask_shape):
    rng = np.random.default_rng(1)
    q, k, v = _qkv(rng, (2,), 6, 3)
    mask = rng.random(mask_shape) > 0.4
    out, _ = grouped_query_attention(q, k, v, mask=mask)
    ref, _ = scaled_dot_product_attention(q, np.repeat(k, 2, axis=-3), np.repeat(v, 2, axis=-3), mask=mask)
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-14)


def test_mqa_decoding_step_and_need_weights():
    rng = np.random.default_rng(2)
    q, k, v = _qkv(rng, (), 4, 1, n_q=1, n_k=9)  # one new query, one shared kv head: MQA
    out, w = grouped_query_attention(q, k, v, causal=True, need_weights=False)
    assert w is None
    ref, _ = scaled_dot_product_attention(q, np.repeat(k, 4, axis=0), np.repeat(v, 4, axis=0))
    np.testing.assert_allclose(out, ref, rtol=1e-13)
    assert causal_mask(1, 9).all()  # the last position sees every key


def test_gqa_float32_in_float32_out():
    rng = np.random.default_rng(3)
    q, k, v = (a.astype(np.float32) for a in _qkv(rng, (), 4, 2))
    out, w = grouped_query_attention(q, k, v)
    assert out.dtype == np.float32 and w.dtype == np.float32


def test_gqa_matches_torch_enable_gqa():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for grouped-query attention")
    rng = np.random.default_rng(4)
    q, k, v = _qkv(rng, (2,), 8, 2, n_q=6, n_k=6)
    v = v[..., :4]
    out, _ = grouped_query_attention(q, k, v, causal=True)
    ref = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(v), is_causal=True, enable_gqa=True
    )
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "shapes, kwargs, error, words",
    [
        (
            ((2, 6, 5, 4), (2, 4, 7, 4), (2, 4, 7, 4)),
            {},
            ValueError,
            ["(2, 4, 7, 4)", "(2, 6, 5, 4)", "divide"],
        ),
        (((6, 5, 4), (2, 7, 4), (3, 7, 4)), {}, ValueError, ["(2, 7, 4)", "(3, 7, 4)"]),
        (
            ((2, 6, 5, 4), (3, 2, 7, 4), (3, 2, 7, 4)),
            {},
            ValueError,
            ["batch", "(2, 6, 5, 4)", "(3, 2, 7, 4)"],
        ),
        (((5, 4), (7, 4), (7, 4)), {}, ValueError, ["at least 3", "(5, 4)"]),
        (((6, 5, 4), (2, 7, 3), (2, 7, 4)), {}, ValueError, ["d_k"]),
        (
            ((6, 5, 4), (2, 7, 4), (2, 7, 4)),
            {"mask": np.ones((4, 5, 7), dtype=bool)},
            ValueError,
            ["(4, 5, 7)", "(6, 5, 7)"],
        ),
        (((6, 5, 4), (2, 7, 4), (2, 7, 4)), {"mask": np.ones((5, 7))}, TypeError, ["boolean"]),
    ],
)
def test_gqa_bad_input(shapes, kwargs, error, words):
    q, k, v = (np.zeros(s) for s in shapes)
    with pytest.raises(error) as info:
        grouped_query_attention(q, k, v, **kwargs)
    for word in words:
        assert word in str(info.value)
