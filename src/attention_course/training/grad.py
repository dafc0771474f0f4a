"""Backward passes by hand: the gradient of every piece of a tiny attention model.

Each `*_backward` function takes `grad_out`, the gradient of a scalar loss L with respect to the
forward function's output (same shape as that output), plus what the forward pass saw, and
returns the gradients of L with respect to the forward function's inputs. That is the chain rule,
one layer at a time: this is all that "backpropagation" means.

`gradient_check` compares any of them with finite differences, which is how every function here
is tested (float64, relative error below 1e-6).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import erf

from ..attention import _check_qkv
from ..checks import (
    check_array,
    check_axis,
    check_callable,
    check_finite,
    check_flag,
    check_mask,
    check_positive_int,
    check_probabilities,
    check_scalar,
    check_size,
)
from ..masks import causal_mask, check_mask_axes
from ..scaling import softmax_jacobian  # one home: the scaling module (chapter 4)

__all__ = [
    "numerical_gradient",
    "gradient_check",
    "softmax_jacobian",
    "softmax_backward",
    "attention_backward",
    "linear_backward",
    "layer_norm_backward",
    "gelu_backward",
    "log_softmax",
    "cross_entropy",
    "cross_entropy_backward",
    "embedding_backward",
]

IGNORE_INDEX = -100  # PyTorch's default: targets equal to this are not scored


def _same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ValueError unless a and b have exactly the same shape (no silent broadcasting)."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} must have the same shape as {name_b}: got {name_a} {a.shape} "
                         f"and {name_b} {b.shape}")


# ---- finite differences -------------------------------------------------------------------

def numerical_gradient(f: Callable[[np.ndarray], float], x: Any, eps: float = 1e-6,
                       indices: Any = None) -> np.ndarray:
    """Central differences (f(x + eps e_i) - f(x - eps e_i)) / (2 eps); x: (...) -> gradient (...).

    f maps an array shaped like x to a scalar; it is called on perturbed copies, x is not changed.
    indices: optional (m, x.ndim) integer array of entries to differentiate; the others stay 0.
    The truncation error is O(eps^2); rounding adds about 1e-16 |f| / eps, so use float64.
    """
    f = check_callable(f, "f")
    x = check_array(x, "x")
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64 (float32 rounding swamps the differences), "
                        f"got x with dtype {x.dtype} and shape {x.shape}")
    eps = check_scalar(eps, "eps", positive=True)
    work = x.copy()
    grad = np.zeros_like(x)
    todo = np.ndindex(x.shape) if indices is None else (tuple(int(j) for j in i) for i in indices)
    for idx in todo:
        old = work[idx]
        work[idx] = old + eps
        up = float(f(work))
        work[idx] = old - eps
        down = float(f(work))
        work[idx] = old
        grad[idx] = (up - down) / (2.0 * eps)
    return grad


def gradient_check(f: Callable[[np.ndarray], float], x: Any, grad: Any, eps: float = 1e-6,
                   num_checks: int | None = None, seed: int = 0) -> float:
    """Relative error ||grad - numerical|| / max(||grad||, ||numerical||) of an analytic gradient.

    f: scalar function of an array shaped like x: (...); grad: (...) the analytic dL/dx at x.
    num_checks: compare only this many randomly chosen entries (seeded), for big arrays.
    Returns 0.0 when both gradients are exactly zero. Below about 1e-6 (float64) means "correct".
    """
    f = check_callable(f, "f")
    seed = check_positive_int(seed, "seed", allow_zero=True)
    x = check_array(x, "x")
    grad = check_array(grad, "grad")
    _same_shape(grad, x, "grad", "x")
    if num_checks is None:
        indices = None
    else:
        num_checks = check_positive_int(num_checks, "num_checks")
        flat = np.random.default_rng(seed).choice(x.size, size=min(num_checks, x.size), replace=False)
        indices = np.stack(np.unravel_index(flat, x.shape), axis=-1)
    numerical = numerical_gradient(f, x, eps, indices)
    analytic = grad.astype(np.float64)
    if indices is not None:
        keep = tuple(indices.T)
        numerical, analytic = numerical[keep], analytic[keep]
    # Divide by the largest entry first: the norms of gradients near 1e300
    # would overflow.
    big = max(
        float(np.max(np.abs(analytic), initial=0.0)),
        float(np.max(np.abs(numerical), initial=0.0)),
    )
    if big == 0.0:
        return 0.0
    if not math.isfinite(big):
        raise ValueError(
            "the numerical gradient of f at x is not finite (f overflows near "
            "x)"
        )
    analytic, numerical = analytic / big, numerical / big
    scale = max(float(np.linalg.norm(analytic)),
                float(np.linalg.norm(numerical)))
    return float(np.linalg.norm(analytic - numerical)) / scale


# ---- softmax ------------------------------------------------------------------------------

def softmax_backward(grad_out: Any, s: Any, axis: int = -1) -> np.ndarray:
    """dL/dx of s = softmax(x) along `axis`, from g = dL/ds and s; g, s: (..., n) -> (..., n).

    J^T g with J = diag(s) - s s^T is s * (g - sum(g * s)): O(n) per row, no Jacobian built.
    """
    g = check_array(grad_out, "grad_out", min_ndim=1)
    s = check_array(s, "s", min_ndim=1)
    _same_shape(g, s, "grad_out", "s")
    check_probabilities(s, "s")
    axis = check_axis(axis, s, "s")
    return s * (g - np.sum(g * s, axis=axis, keepdims=True))


# ---- attention ----------------------------------------------------------------------------

def attention_backward(
    grad_out: Any,
    q: Any,
    k: Any,
    v: Any,
    weights: Any,
    scale: float | None = None,
    mask: Any = None,
    causal: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dq, dk, dv) of out = softmax(q k^T * scale) v, given dL/dout.

    grad_out: (..., n_q, d_v); q: (..., n_q, d_k); k: (..., n_k, d_k); v: (..., n_k, d_v);
    weights: (..., n_q, n_k), the P returned by `scaled_dot_product_attention` for the same inputs.
    Returns dq: (..., n_q, d_k), dk: (..., n_k, d_k), dv: (..., n_k, d_v).

    With P = weights and dP = grad_out v^T:  dv = P^T grad_out,
    dS = P * (dP - rowsum(dP * P)) (the softmax backward of each row),
    dq = scale dS k,  dk = scale dS^T q.
    Masked entries have P = 0, hence dS = 0: no gradient flows through them. mask/causal are only
    used to check that `weights` came from a forward pass with the same mask.
    """
    q, k, v = _check_qkv(q, k, v)
    n_q, d_k = q.shape[-2:]
    n_k, d_v = v.shape[-2:]
    g = check_array(grad_out, "grad_out")
    p = check_array(weights, "weights")
    expected_out = q.shape[:-2] + (n_q, d_v)
    expected_p = q.shape[:-2] + (n_q, n_k)
    if g.shape != expected_out:
        raise ValueError(f"grad_out must have the shape of the attention output {expected_out} "
                         f"(q {q.shape}, v {v.shape}), got {g.shape}")
    if p.shape != expected_p:
        raise ValueError(f"weights must have shape {expected_p} (..., n_q, n_k) for q {q.shape} "
                         f"and k {k.shape}, got {p.shape}")
    check_finite(g, "grad_out")
    check_finite(p, "weights")
    if mask is not None:
        check_mask_axes(np.shape(mask), expected_p)
    check_probabilities(p, "weights")
    allowed = None if mask is None else check_mask(mask, expected_p)
    if check_flag(causal, "causal"):
        tri = causal_mask(n_q, n_k)
        allowed = tri if allowed is None else (allowed & tri)
    if allowed is not None and np.any(np.where(allowed, 0.0, p) != 0.0):
        raise ValueError(f"weights with shape {p.shape} are non-zero where the mask forbids "
                         "attention: pass the same mask and causal flag as to the forward pass")
    scale = 1.0 / math.sqrt(d_k) if scale is None else check_scalar(scale, "scale")

    dv = np.swapaxes(p, -1, -2) @ g                      # (..., n_k, d_v)
    dp = g @ np.swapaxes(v, -1, -2)                      # (..., n_q, n_k)
    ds = p * (dp - np.sum(dp * p, axis=-1, keepdims=True))  # softmax backward, row by row
    ds *= scale
    dq = ds @ k                                          # (..., n_q, d_k)
    dk = np.swapaxes(ds, -1, -2) @ q                     # (..., n_k, d_k)
    return dq, dk, dv


