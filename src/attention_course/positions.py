"""Positions: the sinusoidal encoding of Vaswani et al. (2017) and rotary embeddings (RoPE).

Attention by itself cannot tell word orders apart (it is permutation-equivariant), so position
has to enter through the inputs. Both schemes here use the same frequencies
omega_i = base^(-2i/d) for i = 0, ..., d/2 - 1, and both use the **interleaved** pairing:
features (2i, 2i+1) form the pair that belongs to frequency omega_i, as in the original papers.
(Many libraries, e.g. Hugging Face's Llama, pair feature i with i + d/2 instead, the "half-split"
convention; the two differ only by a fixed permutation of the features.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .checks import (
    as_float_array,
    check_finite,
    check_positive_int,
    check_scalar,
    check_size,
)

__all__ = [
    "sinusoidal_frequencies",
    "sinusoidal_positional_encoding",
    "sinusoidal_shift_matrix",
    "rope_angles",
    "apply_rope",
]


def _check_even(d: Any, name: str = "d") -> int:
    """Return d as an int if it is a positive even integer, else raise."""
    d = check_positive_int(d, name)
    check_size(d, name, f"{name} features per position")
    if d % 2:
        raise ValueError(f"{name} must be even (features come in sin/cos pairs), got {name}={d}")
    return d


def sinusoidal_frequencies(d: int, base: float = 10000.0) -> np.ndarray:
    """Angular frequencies omega_i = base^(-2i/d), i = 0..d/2-1: shape (d/2,), from 1 down to ~1/base."""
    d = _check_even(d)
    base = check_scalar(base, "base", positive=True)
    return base ** (-np.arange(0, d, 2, dtype=np.float64) / d)


def sinusoidal_positional_encoding(n: int, d: int, base: float = 10000.0) -> np.ndarray:
    """Sinusoidal encoding PE: (n, d) with PE[p, 2i] = sin(p omega_i), PE[p, 2i+1] = cos(p omega_i).

    Row p is added to the embedding of the token at position p (positions 0..n-1).
    """
    n = check_positive_int(n, "n", allow_zero=True)
    omega = sinusoidal_frequencies(d, base)  # (d/2,)
    check_size(n * omega.size * 2, "n", "the encoding (n, d)")
    angles = np.arange(n, dtype=np.float64)[:, None] * omega[None, :]  # (n, d/2)
    pe = np.empty((n, omega.size * 2))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe


def sinusoidal_shift_matrix(k: int, d: int, base: float = 10000.0) -> np.ndarray:
    """The (d, d) matrix M_k with PE[p + k] = PE[p] @ M_k for every position p (row-vector layout).

    M_k is block diagonal: one 2 x 2 rotation by the angle k * omega_i per (sin, cos) pair. It
    depends on the offset k only, never on p, so "k places further" is a fixed linear map.
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer offset, got {type(k).__name__} {k!r}")
    omega = sinusoidal_frequencies(d, base)
    c, s = np.cos(k * omega), np.sin(k * omega)
    m = np.zeros((2 * omega.size, 2 * omega.size))
    idx = np.arange(0, 2 * omega.size, 2)
    # [sin a, cos a] @ [[cos b, -sin b], [sin b, cos b]] = [sin(a + b), cos(a + b)]
    m[idx, idx] = c
    m[idx, idx + 1] = -s
    m[idx + 1, idx] = s
    m[idx + 1, idx + 1] = c
    return m


def _check_positions(positions: Any, n: int, x_shape: tuple[int, ...]) -> np.ndarray:
    """Return positions as an int array of shape (n,), else raise naming the shapes."""
    pos = np.asarray(positions)
    if pos.dtype == np.bool_ or not np.issubdtype(pos.dtype, np.integer):
        raise TypeError(
            f"positions must be integers, got dtype {pos.dtype} with shape {pos.shape}"
        )
    if pos.shape != (n,):
        raise ValueError(
            f"positions must have shape (n,) = ({n},) to match x with shape {x_shape} "
            f"(..., n, d), got shape {pos.shape}"
        )
    return pos


def rope_angles(positions: Any, d: int, base: float = 10000.0) -> np.ndarray:
    """Rotation angles theta[p, i] = positions[p] * omega_i: positions (n,) ints -> (n, d/2)."""
    d = _check_even(d)
    pos = np.asarray(positions)
    if pos.dtype == np.bool_ or not np.issubdtype(pos.dtype, np.integer) or pos.ndim != 1:
        raise TypeError(
            f"positions must be a 1-D array of integers (n,), got dtype {pos.dtype} with shape {pos.shape}"
        )
    return pos.astype(np.float64)[:, None] * sinusoidal_frequencies(d, base)[None, :]


def apply_rope(x: Any, positions: Any, base: float = 10000.0) -> np.ndarray:
    """Rotary position embedding (Su et al., 2021): x: (..., n, d), positions: (n,) ints -> (..., n, d).

    Each interleaved pair (x[..., 2i], x[..., 2i+1]) of the vector at position p is rotated by the
    angle p * omega_i. Apply it to queries and keys (not values): then q_m . k_n depends on the
    positions only through m - n. Rotations keep every vector's length.
    """
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (..., n, d), got shape {x.shape}")
    n, d = x.shape[-2:]
    if d % 2 or d == 0:
        raise ValueError(f"the last dimension d of x must be even and positive, got x with shape {x.shape}")
    check_finite(x, "x")
    pos = _check_positions(positions, n, x.shape)
    theta = rope_angles(pos, d, base)  # (n, d/2), float64 for accurate angles at large positions
    cos, sin = np.cos(theta).astype(x.dtype), np.sin(theta).astype(x.dtype)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]  # (..., n, d/2) each
    out = np.empty_like(x)
    out[..., 0::2] = x_even * cos - x_odd * sin
    out[..., 1::2] = x_even * sin + x_odd * cos
    return out
