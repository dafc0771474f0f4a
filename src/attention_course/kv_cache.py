"""KV cache for autoregressive decoding, and a toy one-layer decoder that uses it.

When a decoder generates token t+1, the keys and values of tokens 1..t are the same as at the
previous step (causal attention: earlier tokens never see later ones). Without a cache they are
recomputed from scratch at every step; with one, each step projects only the newest token and
appends its key and value. The cache costs memory: 2 (keys and values) x layers x kv heads x
head_dim x tokens x batch numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .attention import scaled_dot_product_attention
from .blocks import feed_forward, layer_norm
from .checks import (
    check_array,
    check_flag,
    check_float_dtype,
    check_int_array,
    check_positive_int,
    check_size,
)
from .heads import grouped_query_attention, merge_heads, split_heads

__all__ = ["KVCache", "kv_cache_bytes", "ToyDecoder"]


def kv_cache_bytes(
    num_layers: int, num_kv_heads: int, head_dim: int, seq_len: int, batch: int = 1, itemsize: int = 4
) -> int:
    """Bytes a KV cache needs: 2 x num_layers x num_kv_heads x head_dim x seq_len x batch x itemsize."""
    for name, value in (
        ("num_layers", num_layers),
        ("num_kv_heads", num_kv_heads),
        ("head_dim", head_dim),
        ("itemsize", itemsize),
    ):
        check_positive_int(value, name)
    seq_len = check_positive_int(seq_len, "seq_len", allow_zero=True)
    batch = check_positive_int(batch, "batch")
    return 2 * num_layers * num_kv_heads * head_dim * seq_len * batch * itemsize


class KVCache:
    """Keys and values of a decoder's attention layers, grown by appending.

    One array per layer of shape (num_kv_heads, length, head_dim) for keys and
    one for values. `num_layers=1` (the default) is the cache of one attention
    layer, as `ToyDecoder` uses; a deep model such as `SmolLM2` passes its
    number of layers and appends to each layer with `layer=`. Storage is
    preallocated and doubled when full, so appending one token is O(1)
    amortised instead of copying the whole cache every step (which
    `np.concatenate` would do). A model that rotates keys (RoPE) stores them
    already rotated: each key is rotated once, when it enters the cache.
    """

    def __init__(
        self,
        num_kv_heads: int,
        head_dim: int,
        capacity: int = 64,
        dtype: Any = np.float64,
        num_layers: int = 1,
    ) -> None:
        """Empty cache: num_layers x num_kv_heads heads of width head_dim.

        Room for `capacity` tokens before the storage grows.
        """
        self.num_kv_heads = check_positive_int(num_kv_heads, "num_kv_heads")
        self.head_dim = check_positive_int(head_dim, "head_dim")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        capacity = check_positive_int(capacity, "capacity")
        dtype = check_float_dtype(dtype)
        check_size(2 * self.num_layers * self.num_kv_heads * capacity
                   * self.head_dim,
                   "num_layers, num_kv_heads, head_dim or capacity",
                   "the keys and values", itemsize=dtype.itemsize)
        shape = (self.num_layers, self.num_kv_heads, capacity, self.head_dim)
        self._k = np.empty(shape, dtype=dtype)
        self._v = np.empty_like(self._k)
        self._lengths = [0] * self.num_layers

    @property
    def length(self) -> int:
        """Tokens cached in the last layer: those every layer has seen."""
        return self._lengths[-1]

    def _check_layer(self, layer: Any) -> int:
        """Return layer as an int in [0, num_layers), else raise."""
        is_int = isinstance(layer, (int, np.integer))
        if isinstance(layer, (bool, np.bool_)) or not is_int:
            raise TypeError(
                f"layer must be an integer, got {type(layer).__name__} "
                f"{layer!r}"
            )
        if not 0 <= layer < self.num_layers:
            raise ValueError(
                f"layer must lie in [0, {self.num_layers}), got {layer}"
            )
        return int(layer)

    def append(self, k: Any, v: Any, layer: int = 0) -> None:
        """Append k, v: (num_kv_heads, t, head_dim) for t tokens to `layer`."""
        layer = self._check_layer(layer)
        k = check_array(k, "k")
        v = check_array(v, "v")
        expected = (self.num_kv_heads, None, self.head_dim)
        for name, arr in (("k", k), ("v", v)):
            if arr.ndim != 3 or arr.shape[0] != self.num_kv_heads or arr.shape[2] != self.head_dim:
                raise ValueError(
                    f"{name} must have shape (num_kv_heads={self.num_kv_heads}, t, "
                    f"head_dim={self.head_dim}), got {arr.shape}; expected {expected}"
                )
        if k.shape != v.shape:
            raise ValueError(f"k and v must have the same shape, got k {k.shape} and v {v.shape}")
        t = k.shape[1]
        start = self._lengths[layer]
        if start + t > self.capacity:
            self._grow(start + t)
        self._k[layer, :, start : start + t] = k
        self._v[layer, :, start : start + t] = v
        self._lengths[layer] = start + t

    def _grow(self, needed: int) -> None:
        """Reallocate to at least `needed` tokens, doubling so that n appends cost O(n) copies."""
        capacity = max(needed, 2 * self.capacity)
        used = max(self._lengths)
        for name in ("_k", "_v"):
            old = getattr(self, name)
            shape = old.shape[:2] + (capacity, self.head_dim)
            new = np.empty(shape, dtype=old.dtype)
            new[:, :, :used] = old[:, :, :used]
            setattr(self, name, new)

    @property
    def capacity(self) -> int:
        """Tokens the preallocated storage can hold before it grows."""
        return int(self._k.shape[2])

    def layer_keys(self, layer: int = 0) -> np.ndarray:
        """Keys of one layer (num_kv_heads, length, head_dim), read-only."""
        layer = self._check_layer(layer)
        view = self._k[layer, :, : self._lengths[layer]]
        view.flags.writeable = False
        return view

    def layer_values(self, layer: int = 0) -> np.ndarray:
        """Values of one layer (num_kv_heads, length, head_dim), read-only."""
        layer = self._check_layer(layer)
        view = self._v[layer, :, : self._lengths[layer]]
        view.flags.writeable = False
        return view

    @property
    def keys(self) -> np.ndarray:
        """Keys of layer 0 (num_kv_heads, length, head_dim), read-only."""
        return self.layer_keys(0)

    @property
    def values(self) -> np.ndarray:
        """Values of layer 0 (num_kv_heads, length, head_dim), read-only."""
        return self.layer_values(0)

    @property
    def nbytes(self) -> int:
        """Bytes in use: 2 x num_kv_heads x head_dim x itemsize x tokens.

        Summed over the layers.
        """
        per_token = 2 * self.num_kv_heads * self.head_dim * self._k.itemsize
        return per_token * sum(self._lengths)

    @property
    def allocated_nbytes(self) -> int:
        """Bytes reserved, including room not yet used."""
        return self._k.nbytes + self._v.nbytes


class ToyDecoder:
    """A one-layer decoder-only Transformer with seeded random weights, to show what a KV cache saves.

    Pre-norm block: x + attention(LN(x)), then + feed_forward(LN(.)); logits = LN(.) @ w_out.
    (An untied random w_out: with random weights, tying it to the embedding makes the model
    repeat its input token forever, which would make any comparison of outputs trivially pass.)
    num_kv_heads < num_heads gives grouped-query attention (1 = multi-query attention).
    """

    def __init__(
        self,
        vocab_size: int = 64,
        d_model: int = 256,
        num_heads: int = 4,
        num_kv_heads: int | None = None,
        max_len: int = 1024,
        seed: int = 0,
    ) -> None:
        """Draw all weights from np.random.default_rng(seed); float64 throughout."""
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.d_model = check_positive_int(d_model, "d_model")
        self.num_heads = check_positive_int(num_heads, "num_heads")
        self.num_kv_heads = (
            num_heads if num_kv_heads is None else check_positive_int(num_kv_heads, "num_kv_heads")
        )
        self.max_len = check_positive_int(max_len, "max_len")
        seed = check_positive_int(seed, "seed", allow_zero=True)
        check_size(
            self.max_len * self.d_model
            + 2 * self.vocab_size * self.d_model
            + 12 * self.d_model**2,
            "vocab_size, d_model or max_len",
            "the decoder's weights",
        )
        if d_model % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_kv_heads={self.num_kv_heads} must divide num_heads={self.num_heads}")
        self.head_dim = d_model // num_heads
        d_kv = self.num_kv_heads * self.head_dim
        rng = np.random.default_rng(seed)

        def dense(d_in: int, d_out: int) -> np.ndarray:
            return rng.normal(0.0, 1.0 / math.sqrt(d_in), size=(d_in, d_out))

        self.embed = rng.normal(0.0, 1.0, size=(vocab_size, d_model))
        self.pos = rng.normal(0.0, 0.5, size=(max_len, d_model))  # learned-style positions
        self.w_q, self.w_k, self.w_v = dense(d_model, d_model), dense(d_model, d_kv), dense(d_model, d_kv)
        self.w_o = dense(d_model, d_model)
        self.w_1, self.b_1 = dense(d_model, 4 * d_model), np.zeros(4 * d_model)
        self.w_2, self.b_2 = dense(4 * d_model, d_model), np.zeros(d_model)
        self.w_out = dense(d_model, vocab_size)
        self.gamma = [np.ones(d_model) for _ in range(3)]
        self.beta = [np.zeros(d_model) for _ in range(3)]

    def new_cache(self, capacity: int = 64) -> KVCache:
        """An empty cache shaped for this model's attention layer."""
        return KVCache(self.num_kv_heads, self.head_dim, capacity)

    def forward(self, tokens: Any, cache: KVCache | None = None) -> np.ndarray:
        """Logits (n, vocab_size) for tokens: (n,) ints; with a cache, the tokens continue the cached ones.

        Without a cache every key and value is computed from `tokens`; with one, only the new
        tokens are projected, their keys and values appended, and the queries attend to all of them.
        """
        tokens = np.asarray(tokens)
        if tokens.ndim != 1 or not np.issubdtype(tokens.dtype, np.integer):
            raise ValueError(f"tokens must be a 1-D integer array (n,), got {tokens.dtype} {tokens.shape}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(f"tokens must lie in [0, {self.vocab_size}), got {tokens.min()}..{tokens.max()}")
        start = 0 if cache is None else cache.length
        n = tokens.shape[0]
        if start + n > self.max_len:
            raise ValueError(f"sequence length {start + n} exceeds max_len={self.max_len}")
        x = self.embed[tokens] + self.pos[start : start + n]  # (n, d_model)
        h = layer_norm(x, self.gamma[0], self.beta[0])
        q = split_heads(h @ self.w_q, self.num_heads)  # (num_heads, n, head_dim)
        k = split_heads(h @ self.w_k, self.num_kv_heads)  # (num_kv_heads, n, head_dim)
        v = split_heads(h @ self.w_v, self.num_kv_heads)
        if cache is not None:
            cache.append(k, v)
            k, v = cache.keys, cache.values
        # causal_mask aligns the n queries to the end of the keys: query i is token start + i.
        if self.num_kv_heads == self.num_heads:
            heads, _ = scaled_dot_product_attention(q, k, v, causal=True, need_weights=False)
        else:
            heads, _ = grouped_query_attention(q, k, v, causal=True, need_weights=False)
        x = x + merge_heads(heads) @ self.w_o
        h = layer_norm(x, self.gamma[1], self.beta[1])
        x = x + feed_forward(h, self.w_1, self.b_1, self.w_2, self.b_2)
        return layer_norm(x, self.gamma[2], self.beta[2]) @ self.w_out  # (n, vocab_size)

    def generate(self, prompt: Any, max_new_tokens: int, use_cache: bool = True) -> np.ndarray:
        """Greedy decoding: prompt (n,) ints -> the max_new_tokens tokens chosen after it, (max_new_tokens,).

        use_cache=False reruns the whole sequence every step; use_cache=True runs the prompt once
        and then one token per step. Both choose the same tokens.
        """
        prompt = check_int_array(prompt, "prompt")
        max_new_tokens = check_positive_int(max_new_tokens, "max_new_tokens", allow_zero=True)
        use_cache = check_flag(use_cache, "use_cache")
        if prompt.ndim != 1 or prompt.size == 0:
            raise ValueError(f"prompt must be a non-empty 1-D array of token ids, got shape {prompt.shape}")
        if (
            prompt.size + max_new_tokens - 1 > self.max_len
        ):  # the last token is not fed back
            raise ValueError(
                f"prompt (shape {prompt.shape}) plus "
                f"max_new_tokens={max_new_tokens} "
                f"does not fit in max_len={self.max_len} positions"
            )
        new = np.empty(max_new_tokens, dtype=np.int64)
        if use_cache:
            cache = self.new_cache(capacity=prompt.size + max_new_tokens)
            logits = self.forward(prompt, cache)
            for t in range(max_new_tokens):
                new[t] = int(np.argmax(logits[-1]))
                if t + 1 < max_new_tokens:
                    logits = self.forward(new[t : t + 1], cache)
        else:
            tokens = prompt.astype(np.int64)
            for t in range(max_new_tokens):
                logits = self.forward(tokens)
                new[t] = int(np.argmax(logits[-1]))
                tokens = np.append(tokens, new[t])
        return new