# ---- linear, layer norm, GELU -------------------------------------------------------------

def linear_backward(grad_out: Any, x: Any, w: Any, has_bias: bool = True
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients (dx, dw, db) of y = x @ w + b; grad_out: (..., d_out), x: (..., d_in), w: (d_in, d_out).

    dx = grad_out w^T: (..., d_in); dw = sum over all leading axes of x^T grad_out: (d_in, d_out);
    db = grad_out summed over the leading axes: (d_out,), or None when has_bias is False.
    """
    g = check_array(grad_out, "grad_out", min_ndim=1)
    x = check_array(x, "x", min_ndim=1)
    w = check_array(w, "w")
    if w.ndim != 2 or w.shape[0] != x.shape[-1]:
        raise ValueError(f"w must have shape (d_in={x.shape[-1]}, d_out) for x with shape {x.shape}, "
                         f"got {w.shape}")
    expected = x.shape[:-1] + (w.shape[1],)
    if g.shape != expected:
        raise ValueError(f"grad_out must have shape {expected} (x {x.shape} @ w {w.shape}), got {g.shape}")
    g2 = g.reshape(-1, g.shape[-1])
    dw = x.reshape(-1, x.shape[-1]).T @ g2
    db = g2.sum(axis=0) if check_flag(has_bias, "has_bias") else None
    return g @ w.T, dw, db


def layer_norm_backward(grad_out: Any, x: Any, gamma: Any, eps: float = 1e-5
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx, dgamma, dbeta) of `layer_norm(x, gamma, beta, eps)`; grad_out, x: (..., d).

    With xhat = (x - mean) / sigma and gh = grad_out * gamma:
    dx = (gh - mean(gh) - xhat * mean(gh * xhat)) / sigma  (means over the last axis),
    dgamma = sum of grad_out * xhat, dbeta = sum of grad_out, over all leading axes: (d,).
    """
    g = check_array(grad_out, "grad_out", min_ndim=1)
    x = check_array(x, "x", min_ndim=1)
    gamma = check_array(gamma, "gamma")
    _same_shape(g, x, "grad_out", "x")
    if gamma.shape != (x.shape[-1],):
        raise ValueError(f"gamma must have shape ({x.shape[-1]},) to match x with shape {x.shape}, "
                         f"got {gamma.shape}")
    eps = check_scalar(eps, "eps", positive=True)
    centred = x - x.mean(axis=-1, keepdims=True)
    inv_sigma = 1.0 / np.sqrt(np.mean(centred * centred, axis=-1, keepdims=True) + eps)
    xhat = centred * inv_sigma
    gh = g * gamma
    dx = inv_sigma * (gh - gh.mean(axis=-1, keepdims=True)
                      - xhat * np.mean(gh * xhat, axis=-1, keepdims=True))
    lead = tuple(range(x.ndim - 1))
    return dx, np.sum(g * xhat, axis=lead), np.sum(g, axis=lead)


def gelu_backward(grad_out: Any, x: Any) -> np.ndarray:
    """dL/dx of exact GELU x * Phi(x): grad_out * (Phi(x) + x * phi(x)); grad_out, x: (...)."""
    g = check_array(grad_out, "grad_out")
    x = check_array(x, "x")
    _same_shape(g, x, "grad_out", "x")
    cdf = 0.5 * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))
    pdf = np.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
    return g * (cdf + x * pdf)


