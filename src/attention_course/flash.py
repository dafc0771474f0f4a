"""Attention without the n x n matrix: online softmax and tiled (FlashAttention-style) attention.

The softmax of a row needs its maximum and its sum of exponentials. Both can be kept as running
values while the row streams past in blocks (Milakov & Gimelshein 2018): when a block raises the
running maximum from m to m', everything accumulated so far is rescaled by exp(m - m'). Applied to
attention (Rabe & Staats 2021; Dao et al. 2022), the weighted sum of values is rescaled the same
way, so one block of keys and values at a time is enough and memory stays O(n d) instead of O(n^2).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .attention import _check_qkv, _check_scores_fit
from .checks import (
    as_float_array,
    check_finite,
    check_flag,
    check_mask,
    check_positive_int,
    check_scalar,
    check_size,
)
from .masks import check_mask_axes

__all__ = ["online_softmax", "online_softmax_trace", "flash_attention", "attention_tiles"]


def online_softmax(x: Any, block_size: int = 1) -> np.ndarray:
    """Softmax along the last axis of x: (..., n) -> (..., n), with the normaliser found in one pass.

    The row is read in blocks of `block_size` entries, keeping a running maximum m and a running
    sum l = sum exp(x_j - m); a second, embarrassingly parallel pass then writes exp(x - m) / l.
    Equal to `softmax(x)` up to rounding, including -inf entries and all -inf rows (zeros).
    """
    x = as_float_array(x, "x", min_ndim=1)
    check_finite(x, "x", allow_neg_inf=True)
    block_size = check_positive_int(block_size, "block_size")
    m = np.full(x.shape[:-1] + (1,), -np.inf, dtype=x.dtype)
    row_sum = np.zeros_like(m)
    for j0 in range(0, x.shape[-1], block_size):
        m, row_sum = _online_update(m, row_sum, x[..., j0 : j0 + block_size])
    shift = np.where(np.isfinite(m), m, 0.0)
    out = np.exp(x - shift)
    return out / np.where(row_sum == 0, 1.0, row_sum)


def _online_update(m: np.ndarray, row_sum: np.ndarray, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step: fold block (..., b) into running max m (..., 1) and running sum l (..., 1)."""
    m_new = np.maximum(m, block.max(axis=-1, keepdims=True))
    shift = np.where(np.isfinite(m_new), m_new, 0.0)  # an all -inf prefix: nothing to rescale
    # exp(m - m_new) <= 1 rescales the old sum to the new maximum; exp(-inf) = 0 for a fresh start.
    sum_new = row_sum * np.exp(m - shift) + np.exp(block - shift).sum(axis=-1, keepdims=True)
    return m_new, sum_new


def online_softmax_trace(x: Any) -> dict[str, np.ndarray]:
    """Running values after each entry of a row x: (n,): keys "x", "max", "sum", "rescale" (each (n,)).

    "rescale" is exp(old max - new max), the factor the running sum is multiplied by at that step
    (1 when the maximum did not change).
    """
    x = as_float_array(x, "x")
    if x.ndim != 1:
        raise ValueError(f"x must be one row of shape (n,), got shape {x.shape}")
    check_finite(x, "x", allow_neg_inf=True)
    m, row_sum = np.full(1, -np.inf), np.zeros(1)
    maxes, sums, rescales = [], [], []
    for j in range(x.shape[0]):
        m_new, row_sum = _online_update(m, row_sum, x[j : j + 1])
        rescales.append(float(np.exp(m - m_new)[0]) if np.isfinite(m_new[0]) else 1.0)
        m = m_new
        maxes.append(float(m[0]))
        sums.append(float(row_sum[0]))
    return {
        "x": x.astype(np.float64),
        "max": np.array(maxes),
        "sum": np.array(sums),
        "rescale": np.array(rescales),
    }


