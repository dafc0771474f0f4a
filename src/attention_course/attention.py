"""Softmax and scaled dot-product attention: the heart of the course.

`scaled_dot_product_attention` computes softmax(q k^T * scale + mask) v, with scale = 1/sqrt(d_k).
It works in place on the one (..., n_q, n_k) weights buffer it returns, because every extra n x n
temporary costs as much time as a pass of arithmetic, and it walks that buffer in blocks of query
rows small enough to stay in the CPU cache during the softmax passes. Under `causal`, keys after a
block's last query are never computed. Large inputs are split over Python threads (see
`_run_in_threads`). benchmarks/bench_sdpa.py compares it with PyTorch.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, overload

import numpy as np

from .checks import (
    as_float_array,
    check_axis,
    check_finite,
    check_flag,
    check_mask,
    check_scalar,
)
from .masks import causal_mask, check_mask_axes

__all__ = ["softmax", "scaled_dot_product_attention"]


def softmax(x: Any, axis: int = -1, temperature: float = 1.0) -> np.ndarray:
    """Numerically stable softmax of x / temperature along `axis`; x: (...) -> same shape.

    Entries of -inf get weight exactly 0. A slice that is entirely -inf (nothing to attend
    to) gets all-zero weights instead of NaN. Any positive temperature, even a
    denormal one, gives the exact result (the shift comes before the division,
    so nothing overflows).
    """
    x = as_float_array(x, "x")
    temperature = check_scalar(temperature, "temperature", positive=True)
    check_finite(x, "x", allow_neg_inf=True)
    if x.ndim == 0:
        raise ValueError("x must have at least 1 dimension, got a scalar (shape ())")
    axis = check_axis(axis, x, "x")
    if temperature == 1.0:
        return _softmax_inplace(x.copy(), axis)
    # Shift by the row maximum *before* dividing: x / temperature overflows to
    # inf for a tiny temperature (inf - inf = NaN), while (x - max) /
    # temperature only reaches -inf, whose weight is exactly 0. So any positive
    # temperature gives the exact limit.
    row_max = np.max(x, axis=axis, keepdims=True) if x.size else 0.0
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    with np.errstate(over="ignore"):
        z = (x - row_max) / temperature
    return _softmax_inplace(z.astype(x.dtype, copy=False), axis)


def _softmax_inplace(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Overwrite the float array z: (...) with its softmax along `axis` and return it (no checks)."""
    if z.size == 0:
        return z
    z /= _exp_shifted_inplace(z, axis)
    return z


