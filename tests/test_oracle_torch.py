"""Oracle tests: the package's attention against PyTorch's, on random shapes, masks and dtypes.

PyTorch is a test-only reference (never imported by the package); without it these tests skip.
Mask conventions differ: `F.scaled_dot_product_attention` uses True = may attend (as we do),
`nn.MultiheadAttention` uses True = IGNORE, so its masks are the negation of ours.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from attention_course import causal_mask, multi_head_attention, padding_mask, scaled_dot_product_attention

torch = pytest.importorskip("torch", reason="PyTorch is the oracle for these tests; install torch==2.13.0")
F = torch.nn.functional

# Tolerances per dtype: float64 agrees to rounding; float32 differs by accumulation order
# (torch may use other kernels and summation orders), a few ulps times the row length.
TOL = {
    np.float64: {"rtol": 1e-10, "atol": 1e-12},
    np.float32: {"rtol": 2e-5, "atol": 2e-6},
}
DTYPES = [np.float32, np.float64]


def _t(a: np.ndarray):
    """A torch tensor sharing a's dtype (from_numpy keeps float32/float64 and bool)."""
    return torch.from_numpy(np.ascontiguousarray(a))


def _random_mask(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A random boolean mask (True = attend) where every query row keeps at least one key.

    Fully masked rows are left out on purpose: the package returns zeros there, while torch's
    math kernel returns NaN; `test_fully_masked_rows_differ_by_design` covers that case.
    """
    mask = rng.random(shape) < 0.6
    keep = rng.integers(0, shape[-1], size=shape[:-1])
    np.put_along_axis(mask, keep[..., None], True, axis=-1)
    return mask


SHAPES = [
    # (batch dims, n_q, n_k, d_k, d_v)
    ((), 1, 1, 1, 1),
    ((), 4, 4, 8, 8),
    ((), 3, 7, 5, 2),
    ((2,), 5, 5, 16, 16),
    ((2, 3), 6, 4, 8, 3),
    ((3, 2), 7, 7, 4, 4),
    ((1, 4, 2), 2, 9, 6, 5),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch, n_q, n_k, d_k, d_v", SHAPES)
def test_sdpa_matches_torch_without_mask(dtype, batch, n_q, n_k, d_k, d_v):
    rng = np.random.default_rng(hash((batch, n_q, n_k, d_k, d_v)) % 2**32)
    q = rng.normal(size=(*batch, n_q, d_k)).astype(dtype)
    k = rng.normal(size=(*batch, n_k, d_k)).astype(dtype)
    v = rng.normal(size=(*batch, n_k, d_v)).astype(dtype)
    out, weights = scaled_dot_product_attention(q, k, v)
    expected = F.scaled_dot_product_attention(_t(q), _t(k), _t(v)).numpy()
    expected_w = torch.softmax(_t(q) @ _t(k).transpose(-1, -2) / math.sqrt(d_k), dim=-1).numpy()
    assert out.dtype == dtype and weights.dtype == dtype
    np.testing.assert_allclose(out, expected, **TOL[dtype])
    np.testing.assert_allclose(weights, expected_w, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch, n_q, n_k, d_k, d_v", SHAPES)
def test_sdpa_matches_torch_with_boolean_mask_and_custom_scale(dtype, batch, n_q, n_k, d_k, d_v):
    rng = np.random.default_rng(1 + hash((batch, n_q, n_k)) % 2**31)
    q = rng.normal(size=(*batch, n_q, d_k)).astype(dtype)
    k = rng.normal(size=(*batch, n_k, d_k)).astype(dtype)
    v = rng.normal(size=(*batch, n_k, d_v)).astype(dtype)
    mask = _random_mask(rng, (*batch, n_q, n_k))
    scale = 0.37
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)
    # Both use True = may attend, so the mask goes to torch unchanged.
    expected = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=_t(mask), scale=scale).numpy()
    scores = (_t(q) @ _t(k).transpose(-1, -2)) * scale
    expected_w = torch.softmax(scores.masked_fill(~_t(mask), float("-inf")), dim=-1).numpy()
    np.testing.assert_allclose(out, expected, **TOL[dtype])
    np.testing.assert_allclose(weights, expected_w, **TOL[dtype])
    assert np.all(weights[~mask] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_mask_broadcasts_like_torch(dtype):
    rng = np.random.default_rng(7)
    q = rng.normal(size=(2, 3, 5, 4)).astype(dtype)
    k = rng.normal(size=(2, 3, 6, 4)).astype(dtype)
    v = rng.normal(size=(2, 3, 6, 4)).astype(dtype)
    mask = padding_mask(np.array([4, 6]), 6, heads=True)  # (2, 1, 1, 6): over heads and queries
    out, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    expected = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=_t(mask)).numpy()
    np.testing.assert_allclose(out, expected, **TOL[dtype])


def test_torch_also_lines_a_mask_without_heads_up_with_the_heads():
    """Chapter 6's claim: torch's SDPA broadcasts masks like numpy, so the trap is silent there."""
    rng = np.random.default_rng(8)
    q, k, v = (rng.normal(size=(2, 2, 4, 3)) for _ in range(3))  # batch == heads == 2
    no_heads = padding_mask(np.array([2, 4]), 4)  # (2, 1, 4): read as (1, 2, 1, 4)
    silent = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=_t(no_heads)).numpy()
    as_read, _ = scaled_dot_product_attention(q, k, v, mask=no_heads[None])  # explicit (1, 2, 1, 4)
    np.testing.assert_allclose(silent, as_read, **TOL[np.float64])
    right, _ = scaled_dot_product_attention(q, k, v, mask=padding_mask(np.array([2, 4]), 4, heads=True))
    assert not np.allclose(silent, right)  # sentence 0's head 1 used its padding
    with pytest.raises(ValueError, match="heads=True"):
        scaled_dot_product_attention(q, k, v, mask=no_heads)  # the package refuses to guess


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch, n", [((), 1), ((), 6), ((3,), 5), ((2, 4), 7)])
def test_sdpa_causal_matches_torch_is_causal_for_square_scores(dtype, batch, n):
    rng = np.random.default_rng(n)
    q, k, v = (rng.normal(size=(*batch, n, 8)).astype(dtype) for _ in range(3))
    out, weights = scaled_dot_product_attention(q, k, v, causal=True)
    expected = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), is_causal=True).numpy()
    np.testing.assert_allclose(out, expected, **TOL[dtype])
    assert np.all(np.triu(weights, k=1) == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_q, n_k", [(1, 5), (3, 7), (4, 4)])
def test_sdpa_causal_rectangular_aligns_to_the_end(dtype, n_q, n_k):
    """Ours aligns queries to the END (KV-cache decoding); torch's is_causal to the START.

    So for n_q != n_k we compare with torch given our causal mask explicitly, and check that
    torch's is_causal equals our call with a top-left triangle.
    """
    rng = np.random.default_rng(10 * n_q + n_k)
    q = rng.normal(size=(2, n_q, 8)).astype(dtype)
    k = rng.normal(size=(2, n_k, 8)).astype(dtype)
    v = rng.normal(size=(2, n_k, 3)).astype(dtype)
    out, _ = scaled_dot_product_attention(q, k, v, causal=True)
    ours_mask = _t(causal_mask(n_q, n_k))
    expected = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=ours_mask).numpy()
    np.testing.assert_allclose(out, expected, **TOL[dtype])

    top_left = np.tril(np.ones((n_q, n_k), dtype=bool))
    ours_top_left, _ = scaled_dot_product_attention(q, k, v, mask=top_left)
    torch_causal = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), is_causal=True).numpy()
    np.testing.assert_allclose(ours_top_left, torch_causal, **TOL[dtype])
    if n_q != n_k:
        assert not np.allclose(out, torch_causal)  # the two alignments really differ


def test_sdpa_causal_and_mask_combine_like_torch():
    rng = np.random.default_rng(3)
    q, k, v = (rng.normal(size=(2, 6, 4)) for _ in range(3))
    pad = padding_mask(np.array([6, 4]), 6)
    out, _ = scaled_dot_product_attention(q, k, v, mask=pad, causal=True)
    combined = _t(pad & causal_mask(6))
    expected = F.scaled_dot_product_attention(_t(q), _t(k), _t(v), attn_mask=combined).numpy()
    np.testing.assert_allclose(out, expected, **TOL[np.float64])


def test_fully_masked_rows_differ_by_design():
    """A query with no allowed key: ours gives zero weights and output; torch's math path gives NaN."""
    q, k, v = (np.ones((2, 3)) for _ in range(3))
    mask = np.array([[True, True], [False, False]])  # query 1 may attend to nothing
    out, weights = scaled_dot_product_attention(q, k[:2], v[:2], mask=mask)
    assert np.all(weights[1] == 0) and np.all(out[1] == 0)
    scores = _t(q) @ _t(k[:2]).T
    torch_w = torch.softmax(scores.masked_fill(~_t(mask), float("-inf")), dim=-1).numpy()
    assert np.isnan(torch_w[1]).all()
    np.testing.assert_allclose(weights[0], torch_w[0])


# --- multi-head attention against torch.nn.MultiheadAttention -------------------------------

def _torch_mha(d_model: int, num_heads: int, dtype, seed: int):
    """A seeded nn.MultiheadAttention (batch_first) in eval mode, with non-zero biases."""
    torch.manual_seed(seed)
    mha = torch.nn.MultiheadAttention(d_model, num_heads, bias=True, batch_first=True)
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    mha.eval()
    return mha.double() if dtype == np.float64 else mha.float()


def _package_weights(mha, dtype) -> dict[str, np.ndarray]:
    """torch stores y = x W^T + b with W: (out, in); the package uses y = x @ w + b, so w = W^T."""
    d = mha.embed_dim
    w_in = mha.in_proj_weight.detach().numpy()  # (3 d, d): q, k, v stacked along the output axis
    b_in = mha.in_proj_bias.detach().numpy()
    params = {}
    for i, name in enumerate("qkv"):
        params[f"w_{name}"] = w_in[i * d:(i + 1) * d].T
        params[f"b_{name}"] = b_in[i * d:(i + 1) * d]
    params["w_o"] = mha.out_proj.weight.detach().numpy().T
    params["b_o"] = mha.out_proj.bias.detach().numpy()
    return {key: value.astype(dtype) for key, value in params.items()}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d_model, num_heads, n_q, n_kv", [(8, 1, 5, 5), (8, 2, 5, 5), (12, 3, 4, 7),
                                                           (16, 4, 6, 6), (6, 6, 3, 2)])
