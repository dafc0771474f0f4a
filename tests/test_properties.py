"""Property tests (hypothesis): laws attention must obey for any shapes, values and masks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from attention_course import (
    MultiHeadAttention,
    causal_mask,
    merge_heads,
    multi_head_attention,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)

# Fast and reproducible in CI: a modest number of examples, no per-example deadline
# (the first call of numpy/BLAS can be slow on a busy machine).
FAST = settings(max_examples=50, deadline=None)

seeds = st.integers(0, 2**32 - 1)
small = st.integers(1, 6)


def _qkv(seed: int, batch: tuple[int, ...], n_q: int, n_k: int, d_k: int, d_v: int, dtype=np.float64):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(*batch, n_q, d_k)).astype(dtype)
    k = rng.normal(size=(*batch, n_k, d_k)).astype(dtype)
    v = rng.normal(size=(*batch, n_k, d_v)).astype(dtype)
    return q, k, v


batch_dims = st.lists(st.integers(1, 3), max_size=2).map(tuple)


@FAST
@given(seed=seeds, batch=batch_dims, n_q=small, n_k=small, d_k=small, d_v=small, causal=st.booleans())
def test_weights_are_a_probability_distribution(seed, batch, n_q, n_k, d_k, d_v, causal):
    q, k, v = _qkv(seed, batch, n_q, n_k, d_k, d_v)
    out, weights = scaled_dot_product_attention(q, k, v, causal=causal)
    assert out.shape == (*batch, n_q, d_v) and weights.shape == (*batch, n_q, n_k)
    assert np.all(weights >= 0)
    # With end-aligned causal masks and n_q <= n_k (or no mask) no row is empty.
    if not causal or n_q <= n_k:
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-12)


@FAST
@given(seed=seeds, n=st.integers(1, 7), heads=st.sampled_from([1, 2, 4]), data=st.data())
def test_self_attention_is_permutation_equivariant(seed, n, heads, data):
    """Without positions or masks, reordering the tokens only reorders the outputs."""
    perm = np.array(data.draw(st.permutations(range(n))))
    rng = np.random.default_rng(seed)
    layer = MultiHeadAttention(8, heads, rng)
    x = rng.normal(size=(2, n, 8))
    out, weights = layer(x)
    out_p, weights_p = layer(x[:, perm])
    np.testing.assert_allclose(out_p, out[:, perm], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights_p, weights[:, :, perm][..., perm], rtol=1e-10, atol=1e-12)


@FAST
@given(seed=seeds, n=st.integers(2, 8), data=st.data())
def test_causal_outputs_do_not_depend_on_future_tokens(seed, n, data):
    t = data.draw(st.integers(0, n - 2))  # tokens 0..t are the past; t+1.. get replaced
    rng = np.random.default_rng(seed)
    layer = MultiHeadAttention(8, 2, rng)
    x = rng.normal(size=(n, 8))
    x_future = x.copy()
    x_future[t + 1:] = rng.normal(size=(n - t - 1, 8)) * 10
    out, _ = layer(x, causal=True)
    out_future, _ = layer(x_future, causal=True)
    np.testing.assert_allclose(out_future[: t + 1], out[: t + 1], rtol=1e-12, atol=1e-12)
    # And the explicit mask is the same thing as causal=True.
    out_mask, _ = layer(x_future, mask=causal_mask(n))
    np.testing.assert_allclose(out_mask, out_future, rtol=1e-12, atol=1e-12)


finite_logits = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
    elements=st.floats(-50, 50, allow_nan=False),
)


@FAST
@given(x=finite_logits, shift=st.floats(-100, 100, allow_nan=False))
def test_softmax_is_shift_invariant(x, shift):
    np.testing.assert_allclose(softmax(x + shift), softmax(x), rtol=1e-9, atol=1e-12)


extreme_logits = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
    elements=st.one_of(st.sampled_from([-1e4, 1e4]), st.floats(-1e4, 1e4, allow_nan=False)),
)


@FAST
@given(x=extreme_logits, dtype=st.sampled_from([np.float32, np.float64]))
def test_softmax_has_no_nan_for_extreme_logits(x, dtype):
    w = softmax(x.astype(dtype))
    assert w.dtype == dtype
    assert np.isfinite(w).all() and np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-5 if dtype == np.float32 else 1e-12)


@FAST
@given(seed=seeds, batch=batch_dims, n_q=small, n_k=small, d=small, data=st.data())
def test_masked_attention_never_gives_nan(seed, batch, n_q, n_k, d, data):
    """Any boolean mask, including fully masked rows: finite weights, empty rows all zero."""
    q, k, v = _qkv(seed, batch, n_q, n_k, d, d)
    q *= 100.0  # scores up to about 1e4: far outside exp's float range without max-subtraction
    mask = data.draw(hnp.arrays(np.bool_, (*batch, n_q, n_k)))
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.isfinite(out).all() and np.isfinite(weights).all()
    empty = ~mask.any(axis=-1)
    assert np.all(weights[empty] == 0) and np.all(out[empty] == 0)
    np.testing.assert_allclose(weights.sum(axis=-1)[~empty], 1.0, rtol=1e-12)
    assert np.all(weights[~mask] == 0)


@FAST
@given(seed=seeds, n_q=small, n_k=small, d=small, causal=st.booleans())
def test_float32_in_float32_out(seed, n_q, n_k, d, causal):
    q, k, v = _qkv(seed, (2,), n_q, n_k, d, d, dtype=np.float32)
    out, weights = scaled_dot_product_attention(q, k, v, causal=causal, scale=0.5)
    assert out.dtype == np.float32 and weights.dtype == np.float32
    assert softmax(q, temperature=2.0).dtype == np.float32
    rng = np.random.default_rng(seed)
    layer = MultiHeadAttention(4, 2, rng, dtype=np.float32)
    x = rng.normal(size=(n_q, 4)).astype(np.float32)
    out_mha, weights_mha = layer(x, causal=causal)
    assert out_mha.dtype == np.float32 and weights_mha.dtype == np.float32
    assert split_heads(x, 2).dtype == np.float32 and merge_heads(split_heads(x, 2)).dtype == np.float32


@FAST
@given(seed=seeds, batch=batch_dims, n=small, heads=small, d_head=small)
def test_split_and_merge_heads_round_trip(seed, batch, n, heads, d_head):
    x = np.random.default_rng(seed).normal(size=(*batch, n, heads * d_head))
    y = split_heads(x, heads)
    assert y.shape == (*batch, heads, n, d_head)
    assert np.array_equal(merge_heads(y), x)
    assert np.array_equal(split_heads(merge_heads(y), heads), y)
    # Head h holds feature columns h*d_head .. (h+1)*d_head - 1 of every token.
    for h in range(heads):
        assert np.array_equal(y[..., h, :, :], x[..., h * d_head:(h + 1) * d_head])


@FAST
@given(seed=seeds, n_q=small, n_kv=small)
def test_multi_head_weights_rows_sum_to_one(seed, n_q, n_kv):
    rng = np.random.default_rng(seed)
    params = {f"w_{name}": rng.normal(size=(6, 6)) for name in "qkvo"}
    x_q, x_kv = rng.normal(size=(n_q, 6)), rng.normal(size=(n_kv, 6))
    _, weights = multi_head_attention(x_q, x_kv, num_heads=3, **params)
    assert weights.shape == (3, n_q, n_kv) and np.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("n_q, n_k", [(3, 2), (5, 1)])
def test_end_aligned_causal_mask_leaves_early_queries_empty(n_q, n_k):
    """With more queries than keys, the first n_q - n_k queries precede every key: empty rows, zeros."""
    q, k, v = _qkv(0, (), n_q, n_k, 4, 4)
    out, weights = scaled_dot_product_attention(q, k, v, causal=True)
    assert np.all(weights[: n_q - n_k] == 0) and np.all(out[: n_q - n_k] == 0)
    np.testing.assert_allclose(weights[n_q - n_k:].sum(axis=-1), 1.0)
