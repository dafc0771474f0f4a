"""A tiny attention-only model, with a forward pass that caches and a backward pass by hand.

    x_0  = tok_emb[ids] + pos_emb[positions]                          (batch, n, d_model)
    x_l  = x_{l-1} + attention_l(x_{l-1})    (or without "x_{l-1} +" if residual=False)
    logits = x_L @ w_out + b_out                                      (batch, n, vocab_size)

Each attention layer is multi-head self-attention without biases: q, k, v = x @ w_q, x @ w_k,
x @ w_v split into heads, `scaled_dot_product_attention` per head, heads merged, then @ w_o.
No feed-forward and no layer norm: the model can only *move* information between positions,
which keeps what it learns visible in its attention maps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..attention import scaled_dot_product_attention
from ..checks import (
    check_flag,
    check_float_dtype,
    check_positive_int,
    check_scalar,
    check_size,
)
from ..heads import merge_heads, split_heads
from .grad import (
    attention_backward,
    cross_entropy,
    cross_entropy_backward,
    embedding_backward,
    linear_backward,
)

__all__ = ["TinyAttentionModel"]


class TokenModel:
    """What every token model here shares: its sizes, parameter count and id checks."""

    params: dict[str, np.ndarray]

    def _set_sizes(self, vocab_size: int, seq_len: int, d_model: int, num_heads: int,
                   num_layers: int) -> None:
        """Check and store the sizes; num_heads must divide d_model."""
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.seq_len = check_positive_int(seq_len, "seq_len")
        self.d_model = check_positive_int(d_model, "d_model")
        self.num_heads = check_positive_int(num_heads, "num_heads")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        if d_model % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")

    @property
    def num_parameters(self) -> int:
        """Number of trainable numbers."""
        return sum(arr.size for arr in self.params.values())

    def _check_ids(self, ids: Any) -> np.ndarray:
        """Validate ids: (batch, n) integers in [0, vocab_size) with n <= seq_len."""
        ids = np.asarray(ids)
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"ids must hold integer token ids, got dtype {ids.dtype} with shape {ids.shape}")
        if ids.ndim != 2 or not 1 <= ids.shape[1] <= self.seq_len:
            raise ValueError(f"ids must have shape (batch, n) with 1 <= n <= seq_len={self.seq_len}, "
                             f"got {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"ids must lie in [0, vocab_size={self.vocab_size}), got values from "
                             f"{ids.min()} to {ids.max()}")
        return ids


class TinyAttentionModel(TokenModel):
    """Token + learned position embeddings, `num_layers` attention layers, a linear read-out."""

    def __init__(self, vocab_size: int, seq_len: int, d_model: int = 32, num_heads: int = 1,
                 num_layers: int = 1, residual: bool = True, causal: bool = False, seed: int = 0,
                 dtype: Any = np.float64, scale: float | None = None) -> None:
        """Draw all parameters from np.random.default_rng(seed); see the module docstring.

        scale: the attention score scale, default 1/sqrt(d_head); 1.0 trains
        without it (chapter 4's comparison).
        """
        self._set_sizes(vocab_size, seq_len, d_model, num_heads, num_layers)
        dtype = check_float_dtype(dtype)
        seed = check_positive_int(seed, "seed", allow_zero=True)
        self.residual = check_flag(residual, "residual")
        self.causal = check_flag(causal, "causal")
        self.scale = (None if scale is None
                      else check_scalar(scale, "scale", positive=True))
        count = ((vocab_size + seq_len) * d_model
                 + 4 * num_layers * d_model**2 + (d_model + 1) * vocab_size)
        check_size(count, "vocab_size, seq_len, d_model or num_layers",
                   f"{count:.3g} parameters")
        rng = np.random.default_rng(seed)
        bound = 1.0 / math.sqrt(d_model)  # keeps x @ w about as large as x at the start
        p: dict[str, np.ndarray] = {
            "tok_emb": rng.normal(0.0, 1.0, (vocab_size, d_model)),
            "pos_emb": rng.normal(0.0, 1.0, (seq_len, d_model)),
        }
        for layer in range(num_layers):
            for name in "qkvo":
                p[f"{layer}.w_{name}"] = rng.uniform(-bound, bound, (d_model, d_model))
        p["w_out"] = rng.uniform(-bound, bound, (d_model, vocab_size))
        p["b_out"] = np.zeros(vocab_size)
        self.params = {name: arr.astype(dtype) for name, arr in p.items()}

    def forward(self, ids: Any) -> tuple[np.ndarray, dict[str, Any]]:
        """ids: (batch, n) -> (logits (batch, n, vocab_size), cache of the activations backward needs)."""
        ids = self._check_ids(ids)
        p, h = self.params, self.num_heads
        x = p["tok_emb"][ids] + p["pos_emb"][: ids.shape[1]]
        layers = []
        for layer in range(self.num_layers):
            q = split_heads(x @ p[f"{layer}.w_q"], h)  # (batch, h, n, d_head)
            k = split_heads(x @ p[f"{layer}.w_k"], h)
            v = split_heads(x @ p[f"{layer}.w_v"], h)
            heads, weights = scaled_dot_product_attention(
                q, k, v, causal=self.causal, scale=self.scale)
            merged = merge_heads(heads)  # (batch, n, d_model)
            out = merged @ p[f"{layer}.w_o"]
            layers.append({"x": x, "q": q, "k": k, "v": v, "weights": weights, "merged": merged})
            x = x + out if self.residual else out
        logits = x @ p["w_out"] + p["b_out"]
        return logits, {"ids": ids, "layers": layers, "x_final": x}

    def backward(self, grad_logits: np.ndarray, cache: dict[str, Any]) -> dict[str, np.ndarray]:
        """dL/dlogits: (batch, n, vocab_size) and the forward cache -> dict of dL/dparam, same names."""
        p, h = self.params, self.num_heads
        grads: dict[str, np.ndarray] = {}
        dx, grads["w_out"], db_out = linear_backward(grad_logits, cache["x_final"], p["w_out"])
        assert db_out is not None  # has_bias=True
        grads["b_out"] = db_out
        for layer in reversed(range(self.num_layers)):
            c = cache["layers"][layer]
            d_merged, grads[f"{layer}.w_o"], _ = linear_backward(dx, c["merged"], p[f"{layer}.w_o"], False)
            dq, dk, dv = attention_backward(split_heads(d_merged, h), c["q"], c["k"], c["v"],
                                            c["weights"], scale=self.scale,
                                            causal=self.causal)
            d_in = dx if self.residual else np.zeros_like(dx)  # the skip passes dx straight through
            for name, d_head in (("q", dq), ("k", dk), ("v", dv)):
                d_x, grads[f"{layer}.w_{name}"], _ = linear_backward(
                    merge_heads(d_head), c["x"], p[f"{layer}.w_{name}"], False)
                d_in = d_in + d_x
            dx = d_in
        ids = cache["ids"]
        grads["tok_emb"] = embedding_backward(dx, ids, self.vocab_size)
        grads["pos_emb"] = np.zeros_like(p["pos_emb"])
        grads["pos_emb"][: ids.shape[1]] = dx.sum(axis=0)  # every sequence uses every position once
        return grads

    def loss_and_grads(self, ids: Any, targets: Any) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
        """Mean cross-entropy on targets: (batch, n), its gradients, and the logits: (batch, n, vocab)."""
        logits, cache = self.forward(ids)
        loss = cross_entropy(logits, targets)
        return loss, self.backward(cross_entropy_backward(logits, targets), cache), logits

    def attention_maps(self, ids: Any) -> list[np.ndarray]:
        """Attention weights of every layer for ids: (batch, n): a list of (batch, num_heads, n, n)."""
        _, cache = self.forward(ids)
        return [c["weights"] for c in cache["layers"]]

    def predict(self, ids: Any) -> np.ndarray:
        """Most likely token at every position: ids: (batch, n) -> (batch, n) int64."""
        logits, _ = self.forward(ids)
        return logits.argmax(axis=-1)
