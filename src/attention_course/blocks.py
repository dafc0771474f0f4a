"""The pieces of a Transformer block around attention: layer norm, GELU, feed-forward, and the block."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import erf, expit

from .checks import (
    as_float_array,
    check_array,
    check_finite,
    check_flag,
    check_float_dtype,
    check_positive_int,
    check_scalar,
    check_size,
)
from .heads import MultiHeadAttention

__all__ = [
    "layer_norm",
    "gelu",
    "feed_forward",
    "TransformerBlock",
    "rms_norm",
    "silu",
    "swiglu",
]


def layer_norm(x: Any, gamma: Any, beta: Any, eps: float = 1e-5) -> np.ndarray:
    """Normalise each row of x: (..., d) to mean 0, variance 1, then scale by gamma: (d,), shift by beta: (d,)."""
    x = as_float_array(x, "x", min_ndim=1)
    gamma = check_array(gamma, "gamma")
    beta = check_array(beta, "beta")
    d = x.shape[-1]
    for name, arr in (("gamma", gamma), ("beta", beta)):
        if arr.shape != (d,):
            raise ValueError(f"{name} must have shape ({d},) to match x with shape {x.shape}, got {arr.shape}")
    eps = check_scalar(eps, "eps", positive=True)
    check_finite(x, "x")
    # Divide each row by a power of two near its largest |x| first: squares of
    # 1e200 (or 1e30 in float32) overflow, and a power of two changes no bit of
    # the result.
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        _, exponent = np.frexp(np.max(np.abs(x), axis=-1, keepdims=True))
        scale = np.ldexp(np.ones_like(exponent, dtype=x.dtype), exponent)
        xs = x / scale
        mean = xs.mean(axis=-1, keepdims=True)
        centred = xs - mean
        # The biased variance (divide by d), as in the original paper and in
        # PyTorch.
        var = np.mean(centred * centred, axis=-1, keepdims=True)
        out = centred / np.sqrt(var + eps / (scale * scale))
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
    x = check_array(x, "x", min_ndim=1)
    w_1, b_1, w_2, b_2 = (check_array(a, n) for a, n in
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


class TransformerBlock:
    """One Transformer layer: self-attention, optional cross-attention, feed-forward, each with a
    residual connection and a layer norm; parameters drawn from a seeded `rng`.

    - encoder block: `TransformerBlock(d_model, num_heads, d_ff, rng)`;
    - causal decoder block (GPT): `causal=True`;
    - decoder block of an encoder-decoder (T5, the original Transformer): `causal=True,
      cross_attention=True`, called with the encoder output as `memory`.

    Pre-norm (`norm_first=True`, the default, as in GPT-2 and most models since) computes
    `x = x + sublayer(layer_norm(x))`; post-norm (`norm_first=False`, the 2017 paper, BERT) computes
    `x = layer_norm(x + sublayer(x))`. There is no dropout: the blocks of this course are for
    inference and for understanding; chapter 9 explains where dropout would go.
    The sub-layers map onto PyTorch's `nn.TransformerEncoderLayer` / `nn.TransformerDecoderLayer`
    (norm1/2/3 = ln1/2/3 here) with weights transposed.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, rng: np.random.Generator, *,
                 causal: bool = False, cross_attention: bool = False, norm_first: bool = True,
                 eps: float = 1e-5, dtype: Any = np.float64) -> None:
        """Attention weights as in `MultiHeadAttention`; w_1: (d_model, d_ff), w_2: (d_ff, d_model)
        uniform in +-1/sqrt(fan_in); biases 0; layer norms gamma = 1, beta = 0."""
        d_model = check_positive_int(d_model, "d_model")
        d_ff = check_positive_int(d_ff, "d_ff")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}"
            )
        dtype = check_float_dtype(dtype)
        check_size(
            2 * d_model * d_ff,
            "d_model or d_ff",
            "the feed-forward weights",
            itemsize=dtype.itemsize,
        )
        causal, cross_attention, norm_first = (
            check_flag(causal, "causal"),
            check_flag(cross_attention, "cross_attention"),
            check_flag(norm_first, "norm_first"),
        )
        self.d_model, self.num_heads, self.d_ff = d_model, num_heads, d_ff
        self.causal, self.norm_first = bool(causal), bool(norm_first)
        self.eps = check_scalar(eps, "eps", positive=True)
        self.self_attn = MultiHeadAttention(d_model, num_heads, rng, dtype=dtype)
        self.cross_attn = (
            MultiHeadAttention(d_model, num_heads, rng, dtype=dtype) if cross_attention else None
        )
        self.params: dict[str, np.ndarray] = {}
        for i in (1, 2, 3) if cross_attention else (1, 2):
            self.params[f"ln{i}_gamma"] = np.ones(d_model, dtype=dtype)
            self.params[f"ln{i}_beta"] = np.zeros(d_model, dtype=dtype)
        b1, b2 = 1.0 / math.sqrt(d_model), 1.0 / math.sqrt(d_ff)
        self.params["w_1"] = rng.uniform(-b1, b1, size=(d_model, d_ff)).astype(dtype)
        self.params["b_1"] = np.zeros(d_ff, dtype=dtype)
        self.params["w_2"] = rng.uniform(-b2, b2, size=(d_ff, d_model)).astype(dtype)
        self.params["b_2"] = np.zeros(d_model, dtype=dtype)

    def _norm(self, x: np.ndarray, i: int) -> np.ndarray:
        """Layer norm number i (1 = self-attention, 2 = cross-attention or feed-forward, last = FFN)."""
        return layer_norm(x, self.params[f"ln{i}_gamma"], self.params[f"ln{i}_beta"], self.eps)

    def _sublayer(self, x: np.ndarray, i: int, fn: Any) -> np.ndarray:
        """Residual connection around fn with layer norm i, before (pre-norm) or after (post-norm)."""
        if self.norm_first:
            return x + fn(self._norm(x, i))
        return self._norm(x + fn(x), i)

    def _check_inputs(self, x: Any, memory: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Check x: (..., n, d_model) and memory: (..., n_mem, d_model) against this block."""
        x = as_float_array(x, "x")
        if x.ndim < 2 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"x must have shape (..., n, d_model) with d_model={self.d_model}, got shape {x.shape}"
            )
        check_finite(x, "x")
        if self.cross_attn is None:
            if memory is not None:
                raise ValueError(
                    f"this block has no cross-attention, but memory with shape {np.shape(memory)} was "
                    "given; build it with cross_attention=True"
                )
            return x, None
        if memory is None:
            raise ValueError(
                f"this block has cross-attention and needs memory (..., n_mem, d_model={self.d_model}), "
                f"the encoder output, for x with shape {x.shape}"
            )
        memory = as_float_array(memory, "memory")
        if memory.ndim != x.ndim or memory.shape[-1] != self.d_model or memory.shape[:-2] != x.shape[:-2]:
            raise ValueError(
                f"memory must have shape (..., n_mem, d_model) with the batch dimensions of x and "
                f"d_model={self.d_model}: x has shape {x.shape}, memory has shape {memory.shape}"
            )
        check_finite(memory, "memory")
        return x, memory

    def __call__(self, x: Any, memory: Any = None, mask: Any = None,
                 memory_mask: Any = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Apply the block to x: (..., n, d_model); returns (output (..., n, d_model), weights).

        weights["self"]: (..., num_heads, n, n); with cross-attention also
        weights["cross"]: (..., num_heads, n, n_mem). memory: (..., n_mem, d_model), the encoder
        output (cross-attention blocks only). mask: boolean, broadcastable to (..., n, n), True = may
        attend, combined with the causal mask if the block is causal. memory_mask: the same for the
        cross-attention scores (..., n, n_mem), e.g. a padding mask of the source.
        """
        x, memory = self._check_inputs(x, memory)
        for name, m in (("mask", mask), ("memory_mask", memory_mask)):
            if m is not None and np.asarray(m).dtype != np.bool_:
                raise TypeError(
                    f"{name} must be a boolean array (True = may attend), got "
                    "dtype "
                    f"{np.asarray(m).dtype} with shape {np.shape(m)}"
                )
        weights: dict[str, np.ndarray] = {}

        def self_attention(h: np.ndarray) -> np.ndarray:
            out, weights["self"] = self.self_attn(h, h, mask=mask, causal=self.causal)
            return out

        def cross_attention(h: np.ndarray) -> np.ndarray:
            # Queries from the decoder (h), keys and values from the encoder output (memory).
            assert self.cross_attn is not None
            out, weights["cross"] = self.cross_attn(h, memory, mask=memory_mask)
            return out

        def ffn(h: np.ndarray) -> np.ndarray:
            p = self.params
            return feed_forward(h, p["w_1"], p["b_1"], p["w_2"], p["b_2"])

        x = self._sublayer(x, 1, self_attention)
        if self.cross_attn is not None:
            x = self._sublayer(x, 2, cross_attention)
            x = self._sublayer(x, 3, ffn)
        else:
            x = self._sublayer(x, 2, ffn)
        return x, weights

    @property
    def num_parameters(self) -> int:
        """Number of trainable numbers in the block (attention, feed-forward, layer norms)."""
        total = sum(p.size for p in self.params.values()) + self.self_attn.num_parameters
        return total + (self.cross_attn.num_parameters if self.cross_attn is not None else 0)


def rms_norm(x: Any, weight: Any, eps: float = 1e-5) -> np.ndarray:
    """RMSNorm: x / sqrt(mean(x^2) + eps) * weight; x: (..., d), weight: (d,).

    Layer norm without the mean subtraction and without the shift beta
    (Zhang & Sennrich, 2019): it only rescales each row to root mean square 1.
    Llama-style decoders use it because it is cheaper and trains as well.
    """
    x = as_float_array(x, "x", min_ndim=1)
    weight = as_float_array(weight, "weight")
    d = x.shape[-1]
    if weight.shape != (d,):
        raise ValueError(
            f"weight must have shape ({d},) to match x with shape {x.shape}, "
            f"got {weight.shape}"
        )
    eps = check_scalar(eps, "eps", positive=True)
    check_finite(x, "x")
    check_finite(weight, "weight")
    weight = weight.astype(x.dtype, copy=False)
    top = np.max(np.abs(x), axis=-1, keepdims=True) if x.size else x
    if x.size and top.max() >= np.sqrt(np.finfo(x.dtype).max / d):
        # x * x would overflow: x / rms is the same after dividing each row
        # by its largest |value| (and eps by its square)
        top = np.where(top > 0, top, 1.0).astype(x.dtype)
        with np.errstate(under="ignore"):
            return _rms_norm_rows(x / top, weight, eps / top / top)
    return _rms_norm(x, weight, eps)


def _rms_norm_rows(
    x: np.ndarray, weight: np.ndarray, eps: np.ndarray
) -> np.ndarray:
    """_rms_norm with one eps per row, eps: (..., 1)."""
    mean_square = np.mean(x * x, axis=-1, keepdims=True)
    return x * (1.0 / np.sqrt(mean_square + eps)).astype(x.dtype) * weight


def _rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """rms_norm without input checks, for a model's hot loop; x: (..., d)."""
    mean_square = np.mean(x * x, axis=-1, keepdims=True)
    return x * (1.0 / np.sqrt(mean_square + eps)).astype(x.dtype) * weight


def silu(x: Any) -> np.ndarray:
    """SiLU (or swish), x * sigmoid(x); x: (...) -> same shape."""
    x = as_float_array(x, "x")
    check_finite(x, "x")
    return _silu(x)


def _silu(x: np.ndarray) -> np.ndarray:
    """silu without input checks; x: (...) -> same shape, same dtype."""
    # expit is sigmoid without overflow warnings for very negative x.
    return x * expit(x)


def swiglu(x: Any, w_gate: Any, w_up: Any, w_down: Any) -> np.ndarray:
    """SwiGLU feed-forward (silu(x @ w_gate) * (x @ w_up)) @ w_down.

    x: (..., d_model), w_gate and w_up: (d_model, d_ff),
    w_down: (d_ff, d_model).
    A gated variant of `feed_forward` (Shazeer, 2020): one branch decides, per
    feature, how much of the other branch passes. No biases, as in Llama.
    """
    x = as_float_array(x, "x", min_ndim=1)
    w_gate, w_up, w_down = (as_float_array(a, n) for a, n in
                            ((w_gate, "w_gate"), (w_up, "w_up"),
                             (w_down, "w_down")))
    d_model = x.shape[-1]
    if w_gate.ndim != 2 or w_gate.shape[0] != d_model:
        raise ValueError(
            f"w_gate must have shape (d_model={d_model}, d_ff) for x with "
            f"shape {x.shape}, got {w_gate.shape}"
        )
    d_ff = w_gate.shape[1]
    if w_up.shape != w_gate.shape:
        raise ValueError(
            f"w_up must have shape {w_gate.shape} like w_gate, "
            f"got {w_up.shape}"
        )
    if w_down.shape != (d_ff, d_model):
        raise ValueError(
            f"w_down must have shape ({d_ff}, {d_model}), got {w_down.shape}"
        )
    for name, arr in (("x", x), ("w_gate", w_gate), ("w_up", w_up),
                      ("w_down", w_down)):
        check_finite(arr, name)
    with np.errstate(over="ignore", invalid="ignore"):
        out = _swiglu(x, w_gate, w_up, w_down)
    if not np.isfinite(out).all():  # the two branches multiply: x squared
        raise ValueError(
            f"x (largest |value| {np.abs(x).max():.3g}) or the weights are "
            f"too large: silu(x @ w_gate) * (x @ w_up) overflows {out.dtype}"
        )
    return out


def _swiglu(x: np.ndarray, w_gate: np.ndarray, w_up: np.ndarray,
            w_down: np.ndarray) -> np.ndarray:
    """swiglu without input checks, for a model's hot loop."""
    gate = _silu(x @ w_gate)
    gate *= x @ w_up
    return gate @ w_down
