"""Multi-head attention: split the model width into heads, attend in each, merge, project.

Weights use the `y = x @ w + b` layout throughout: `w_q: (d_model, d_model)`. PyTorch's
`nn.Linear` stores the transpose (`(out, in)`), so its weights enter here as `weight.T`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .attention import scaled_dot_product_attention
from .checks import (
    as_float_array,
    check_array,
    check_finite,
    check_flag,
    check_float_dtype,
    check_mask,
    check_positive_int,
    check_scalar,
    check_size,
)
from .masks import check_mask_axes

__all__ = [
    "split_heads",
    "merge_heads",
    "multi_head_attention",
    "MultiHeadAttention",
    "grouped_query_attention",
]


def split_heads(x: Any, num_heads: int) -> np.ndarray:
    """(..., n, d_model) -> (..., num_heads, n, d_head), with d_head = d_model // num_heads.

    Reshape to (..., n, num_heads, d_head) *then* swap axes: each head gets its own slice of
    every token's features. Reshaping straight to (..., num_heads, n, d_head) would instead
    hand each head a mix of different tokens.
    """
    x = as_float_array(x, "x")
    num_heads = check_positive_int(num_heads, "num_heads")
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (..., n, d_model), got shape {x.shape}")
    n, d_model = x.shape[-2:]
    if d_model % num_heads:
        raise ValueError(
            f"num_heads={num_heads} must divide d_model={d_model} (x has shape {x.shape})"
        )
    x = x.reshape(*x.shape[:-1], num_heads, d_model // num_heads)  # (..., n, h, d_head)
    return np.swapaxes(x, -3, -2)  # (..., h, n, d_head)


def merge_heads(x: Any) -> np.ndarray:
    """(..., num_heads, n, d_head) -> (..., n, num_heads * d_head): the inverse of `split_heads`."""
    x = as_float_array(x, "x")
    if x.ndim < 3:
        raise ValueError(
            f"x must have at least 3 dimensions (..., num_heads, n, d_head), got shape {x.shape}"
        )
    x = np.swapaxes(x, -3, -2)  # (..., n, h, d_head)
    return x.reshape(*x.shape[:-2], x.shape[-2] * x.shape[-1])


def _check_linear(w: Any, b: Any, name: str, d_in: int, d_out: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Check w: (d_in, d_out) and b: (d_out,) (or None) and return them as arrays."""
    w = check_array(w, f"w_{name}")
    if w.shape != (d_in, d_out):
        raise ValueError(
            f"w_{name} must have shape (d_model, d_model) = ({d_in}, {d_out}) in the y = x @ w "
            f"layout, got {w.shape}"
        )
    if b is None:
        return w, None
    b = check_array(b, f"b_{name}")
    if b.shape != (d_out,):
        raise ValueError(f"b_{name} must have shape ({d_out},), got {b.shape}")
    return w, b


def _linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """x: (..., d_in) @ w: (d_in, d_out) + b: (d_out,) -> (..., d_out)."""
    y = x @ w
    if b is not None:
        y += b
    return y