# ---- cross-entropy ------------------------------------------------------------------------

def log_softmax(logits: Any) -> np.ndarray:
    """Stable log softmax over the last axis, x - max - log(sum(exp(x - max))); (..., V) -> (..., V)."""
    z = check_array(logits, "logits", min_ndim=1)
    check_finite(z, "logits")
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _check_targets(logits: np.ndarray, targets: Any, ignore_index: int) -> np.ndarray:
    """Validate integer targets: logits.shape[:-1] with values in [0, V) or ignore_index."""
    t = np.asarray(targets)
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"targets must hold integer class ids, got dtype {t.dtype} with shape {t.shape}")
    if t.shape != logits.shape[:-1]:
        raise ValueError(f"targets must have shape {logits.shape[:-1]} (logits {logits.shape} without "
                         f"the class axis), got {t.shape}")
    vocab = logits.shape[-1]
    bad = (t != ignore_index) & ((t < 0) | (t >= vocab))
    if bad.any():
        raise ValueError(f"targets must lie in [0, {vocab}) or equal ignore_index={ignore_index}; "
                         f"got {t[bad][0]} in targets with shape {t.shape}")
    return t


def _scored_targets(logp: np.ndarray, targets: Any, ignore_index: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Checked targets (...), the mask of scored positions (...), and how many there are (at least 1)."""
    t = _check_targets(logp, targets, ignore_index)
    scored = t != ignore_index
    count = int(scored.sum())
    if count == 0:
        raise ValueError(f"no target is scored: all {t.size} targets equal ignore_index={ignore_index}")
    return t, scored, count


def cross_entropy(logits: Any, targets: Any, ignore_index: int = IGNORE_INDEX) -> float:
    """Mean of -log softmax(logits)[target] over scored positions; logits: (..., V), targets: (...).

    Targets equal to `ignore_index` are not scored (and not counted in the mean).
    Computed from logits with log-sum-exp, so huge logits never overflow.
    """
    logp = log_softmax(logits)
    t, scored, count = _scored_targets(logp, targets, ignore_index)
    picked = np.take_along_axis(logp, np.where(scored, t, 0)[..., None], axis=-1)[..., 0]
    return float(-np.sum(picked[scored]) / count)


def cross_entropy_backward(logits: Any, targets: Any, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """d cross_entropy / d logits = (softmax(logits) - onehot(targets)) / count; (..., V) -> (..., V).

    Rows whose target is `ignore_index` get zero gradient; count = number of scored positions.
    """
    logp = log_softmax(logits)
    t, scored, count = _scored_targets(logp, targets, ignore_index)
    grad = np.exp(logp)
    grad[~scored] = 0.0
    where = np.nonzero(scored)
    grad[where + (t[where],)] -= 1.0  # softmax minus the one-hot target
    grad /= count
    return grad


# ---- embeddings ---------------------------------------------------------------------------

def embedding_backward(grad_out: Any, ids: Any, vocab_size: int) -> np.ndarray:
    """d L / d table for out = table[ids]; grad_out: (..., d), ids: (...) -> (vocab_size, d).

    Row t of the result is the sum of grad_out over every position holding token t; a token that
    occurs twice gets both contributions, which is why this is a scatter-add, not an assignment.
    """
    g = check_array(grad_out, "grad_out", min_ndim=1)
    ids = np.asarray(ids)
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"ids must hold integers, got dtype {ids.dtype} with shape {ids.shape}")
    if g.shape[:-1] != ids.shape:
        raise ValueError(f"grad_out must have shape ids.shape + (d,) = {ids.shape} + (d,), got {g.shape}")
    check_size(vocab_size * g.shape[-1], "vocab_size",
               "the (vocab_size, d) gradient table")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"ids must lie in [0, {vocab_size}), got values from {ids.min()} to {ids.max()}")
    table = np.zeros((vocab_size, g.shape[-1]), dtype=g.dtype)
    np.add.at(table, ids.reshape(-1), g.reshape(-1, g.shape[-1]))
    return table
