"""Boolean attention masks. Convention everywhere in this course: True means "may attend".

This is PyTorch's `scaled_dot_product_attention` convention. Beware: `torch.nn.MultiheadAttention`
uses the opposite (True = ignore) and Hugging Face uses integers (1 = attend).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .checks import check_positive_int, check_size

__all__ = ["causal_mask", "padding_mask"]


def causal_mask(n_q: int, n_k: int | None = None) -> np.ndarray:
    """Lower-triangular mask of shape (n_q, n_k): query i may attend to keys at positions <= its own.

    With n_k > n_q the queries are taken to be the *last* n_q positions of the sequence
    (query i sits at position i + n_k - n_q), which is what decoding with a KV cache needs.
    PyTorch's `is_causal=True` aligns to the top-left corner instead; the two agree when n_q == n_k.
    """
    n_q = check_positive_int(n_q, "n_q", allow_zero=True)
    n_k = n_q if n_k is None else check_positive_int(n_k, "n_k", allow_zero=True)
    check_size(n_q * n_k, "n_q or n_k", "the (n_q, n_k) mask", itemsize=1)
    query_position = np.arange(n_q)[:, None] + (n_k - n_q)
    key_position = np.arange(n_k)[None, :]
    return key_position <= query_position


def padding_mask(lengths: Any, n: int) -> np.ndarray:
    """Key-padding mask of shape (batch, 1, n): True for the first lengths[b] keys of sequence b.

    lengths: (batch,) true lengths of padded sequences; the middle axis of size 1 broadcasts
    over the queries, so the mask fits scores of shape (batch, n_q, n).
    """
    n = check_positive_int(n, "n", allow_zero=True)
    check_size(n, "n", "one row of the mask", itemsize=1)
    arr = np.asarray(lengths)
    if arr.ndim != 1:
        raise ValueError(f"lengths must be a 1-D array of shape (batch,), got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"lengths must hold integers, got dtype {arr.dtype} with shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > n):
        raise ValueError(
            f"lengths must lie in [0, n={n}], got values from {arr.min()} to {arr.max()}"
        )
    return (np.arange(n)[None, :] < arr[:, None])[:, None, :]