def attention_tiles(n_q: int, n_k: int, block_size: int, causal: bool = False) -> np.ndarray:
    """Which tiles flash attention computes: int array (ceil(n_q/b), ceil(n_k/b)).

    0 = skipped (every query in the tile is before every key: fully above the causal diagonal),
    1 = computed with a partial causal mask (the tile straddles the diagonal), 2 = computed, no mask.
    Queries are aligned to the end of the keys, like `causal_mask(n_q, n_k)`.
    """
    n_q = check_positive_int(n_q, "n_q", allow_zero=True)
    n_k = check_positive_int(n_k, "n_k", allow_zero=True)
    block_size = check_positive_int(block_size, "block_size")
    causal = check_flag(causal, "causal")
    check_size(-(-n_q // block_size) * -(-n_k // block_size), "n_q * n_k",
               "the table of tiles")
    tiles = np.full((-(-n_q // block_size), -(-n_k // block_size)), 2, dtype=np.int64)
    if causal:
        offset = n_k - n_q  # query i sits at position i + offset
        for a, q0 in enumerate(range(0, n_q, block_size)):
            q1 = min(n_q, q0 + block_size)
            for b, k0 in enumerate(range(0, n_k, block_size)):
                k1 = min(n_k, k0 + block_size)
                tiles[a, b] = _tile_kind(q0, q1, k0, k1, offset)
    return tiles


def _tile_kind(q0: int, q1: int, k0: int, k1: int, offset: int) -> int:
    """0 skip / 1 partial / 2 full for queries [q0, q1) and keys [k0, k1) under the causal rule."""
    if k0 > q1 - 1 + offset:  # the first key is after the last query's position
        return 0
    if k1 - 1 <= q0 + offset:  # the last key is at or before the first query's position
        return 2
    return 1


def flash_attention(
    q: Any,
    k: Any,
    v: Any,
    block_size: int = 256,
    causal: bool = False,
    mask: Any = None,
    scale: float | None = None,
) -> np.ndarray:
    """Exact attention softmax(q k^T * scale) v in tiles, never forming the n_q x n_k matrix.

    q: (..., n_q, d_k), k: (..., n_k, d_k), v: (..., n_k, d_v) -> output (..., n_q, d_v), the same
    as `scaled_dot_product_attention(...)[0]` up to rounding. Queries and keys are taken
    `block_size` at a time; under `causal`, tiles fully above the diagonal are skipped. mask:
    boolean, broadcastable to (..., n_q, n_k), True = may attend. Fully masked rows give zeros.
    Extra memory: a few block_size x block_size tiles plus (block_size, d_v) accumulators.
    """
    q, k, v = _check_qkv(q, k, v)
    block_size = check_positive_int(block_size, "block_size")
    causal = check_flag(causal, "causal")
    n_q, d_k = q.shape[-2:]
    n_k, d_v = k.shape[-2], v.shape[-1]
    batch = q.shape[:-2]
    scores_shape = batch + (n_q, n_k)
    blocked = None
    if mask is not None:
        # A view, not a copy: only the tile being processed is ever read.
        check_mask_axes(np.shape(mask), scores_shape)
        blocked = np.broadcast_to(check_mask(mask, scores_shape), scores_shape)
    scale = 1.0 / math.sqrt(d_k) if scale is None else check_scalar(scale, "scale")
    _check_scores_fit(q, k, scale)
    dtype = q.dtype

    out = np.zeros(batch + (n_q, d_v), dtype=dtype)
    if n_q == 0 or n_k == 0:
        return out
    k_t = np.swapaxes(k, -1, -2)
    offset = n_k - n_q  # causal rule: query i (at position i + offset) sees keys j <= i + offset
    bs = block_size
    scratch = np.empty((min(bs, n_q), min(bs, n_k)), dtype=dtype)  # the one tile of scores
    pv = np.empty((min(bs, n_q), d_v), dtype=dtype)
    for idx in np.ndindex(batch):
        for q0 in range(0, n_q, bs):
            q1 = min(n_q, q0 + bs)
            rows = q1 - q0
            m = np.full((rows, 1), -np.inf, dtype=dtype)  # running max of each query's scores
            row_sum = np.zeros((rows, 1), dtype=dtype)  # running sum of exp(score - m)
            acc = out[idx][q0:q1]  # running sum of exp(score - m) * v, accumulated in place
            # Scaling the (rows, d_k) queries is cheaper than scaling every (rows, block) score.
            q_block, k_t_i, v_i = q[idx][q0:q1] * scale, k_t[idx], v[idx]
            for k0 in range(0, n_k, bs):
                k1 = min(n_k, k0 + bs)
                kind = _tile_kind(q0, q1, k0, k1, offset) if causal else 2
                if kind == 0:
                    break  # this tile and every later one lie above the diagonal
                s = scratch[:rows, : k1 - k0]
                np.matmul(q_block, k_t_i[:, k0:k1], out=s)
                if kind == 1:
                    pos_q = np.arange(q0, q1)[:, None] + offset
                    np.copyto(s, -np.inf, where=np.arange(k0, k1)[None, :] > pos_q)
                if blocked is not None:
                    np.copyto(s, -np.inf, where=~blocked[idx][q0:q1, k0:k1])
                m_new = np.maximum(m, s.max(axis=-1, keepdims=True))
                shift = m_new
                if np.isneginf(m_new).any():  # rows with nothing to attend to so far
                    shift = np.where(np.isfinite(m_new), m_new, 0.0).astype(dtype, copy=False)
                np.subtract(s, shift, out=s)
                np.exp(s, out=s)
                alpha = np.exp(m - shift)  # rescales what was accumulated under the old max
                row_sum *= alpha
                row_sum += s.sum(axis=-1, keepdims=True)
                acc *= alpha
                np.matmul(s, v_i[k0:k1], out=pv[:rows])
                acc += pv[:rows]
                m = m_new
            row_sum[row_sum == 0] = 1.0  # fully masked rows: acc is 0, keep it 0
            acc /= row_sum
    return out
