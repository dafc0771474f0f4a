"""A decoder-only Transformer language model, trained by the hand-written
backward passes.

    x_0    = tok_emb[ids] + pos_emb[:n]             (batch, n, d_model)
    x      = x + attention(layer_norm(x)) @ w_o     causal, per block
    x      = x + gelu(layer_norm(x) @ w_1 + b_1) @ w_2 + b_2  (d_ff > 0)
    logits = layer_norm(x) @ w_out + b_out          (batch, n, vocab)

This is GPT's shape ("pre-norm": each sub-layer reads a normalised copy of the
residual stream and adds its result back). Position i predicts token i + 1, and
the causal mask is what makes that honest: with `causal=False` (chapter 13's
Myth 5) position i can read token i + 1. Every piece reuses the package:
`layer_norm`, `gelu`, `scaled_dot_product_attention`, `split_heads` /
`merge_heads` forwards, and `grad.py`'s backward passes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..attention import _BLOCK_ELEMENTS, scaled_dot_product_attention, softmax
from ..blocks import gelu, layer_norm
from ..checks import (
    _short,
    check_array,
    check_flag,
    check_float_dtype,
    check_positive_int,
    check_scalar,
    check_size,
)
from ..heads import merge_heads, split_heads
from ..masks import causal_mask
from .grad import (
    attention_backward,
    cross_entropy,
    cross_entropy_backward,
    embedding_backward,
    gelu_backward,
    layer_norm_backward,
    linear_backward,
)
from .model import TokenModel

__all__ = ["DecoderLM"]

Heads = Iterable[tuple[int, int]]  # (layer, head) pairs


class DecoderLM(TokenModel):
    """Embeddings, pre-norm blocks, a final norm and a read-out."""

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        d_model: int = 64,
        num_heads: int = 4,
        num_layers: int = 2,
        d_ff: int = 0,
        causal: bool = True,
        flip_mask: bool = False,
        seed: int = 0,
        dtype: Any = np.float64,
    ) -> None:
        """Seeded parameters; d_ff=0 gives an attention-only model.

        causal=False removes the mask; flip_mask=True passes the causal
        mask negated (a True = ignore mask given to a True = attend
        function): each position then sees only the tokens after it.
        """
        self._set_sizes(vocab_size, seq_len, d_model, num_heads, num_layers)
        self.d_ff = check_positive_int(d_ff, "d_ff", allow_zero=True)
        self.causal = check_flag(causal, "causal")
        self.flip_mask = check_flag(flip_mask, "flip_mask")
        if self.causal and self.flip_mask:
            raise ValueError(
                "flip_mask=True replaces the causal mask: pass "
                "causal=False with it"
            )
        self.dtype = check_float_dtype(dtype)
        seed = check_positive_int(seed, "seed", allow_zero=True)
        ff = 3 * d_model + self.d_ff * (2 * d_model + 1) if self.d_ff else 0
        per_block = 4 * d_model**2 + 2 * d_model + ff
        count = (vocab_size + seq_len) * d_model + num_layers * per_block
        count += 2 * d_model + (d_model + 1) * vocab_size  # norm, read-out
        check_size(
            count,
            "vocab_size, seq_len, d_model, num_layers or d_ff",
            f"{count:.3g} parameters",
        )
        rng = np.random.default_rng(seed)
        d = d_model

        def uniform(
            fan_in: int, shape: tuple[int, ...], gain: float = 1.0
        ) -> np.ndarray:
            bound = gain / math.sqrt(fan_in)  # x @ w about as large as x
            return rng.uniform(-bound, bound, shape)

        # Each block adds to the residual stream; shrinking the write-back
        # weights keeps the stream's size steady however many blocks there are.
        shrink = 1.0 / math.sqrt(2 * num_layers)
        p: dict[str, np.ndarray] = {
            "tok_emb": rng.normal(0.0, 1.0, (vocab_size, d)),
            "pos_emb": rng.normal(0.0, 0.1, (seq_len, d)),
        }
        for i in range(num_layers):
            p[f"{i}.ln1_g"], p[f"{i}.ln1_b"] = np.ones(d), np.zeros(d)
            for name in "qkv":
                p[f"{i}.w_{name}"] = uniform(d, (d, d))
            p[f"{i}.w_o"] = uniform(d, (d, d), shrink)
            if self.d_ff:
                p[f"{i}.ln2_g"], p[f"{i}.ln2_b"] = np.ones(d), np.zeros(d)
                p[f"{i}.w_1"] = uniform(d, (d, self.d_ff))
                p[f"{i}.b_1"] = np.zeros(self.d_ff)
                p[f"{i}.w_2"] = uniform(self.d_ff, (self.d_ff, d), shrink)
                p[f"{i}.b_2"] = np.zeros(d)
        p["lnf_g"], p["lnf_b"] = np.ones(d), np.zeros(d)
        p["w_out"] = uniform(d, (d, vocab_size))
        p["b_out"] = np.zeros(vocab_size)
        self.params = {k: v.astype(self.dtype) for k, v in p.items()}

    def _check_heads(self, ablate: Heads | None) -> set[tuple[int, int]]:
        """Validate (layer, head) pairs to silence."""
        if ablate is None:
            return set()
        try:
            items = [tuple(pair) for pair in ablate]
        except TypeError as err:
            raise TypeError(
                "ablate must be a list of (layer, head) pairs, got "
                f"{type(ablate).__name__} {_short(ablate)}"
            ) from err
        for pair in items:
            if len(pair) != 2 or not all(
                isinstance(v, (int, np.integer))
                and not isinstance(v, (bool, np.bool_))
                for v in pair
            ):
                raise TypeError(
                    "ablate must hold (layer, head) pairs of integers, got "
                    f"{_short(pair)}"
                )
        pairs = {(int(a), int(b)) for a, b in items}
        for layer, head in pairs:
            if not (
                0 <= layer < self.num_layers and 0 <= head < self.num_heads
            ):
                raise ValueError(
                    f"ablate holds (layer, head) = ({layer}, {head}), outside "
                    f"{self.num_layers} layers x {self.num_heads} heads"
                )
        return pairs

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        """The layer norm whose gamma, beta are params[name + '_g' / '_b']."""
        p = self.params
        return layer_norm(x, p[name + "_g"], p[name + "_b"])

    def _mask(self, n: int) -> np.ndarray | None:
        """The flipped mask (n, n), True above the diagonal, or None."""
        return ~causal_mask(n) if self.flip_mask else None

    def _attend(
        self, q: np.ndarray, k: np.ndarray, v: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Attention of q, k, v: (batch, h, n, d_head), in batch chunks.

        Chunks small enough for the kernel's one-pass path: above
        _BLOCK_ELEMENTS scores it loops over (sequence, head) blocks, which
        for short sequences costs more Python time than maths.
        """
        per_row = math.prod(q.shape[1:3]) * k.shape[2]
        rows = max(1, _BLOCK_ELEMENTS // per_row)
        mask = self._mask(q.shape[2])
        parts = [
            scaled_dot_product_attention(
                q[lo : lo + rows],
                k[lo : lo + rows],
                v[lo : lo + rows],
                mask,
                causal=self.causal,
            )
            for lo in range(0, len(q), rows)
        ]
        if len(parts) == 1:
            return parts[0]
        return (
            np.concatenate([o for o, _ in parts]),
            np.concatenate([w for _, w in parts]),
        )

    def forward(
        self, ids: Any, ablate: Heads | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """ids: (batch, n) -> (logits (batch, n, vocab), cache for backward).

        ablate: (layer, head) pairs whose output is set to zero.
        """
        ids = self._check_ids(ids)
        silenced = self._check_heads(ablate)
        p, h = self.params, self.num_heads
        x = p["tok_emb"][ids] + p["pos_emb"][: ids.shape[1]]
        blocks = []
        for i in range(self.num_layers):
            c: dict[str, Any] = {"x": x, "a": self._norm(x, f"{i}.ln1")}
            q, k, v = (split_heads(c["a"] @ p[f"{i}.w_{n}"], h) for n in "qkv")
            heads, weights = self._attend(q, k, v)
            for layer, head in silenced:
                if layer == i:
                    heads[:, head] = 0.0
            c.update(q=q, k=k, v=v, weights=weights, merged=merge_heads(heads))
            x = x + c["merged"] @ p[f"{i}.w_o"]
            if self.d_ff:
                c["x2"], c["b"] = x, self._norm(x, f"{i}.ln2")
                c["pre"] = c["b"] @ p[f"{i}.w_1"] + p[f"{i}.b_1"]
                c["act"] = gelu(c["pre"])
                x = x + c["act"] @ p[f"{i}.w_2"] + p[f"{i}.b_2"]
            blocks.append(c)
        final = self._norm(x, "lnf")
        logits = final @ p["w_out"] + p["b_out"]
        cache = {
            "ids": ids,
            "blocks": blocks,
            "x": x,
            "final": final,
            "silenced": silenced,
        }
        return logits, cache

    def backward(
        self, grad_logits: np.ndarray, cache: dict[str, Any]
    ) -> dict[str, np.ndarray]:
        """dL/dlogits: (batch, n, vocab) and the cache -> {name: dL/dparam}."""
        grad_logits = self._check_grad_logits(grad_logits, cache)
        with np.errstate(over="ignore", invalid="ignore"):
            grads = self._backward(grad_logits, cache)
        bad = [k for k, g in grads.items() if not np.isfinite(g).all()]
        if bad:  # huge grad_logits, or parameters blown up by training
            top = float(np.max(np.abs(grad_logits)))
            big = max(float(np.max(np.abs(p))) for p in self.params.values())
            raise ValueError(
                f"the gradient of {bad[0]!r} overflows to inf or NaN: "
                f"grad_logits' largest |value| is {top:.3g}, the "
                f"parameters' {big:.3g}"
            )
        return grads

    def _check_grad_logits(
        self, grad_logits: Any, cache: Any
    ) -> np.ndarray:
        """grad_logits as a finite float array shaped like forward's logits."""
        keys = {"ids", "blocks", "x", "final", "silenced"}
        if not isinstance(cache, dict) or not keys <= set(cache):
            raise TypeError(
                "cache must be the dict returned by forward (with keys "
                f"{sorted(keys)}), got {type(cache).__name__} "
                f"{_short(cache)}"
            )
        grad_logits = check_array(grad_logits, "grad_logits")
        expected = (*np.shape(cache["ids"]), self.vocab_size)
        if grad_logits.shape != expected:
            raise ValueError(
                f"grad_logits must have the logits' shape {expected} "
                f"(batch, n, vocab), got {grad_logits.shape}"
            )
        return grad_logits

    def _backward(
        self, grad_logits: np.ndarray, cache: dict[str, Any]
    ) -> dict[str, np.ndarray]:
        """backward without its checks; see backward."""
        p, h = self.params, self.num_heads
        g: dict[str, np.ndarray] = {}
        d_final, g["w_out"], g["b_out"] = linear_backward(  # type: ignore
            grad_logits, cache["final"], p["w_out"]
        )
        dx, g["lnf_g"], g["lnf_b"] = layer_norm_backward(
            d_final, cache["x"], p["lnf_g"]
        )
        for i in reversed(range(self.num_layers)):
            c = cache["blocks"][i]
            if self.d_ff:
                d_act, g[f"{i}.w_2"], db = linear_backward(
                    dx, c["act"], p[f"{i}.w_2"]
                )
                g[f"{i}.b_2"] = db  # type: ignore[assignment]
                d_pre = gelu_backward(d_act, c["pre"])
                d_b, g[f"{i}.w_1"], db = linear_backward(
                    d_pre, c["b"], p[f"{i}.w_1"]
                )
                g[f"{i}.b_1"] = db  # type: ignore[assignment]
                d_x2, g[f"{i}.ln2_g"], g[f"{i}.ln2_b"] = layer_norm_backward(
                    d_b, c["x2"], p[f"{i}.ln2_g"]
                )
                dx = dx + d_x2  # the residual passes dx straight through
            d_merged, g[f"{i}.w_o"], _ = linear_backward(
                dx, c["merged"], p[f"{i}.w_o"], False
            )
            d_heads = split_heads(d_merged, h)
            for layer, head in cache["silenced"]:
                if layer == i:  # a zeroed head passes no gradient back
                    d_heads[:, head] = 0.0
            dq, dk, dv = attention_backward(
                d_heads,
                c["q"],
                c["k"],
                c["v"],
                c["weights"],
                mask=self._mask(c["q"].shape[2]),
                causal=self.causal,
            )
            d_a = np.zeros_like(dx)
            for name, d_part in (("q", dq), ("k", dk), ("v", dv)):
                d_in, g[f"{i}.w_{name}"], _ = linear_backward(
                    merge_heads(d_part), c["a"], p[f"{i}.w_{name}"], False
                )
                d_a += d_in
            d_x, g[f"{i}.ln1_g"], g[f"{i}.ln1_b"] = layer_norm_backward(
                d_a, c["x"], p[f"{i}.ln1_g"]
            )
            dx = dx + d_x
        ids = cache["ids"]
        g["tok_emb"] = embedding_backward(dx, ids, self.vocab_size)
        g["pos_emb"] = np.zeros_like(p["pos_emb"])
        g["pos_emb"][: ids.shape[1]] = dx.sum(axis=0)
        return {name: g[name] for name in p}  # the order of params

    def loss_and_grads(
        self, ids: Any, targets: Any, ablate: Heads | None = None
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy on targets: (batch, n) and its gradients."""
        logits, cache = self.forward(ids, ablate)
        loss = cross_entropy(logits, targets)
        return loss, self.backward(
            cross_entropy_backward(logits, targets), cache
        )

    def attention_maps(self, ids: Any) -> list[np.ndarray]:
        """Weights of each block for ids: (batch, n) -> [(batch, h, n, n)]."""
        _, cache = self.forward(ids)
        return [c["weights"] for c in cache["blocks"]]

    def generate(
        self,
        ids: Any,
        max_new_tokens: int,
        *,
        temperature: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Extend ids: (batch, n) by max_new_tokens -> (batch, n + new).

        temperature 0 takes the most likely token (greedy); otherwise each
        token is drawn from softmax(logits / temperature) with `rng`. The
        model sees at most the last seq_len tokens.
        """
        out = self._check_ids(ids).copy()
        steps = check_positive_int(
            max_new_tokens, "max_new_tokens", allow_zero=True
        )
        check_size(
            out.shape[0] * (out.shape[1] + steps),
            "max_new_tokens",
            f"{out.shape[0]} sequences of {out.shape[1] + steps} ids",
        )
        temperature = check_scalar(temperature, "temperature")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if (temperature > 0 or rng is not None) and not isinstance(
            rng, np.random.Generator
        ):
            raise TypeError(
                "rng must be a numpy Generator (sampling with temperature "
                f"> 0 needs one), got {type(rng).__name__} {_short(rng)}"
            )
        for _ in range(steps):
            logits = self.forward(out[:, -self.seq_len :])[0][:, -1]
            if temperature == 0:
                nxt = logits.argmax(axis=-1)
            else:
                probs = softmax(logits / temperature)
                cum = np.cumsum(probs, axis=-1)
                u = rng.random((len(out), 1))  # type: ignore[union-attr]
                nxt = np.minimum(
                    (cum < u * cum[:, -1:]).sum(axis=-1), self.vocab_size - 1
                )
            out = np.concatenate([out, nxt[:, None]], axis=1)
        return out
