"""Why attention divides by sqrt(d_k): the experiment of chapter 4 as reusable functions.

For a query q and a key k whose d_k entries are independent with mean 0 and variance 1, the
score q . k has mean 0 and variance d_k (Vaswani et al. 2017, footnote 4). Unscaled, a softmax
over such scores saturates as d_k grows, and its Jacobian diag(s) - s s^T collapses towards
zero: the gradient that reaches the scores *vanishes*. The gradient that reaches W_Q,
dQ = c dS K (`query_gradient_norms`), splits: the typical query starves, near-ties spike.
Multiplying the scores by 1/sqrt(d_k) brings the variance back to 1. The chapter and any
interactive figure draw their numbers from these functions, so they always agree.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .attention import softmax
from .checks import (
    as_float_array,
    check_finite,
    check_flag,
    check_positive_int,
    check_size,
)

__all__ = [
    "SaturationStats",
    "dot_product_variance",
    "entropy",
    "query_gradient_norms",
    "random_dot_products",
    "random_scores",
    "saturation_stats",
    "softmax_jacobian",
]

# Draw at most this many numbers per chunk, so a large d_k never needs a huge temporary.
_CHUNK_ELEMENTS = 1 << 20


def _check_rng(rng: Any) -> np.random.Generator:
    """Return `rng` if it is a numpy Generator, else raise TypeError (no hidden global state)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy Generator such as np.random.default_rng(0), got {type(rng).__name__}"
        )
    return rng


