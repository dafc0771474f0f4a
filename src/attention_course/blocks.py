"""The pieces of a Transformer block around attention: layer norm, GELU, feed-forward."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import erf

from .checks import as_float_array, check_finite, check_scalar

__all__ = ["layer_norm", "gelu", "feed_forward"]


def layer_norm(x: Any, gamma: Any, beta: Any, eps: float = 1e-5) -> np.ndarray:
    """Normalise each row of x: (..., d) to mean 0, variance 1, then scale by gamma: (d,), shift by beta: (d,)."""
    x = as_float_array(x, "x", min_ndim=1)
    gamma = as_float_array(gamma, "gamma")
    beta = as_float_array(beta, "beta")
    d = x.shape[-1]
    for name, arr in (("gamma", gamma), ("beta", beta)):
        if arr.shape != (d,):
            raise ValueError(f"{name} must have shape ({d},) to match x with shape {x.shape}, got {arr.shape}")
    eps = check_scalar(eps, "eps", positive=True)
    check_finite(x, "x")
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    # The biased variance (divide by d), as in the original paper and in PyTorch.
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    out = centred / np.sqrt(var + eps)
    return (out * gamma + beta).astype(x.dtype, copy=False)


def gelu(x: Any) -> np.ndarray:
    """Exact GELU, x * Phi(x) with the normal CDF Phi written with erf; x: (...) -> same shape.

    BERT-style models use this exact form; the tanh approximation differs by up to ~1e-3.
    """
    x = as_float_array(x, "x")
    check_finite(x, "x")
    return (0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))).astype(x.dtype, copy=False)


def feed_forward(x: Any, w_1: Any, b_1: Any, w_2: Any, b_2: Any) -> np.ndarray:
    """Position-wise feed-forward gelu(x @ w_1 + b_1) @ w_2 + b_2.

    x: (..., n, d_model), w_1: (d_model, d_ff), b_1: (d_ff,), w_2: (d_ff, d_model), b_2: (d_model,).
    The same two-layer network is applied to every token separately.
    """
    x = as_float_array(x, "x", min_ndim=1)
    w_1, b_1, w_2, b_2 = (as_float_array(a, n) for a, n in
                          ((w_1, "w_1"), (b_1, "b_1"), (w_2, "w_2"), (b_2, "b_2")))
    d_model = x.shape[-1]
    if w_1.ndim != 2 or w_1.shape[0] != d_model:
        raise ValueError(f"w_1 must have shape (d_model={d_model}, d_ff) for x with shape {x.shape}, got {w_1.shape}")
    d_ff = w_1.shape[1]
    if b_1.shape != (d_ff,):
        raise ValueError(f"b_1 must have shape ({d_ff},) to match w_1 {w_1.shape}, got {b_1.shape}")
    if w_2.shape != (d_ff, d_model):
        raise ValueError(f"w_2 must have shape ({d_ff}, {d_model}) to match w_1 {w_1.shape}, got {w_2.shape}")
    if b_2.shape != (d_model,):
        raise ValueError(f"b_2 must have shape ({d_model},), got {b_2.shape}")
    return gelu(x @ w_1 + b_1) @ w_2 + b_2