def multi_head_attention(
    x_q: Any,
    x_kv: Any,
    w_q: Any,
    w_k: Any,
    w_v: Any,
    w_o: Any,
    num_heads: int,
    b_q: Any = None,
    b_k: Any = None,
    b_v: Any = None,
    b_o: Any = None,
    mask: Any = None,
    causal: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-head attention; returns (output (..., n_q, d_model), weights (..., num_heads, n_q, n_kv)).

    x_q: (..., n_q, d_model) gives the queries, x_kv: (..., n_kv, d_model) the keys and values
    (pass the same array twice for self-attention). w_*: (d_model, d_model), b_*: (d_model,).
    mask: boolean, True = may attend, either without a heads axis, broadcastable to
    (..., n_q, n_kv) and shared by all heads, or with one more axis for the heads,
    broadcastable to (..., num_heads, n_q, n_kv) (e.g. `padding_mask(lengths, n, heads=True)`).
    """
    x_q = as_float_array(x_q, "x_q")
    x_kv = as_float_array(x_kv, "x_kv")
    for name, arr in (("x_q", x_q), ("x_kv", x_kv)):
        if arr.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., n, d_model), got shape {arr.shape}")
    if x_q.shape[-1] != x_kv.shape[-1] or x_q.shape[:-2] != x_kv.shape[:-2]:
        raise ValueError(
            "x_q and x_kv must share batch dimensions and d_model: got x_q "
            f"{x_q.shape} and x_kv {x_kv.shape}"
        )
    d_model = x_q.shape[-1]
    check_finite(x_q, "x_q")
    check_finite(x_kv, "x_kv")
    num_heads = check_positive_int(num_heads, "num_heads")
    causal = check_flag(causal, "causal")
    if d_model % num_heads:
        raise ValueError(f"num_heads={num_heads} must divide d_model={d_model} (x_q has shape {x_q.shape})")
    w_q, b_q = _check_linear(w_q, b_q, "q", d_model, d_model)
    w_k, b_k = _check_linear(w_k, b_k, "k", d_model, d_model)
    w_v, b_v = _check_linear(w_v, b_v, "v", d_model, d_model)
    w_o, b_o = _check_linear(w_o, b_o, "o", d_model, d_model)
    if mask is not None:
        mask = _head_mask(mask, x_q.shape[:-2], num_heads, x_q.shape[-2], x_kv.shape[-2])

    q = split_heads(_linear(x_q, w_q, b_q), num_heads)  # (..., h, n_q, d_head)
    k = split_heads(_linear(x_kv, w_k, b_k), num_heads)  # (..., h, n_kv, d_head)
    v = split_heads(_linear(x_kv, w_v, b_v), num_heads)  # (..., h, n_kv, d_head)
    heads, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)
    return _linear(merge_heads(heads), w_o, b_o), weights


class MultiHeadAttention:
    """Parameters of one multi-head attention layer, initialised from a seeded `rng`, and its call."""

    def __init__(self, d_model: int, num_heads: int, rng: np.random.Generator, bias: bool = True,
                 dtype: Any = np.float64) -> None:
        """Draw w_q, w_k, w_v, w_o: (d_model, d_model) uniformly in +-1/sqrt(d_model); biases start at 0."""
        d_model = check_positive_int(d_model, "d_model")
        num_heads = check_positive_int(num_heads, "num_heads")
        if d_model % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
        dtype = check_float_dtype(dtype)
        bias = check_flag(bias, "bias")
        check_size(
            4 * d_model * (d_model + 1),
            "d_model",
            "the four weight matrices",
            itemsize=dtype.itemsize,
        )
        self.d_model, self.num_heads = d_model, num_heads
        bound = 1.0 / math.sqrt(d_model)
        self.params: dict[str, np.ndarray] = {}
        for name in "qkvo":
            self.params[f"w_{name}"] = rng.uniform(-bound, bound, size=(d_model, d_model)).astype(dtype)
            if bias:
                self.params[f"b_{name}"] = np.zeros(d_model, dtype=dtype)

    def __call__(self, x_q: Any, x_kv: Any = None, mask: Any = None,
                 causal: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Attend from x_q: (..., n_q, d_model) to x_kv (default: x_q, self-attention); see `multi_head_attention`."""
        x_kv = x_q if x_kv is None else x_kv
        for name, x in (("x_q", x_q), ("x_kv", x_kv)):
            shape = np.shape(x)
            if not shape or shape[-1] != self.d_model:
                raise ValueError(f"{name} must have shape (..., n, d_model={self.d_model}), got {shape}")
        return multi_head_attention(x_q, x_kv, num_heads=self.num_heads, mask=mask, causal=causal,
                                    **self.params)

    @property
    def num_parameters(self) -> int:
        """Number of trainable numbers: 4 d_model^2 weights (+ 4 d_model biases)."""
        return sum(p.size for p in self.params.values())


def grouped_query_attention(
    q: Any,
    k: Any,
    v: Any,
    mask: Any = None,
    causal: bool = False,
    scale: float | None = None,
    *,
    need_weights: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Grouped-query attention -> (output (..., num_heads, n_q, d_v), weights (..., num_heads, n_q, n_k)).

    q: (..., num_heads, n_q, d_k), k: (..., num_kv_heads, n_k, d_k), v: (..., num_kv_heads, n_k, d_v),
    with num_kv_heads dividing num_heads: query head h uses key/value head h // (num_heads //
    num_kv_heads), as in PyTorch's `enable_gqa` and Hugging Face's `repeat_kv`. num_kv_heads == 1 is
    multi-query attention, num_kv_heads == num_heads ordinary multi-head attention. mask:
    boolean, broadcastable to (..., num_heads, n_q, n_k). Other arguments as in
    `scaled_dot_product_attention`. The key/value heads are shared by broadcasting, never copied.
    """
    q = as_float_array(q, "q")
    k = as_float_array(k, "k")
    v = as_float_array(v, "v")
    causal = check_flag(causal, "causal")
    need_weights = check_flag(need_weights, "need_weights")
    for name, arr in (("q", q), ("k", k), ("v", v)):
        if arr.ndim < 3:
            raise ValueError(
                f"{name} must have at least 3 dimensions (..., heads, n, d), got shape {arr.shape}"
            )
    if k.shape[:-2] != v.shape[:-2]:
        raise ValueError(
            f"k and v must have the same batch and head dimensions: got k {k.shape} and v {v.shape}"
        )
    if q.shape[:-3] != k.shape[:-3]:
        raise ValueError(
            f"q and k must have the same batch dimensions (before the head axis): got q {q.shape} "
            f"and k {k.shape}"
        )
    num_heads, num_kv_heads = q.shape[-3], k.shape[-3]
    if num_kv_heads == 0 or num_heads % num_kv_heads:
        raise ValueError(
            f"the number of key/value heads ({num_kv_heads}, k has shape {k.shape}) must divide the "
            f"number of query heads ({num_heads}, q has shape {q.shape})"
        )
    group = num_heads // num_kv_heads
    batch, n_q, n_k = q.shape[:-3], q.shape[-2], k.shape[-2]
    if mask is not None:
        check_mask_axes(np.shape(mask), batch + (num_heads, n_q, n_k))
        mask = check_mask(mask, batch + (num_heads, n_q, n_k))
        # Split the head axis into (num_kv_heads, group); a size-1 head axis just gains one more.
        mask = mask.reshape((1,) * (len(batch) + 3 - mask.ndim) + mask.shape)
        if mask.shape[-3] == 1:
            mask = mask[..., None, :, :]
        else:
            mask = mask.reshape(mask.shape[:-3] + (num_kv_heads, group) + mask.shape[-2:])
    if scale is not None:
        scale = check_scalar(scale, "scale")
    # (..., num_kv_heads, group, n, d): each kv head is broadcast (a view) over its group of queries.
    q_grouped = q.reshape(batch + (num_kv_heads, group) + q.shape[-2:])
    k_shared = np.broadcast_to(k[..., None, :, :], batch + (num_kv_heads, group) + k.shape[-2:])
    v_shared = np.broadcast_to(v[..., None, :, :], batch + (num_kv_heads, group) + v.shape[-2:])
    out, weights = scaled_dot_product_attention(
        q_grouped, k_shared, v_shared, mask=mask, causal=causal, scale=scale, need_weights=need_weights
    )
    out = out.reshape(batch + (num_heads,) + out.shape[-2:])
    if weights is not None:
        weights = weights.reshape(batch + (num_heads, n_q, n_k))
    return out, weights


def _head_mask(mask: Any, batch: tuple[int, ...], num_heads: int, n_q: int,
               n_kv: int) -> np.ndarray:
    """A multi-head layer's mask -> boolean, broadcastable to (*batch, num_heads, n_q, n_kv).

    One axis more than the scores without heads means the mask has its own heads axis;
    otherwise it is shared by all heads, which gains it a size-1 heads axis.
    """
    arr = np.asarray(mask)
    # a 0-d or 1-d mask gains the query axis first, so the heads axis goes
    # before it
    arr = arr.reshape((1,) * max(0, 2 - arr.ndim) + arr.shape)
    scores_shape = batch + (n_q, n_kv)
    if arr.ndim == len(scores_shape) + 1:
        head_shape = batch + (num_heads, n_q, n_kv)
        return check_mask(arr, head_shape)
    check_mask_axes(arr.shape, scores_shape)
    return check_mask(arr, scores_shape)[..., None, :, :]  # the same mask for every head