def _check_qkv(q: Any, k: Any, v: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate q: (..., n_q, d_k), k: (..., n_k, d_k), v: (..., n_k, d_v) and return arrays."""
    q = as_float_array(q, "q")
    k = as_float_array(k, "k")
    v = as_float_array(v, "v")
    for name, arr in (("q", q), ("k", k), ("v", v)):
        if arr.ndim < 2:
            raise ValueError(
                f"{name} must have at least 2 dimensions (..., n, d), got shape {arr.shape}"
            )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must share the last dimension d_k: q has shape {q.shape} "
            f"(d_k={q.shape[-1]}) but k has shape {k.shape} (d_k={k.shape[-1]})"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of keys n_k: k has shape {k.shape} "
            f"(n_k={k.shape[-2]}) but v has shape {v.shape} (n_k={v.shape[-2]})"
        )
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError(
            "q, k and v must have the same batch dimensions (everything before the last two "
            f"axes): got q {q.shape}, k {k.shape}, v {v.shape}; broadcast them explicitly "
            "if that is what you mean"
        )
    if q.shape[-1] == 0:
        raise ValueError(f"d_k must be at least 1, got q with shape {q.shape}")
    for name, arr in (("q", q), ("k", k), ("v", v)):
        check_finite(arr, name)
    dtype = np.result_type(q, k, v)
    return q.astype(dtype, copy=False), k.astype(dtype, copy=False), v.astype(dtype, copy=False)


def _check_scores_fit(q: np.ndarray, k: np.ndarray, scale: float) -> None:
    """Raise ValueError if q k^T * scale could overflow (inf - inf = NaN).

    A bound, not the exact scores: |score| <= d_k * max|q| * max|k| * |scale|.
    """
    if q.size == 0 or k.size == 0:
        return
    big = float(np.finfo(q.dtype).max) / 4
    q_max, k_max = float(np.max(np.abs(q))), float(np.max(np.abs(k)))
    bound = q.shape[-1] * q_max * k_max * abs(scale)
    if bound > big or q_max * abs(scale) > big:
        raise ValueError(
            f"q (max |q| = {q_max:.3g}, shape {q.shape}) and k (max |k| = "
            f"{k_max:.3g}, shape {k.shape}) are so large that the scores q "
            "k^T * "
            f"scale could overflow {q.dtype} (bound {bound:.3g}); scale the "
            "inputs "
            "down or use float64"
        )


# Rows of scores handled per step: 2**18 elements is 1 MiB in float32, so a block of scores
# stays in the L2 cache through all the softmax passes instead of streaming from main memory.
_BLOCK_ELEMENTS = 2**18


@overload
def scaled_dot_product_attention(
    q: Any, k: Any, v: Any, mask: Any = ..., causal: bool = ..., scale: float | None = ...,
    *, need_weights: Literal[True] = ...,
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def scaled_dot_product_attention(
    q: Any, k: Any, v: Any, mask: Any = ..., causal: bool = ..., scale: float | None = ...,
    *, need_weights: Literal[False],
) -> tuple[np.ndarray, None]: ...
@overload
def scaled_dot_product_attention(
    q: Any, k: Any, v: Any, mask: Any = ..., causal: bool = ..., scale: float | None = ...,
    *, need_weights: bool = ...,
) -> tuple[np.ndarray, np.ndarray | None]: ...


def scaled_dot_product_attention(
    q: Any,
    k: Any,
    v: Any,
    mask: Any = None,
    causal: bool = False,
    scale: float | None = None,
    *,
    need_weights: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Attention softmax(q k^T * scale) v; returns (output (..., n_q, d_v), weights (..., n_q, n_k)).

    q: (..., n_q, d_k), k: (..., n_k, d_k), v: (..., n_k, d_v). mask: boolean, broadcastable to
    (..., n_q, n_k), True = may attend, with 1, 2 or all of the scores' axes (a (batch, 1, n_k)
    mask on (batch, heads, n_q, n_k) scores is refused: see `check_mask_axes`).
    causal: also apply `causal_mask(n_q, n_k)`.
    scale: defaults to 1/sqrt(d_k). A query whose keys are all masked gets zero weights and a zero
    output, never NaN. need_weights=False returns (output, None) and skips normalising the
    n_q x n_k weights (the (n_q, d_v) output is divided by the row sums instead), which is faster.
    q and k so large that the scores could overflow (d_k max|q| max|k| scale
    near the float type's maximum) raise ValueError instead of returning NaN.
    """
    q, k, v = _check_qkv(q, k, v)
    causal = check_flag(causal, "causal")
    need_weights = check_flag(need_weights, "need_weights")
    n_q, d_k = q.shape[-2:]
    n_k, d_v = k.shape[-2], v.shape[-1]
    batch = q.shape[:-2]
    scores_shape = batch + (n_q, n_k)
    if mask is not None:
        check_mask_axes(np.shape(mask), scores_shape)
    allowed = None if mask is None else check_mask(mask, scores_shape)
    if causal:
        tri = causal_mask(n_q, n_k)
        allowed = tri if allowed is None else (allowed & tri)
    # A Python float keeps float32 scores float32 (a numpy float64 scalar would not).
    scale = 1.0 / math.sqrt(d_k) if scale is None else check_scalar(scale, "scale")
    _check_scores_fit(q, k, scale)

    out = np.zeros(batch + (n_q, d_v), dtype=q.dtype)
    weights = np.empty(scores_shape, dtype=q.dtype) if need_weights else None
    if n_q == 0 or n_k == 0:  # nothing to attend to: zero weights and zero output
        return out, weights
    # Scaling q (n_q x d_k numbers) is cheaper than scaling the scores (n_q x n_k).
    q_scaled = q * scale
    k_t = np.swapaxes(k, -1, -2)
    # `blocked` is computed once at the mask's own (broadcastable) shape, then viewed per block.
    blocked = None if allowed is None else np.broadcast_to(~allowed, scores_shape)
    if math.prod(scores_shape) <= _BLOCK_ELEMENTS:
        # Small problems (e.g. a batch of short sentences x heads) fit in the cache whole: one
        # batched pass, because a Python loop over hundreds of tiny blocks costs more than the maths.
        s = weights if weights is not None else np.empty(scores_shape, dtype=q.dtype)
        np.matmul(q_scaled, k_t, out=s)
        if blocked is not None:
            np.copyto(s, -np.inf, where=blocked)
        total = _exp_shifted_inplace(s)
        if weights is not None:
            s *= 1.0 / total
            np.matmul(s, v, out=out)
        else:
            np.matmul(s, v, out=out)
            out /= total
        return out, weights
    rows = max(1, min(n_q, _BLOCK_ELEMENTS // n_k))
    jobs = [(idx, r0, min(n_q, r0 + rows)) for idx in np.ndindex(batch) for r0 in range(0, n_q, rows)]

    def attend(part: list[tuple[tuple[int, ...], int, int]]) -> None:
        """Fill out (and weights) for these blocks of query rows."""
        scratch = None if weights is not None else np.empty(rows * n_k, dtype=q.dtype)
        for idx, r0, r1 in part:
            # Under `causal`, keys after this block's last query are masked for all its rows: their
            # weights are exactly 0, so they are not computed at all (about half the work).
            n_used = max(0, min(n_k, r1 + n_k - n_q)) if causal else n_k
            if weights is not None:
                # This block's scores, computed in place in the returned weights.
                weights[idx][r0:r1, n_used:] = 0.0
                s = weights[idx][r0:r1, :n_used]
            else:
                s = scratch[: (r1 - r0) * n_used].reshape(r1 - r0, n_used)  # type: ignore[index]
            if n_used == 0:
                continue  # every key is masked for these queries: zero weights, zero output
            np.matmul(q_scaled[idx][r0:r1], k_t[idx][:, :n_used], out=s)
            if blocked is not None:
                np.copyto(s, -np.inf, where=blocked[idx][r0:r1, :n_used])
            total = _exp_shifted_inplace(s)
            o = out[idx][r0:r1]
            if weights is not None:
                s *= 1.0 / total
                np.matmul(s, v[idx][:n_used], out=o)
            else:
                np.matmul(s, v[idx][:n_used], out=o)
                o /= total

    _run_in_threads(attend, jobs, work=math.prod(scores_shape))
    return out, weights


# Below this many scores, starting threads costs more than the second core saves.
_PARALLEL_MIN_SCORES = 2**18
# Below this, BLAS runs its small products on one thread anyway; skip the (~10 us) pinning.
_PIN_MIN_SCORES = 2**14


def _run_in_threads(fn: Callable[[list[Any]], None], jobs: list[Any], work: int) -> None:
    """Run fn over the jobs, split across as many Python threads as numpy's BLAS may use.

    numpy releases the GIL inside matmul and ufuncs, so two threads really run in parallel.
    BLAS is pinned to one thread meanwhile: a multi-threaded BLAS call on small blocks spends
    its time synchronising (and spin-waits badly when another process holds a core). Without
    the optional `threadpoolctl` package, or when BLAS is limited to one thread, fn runs serially.
    """
    blas_threads = _blas_threads() if work >= _PIN_MIN_SCORES else 1
    if blas_threads <= 1:
        fn(jobs)
        return
    threads = min(blas_threads, len(jobs), os.cpu_count() or 1) if work >= _PARALLEL_MIN_SCORES else 1
    with _threadpool_controller().limit(limits=1, user_api="blas"):
        if threads <= 1:
            fn(jobs)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(fn, [jobs[i::threads] for i in range(threads)]))  # list(): re-raise errors


@functools.lru_cache(maxsize=1)
def _threadpool_controller() -> Any:
    """A threadpoolctl controller (created once: it scans the loaded libraries), or None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _blas_threads() -> int:
    """How many threads numpy's BLAS is currently allowed to use (1 if unknown)."""
    controller = _threadpool_controller()
    if controller is None:
        return 1
    counts = [lib.num_threads for lib in controller.select(user_api="blas").lib_controllers]
    return max(counts, default=1)


def _exp_shifted_inplace(s: np.ndarray, axis: int = -1) -> np.ndarray:
    """Overwrite s with exp(s - max along `axis`) and return the sums along `axis` (kept dims), zeros as 1."""
    # Subtracting the max makes the largest exponent exp(0) = 1: no overflow, same result,
    # because softmax(x) == softmax(x - c) for any constant c.
    row_max = np.max(s, axis=axis, keepdims=True)
    row_max[~np.isfinite(row_max)] = 0.0  # an all -inf row: exp(-inf) = 0 everywhere
    np.subtract(s, row_max, out=s)
    np.exp(s, out=s)
    total = np.sum(s, axis=axis, keepdims=True)
    total[total == 0] = 1.0  # only fully masked rows sum to 0; leave them as zeros
    return total
