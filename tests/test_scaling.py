"""Tests of the sqrt(d_k) experiment helpers: variance of q . k, softmax Jacobian, saturation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from attention_course import softmax
from attention_course.scaling import (
    SaturationStats,
    dot_product_variance,
    entropy,
    random_dot_products,
    random_scores,
    saturation_stats,
    softmax_jacobian,
)

# ---- variance of the dot product ---------------------------------------------------------


@pytest.mark.parametrize("d_k", [1, 4, 64, 300])
def test_variance_of_dot_product_is_d_k(d_k):
    rng = np.random.default_rng(d_k)
    n = max(20_000, (1 << 20) // d_k)
    assert dot_product_variance(d_k, n, rng) == pytest.approx(d_k, rel=0.05)
    assert dot_product_variance(d_k, n, rng, scaled=True) == pytest.approx(1.0, rel=0.05)


def test_random_dot_products_is_deterministic_and_chunked():
    # d_k so large that one chunk holds a single pair: chunking must not change the numbers.
    d_k = (1 << 20) + 3
    a = random_dot_products(d_k, 3, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    expected = [rng.standard_normal(d_k) @ rng.standard_normal(d_k) for _ in range(3)]
    np.testing.assert_allclose(a, expected, rtol=1e-10)


def test_random_dot_products_matches_explicit_loop_and_scale():
    rng = np.random.default_rng(3)
    got = random_dot_products(5, 4, rng, scaled=True)
    rng = np.random.default_rng(3)
    q = rng.standard_normal((4, 5))
    k = rng.standard_normal((4, 5))
    np.testing.assert_allclose(got, [q[i] @ k[i] / math.sqrt(5) for i in range(4)])


def test_random_scores_shape_scale_and_batch():
    unscaled = random_scores(16, 3, 7, np.random.default_rng(0), scaled=False)
    scaled = random_scores(16, 3, 7, np.random.default_rng(0), scaled=True)
    assert unscaled.shape == (3, 7)
    np.testing.assert_allclose(scaled, unscaled / 4.0)
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((3, 16)), rng.standard_normal((7, 16))
    np.testing.assert_allclose(unscaled, q @ k.T)  # queries drawn first, then keys
    batched = random_scores(16, 3, 7, np.random.default_rng(0), scaled=False, n_batch=5)
    assert batched.shape == (5, 3, 7)
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((5, 3, 16)), rng.standard_normal((5, 7, 16))
    np.testing.assert_allclose(batched[4], q[4] @ k[4].T)


@pytest.mark.parametrize(
    "call",
    [
        lambda: random_dot_products(0, 10, np.random.default_rng(0)),
        lambda: random_dot_products(4, -1, np.random.default_rng(0)),
        lambda: random_scores(4, 2, 0, np.random.default_rng(0), scaled=True),
        lambda: random_scores(4, 2, 3, np.random.default_rng(0), scaled=True, n_batch=0),
    ],
)
def test_bad_sizes_raise_value_error(call):
    with pytest.raises(ValueError, match="must be positive"):
        call()


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="numpy Generator"):
        dot_product_variance(4, 10, 0)
    with pytest.raises(TypeError, match="d_k must be an integer"):
        random_dot_products(4.0, 10, np.random.default_rng(0))


# ---- softmax Jacobian --------------------------------------------------------------------


def finite_difference_jacobian(x, eps=1e-6):
    """Central differences of softmax at x: (n,) -> (n, n), column j = d softmax / d x_j."""
    cols = []
    for j in range(len(x)):
        step = np.zeros_like(x)
        step[j] = eps
        cols.append((softmax(x + step) - softmax(x - step)) / (2 * eps))
    return np.stack(cols, axis=1)


def test_jacobian_matches_finite_differences():
    x = np.array([0.5, -1.0, 2.0, 0.0])
    np.testing.assert_allclose(softmax_jacobian(softmax(x)), finite_difference_jacobian(x), atol=1e-8)


def test_jacobian_known_values_and_batch_shape():
    uniform = np.full(4, 0.25)
    expected = np.diag(uniform) - 1 / 16
    np.testing.assert_allclose(softmax_jacobian(uniform), expected)
    # Frobenius norm of the uniform Jacobian is sqrt(n - 1) / n; one-hot gives exactly zero.
    assert np.linalg.norm(softmax_jacobian(uniform)) == pytest.approx(math.sqrt(3) / 4)
    np.testing.assert_array_equal(softmax_jacobian(np.array([0.0, 1.0, 0.0])), np.zeros((3, 3)))
    batch = softmax(np.random.default_rng(0).normal(size=(2, 3, 5)))
    jac = softmax_jacobian(batch)
    assert jac.shape == (2, 3, 5, 5)
    np.testing.assert_allclose(jac[1, 2], softmax_jacobian(batch[1, 2]))


def test_jacobian_keeps_float32():
    s = softmax(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    assert softmax_jacobian(s).dtype == np.float32


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(1, 8), elements=st.floats(-30, 30)))
def test_jacobian_properties(x):
    s = softmax(x)
    jac = softmax_jacobian(s)
    np.testing.assert_allclose(jac, jac.T, atol=1e-15)  # symmetric
    # Rows sum to 0: adding a constant to every score changes nothing (shift invariance).
    np.testing.assert_allclose(jac.sum(axis=1), 0.0, atol=1e-12)
    # Positive semi-definite, so a step along the gradient never decreases the chosen weight.
    assert np.linalg.eigvalsh(jac).min() > -1e-12


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([0.5, 0.6]), r"shape \(2,\) must hold softmax outputs"),
        (np.array([1.5, -0.5]), r"shape \(2,\) must hold softmax outputs"),
        (np.array([[0.5, np.nan]]), r"shape \(1, 2\) contains 1 NaN"),
        (np.zeros((3, 0)), r"at least one entry on its last axis, got shape \(3, 0\)"),
        (np.float64(1.0), r"at least 1 dimensions, got shape \(\)"),
    ],
)
def test_jacobian_bad_input_names_the_shape(bad, message):
    with pytest.raises(ValueError, match=message):
        softmax_jacobian(bad)


def test_jacobian_matches_torch_autograd():
    torch = pytest.importorskip("torch", reason="torch is the optional oracle for the Jacobian")
    x = np.random.default_rng(1).normal(size=6)
    expected = torch.autograd.functional.jacobian(
        lambda t: torch.softmax(t, dim=-1), torch.tensor(x)
    ).numpy()
    np.testing.assert_allclose(softmax_jacobian(softmax(x)), expected, atol=1e-12)


# ---- entropy and saturation --------------------------------------------------------------


def test_entropy_extremes():
    np.testing.assert_allclose(entropy(np.full(8, 1 / 8)), math.log(8))
    assert entropy(np.array([0.0, 1.0, 0.0])) == 0.0
    np.testing.assert_allclose(entropy(np.array([[0.5, 0.5], [1.0, 0.0]])), [math.log(2), 0.0])
    with pytest.raises(ValueError, match=r"weights with shape \(2,\)"):
        entropy(np.array([0.2, 0.2]))


def test_saturation_unscaled_collapses_scaled_stays():
    low_u = saturation_stats(4, scaled=False, rng=np.random.default_rng(0))
    high_u = saturation_stats(1024, scaled=False, rng=np.random.default_rng(0))
    low_s = saturation_stats(4, scaled=True, rng=np.random.default_rng(0))
    high_s = saturation_stats(1024, scaled=True, rng=np.random.default_rng(0))
    assert isinstance(high_u, SaturationStats) and high_u.d_k == 1024 and not high_u.scaled
    assert high_u.score_std == pytest.approx(32, rel=0.1)
    assert high_s.score_std == pytest.approx(1, rel=0.1)
    # Unscaled: near one-hot, almost no entropy, the typical gradient gone by orders of magnitude.
    assert high_u.max_weight > 0.9 and high_u.entropy < 0.2
    assert high_u.jacobian_norm_median < 1e-3 * low_u.jacobian_norm_median
    assert high_u.jacobian_norm_mean < high_u.jacobian_norm_median * 1e4  # sanity of both fields
    # Scaled: the same statistics at d_k = 4 and d_k = 1024, within 20 %.
    for field in ("max_weight", "entropy", "jacobian_norm_median", "jacobian_norm_mean"):
        assert getattr(high_s, field) == pytest.approx(getattr(low_s, field), rel=0.2), field


def test_saturation_stats_are_deterministic():
    a = saturation_stats(32, scaled=True, rng=np.random.default_rng(5), n_queries=8, n_keys=4)
    b = saturation_stats(32, scaled=True, rng=np.random.default_rng(5), n_queries=8, n_keys=4)
    assert a == b
    one_key = saturation_stats(8, scaled=False, rng=np.random.default_rng(0), n_queries=4, n_keys=1)
    assert one_key.max_weight == 1.0 and one_key.entropy == 0.0 and one_key.jacobian_norm_mean == 0.0


def test_training_uses_the_same_jacobian():
    # one function, one home: chapter 10's backward pass re-exports the scaling module's Jacobian
    from attention_course.training import softmax_jacobian as training_softmax_jacobian

    assert training_softmax_jacobian is softmax_jacobian


# ---- the gradient that trains W_Q ----------------------------------------------------------


@pytest.mark.parametrize("scaled", [True, False])
def test_query_gradient_norms_match_attention_backward(scaled):
    """With V = I the weights' gradient G reaches attention_backward unchanged: same dq."""
    from attention_course.scaling import query_gradient_norms
    from attention_course.training import attention_backward

    d_k, n_b, n_q, n_k = 8, 3, 4, 5
    norms = query_gradient_norms(d_k, scaled=scaled, rng=np.random.default_rng(7),
                                 n_batch=n_b, n_queries=n_q, n_keys=n_k)
    rng = np.random.default_rng(7)  # the same draws, in the documented order
    q = rng.standard_normal((n_b, n_q, d_k))
    k = rng.standard_normal((n_b, n_k, d_k))
    g = rng.standard_normal((n_b, n_q, n_k))
    scale = 1 / math.sqrt(d_k) if scaled else 1.0
    w = softmax(q @ k.swapaxes(-1, -2) * scale)
    v = np.broadcast_to(np.eye(n_k), (n_b, n_k, n_k))
    dq, _, _ = attention_backward(g, q, k, v, w, scale=scale)
    np.testing.assert_allclose(norms, np.linalg.norm(dq, axis=-1), rtol=1e-12)


def test_query_gradient_norms_scaled_stay_flat_unscaled_split():
    """Scaled: the same typical size at every d_k; unscaled at 4096: starved median, big tail."""
    from attention_course.scaling import query_gradient_norms

    def norms(d_k, scaled):
        return query_gradient_norms(d_k, scaled=scaled, rng=np.random.default_rng(1))

    small, big = norms(4, True), norms(4096, True)
    assert np.median(big) == pytest.approx(np.median(small), rel=0.3)
    unscaled = norms(4096, False)
    assert np.median(unscaled) < 1e-6 < 1 < np.sqrt(np.mean(unscaled**2))
    with pytest.raises(ValueError, match="d_k"):
        query_gradient_norms(0, scaled=True, rng=np.random.default_rng(0))
