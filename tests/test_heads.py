"""Unit tests of split/merge heads and multi-head attention."""

import numpy as np
import pytest

from attention_course import (
    MultiHeadAttention,
    merge_heads,
    multi_head_attention,
    padding_mask,
    scaled_dot_product_attention,
    split_heads,
)


def random_weights(rng, d_model, bias=True):
    names = ["w_q", "w_k", "w_v", "w_o"] + (["b_q", "b_k", "b_v", "b_o"] if bias else [])
    return {n: rng.normal(size=(d_model, d_model) if n[0] == "w" else (d_model,)) / np.sqrt(d_model)
            for n in names}


def loop_over_heads(x_q, x_kv, p, num_heads, mask=None, causal=False):
    """Per-head loop with column slices: an independent reference."""
    d_head = x_q.shape[-1] // num_heads
    q = x_q @ p["w_q"] + p["b_q"]
    k = x_kv @ p["w_k"] + p["b_k"]
    v = x_kv @ p["w_v"] + p["b_v"]
    outs = []
    for h in range(num_heads):
        cols = slice(h * d_head, (h + 1) * d_head)
        out, _ = scaled_dot_product_attention(q[..., cols], k[..., cols], v[..., cols],
                                              mask=mask, causal=causal)
        outs.append(out)
    return np.concatenate(outs, axis=-1) @ p["w_o"] + p["b_o"]


def test_split_heads_shape_and_columns():
    x = np.arange(2 * 3 * 8, dtype=float).reshape(2, 3, 8)
    h = split_heads(x, 4)
    assert h.shape == (2, 4, 3, 2)
    # Head 1 of token 2 holds columns 2:4 of token 2.
    np.testing.assert_array_equal(h[0, 1, 2], x[0, 2, 2:4])
    np.testing.assert_array_equal(merge_heads(h), x)


def test_plain_reshape_is_not_split_heads():
    x = np.arange(3 * 4, dtype=float).reshape(3, 4)
    wrong = x.reshape(2, 3, 2)
    assert not np.array_equal(wrong, split_heads(x, 2))


@pytest.mark.parametrize("num_heads", [1, 2, 4])
def test_mha_equals_loop_over_heads(num_heads):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 8))
    p = random_weights(rng, 8)
    out, w = multi_head_attention(x, x, num_heads=num_heads, **p)
    np.testing.assert_allclose(out, loop_over_heads(x, x, p, num_heads), atol=1e-12)
    assert w.shape == (2, num_heads, 5, 5)
    np.testing.assert_allclose(w.sum(-1), 1.0)


def test_mha_cross_attention_with_padding_and_causal():
    rng = np.random.default_rng(1)
    x_q, x_kv = rng.normal(size=(2, 3, 8)), rng.normal(size=(2, 6, 8))
    p = random_weights(rng, 8)
    mask = padding_mask([6, 4], 6)
    out, w = multi_head_attention(x_q, x_kv, num_heads=2, mask=mask, **p)
    np.testing.assert_allclose(out, loop_over_heads(x_q, x_kv, p, 2, mask=mask), atol=1e-12)
    np.testing.assert_array_equal(w[1, :, :, 4:], 0.0)
    y = rng.normal(size=(4, 8))
    out_c, w_c = multi_head_attention(y, y, num_heads=4, causal=True, **p)
    np.testing.assert_allclose(out_c, loop_over_heads(y, y, p, 4, causal=True), atol=1e-12)


def test_mha_class_is_seeded_and_counts_parameters():
    a = MultiHeadAttention(16, 4, np.random.default_rng(3))
    b = MultiHeadAttention(16, 4, np.random.default_rng(3))
    x = np.random.default_rng(4).normal(size=(5, 16))
    np.testing.assert_array_equal(a(x)[0], b(x)[0])
    assert a.num_parameters == 4 * 16 * 16 + 4 * 16
    assert MultiHeadAttention(16, 1, np.random.default_rng(0)).num_parameters == a.num_parameters


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: split_heads(np.zeros((3, 10)), 4), ValueError, ["num_heads=4", "d_model=10", "(3, 10)"]),
        (lambda: split_heads(np.zeros(10), 2), ValueError, ["(10,)"]),
        (lambda: split_heads(np.zeros((3, 8)), 0), ValueError, ["num_heads"]),
        (lambda: merge_heads(np.zeros((3, 8))), ValueError, ["(3, 8)"]),
        (lambda: multi_head_attention(np.zeros((3, 8)), np.zeros((3, 6)), *[np.zeros((8, 8))] * 4,
                                      num_heads=2), ValueError, ["(3, 8)", "(3, 6)"]),
        (lambda: multi_head_attention(np.zeros((3, 8)), np.zeros((3, 8)), np.zeros((8, 4)),
                                      *[np.zeros((8, 8))] * 3, num_heads=2), ValueError, ["w_q", "(8, 4)"]),
        (lambda: multi_head_attention(np.zeros((3, 8)), np.zeros((3, 8)), *[np.zeros((8, 8))] * 4,
                                      num_heads=3), ValueError, ["num_heads=3", "d_model=8"]),
        (lambda: multi_head_attention(np.zeros((3, 8)), np.zeros((3, 8)), *[np.zeros((8, 8))] * 4,
                                      num_heads=2, mask=np.ones((3, 4), bool)), ValueError, ["(3, 4)"]),
        (lambda: MultiHeadAttention(8, 2, rng=0), TypeError, ["Generator"]),
    ],
)
def test_heads_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)
