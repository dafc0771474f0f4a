"""Tests of online softmax and tiled (FlashAttention-style) attention: exact equality with the plain
computation, the causal tile schedule, bad input, and a tracemalloc memory bound (no timed tests)."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_course import (
    attention_tiles,
    causal_mask,
    flash_attention,
    online_softmax,
    online_softmax_trace,
    scaled_dot_product_attention,
    softmax,
)

# ---- online softmax --------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", [1, 2, 3, 7, 100])
def test_online_softmax_equals_softmax(block_size):
    rng = np.random.default_rng(0)
    x = rng.normal(scale=5.0, size=(4, 3, 10))
    x[0, 0, 3] = -np.inf
    x[1, 2] = -np.inf  # an all -inf row: zeros, as in softmax
    np.testing.assert_allclose(online_softmax(x, block_size), softmax(x), rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(online_softmax(x, block_size)[1, 2], 0.0)


def test_online_softmax_is_stable_for_huge_and_increasing_logits():
    x = np.array([-1e4, 0.0, 1e4, 2e4])  # the running max jumps up at every step
    out = online_softmax(x)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [0.0, 0.0, 0.0, 1.0])


def test_online_softmax_keeps_float32():
    x = np.arange(5, dtype=np.float32)
    assert online_softmax(x, 2).dtype == np.float32


def test_online_softmax_trace_by_hand():
    trace = online_softmax_trace([1.0, 3.0, 2.0])
    np.testing.assert_allclose(trace["max"], [1.0, 3.0, 3.0])
    # After the second entry the old sum exp(1 - 1) = 1 is rescaled by exp(1 - 3).
    np.testing.assert_allclose(trace["rescale"][1:], [np.exp(-2.0), 1.0])
    np.testing.assert_allclose(trace["sum"], [1.0, np.exp(-2.0) + 1.0, np.exp(-2.0) + 1.0 + np.exp(-1.0)])
    np.testing.assert_allclose(
        np.exp(trace["x"] - trace["max"][-1]) / trace["sum"][-1], softmax([1.0, 3.0, 2.0])
    )


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: online_softmax(np.array([1.0, np.nan])), ValueError, ["NaN", "(2,)"]),
        (lambda: online_softmax(np.array(1.0)), ValueError, ["at least 1", "()"]),
        (lambda: online_softmax(np.ones(3), block_size=0), ValueError, ["block_size"]),
        (lambda: online_softmax_trace(np.ones((2, 2))), ValueError, ["(2, 2)"]),
    ],
)
def test_online_softmax_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


# ---- flash attention ---------------------------------------------------------------------------


def _qkv(rng, batch, n_q, n_k, d_k, d_v, dtype=np.float64):
    q = rng.normal(size=batch + (n_q, d_k)).astype(dtype)
    k = rng.normal(size=batch + (n_k, d_k)).astype(dtype)
    v = rng.normal(size=batch + (n_k, d_v)).astype(dtype)
    return q, k, v


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(
    "batch, n_q, n_k, block_size",
    [
        ((), 10, 10, 4),
        ((2,), 7, 13, 4),
        ((2, 3), 13, 7, 5),
        ((1,), 33, 33, 8),
        ((), 5, 5, 256),
        ((3,), 1, 9, 2),
    ],
)
def test_flash_equals_plain_attention(batch, n_q, n_k, block_size, causal):
    rng = np.random.default_rng(n_q * 100 + n_k)
    q, k, v = _qkv(rng, batch, n_q, n_k, 8, 5)
    mask = rng.random(batch + (1, n_k)) > 0.2  # a key-padding style mask, broadcast over queries
    for m in (None, mask):
        expected, _ = scaled_dot_product_attention(q, k, v, mask=m, causal=causal)
        got = flash_attention(q, k, v, block_size=block_size, mask=m, causal=causal)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


@settings(max_examples=40, deadline=None)
@given(
    n_q=st.integers(1, 40),
    n_k=st.integers(1, 40),
    block_size=st.integers(1, 17),
    causal=st.booleans(),
    use_mask=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_flash_equals_plain_property(n_q, n_k, block_size, causal, use_mask, seed):
    rng = np.random.default_rng(seed)
    q, k, v = _qkv(rng, (2,), n_q, n_k, 4, 3)
    mask = rng.random((2, n_q, n_k)) > 0.5 if use_mask else None
    expected, _ = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal, scale=0.7)
    got = flash_attention(q, k, v, block_size=block_size, mask=mask, causal=causal, scale=0.7)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


def test_flash_fully_masked_rows_are_zero():
    rng = np.random.default_rng(1)
    q, k, v = _qkv(rng, (2,), 6, 6, 4, 3)
    mask = np.ones((2, 6, 6), dtype=bool)
    mask[0, 2] = False
    mask[1, :, :3] = False  # the first block of keys is masked for everyone
    out = flash_attention(q, k, v, block_size=3, mask=mask)
    np.testing.assert_array_equal(out[0, 2], 0.0)
    np.testing.assert_allclose(out, scaled_dot_product_attention(q, k, v, mask=mask)[0], atol=1e-14)
    # More queries than keys under causal: the first queries see no key at all.
    out = flash_attention(q[:, :, :], k[:, :2], v[:, :2], block_size=2, causal=True)
    np.testing.assert_array_equal(out[:, :4], 0.0)


def test_flash_float32_in_float32_out_and_close():
    rng = np.random.default_rng(2)
    q, k, v = _qkv(rng, (2,), 50, 50, 16, 16, np.float32)
    out = flash_attention(q, k, v, block_size=16, causal=True)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, scaled_dot_product_attention(q, k, v, causal=True)[0], atol=2e-6)


def test_flash_does_not_modify_inputs_and_handles_empty():
    rng = np.random.default_rng(3)
    q, k, v = _qkv(rng, (), 5, 5, 4, 4)
    copies = [a.copy() for a in (q, k, v)]
    flash_attention(q, k, v, block_size=2, causal=True)
    for a, b in zip((q, k, v), copies, strict=True):
        np.testing.assert_array_equal(a, b)
    assert flash_attention(np.zeros((0, 4)), k, v).shape == (0, 4)
    np.testing.assert_array_equal(flash_attention(q, np.zeros((0, 4)), np.zeros((0, 2))), 0.0)


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        ((np.zeros((4, 8)), np.zeros((6, 7)), np.zeros((6, 5))), {}, ValueError, ["d_k", "(4, 8)", "(6, 7)"]),
        ((np.zeros((4, 8)), np.zeros((6, 8)), np.zeros((5, 5))), {}, ValueError, ["n_k", "(5, 5)"]),
        ((np.zeros((2, 4, 8)), np.zeros((6, 8)), np.zeros((6, 5))), {}, ValueError, ["batch", "(2, 4, 8)"]),
        (
            (np.zeros((4, 8)), np.zeros((6, 8)), np.zeros((6, 5))),
            {"block_size": 0},
            ValueError,
            ["block_size"],
        ),
        (
            (np.zeros((4, 8)), np.zeros((6, 8)), np.zeros((6, 5))),
            {"block_size": 2.0},
            TypeError,
            ["block_size"],
        ),
        (
            (np.zeros((4, 8)), np.zeros((6, 8)), np.zeros((6, 5))),
            {"mask": np.ones((4, 6))},
            TypeError,
            ["boolean"],
        ),
        (
            (np.zeros((4, 8)), np.zeros((6, 8)), np.zeros((6, 5))),
            {"mask": np.ones((4, 5), dtype=bool)},
            ValueError,
            ["(4, 5)", "(4, 6)"],
        ),
        (
            (np.full((4, 8), np.nan), np.zeros((6, 8)), np.zeros((6, 5))),
            {},
            ValueError,
            ["q", "NaN", "(4, 8)"],
        ),
        (
            (np.zeros((4, 8)), np.zeros((6, 8)), np.zeros((6, 5))),
            {"scale": float("inf")},
            ValueError,
            ["scale"],
        ),
    ],
)
def test_flash_bad_input(args, kwargs, error, words):
    with pytest.raises(error) as info:
        flash_attention(*args, **kwargs)
    for word in words:
        assert word in str(info.value)


# ---- the tile schedule -------------------------------------------------------------------------


@pytest.mark.parametrize("n_q, n_k, block_size", [(10, 10, 3), (4, 12, 4), (12, 4, 4), (16, 16, 4)])
def test_attention_tiles_agree_with_the_causal_mask(n_q, n_k, block_size):
    tiles = attention_tiles(n_q, n_k, block_size, causal=True)
    allowed = causal_mask(n_q, n_k)
    for a in range(tiles.shape[0]):
        for b in range(tiles.shape[1]):
            block = allowed[a * block_size : (a + 1) * block_size, b * block_size : (b + 1) * block_size]
            expected = 0 if not block.any() else (2 if block.all() else 1)
            assert tiles[a, b] == expected
    assert np.all(attention_tiles(n_q, n_k, block_size) == 2)


def test_causal_tiles_skip_almost_half():
    tiles = attention_tiles(1024, 1024, 64, causal=True)
    # 16 x 16 tiles: 120 above the diagonal skipped, 16 on it partial, 120 below it full.
    assert (tiles == 0).sum() == 120 and (tiles == 1).sum() == 16 and (tiles == 2).sum() == 120


# ---- memory (deterministic: tracemalloc counts numpy's allocations) -----------------------------


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_flash_peak_memory_is_linear_not_quadratic():
    rng = np.random.default_rng(4)
    d, block = 16, 128
    peaks = {}
    for n in (1024, 2048):
        q, k, v = _qkv(rng, (), n, n, d, d)
        plain = _peak_bytes(lambda: scaled_dot_product_attention(q, k, v))  # noqa: B023
        flash = _peak_bytes(lambda: flash_attention(q, k, v, block_size=block))  # noqa: B023
        assert plain >= n * n * 8  # the float64 weights alone
        # The output (n, d), one block x block tile of scores, per-block vectors, and the input
        # checks' boolean (n, d) temporaries; nothing grows like n^2.
        assert flash <= n * d * 8 + block * block * 8 + 4 * block * d * 8 + 2 * n * d + 64 * 1024
        peaks[n] = plain, flash
    # Doubling n: plain attention's memory grows about 4x, the tiled version's about 2x.
    assert peaks[2048][0] / peaks[1024][0] > 3.5
    assert peaks[2048][1] / peaks[1024][1] < 2.5
