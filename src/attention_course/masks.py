"""Boolean attention masks. Convention everywhere in this course: True means "may attend".

This is PyTorch's `scaled_dot_product_attention` convention. Beware: `torch.nn.MultiheadAttention`
uses the opposite (True = ignore) and Hugging Face uses integers (1 = attend).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .checks import check_positive_int, check_size

__all__ = ["causal_mask", "padding_mask", "check_mask_axes"]


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


def padding_mask(lengths: Any, n: int, *, heads: bool = False) -> np.ndarray:
    """Key-padding mask (batch, 1, n), or (batch, 1, 1, n) with heads=True.

    lengths: (batch,) true lengths of right-padded sequences; True for the first
    lengths[b] keys of sequence b. The size-1 axes broadcast over the queries (and
    the heads): use the default for scores (batch, n_q, n) and heads=True for scores
    (batch, heads, n_q, n). Without the heads axis, numpy would line the batch axis
    up with the heads axis; `check_mask_axes` refuses that.
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
    if not isinstance(heads, (bool, np.bool_)):
        raise TypeError(f"heads must be True or False, got {type(heads).__name__} {heads!r}")
    mask = (np.arange(n)[None, :] < arr[:, None])[:, None, :]  # (batch, 1, n)
    return mask[:, None] if heads else mask


def check_mask_axes(
    mask_shape: tuple[int, ...], scores_shape: tuple[int, ...], name: str = "mask"
) -> None:
    """Refuse a mask whose leading axes numpy would line up with the wrong score axes.

    mask_shape: the mask's shape; scores_shape: (..., n_q, n_k). Masks of 1 or 2 axes
    (n_k,) or (n_q, n_k), and masks with as many axes as the scores, are unambiguous.
    A mask with fewer axes is aligned from the right by numpy, so a (batch, 1, n_k)
    key-padding mask meets (batch, heads, n_q, n_k) scores with its batch axis on the
    heads axis: silently wrong when batch == heads. Such a mask is refused unless
    every one of its leading axes has size 1.
    """
    extra = len(scores_shape) - len(mask_shape)
    if len(mask_shape) <= 2 or extra <= 0 or all(s == 1 for s in mask_shape[:-2]):
        return
    axis = next(i for i, s in enumerate(mask_shape[:-2]) if s != 1)
    axes = "1 axis" if extra == 1 else f"{extra} axes"
    raise ValueError(
        f"{name} has shape {tuple(mask_shape)} ({len(mask_shape)} axes) but the attention "
        f"scores have shape {tuple(scores_shape)} ({len(scores_shape)} axes): numpy "
        f"would match the mask's axis {axis} (size {mask_shape[axis]}) with the scores' "
        f"axis {axis + extra} (size {scores_shape[axis + extra]}), which is the heads "
        "axis for (batch, heads, n_q, n_k) scores. Give the mask one axis per score "
        f"axis: add {axes} of size 1 after the batch axis (mask[:, None] turns a "
        "(batch, 1, n_k) padding mask into (batch, 1, 1, n_k)), or build it with "
        "padding_mask(lengths, n, heads=True)."
    )
