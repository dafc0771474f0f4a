"""Unit tests of softmax and scaled_dot_product_attention, including bad input."""

import numpy as np
import pytest

from attention_course import causal_mask, padding_mask, scaled_dot_product_attention, softmax


def naive_attention(q, k, v, allowed=None, scale=None):
    """Loop-over-queries reference written independently of the package."""
    d_k = q.shape[-1]
    scale = 1 / np.sqrt(d_k) if scale is None else scale
    out = np.zeros(q.shape[:-1] + (v.shape[-1],))
    weights = np.zeros(q.shape[:-1] + (k.shape[-2],))
    for idx in np.ndindex(q.shape[:-2]):
        for i in range(q.shape[-2]):
            s = np.array([q[idx][i] @ k[idx][j] * scale for j in range(k.shape[-2])])
            ok = np.ones_like(s, dtype=bool) if allowed is None else np.broadcast_to(
                allowed, q.shape[:-2] + (q.shape[-2], k.shape[-2]))[idx][i]
            if not ok.any():
                continue
            e = np.where(ok, np.exp(s - s[ok].max()), 0.0)
            weights[idx][i] = e / e.sum()
            out[idx][i] = weights[idx][i] @ v[idx]
    return out, weights


# ---- softmax -----------------------------------------------------------------------------

def test_softmax_matches_definition_and_sums_to_one():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    expected = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    np.testing.assert_allclose(softmax(x), expected, rtol=1e-12)
    np.testing.assert_allclose(softmax(x).sum(-1), 1.0)


def test_softmax_is_stable_for_huge_logits():
    out = softmax(np.array([1e4, 0.0, -1e4]))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [1.0, 0.0, 0.0])


def test_softmax_is_exact_for_minus_inf():
    out = softmax(np.array([0.0, -np.inf, 0.0]))
    assert out[1] == 0.0
    np.testing.assert_allclose(out, [0.5, 0.0, 0.5])


def test_softmax_all_minus_inf_row_is_zero_not_nan():
    out = softmax(np.array([[-np.inf, -np.inf], [1.0, 1.0]]))
    np.testing.assert_array_equal(out[0], [0.0, 0.0])
    np.testing.assert_allclose(out[1], [0.5, 0.5])


def test_softmax_axis_and_temperature():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(softmax(x, axis=0).sum(0), 1.0)
    np.testing.assert_allclose(softmax(x, temperature=2.0), softmax(x / 2.0))
    # Low temperature approaches argmax, high temperature approaches uniform.
    assert softmax(x, temperature=1e-3)[0].argmax() == 2
    np.testing.assert_allclose(softmax(x, temperature=1e6), 1 / 3, atol=1e-5)


def test_softmax_keeps_float32_and_does_not_modify_input():
    x = np.array([1.0, 2.0], dtype=np.float32)
    before = x.copy()
    out = softmax(x, temperature=0.5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"x": np.array([1.0, np.nan])}, ValueError, ["NaN", "(2,)"]),
        ({"x": np.array([1.0, np.inf])}, ValueError, ["+inf"]),
        ({"x": np.array([1.0, 2.0]), "temperature": 0.0}, ValueError, ["temperature"]),
        ({"x": np.array([1.0, 2.0]), "temperature": -1.0}, ValueError, ["positive"]),
        ({"x": np.array([1.0, 2.0]), "axis": 1}, ValueError, ["axis 1", "(2,)"]),
        ({"x": np.array(1.0)}, ValueError, ["scalar"]),
        ({"x": np.array(["a", "b"])}, TypeError, ["dtype"]),
        ({"x": np.array([True, False])}, TypeError, ["bool"]),
    ],
)
def test_softmax_bad_input(kwargs, error, words):
    with pytest.raises(error) as info:
        softmax(**kwargs)
    for word in words:
        assert word in str(info.value)


# ---- scaled_dot_product_attention --------------------------------------------------------