def test_mha_matches_torch_multihead_attention(dtype, d_model, num_heads, n_q, n_kv):
    mha = _torch_mha(d_model, num_heads, dtype, seed=d_model + num_heads)
    params = _package_weights(mha, dtype)
    rng = np.random.default_rng(d_model * num_heads)
    x_q = rng.normal(size=(3, n_q, d_model)).astype(dtype)
    x_kv = x_q if n_q == n_kv else rng.normal(size=(3, n_kv, d_model)).astype(dtype)

    out, weights = multi_head_attention(x_q, x_kv, num_heads=num_heads, **params)
    with torch.no_grad():
        expected, expected_w = mha(_t(x_q), _t(x_kv), _t(x_kv), need_weights=True,
                                   average_attn_weights=False)
    assert out.dtype == dtype and weights.shape == (3, num_heads, n_q, n_kv)
    np.testing.assert_allclose(out, expected.numpy(), **TOL[dtype])
    np.testing.assert_allclose(weights, expected_w.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_mha_with_key_padding_and_attn_mask_matches_torch(dtype):
    d_model, num_heads, n = 12, 3, 6
    mha = _torch_mha(d_model, num_heads, dtype, seed=5)
    params = _package_weights(mha, dtype)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, n, d_model)).astype(dtype)
    lengths = np.array([6, 3])

    ours_pad = padding_mask(lengths, n)  # (2, 1, n), True = may attend
    key_padding_mask = ~ours_pad[:, 0, :]  # torch MHA: (batch, n), True = IGNORE
    attn_mask = ~causal_mask(n)  # torch MHA: (n, n), True = NOT allowed
    out, weights = multi_head_attention(x, x, num_heads=num_heads, mask=ours_pad, causal=True, **params)
    with torch.no_grad():
        expected, expected_w = mha(_t(x), _t(x), _t(x), key_padding_mask=_t(key_padding_mask),
                                   attn_mask=_t(attn_mask), need_weights=True,
                                   average_attn_weights=False)
    np.testing.assert_allclose(out, expected.numpy(), **TOL[dtype])
    np.testing.assert_allclose(weights, expected_w.numpy(), **TOL[dtype])
    assert np.all(weights[1, :, :, 3:] == 0)  # padded keys of the short sentence

    # The classic bug: passing our True = attend mask to torch unchanged hides the real tokens.
    with torch.no_grad():
        wrong, _ = mha(_t(x), _t(x), _t(x), key_padding_mask=_t(ours_pad[:, 0, :].copy()),
                       need_weights=False)
    assert not np.allclose(np.nan_to_num(wrong.numpy()[1, :3]), out[1, :3])