def random_dot_products(
    d_k: int, n_samples: int, rng: np.random.Generator, *, scaled: bool = False
) -> np.ndarray:
    """Dot products q . k of n_samples independent pairs q, k: (d_k,) with N(0, 1) entries -> (n_samples,).

    With `scaled=True` every dot product is multiplied by 1/sqrt(d_k), as attention does.
    """
    d_k = check_positive_int(d_k, "d_k")
    n_samples = check_positive_int(n_samples, "n_samples")
    rng = _check_rng(rng)
    scaled = check_flag(scaled, "scaled")
    check_size(n_samples, "n_samples", "the dot products")
    check_size(2 * d_k, "d_k", "one query and one key")
    out = np.empty(n_samples)
    rows_per_chunk = max(1, _CHUNK_ELEMENTS // d_k)
    for start in range(0, n_samples, rows_per_chunk):
        stop = min(start + rows_per_chunk, n_samples)
        q = rng.standard_normal((stop - start, d_k))  # Shape of q: (chunk, d_k)
        k = rng.standard_normal((stop - start, d_k))  # Shape of k: (chunk, d_k)
        out[start:stop] = np.einsum("nd,nd->n", q, k)  # one dot product per row
    if scaled:
        out *= 1.0 / math.sqrt(d_k)
    return out


def dot_product_variance(
    d_k: int, n_samples: int, rng: np.random.Generator, *, scaled: bool = False
) -> float:
    """Measured variance of q . k (times 1/sqrt(d_k) if `scaled`) over n_samples random pairs.

    Theory: d_k unscaled, 1 scaled. q, k: (d_k,) with independent N(0, 1) entries.
    """
    return float(np.var(random_dot_products(d_k, n_samples, rng, scaled=scaled)))


def random_scores(
    d_k: int,
    n_queries: int,
    n_keys: int,
    rng: np.random.Generator,
    *,
    scaled: bool,
    n_batch: int | None = None,
) -> np.ndarray:
    """Attention scores Q K^T (times 1/sqrt(d_k) if `scaled`) of random Q: (n_queries, d_k), K: (n_keys, d_k).

    Entries of Q and K are independent N(0, 1). Returns scores: (n_queries, n_keys), or
    (n_batch, n_queries, n_keys) with `n_batch` independent sets of queries and keys.
    """
    d_k = check_positive_int(d_k, "d_k")
    n_queries = check_positive_int(n_queries, "n_queries")
    n_keys = check_positive_int(n_keys, "n_keys")
    rng = _check_rng(rng)
    lead = () if n_batch is None else (check_positive_int(n_batch, "n_batch"),)
    scaled = check_flag(scaled, "scaled")
    check_size(
        math.prod(lead) * ((n_queries + n_keys) * d_k + n_queries * n_keys),
        "d_k, n_queries, n_keys or n_batch",
        "the random queries, keys and scores",
    )
    q = rng.standard_normal(lead + (n_queries, d_k))
    k = rng.standard_normal(lead + (n_keys, d_k))
    scores = q @ np.swapaxes(k, -1, -2)  # Shape of scores: (*lead, n_queries, n_keys)
    if scaled:
        scores *= 1.0 / math.sqrt(d_k)
    return scores


def _check_distribution(s: Any, name: str) -> np.ndarray:
    """Return s: (..., n) as a float array after checking it is a probability vector along the last axis."""
    s = as_float_array(s, name, min_ndim=1)
    check_finite(s, name)
    if s.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one entry on its last axis, got shape {s.shape}")
    tol = 1e-4 if s.dtype == np.float32 else 1e-8
    if np.any(s < 0) or not np.allclose(s.sum(axis=-1), 1.0, atol=tol):
        raise ValueError(
            f"{name} with shape {s.shape} must hold softmax outputs: non-negative, each slice along "
            "the last axis summing to 1"
        )
    return s


def softmax_jacobian(s: Any) -> np.ndarray:
    """Softmax Jacobian diag(s) - s s^T (d s_i / d x_j = s_i (delta_ij - s_j)); s: (..., n) -> (..., n, n).

    `s` is the softmax output (not the scores): the Jacobian depends on the scores only through it.
    """
    s = _check_distribution(s, "s")
    jac = -s[..., :, None] * s[..., None, :]  # - s s^T, Shape: (..., n, n)
    idx = np.arange(s.shape[-1])
    jac[..., idx, idx] += s  # + diag(s)
    return jac


def entropy(weights: Any) -> np.ndarray:
    """Shannon entropy in nats of each distribution weights: (..., n) -> (...), with 0 log 0 = 0.

    It is log(n) for uniform weights and 0 for a one-hot (fully saturated) softmax.
    """
    w = _check_distribution(weights, "weights")
    logs = np.log(w, out=np.zeros_like(w), where=w > 0)  # 0 * log 0 counts as 0
    return -np.sum(w * logs, axis=-1)


class SaturationStats(NamedTuple):
    """How saturated a softmax over random scores is, averaged over queries (see `saturation_stats`)."""

    d_k: int
    scaled: bool
    score_std: float  # standard deviation of the scores: sqrt(d_k) unscaled, 1 scaled
    max_weight: float  # mean largest weight: 1/n_keys = uniform ... 1 = one-hot
    entropy: float  # mean entropy in nats: log(n_keys) = uniform ... 0 = one-hot
    # Frobenius norm of diag(s) - s s^T (0 = no gradient reaches the scores), median and mean over
    # queries: the median is the typical query; the mean is held up by the rare queries whose two
    # best keys nearly tie, which keep a gradient even in saturation.
    jacobian_norm_median: float
    jacobian_norm_mean: float


def saturation_stats(
    d_k: int,
    *,
    scaled: bool,
    rng: np.random.Generator,
    n_batch: int = 32,
    n_queries: int = 16,
    n_keys: int = 16,
) -> SaturationStats:
    """Softmax saturation of n_batch independent random Q: (n_queries, d_k), K: (n_keys, d_k), N(0,1) entries.

    Each query's weights s = softmax(scores row) give its largest weight, its entropy and the
    Frobenius norm of the softmax Jacobian diag(s) - s s^T; returns their means over all
    n_batch * n_queries queries (and the median of the norm), plus the standard deviation of all
    scores. Independent batches keep the result from hanging on one unlucky draw of n_keys keys.
    """
    # the Jacobians, (n_batch, n_queries, n_keys, n_keys), are the largest
    # array made here
    if n_batch is not None:
        check_size(
            check_positive_int(n_batch, "n_batch")
            * check_positive_int(n_queries, "n_queries")
            * check_positive_int(n_keys, "n_keys") ** 2,
            "n_batch, n_queries or n_keys",
            "the softmax Jacobians",
        )
    scores = random_scores(d_k, n_queries, n_keys, rng, scaled=scaled, n_batch=n_batch)
    weights = softmax(scores)  # Shape of weights: (n_batch, n_queries, n_keys)
    jac = softmax_jacobian(weights)  # Shape of jac: (n_batch, n_queries, n_keys, n_keys)
    norms = np.linalg.norm(jac, axis=(-2, -1))  # Shape of norms: (n_batch, n_queries)
    return SaturationStats(
        d_k=int(d_k),
        scaled=bool(scaled),
        score_std=float(scores.std()),
        max_weight=float(weights.max(axis=-1).mean()),
        entropy=float(entropy(weights).mean()),
        jacobian_norm_median=float(np.median(norms)),
        jacobian_norm_mean=float(norms.mean()),
    )


def query_gradient_norms(
    d_k: int,
    *,
    scaled: bool,
    rng: np.random.Generator,
    n_batch: int = 32,
    n_queries: int = 16,
    n_keys: int = 16,
) -> np.ndarray:
    """Per-query ||dL/dq||, random Q, K: (n_batch, n, d_k) -> (n_batch, n_q).

    This is the gradient that trains W_Q, dQ = c dS K with c = 1/sqrt(d_k) if
    `scaled` else 1, and dS = J^T G the softmax backward of each row. Q, K and
    the upstream gradient on the weights G = dL/ds: (n_batch, n_q, n_keys)
    have independent N(0, 1) entries, drawn from `rng` in that order (G stands
    for the rest of the network).
    """
    d_k = check_positive_int(d_k, "d_k")
    n_batch = check_positive_int(n_batch, "n_batch")
    n_queries = check_positive_int(n_queries, "n_queries")
    n_keys = check_positive_int(n_keys, "n_keys")
    rng = _check_rng(rng)
    c = 1.0 / math.sqrt(d_k) if scaled else 1.0
    q = rng.standard_normal((n_batch, n_queries, d_k))
    k = rng.standard_normal((n_batch, n_keys, d_k))
    g = rng.standard_normal((n_batch, n_queries, n_keys))  # G = dL/ds
    s = softmax(c * (q @ np.swapaxes(k, -1, -2)))  # (n_batch, n_q, n_keys)
    ds = (softmax_jacobian(s) @ g[..., None])[..., 0]  # J is symmetric: J^T G
    return np.linalg.norm(c * (ds @ k), axis=-1)  # ||row of c dS K||