@pytest.mark.parametrize("shape_q, shape_k, d_v", [((4, 8), (6, 8), 5), ((2, 3, 4, 8), (2, 3, 7, 8), 8)])
def test_sdpa_matches_loop_reference(shape_q, shape_k, d_v):
    rng = np.random.default_rng(0)
    q = rng.normal(size=shape_q)
    k = rng.normal(size=shape_k)
    v = rng.normal(size=shape_k[:-1] + (d_v,))
    out, w = scaled_dot_product_attention(q, k, v)
    ref_out, ref_w = naive_attention(q, k, v)
    np.testing.assert_allclose(w, ref_w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
    assert out.shape == shape_q[:-1] + (d_v,)
    assert w.shape == shape_q[:-1] + (shape_k[-2],)


def test_sdpa_default_scale_is_one_over_sqrt_dk():
    rng = np.random.default_rng(1)
    q, k, v = (rng.normal(size=(3, 16)) for _ in range(3))
    _, w_default = scaled_dot_product_attention(q, k, v)
    _, w_explicit = scaled_dot_product_attention(q, k, v, scale=0.25)
    _, w_unscaled = scaled_dot_product_attention(q, k, v, scale=1.0)
    np.testing.assert_allclose(w_default, w_explicit)
    assert not np.allclose(w_default, w_unscaled)
    np.testing.assert_allclose(w_unscaled, softmax(q @ k.T))


def test_sdpa_mask_true_means_attend():
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(size=(3, 4)) for _ in range(3))
    mask = np.array([[True, False, True], [True, True, True], [False, False, True]])
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.all(w[~mask] == 0)
    np.testing.assert_allclose(w.sum(-1), 1.0)
    ref_out, ref_w = naive_attention(q, k, v, allowed=mask)
    np.testing.assert_allclose(w, ref_w, atol=1e-12)
    np.testing.assert_allclose(out, ref_out, atol=1e-12)


def test_sdpa_causal_equals_explicit_mask_and_ignores_future():
    rng = np.random.default_rng(3)
    q, k, v = (rng.normal(size=(2, 5, 4)) for _ in range(3))
    out_c, w_c = scaled_dot_product_attention(q, k, v, causal=True)
    out_m, w_m = scaled_dot_product_attention(q, k, v, mask=causal_mask(5))
    np.testing.assert_array_equal(w_c, w_m)
    np.testing.assert_array_equal(out_c, out_m)
    assert np.all(np.triu(w_c[0], 1) == 0)
    # Changing the last token's key and value leaves every earlier output unchanged.
    k2, v2 = k.copy(), v.copy()
    k2[:, -1] += 10.0
    v2[:, -1] -= 10.0
    out2, _ = scaled_dot_product_attention(q, k2, v2, causal=True)
    np.testing.assert_allclose(out2[:, :-1], out_c[:, :-1], atol=1e-12)


def test_sdpa_fully_masked_row_gives_zeros_not_nan():
    rng = np.random.default_rng(4)
    q, k, v = (rng.normal(size=(3, 4)) for _ in range(3))
    mask = np.ones((3, 3), dtype=bool)
    mask[1] = False
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(w))
    np.testing.assert_array_equal(w[1], 0.0)
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_allclose(w[[0, 2]].sum(-1), 1.0)


def test_sdpa_padding_mask_hides_padded_keys():
    rng = np.random.default_rng(5)
    q, k, v = (rng.normal(size=(2, 4, 3)) for _ in range(3))
    mask = padding_mask([2, 4], 4)
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_array_equal(w[0, :, 2:], 0.0)
    # The first sequence's outputs equal attention over its two real tokens alone.
    out_short, _ = scaled_dot_product_attention(q[0], k[0, :2], v[0, :2])
    np.testing.assert_allclose(out[0], out_short, atol=1e-12)


def test_sdpa_float32_in_float32_out():
    rng = np.random.default_rng(6)
    q, k, v = (rng.normal(size=(4, 8)).astype(np.float32) for _ in range(3))
    out, w = scaled_dot_product_attention(q, k, v, causal=True)
    assert out.dtype == np.float32 and w.dtype == np.float32


def test_sdpa_does_not_modify_inputs():
    rng = np.random.default_rng(7)
    q, k, v = (rng.normal(size=(4, 8)) for _ in range(3))
    copies = [a.copy() for a in (q, k, v)]
    scaled_dot_product_attention(q, k, v, causal=True)
    for a, b in zip((q, k, v), copies):
        np.testing.assert_array_equal(a, b)