def test_mha_key_padding_only_matches_torch_in_cross_attention():
    d_model, num_heads = 8, 2
    mha = _torch_mha(d_model, num_heads, np.float64, seed=11)
    params = _package_weights(mha, np.float64)
    rng = np.random.default_rng(11)
    x_q = rng.normal(size=(2, 3, d_model))
    x_kv = rng.normal(size=(2, 5, d_model))
    ours_pad = padding_mask(np.array([2, 5]), 5)
    out, weights = multi_head_attention(x_q, x_kv, num_heads=num_heads, mask=ours_pad, **params)
    with torch.no_grad():
        expected, expected_w = mha(_t(x_q), _t(x_kv), _t(x_kv), key_padding_mask=_t(~ours_pad[:, 0, :]),
                                   need_weights=True, average_attn_weights=False)
    np.testing.assert_allclose(out, expected.numpy(), **TOL[np.float64])
    np.testing.assert_allclose(weights, expected_w.numpy(), **TOL[np.float64])
    # torch's default (average_attn_weights=True) is the mean over heads.
    with torch.no_grad():
        _, averaged = mha(_t(x_q), _t(x_kv), _t(x_kv), key_padding_mask=_t(~ours_pad[:, 0, :]))
    np.testing.assert_allclose(weights.mean(axis=1), averaged.numpy(), **TOL[np.float64])
