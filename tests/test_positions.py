"""Tests of the sinusoidal positional encoding and rotary position embeddings (RoPE)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_course import (
    apply_rope,
    rope_angles,
    sinusoidal_frequencies,
    sinusoidal_positional_encoding,
    sinusoidal_shift_matrix,
)


def test_sinusoidal_matches_the_paper_formula():
    n, d = 7, 10
    pe = sinusoidal_positional_encoding(n, d)
    assert pe.shape == (n, d)
    for p in range(n):
        for i in range(d // 2):
            angle = p / 10000 ** (2 * i / d)
            assert math.isclose(pe[p, 2 * i], math.sin(angle), abs_tol=1e-12)
            assert math.isclose(pe[p, 2 * i + 1], math.cos(angle), abs_tol=1e-12)
    np.testing.assert_allclose(sinusoidal_frequencies(d), [10000 ** (-2 * i / d) for i in range(d // 2)])


def test_sinusoidal_rows_are_distinct_and_bounded():
    pe = sinusoidal_positional_encoding(200, 32)
    assert np.abs(pe).max() <= 1.0
    # Every row has norm sqrt(d/2): each (sin, cos) pair is a unit vector.
    np.testing.assert_allclose(np.linalg.norm(pe, axis=1), math.sqrt(16))
    dists = np.linalg.norm(pe[:, None] - pe[None, :], axis=-1)
    assert dists[~np.eye(200, dtype=bool)].min() > 1e-3


@pytest.mark.parametrize("k", [-5, 0, 1, 3, 40])
def test_sinusoidal_shift_is_a_linear_map(k):
    d, n = 16, 60
    pe = sinusoidal_positional_encoding(n + 50, d)
    m = sinusoidal_shift_matrix(k, d)
    start = max(0, -k)
    np.testing.assert_allclose(pe[start:n] @ m, pe[start + k:n + k], atol=1e-12)
    np.testing.assert_allclose(m @ m.T, np.eye(d), atol=1e-12)  # a rotation: orthogonal
    one = sinusoidal_shift_matrix(1, d)
    np.testing.assert_allclose(sinusoidal_shift_matrix(2, d), one @ one, atol=1e-12)  # two steps = one twice


def test_rope_preserves_norms_and_dtype():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 9, 8))
    out = apply_rope(x, np.arange(9))
    assert out.shape == x.shape
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-12)
    x32 = x.astype(np.float32)
    assert apply_rope(x32, np.arange(9)).dtype == np.float32
    np.testing.assert_allclose(apply_rope(x, np.zeros(9, dtype=int)), x)  # position 0: no rotation


def test_rope_rotates_interleaved_pairs():
    x = np.zeros((1, 4))
    x[0, 0] = 1.0  # the first pair holds (1, 0); frequency omega_0 = 1
    out = apply_rope(x, np.array([2]))
    np.testing.assert_allclose(out[0, :2], [math.cos(2.0), math.sin(2.0)])
    np.testing.assert_allclose(out[0, 2:], 0.0)
    np.testing.assert_allclose(rope_angles(np.array([2]), 4), [[2.0, 2.0 / 100.0]])


@settings(max_examples=40, deadline=None)
@given(m=st.integers(-300, 300), n=st.integers(-300, 300), shift=st.integers(-1000, 1000),
       seed=st.integers(0, 2**32 - 1))
def test_rope_score_depends_only_on_offset(m, n, shift, seed):
    rng = np.random.default_rng(seed)
    q, k = rng.normal(size=(1, 8)), rng.normal(size=(1, 8))
    score = apply_rope(q, np.array([m])) @ apply_rope(k, np.array([n])).T
    shifted = apply_rope(q, np.array([m + shift])) @ apply_rope(k, np.array([n + shift])).T
    np.testing.assert_allclose(score, shifted, rtol=1e-8, atol=1e-8)


def test_rope_is_a_shift_of_sinusoidal_angles():
    # RoPE rotates pair i by p * omega_i, the same angles as the sinusoidal encoding.
    d = 6
    expected = np.arange(5) * sinusoidal_frequencies(d)[1]
    np.testing.assert_allclose(rope_angles(np.arange(5), d)[:, 1], expected)


def test_rope_torch_oracle_half_split_convention():
    pytest.importorskip("torch", reason="torch (dev requirements) is the oracle for these checks")
    modeling = pytest.importorskip("transformers.models.llama.modeling_llama", reason="needs transformers")
    import torch

    rng = np.random.default_rng(3)
    b, h, n, d = 2, 3, 7, 8
    q, k = rng.normal(size=(b, h, n, d)), rng.normal(size=(b, h, n, d))
    positions = np.arange(n) + 4
    # Hugging Face pairs feature i with i + d/2 ("half-split"); ours pairs 2i with 2i+1. A fixed
    # permutation of the features maps one convention onto the other.
    perm = np.concatenate([np.arange(0, d, 2), np.arange(1, d, 2)])
    theta = rope_angles(positions, d)
    cos = torch.tensor(np.concatenate([np.cos(theta), np.cos(theta)], axis=-1))[None]
    sin = torch.tensor(np.concatenate([np.sin(theta), np.sin(theta)], axis=-1))[None]
    ref_q, ref_k = modeling.apply_rotary_pos_emb(
        torch.tensor(q[..., perm]), torch.tensor(k[..., perm]), cos, sin
    )
    np.testing.assert_allclose(apply_rope(q, positions)[..., perm], ref_q.numpy(), atol=1e-12)
    np.testing.assert_allclose(apply_rope(k, positions)[..., perm], ref_k.numpy(), atol=1e-12)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: sinusoidal_positional_encoding(4, 5), ValueError, ["even", "d=5"]),
        (lambda: sinusoidal_positional_encoding(4, 0), ValueError, ["positive"]),
        (lambda: sinusoidal_positional_encoding(4.0, 4), TypeError, ["n", "integer"]),
        (lambda: sinusoidal_positional_encoding(4, 4, base=-1.0), ValueError, ["base"]),
        (lambda: sinusoidal_shift_matrix(1.5, 4), TypeError, ["k", "integer"]),
        (lambda: apply_rope(np.zeros((3, 5)), np.arange(3)), ValueError, ["even", "(3, 5)"]),
        (lambda: apply_rope(np.zeros((3, 4)), np.arange(4)), ValueError, ["(3,)", "(3, 4)", "(4,)"]),
        (lambda: apply_rope(np.zeros((3, 4)), np.arange(3.0)), TypeError, ["integers", "float64"]),
        (lambda: apply_rope(np.zeros(4), np.arange(1)), ValueError, ["(4,)", "2 dimensions"]),
        (lambda: apply_rope(np.full((2, 4), np.nan), np.arange(2)), ValueError, ["NaN", "(2, 4)"]),
    ],
)
def test_positions_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)