def _qkv(q=(4, 8), k=(6, 8), v=(6, 5)):
    return np.zeros(q), np.zeros(k), np.zeros(v)


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        (_qkv(k=(6, 7)), {}, ValueError, ["d_k", "(4, 8)", "(6, 7)"]),
        (_qkv(v=(5, 5)), {}, ValueError, ["n_k", "(6, 8)", "(5, 5)"]),
        (_qkv(q=(8,)), {}, ValueError, ["at least 2", "(8,)"]),
        (_qkv(q=(2, 4, 8)), {}, ValueError, ["batch", "(2, 4, 8)"]),
        (_qkv(), {"mask": np.ones((4, 6))}, TypeError, ["boolean", "float64"]),
        (_qkv(), {"mask": np.ones((4, 5), dtype=bool)}, ValueError, ["(4, 5)", "(4, 6)"]),
        (_qkv(), {"mask": np.ones((2, 4, 6), dtype=bool)}, ValueError, ["(2, 4, 6)"]),
        (_qkv(), {"scale": float("nan")}, ValueError, ["scale"]),
        (_qkv(q=(4, 0), k=(6, 0)), {}, ValueError, ["d_k"]),
    ],
)
def test_sdpa_bad_input(args, kwargs, error, words):
    with pytest.raises(error) as info:
        scaled_dot_product_attention(*args, **kwargs)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("name", ["q", "k", "v"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_sdpa_rejects_non_finite_inputs(name, bad):
    arrays = dict(zip("qkv", _qkv()))
    arrays[name] = arrays[name].copy()
    arrays[name][0, 0] = bad
    with pytest.raises(ValueError, match=rf"{name} with shape \(\d+, \d+\) contains"):
        scaled_dot_product_attention(**arrays)


def test_sdpa_zero_length_sequences():
    out, w = scaled_dot_product_attention(np.zeros((0, 4)), np.zeros((3, 4)), np.zeros((3, 2)))
    assert out.shape == (0, 2) and w.shape == (0, 3)
    out, w = scaled_dot_product_attention(np.ones((2, 4)), np.zeros((0, 4)), np.zeros((0, 2)))
    np.testing.assert_array_equal(out, np.zeros((2, 2)))


# ---- blocked evaluation and need_weights (added with the "attention at scale" chapter) -----

@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n_q, n_k", [(13, 11), (11, 13), (12, 12)])
def test_sdpa_row_blocks_give_the_same_answer(monkeypatch, causal, n_q, n_k):
    """Scores are processed in blocks of query rows (and, under causal, only up to the diagonal);
    block edges must not change anything."""
    import attention_course.attention as attention_module

    rng = np.random.default_rng(8)
    q = rng.normal(size=(2, 3, n_q, 8))
    k = rng.normal(size=(2, 3, n_k, 8))
    v = rng.normal(size=(2, 3, n_k, 5))
    mask = rng.random((2, 1, n_q, n_k)) > 0.3
    mask[0, 0, 4] = False  # one fully masked row
    one_block = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)
    monkeypatch.setattr(attention_module, "_BLOCK_ELEMENTS", 3 * n_k)  # 3 rows per block
    blocked = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)
    fast, _ = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal, need_weights=False)
    np.testing.assert_allclose(blocked[0], one_block[0], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(blocked[1], one_block[1], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(fast, one_block[0], rtol=1e-13, atol=1e-14)
    ref_out, ref_w = naive_attention(q, k, v, allowed=mask & causal_mask(n_q, n_k) if causal else mask)
    np.testing.assert_allclose(blocked[1], ref_w, atol=1e-12)
    np.testing.assert_allclose(blocked[0], ref_out, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sdpa_need_weights_false_gives_same_output_and_none(dtype):
    rng = np.random.default_rng(9)
    q, k, v = (rng.normal(size=(2, 6, 4)).astype(dtype) for _ in range(3))
    mask = np.ones((6, 6), dtype=bool)
    mask[2] = False
    out, w = scaled_dot_product_attention(q, k, v, mask=mask, causal=True)
    out_fast, none = scaled_dot_product_attention(q, k, v, mask=mask, causal=True, need_weights=False)
    assert none is None and out_fast.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out_fast, out, rtol=tol, atol=tol)
    np.testing.assert_array_equal(out_fast[:, 2], 0.0)


def test_sdpa_threaded_blocks_equal_serial():
    """Large inputs are split over Python threads (BLAS pinned to 1); the answer must not change."""
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="threads are used only with threadpoolctl")
    rng = np.random.default_rng(10)
    q, k, v = (rng.normal(size=(4, 512, 16)).astype(np.float32) for _ in range(3))
    mask = rng.random((4, 1, 512)) > 0.1
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        threaded = scaled_dot_product_attention(q, k, v, mask=mask, causal=True)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        serial = scaled_dot_product_attention(q, k, v, mask=mask, causal=True)
    np.testing.assert_allclose(threaded[0], serial[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(threaded[1], serial[1], rtol=1e-6, atol=1e-7)
    ref_out, _ = scaled_dot_product_attention(q[:1].astype(np.float64), k[:1].astype(np.float64),
                                              v[:1].astype(np.float64), mask=mask[:1], causal=True)
    np.testing.assert_allclose(threaded[0][:1], ref_out, atol=2e-6)
    # Mid-sized work runs serially with BLAS pinned to one thread; same answer again.
    small = (a[:1, :128] for a in (q, k, v))
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        pinned, _ = scaled_dot_product_attention(*small, need_weights=False)
    reference = scaled_dot_product_attention(q[:1, :128], k[:1, :128], v[:1, :128])[0]
    np.testing.assert_allclose(pinned, reference, rtol=1e-5, atol=1e-6)  # float32 rounding
