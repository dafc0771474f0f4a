"""Tests of the speed helpers: fast_gelu equals the package's exact gelu; the allocator switch is harmless."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from attention_course import gelu
from attention_course.models.speed import fast_gelu, keep_freed_memory


def test_fast_gelu_equals_exact_gelu_float64():
    x = np.linspace(-12.0, 12.0, 200_001)
    np.testing.assert_allclose(fast_gelu(x), gelu(x), rtol=0, atol=2e-8)


def test_fast_gelu_float32_is_as_close_as_scipy_float32():
    x = np.linspace(-12.0, 12.0, 200_001).astype(np.float32)
    exact = gelu(x.astype(np.float64))
    fast = fast_gelu(x)
    assert fast.dtype == np.float32 and fast.shape == x.shape
    assert np.abs(fast - exact).max() <= 2 * np.abs(gelu(x) - exact).max() + 1e-7


def test_fast_gelu_extremes_and_shape():
    x = np.array([[-1e30, -50.0, 0.0], [50.0, 1e30, -0.0]], dtype=np.float32)
    out = fast_gelu(x)
    np.testing.assert_allclose(out, [[0.0, 0.0, 0.0], [50.0, 1e30, 0.0]], atol=1e-20)
    assert not np.isnan(out).any()


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(1, 50), elements=st.floats(-30, 30)))
def test_fast_gelu_property(x):
    assert np.all(np.abs(fast_gelu(x) - gelu(x)) <= 2e-8 * (1 + np.abs(x)))


def test_fast_gelu_bad_input():
    with pytest.raises(ValueError, match=r"x with shape \(3,\) contains 1 NaN or inf"):
        fast_gelu(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(TypeError, match="must be an array of real numbers"):
        fast_gelu(np.array(["a"]))


def test_keep_freed_memory_returns_a_bool():
    assert isinstance(keep_freed_memory(64 << 20), bool)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
def test_small_batched_attention_path_equals_blocked_path(monkeypatch, causal, need_weights):
    """Many tiny heads (MiniLM's case) take one batched pass; it must equal the row-block path."""
    import attention_course.attention as attention_module
    from attention_course import padding_mask, scaled_dot_product_attention

    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((4, 3, 7, 8)).astype(np.float32) for _ in range(3))
    mask = padding_mask(np.array([7, 5, 1, 3]), 7, heads=True)  # (4, 1, 1, 7)
    small = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal, need_weights=need_weights)
    monkeypatch.setattr(attention_module, "_BLOCK_ELEMENTS", 16)  # force blocks of 2 rows
    blocked = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal, need_weights=need_weights)
    np.testing.assert_allclose(small[0], blocked[0], atol=1e-6)
    if need_weights:
        np.testing.assert_allclose(small[1], blocked[1], atol=1e-7)
