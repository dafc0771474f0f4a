"""Checkers of the capstone (chapter 14): the feed-forward block and a whole encoder, stage by stage."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..attention import scaled_dot_product_attention
from ..blocks import feed_forward, gelu
from ..checks import check_flag
from ..heads import merge_heads, split_heads
from ..masks import padding_mask
from ..models.minilm import EncoderConfig, EncoderOutput, MiniLM, mean_pool
from ..models.tokenizer import WordPieceTokenizer
from .checking import (
    Case,
    CheckResult,
    Hint,
    _describe,
    _raised,
    case_rng,
    check_function,
    check_tolerance,
    run_checks,
    verdict,
)

__all__ = [
    "check_feed_forward",
    "check_encoder_stages",
    "check_minilm_encoder",
]


# ---- the feed-forward block -------------------------------------------------------------------

# Which GELU: Google's BERT repository computes the tanh form, but MiniLM's config.json
# names Hugging Face's "gelu", the exact erf form, and the weights are run with that.
_TANH_HINT = ("that is the tanh approximation of GELU; this checkpoint's config.json names "
              "Hugging Face's \"gelu\", the exact x * Phi(x) with erf.")


def _tanh_gelu(x: np.ndarray) -> np.ndarray:
    """The tanh approximation of GELU, a common mistake where the exact (erf) GELU is meant."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def _feed_forward_cases() -> Iterator[Case]:
    rng = case_rng()
    for shape, d_ff, what in (((3, 4), 8, "x (3, 4), d_ff = 8"), ((2, 5, 6), 24, "batch x (2, 5, 6), d_ff = 24")):
        d = shape[-1]
        args = (rng.normal(size=shape), rng.normal(size=(d, d_ff)), rng.normal(size=d_ff),
                rng.normal(size=(d_ff, d)), rng.normal(size=d))
        yield Case(what, args, feed_forward(*args))


def check_feed_forward(fn: Callable[..., np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (..., n, d), w_1: (d, d_ff), b_1: (d_ff,), w_2: (d_ff, d), b_2: (d,)) -> (..., n, d).

    The position-wise feed-forward block gelu(x @ w_1 + b_1) @ w_2 + b_2 with the exact (erf) GELU.
    """
    hints: list[Hint] = [
        (lambda c: _tanh_gelu(c.args[0] @ c.args[1] + c.args[2]) @ c.args[3] + c.args[4],
         _TANH_HINT),
        (lambda c: np.maximum(c.args[0] @ c.args[1] + c.args[2], 0) @ c.args[3] + c.args[4],
         "that is ReLU; BERT's feed-forward uses GELU, x * Phi(x)."),
        (lambda c: (c.args[0] @ c.args[1] + c.args[2]) @ c.args[3] + c.args[4],
         "apply GELU between the two linear maps: without it the block is one linear map."),
        (lambda c: feed_forward(c.args[0], c.args[1], np.zeros_like(c.args[2]), c.args[3], np.zeros_like(c.args[4])),
         "add the biases b_1 and b_2."),
    ]
    return run_checks("check_feed_forward", fn, _feed_forward_cases(), hints, atol=1e-6, verbose=verbose)


# ---- a whole encoder, stage by stage ----------------------------------------------------------
#
# An encoder's outputs are compared in the order the forward pass computes them, so the first
# mismatch names the step that went wrong: the embeddings (hidden_states[0]); then for each layer i
# its attention weights (attentions[i]) and its output (hidden_states[i + 1]); last the pooled,
# normalised sentence embedding. Only real tokens are compared: rows of padding queries are
# computed but mean nothing, so an encoder may fill them with anything.

_STAGE_KEYS = ("hidden_states", "attentions", "sentence_embedding")


def _stages_of(outputs: Any) -> dict[str, Any]:
    """A dict with the stage keys from an EncoderOutput or a (possibly partial) dict of stages."""
    if isinstance(outputs, EncoderOutput):
        return {"hidden_states": list(outputs.hidden_states), "attentions": list(outputs.attentions),
                "sentence_embedding": outputs.embeddings}
    if not isinstance(outputs, Mapping):
        raise TypeError(f"expected a dict with keys {_STAGE_KEYS} (or an EncoderOutput), "
                        f"got {type(outputs).__name__}")
    unknown = set(outputs) - set(_STAGE_KEYS)
    if unknown:
        raise ValueError(f"unknown stage keys {sorted(unknown)}; the stages are {_STAGE_KEYS}")
    return dict(outputs)


def _stage_list(reference: dict[str, Any], real: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, expected array, boolean mask of the entries that count) in forward order."""
    hidden, attentions = reference["hidden_states"], reference["attentions"]
    token_rows = real[:, :, None]  # (batch, n, 1): real tokens' rows of a hidden state
    query_rows = real[:, None, :, None]  # (batch, 1, n, 1): real queries' rows of the weights
    stages = [("embeddings, hidden_states[0]", np.asarray(hidden[0]), token_rows)]
    for i, weights in enumerate(attentions):
        stages.append((f"layer {i} attention weights, attentions[{i}]", np.asarray(weights), query_rows))
        stages.append((f"layer {i} output, hidden_states[{i + 1}]", np.asarray(hidden[i + 1]), token_rows))
    stages.append(("sentence embedding (pooled, normalised), sentence_embedding",
                   np.asarray(reference["sentence_embedding"]), np.ones((real.shape[0], 1), dtype=bool)))
    return stages


def _got_stage(yours: dict[str, Any], name: str) -> Any:
    """The reader's array for the stage called `name`, or None if they did not provide it."""
    if name.startswith("sentence"):
        return yours.get("sentence_embedding")
    key, index = name.rsplit(", ", 1)[1].rstrip("]").split("[")
    seq = yours.get(key)
    if seq is None or len(seq) <= int(index):
        return None
    return seq[int(index)]


def _stage_error(got: Any, expected: np.ndarray, valid: np.ndarray) -> tuple[str | None, float]:
    """(problem or None, largest error over the valid entries) for one stage."""
    g = np.asarray(got)
    if g.shape != expected.shape:
        return f"expected shape {expected.shape}, got shape {g.shape}", math.inf
    if not np.issubdtype(g.dtype, np.number):
        return f"expected numbers, got dtype {g.dtype}", math.inf
    valid = np.broadcast_to(valid, expected.shape)
    g64, e64 = g.astype(np.float64), expected.astype(np.float64)
    if not np.all(np.isfinite(g64[valid])):
        return f"NaN or inf in {int((~np.isfinite(g64[valid])).sum())} entries (shape {g.shape})", math.inf
    diff = np.where(valid, np.abs(g64 - e64), 0.0)
    return None, float(diff.max())


def _stage_message(got: Any, expected: np.ndarray, valid: np.ndarray) -> str:
    """Shape and largest error (with its index) of a mismatching stage."""
    problem, _ = _stage_error(got, expected, valid)
    if problem is not None:
        return problem
    g64, e64 = np.asarray(got, dtype=np.float64), expected.astype(np.float64)
    diff = np.where(np.broadcast_to(valid, expected.shape), np.abs(g64 - e64), 0.0)
    where = tuple(int(i) for i in np.unravel_index(np.argmax(diff), diff.shape))
    return (f"shape {expected.shape} as expected, but the largest error is {diff.max():.3g} at index "
            f"{where}: expected {e64[where]:.6g}, got {g64[where]:.6g}")


def _compare_stages(yours: Any, reference: Any, real: np.ndarray,
                    atol: float) -> tuple[str | None, int, str | None]:
    """(first failing stage or None, number of stages compared, what differs)."""
    mine, ref = _stages_of(yours), _stages_of(reference)
    compared = 0
    for name, expected, valid in _stage_list(ref, real):
        got = _got_stage(mine, name)
        if got is None:
            continue
        compared += 1
        problem, err = _stage_error(got, expected, valid)
        if problem is not None or err > atol:
            return name, compared, _stage_message(got, expected, valid)
    return None, compared, None


def _not_stages(got: Any, error: Exception) -> str:
    """Why `got` cannot be compared stage by stage, with a hint for None."""
    if got is None:
        return ("returned None; did you forget to `return` the dict of stages "
                f"(keys {_STAGE_KEYS})?")
    return (f"expected a dict with keys {_STAGE_KEYS}, got {_describe(got)} "
            f"({type(error).__name__}: {error})")


def check_encoder_stages(yours: Any, reference: EncoderOutput, atol: float = 1e-4,
                         verbose: bool = True) -> CheckResult:
    """Compare an encoder's stages with a reference forward pass; name the first stage that differs.

    yours: a dict with any of "hidden_states" (a list: embeddings (batch, n, d), then each layer's
    output), "attentions" (a list of (batch, h, n, n), one per layer) and "sentence_embedding"
    (batch, d); stages left out are skipped, so a half-built encoder can be checked.
    reference: the package's `EncoderOutput` for the same input (e.g. `model.forward(ids, mask)`).
    Only real tokens count (padding queries' rows are ignored).
    """
    name = "check_encoder_stages"
    atol, verbose = check_tolerance(atol), check_flag(verbose, "verbose")
    if not isinstance(reference, EncoderOutput):
        raise TypeError(
            f"reference must be an EncoderOutput (model.forward(...)), "
            f"got {type(reference).__name__}"
        )
    real = np.asarray(reference.attention_mask, dtype=bool)
    try:
        failed, compared, detail = _compare_stages(
            yours, reference, real, atol
        )
    except (
        Exception
    ) as error:  # yours is not a dict of stages: a verdict, not a traceback
        return verdict(
            name, f"✗ {name}: {_not_stages(yours, error)}", 0, verbose
        )
    if compared == 0:
        message = f"✗ {name}: no stage to compare; give at least one of the keys {_STAGE_KEYS}."
    elif failed is not None:
        message = f"✗ {name}: the first stage that differs is {failed}.\n  {detail}"
    else:
        message = f"✓ {name}: all {compared} stages given match the reference (atol {atol:g})."
    return verdict(name, message, compared, verbose)


# Typical mistakes, each a variant of the forward pass; a hint is given when the reader's failing
# stage equals the variant's. The variant with no mistake equals MiniLM.forward (tested).
_ENCODER_MISTAKES = {
    "tanh_gelu": _TANH_HINT,
    "pre_norm": "BERT is post-norm: x = LayerNorm(x + sublayer(x)); the norm comes after the residual sum, "
                "not before the sub-layer.",
    "no_token_type": "add the token-type embedding, token_type_embeddings[token_type_ids], to the word and "
                     "position embeddings (row 0 for a single sentence).",
    "token_type_zero": "index the token-type embeddings with token_type_ids: the second segment uses row 1.",
    "no_embedding_norm": "the embeddings go through their own LayerNorm (embeddings.LayerNorm) before layer 0.",
    "eps_1e-5": "use LayerNorm eps = 1e-12 (layer_norm_eps in config.json), not 1e-5.",
    "no_padding_mask": "hide the padding keys: pass the padding mask to attention, so no query attends "
                       "to [PAD].",
    "no_scale": "divide the attention scores by sqrt(d_head), the width of one head, before the softmax.",
    "scale_d_model": "scale by 1/sqrt(d_head), the width of one head (d_model / num_heads), not of d_model.",
    "no_transpose": "PyTorch stores a linear layer's weight as (out, in): compute x @ W.T + b.",
    "unmasked_mean": "average only the real tokens: weight the mean by the attention mask, as padding "
                     "positions are not part of the sentence.",
    "no_normalize": "scale the pooled vector to unit length (divide by its L2 norm).",
    "cls_pooling": "this model pools by the mean over real tokens, not by the [CLS] vector.",
}


def _layer_norm_eps(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


class _Variant:
    """BERT's forward pass from raw Hugging Face tensors with one typical mistake (or none), step by step."""

    def __init__(self, tensors: Mapping[str, np.ndarray], config: EncoderConfig, mistake: str | None = None):
        self.tensors, self.config, self.mistake = tensors, config, mistake
        self.eps = 1e-5 if mistake == "eps_1e-5" else config.layer_norm_eps
        self.act = _tanh_gelu if mistake == "tanh_gelu" else gelu

    def t(self, name: str) -> np.ndarray:
        return np.asarray(self.tensors[name])

    def linear(self, x: np.ndarray, prefix: str) -> np.ndarray:
        w = self.t(prefix + ".weight")
        untransposed = self.mistake == "no_transpose" and w.shape[0] == w.shape[1]
        return x @ (w if untransposed else w.T) + self.t(prefix + ".bias")

    def norm(self, x: np.ndarray, prefix: str) -> np.ndarray:
        return _layer_norm_eps(x, self.t(prefix + ".weight"), self.t(prefix + ".bias"), self.eps)

    def embed(self, ids: np.ndarray, types: np.ndarray) -> np.ndarray:
        """ids, types: (batch, n) -> (batch, n, d)."""
        x = self.t("embeddings.word_embeddings.weight")[ids] + self.t("embeddings.position_embeddings.weight")[
            :ids.shape[1]]
        if self.mistake != "no_token_type":
            rows = np.zeros_like(types) if self.mistake == "token_type_zero" else types
            x = x + self.t("embeddings.token_type_embeddings.weight")[rows]
        return x if self.mistake == "no_embedding_norm" else self.norm(x, "embeddings.LayerNorm")

    def layer(self, i: int, x: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Layer i: x (batch, n, d), real (batch, n) bool -> (output (batch, n, d), weights (batch, h, n, n))."""
        pre, mistake = f"encoder.layer.{i}.", self.mistake
        mask = None if mistake == "no_padding_mask" else padding_mask(
            real.sum(axis=1), real.shape[1], heads=True)
        scale = {"no_scale": 1.0, "scale_d_model": 1.0 / math.sqrt(self.config.hidden_size)}.get(mistake or "")
        a_in = self.norm(x, pre + "attention.output.LayerNorm") if mistake == "pre_norm" else x
        q, k, v = (split_heads(self.linear(a_in, pre + f"attention.self.{p}"), self.config.num_heads)
                   for p in ("query", "key", "value"))
        context, weights = scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)
        attended = self.linear(merge_heads(context), pre + "attention.output.dense")
        if mistake == "pre_norm":
            x = x + attended
            ffn_in = self.norm(x, pre + "output.LayerNorm")
            return x + self.linear(self.act(self.linear(ffn_in, pre + "intermediate.dense")),
                                   pre + "output.dense"), weights
        x = self.norm(x + attended, pre + "attention.output.LayerNorm")
        ffn = self.linear(self.act(self.linear(x, pre + "intermediate.dense")), pre + "output.dense")
        return self.norm(x + ffn, pre + "output.LayerNorm"), weights

    def pool(self, x: np.ndarray, real: np.ndarray) -> np.ndarray:
        """Last hidden state (batch, n, d) -> sentence embedding (batch, d)."""
        if self.mistake == "unmasked_mean":
            pooled = x.mean(axis=1)
        elif self.mistake == "cls_pooling":
            pooled = x[:, 0]
        else:
            pooled = mean_pool(x, real)
        if self.mistake == "no_normalize":
            return pooled
        return pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)

    def stage(self, name: str, ids: np.ndarray, real: np.ndarray, types: np.ndarray,
              reference: dict[str, Any]) -> np.ndarray:
        """The stage called `name`, computed with this mistake from the reference's correct input to it."""
        hidden = reference["hidden_states"]
        if name.startswith("embeddings"):
            return self.embed(ids, types)
        if name.startswith("sentence"):
            return self.pool(np.asarray(hidden[-1]), real)
        i = int(name.split()[1])
        out, weights = self.layer(i, np.asarray(hidden[i]), real)
        return weights if "attention" in name else out


def _encoder_variant(tensors: Mapping[str, np.ndarray], config: EncoderConfig, ids: np.ndarray,
                     real: np.ndarray, types: np.ndarray, mistake: str | None = None) -> dict[str, Any]:
    """BERT's forward pass from raw Hugging Face tensors, with one typical mistake (or none)."""
    variant = _Variant(tensors, config, mistake)
    x = variant.embed(ids, types)
    hidden, attentions = [x], []
    for i in range(config.num_layers):
        x, weights = variant.layer(i, x, real)
        hidden.append(x)
        attentions.append(weights)
    return {"hidden_states": hidden, "attentions": attentions, "sentence_embedding": variant.pool(x, real)}


def _encoder_cases(config: EncoderConfig) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(description, input_ids, attention_mask, token_type_ids): one sentence, a padded batch, a pair."""
    rng = case_rng()
    vocab = config.vocab_size
    n = min(9, config.max_position_embeddings)
    ids = rng.integers(0, vocab, size=(1, n))
    yield f"one sequence of {n} tokens, no padding", ids, np.ones((1, n), dtype=bool), np.zeros_like(ids)
    lengths = np.array([n, max(1, n - 4), max(1, n - 7)])
    ids = rng.integers(0, vocab, size=(3, n))
    mask = np.arange(n)[None, :] < lengths[:, None]
    yield (f"a batch of 3 padded to {n} tokens, lengths {lengths.tolist()}", ids, mask, np.zeros_like(ids))
    if config.type_vocab_size > 1:
        ids = rng.integers(0, vocab, size=(1, n))
        types = (np.arange(n) >= n // 2).astype(np.int64)[None, :]
        yield (f"a sentence pair of {n} tokens: token types {types[0].tolist()}", ids,
               np.ones((1, n), dtype=bool), types)


def check_minilm_encoder(fn: Callable[..., Any], tensors: Mapping[str, np.ndarray] | None = None,
                         config: EncoderConfig | None = None, atol: float = 1e-4,
                         verbose: bool = True) -> CheckResult:
    """Check fn(tensors, input_ids (batch, n), attention_mask (batch, n) bool, token_type_ids (batch, n)).

    fn must return a dict of stages: "hidden_states" (embeddings, then each layer's (batch, n, d)),
    "attentions" (one (batch, h, n, n) per layer) and "sentence_embedding" (batch, d). It runs on a
    single sequence, a padded batch and a two-segment pair; the outputs are compared stage by stage
    with `MiniLM.forward` on the same weights, and the verdict names the first stage that differs.
    tensors, config: the Hugging Face BERT tensors and their shape (default: the installed
    all-MiniLM-L6-v2 weights).
    """
    name = "check_minilm_encoder"
    check_function(fn, name)
    atol, verbose = check_tolerance(atol), check_flag(verbose, "verbose")
    if tensors is not None and not isinstance(tensors, Mapping):
        raise TypeError(f"tensors must be a dict name -> array, got "
                        f"{type(tensors).__name__}")
    if tensors is None or config is None:
        from ..models.minilm import minilm_folder
        from ..models.safetensors_io import read_safetensors

        folder = minilm_folder()
        tensors = read_safetensors(folder / "model.safetensors") if tensors is None else tensors
        config = EncoderConfig.from_json(folder / "config.json") if config is None else config
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # the tokenizer is not used by forward()
    model = MiniLM(config, dict(tensors), WordPieceTokenizer(specials))
    count, message = 0, ""
    for count, (description, ids, real, types) in enumerate(_encoder_cases(config), start=1):
        shapes = f"input_ids {ids.shape}, attention_mask {real.shape}"
        try:
            got = fn(tensors, ids.copy(), real.copy(), types.copy())
        except Exception as error:  # the reader's bug, reported rather than raised
            message = (f"✗ {name}: case {count} ({description}) "
                       f"{_raised(error)}\n"
                       f"  input: {shapes}")
            break
        reference = model.forward(ids, real, types)
        try:
            failed, _, detail = _compare_stages(got, reference, real, atol)
        except Exception as error:  # what came back is not a dict of stages
            message = (f"✗ {name}: case {count} ({description}) failed.\n"
                       f"  input: {shapes}\n  {_not_stages(got, error)}")
            break
        if failed is None:
            missing = [k for k in _STAGE_KEYS if k not in got]
            if missing:
                message = f"✗ {name}: case {count} ({description}): the result has no {missing}."
                break
            continue
        message = (f"✗ {name}: case {count} ({description}) failed.\n  input: {shapes}\n"
                   f"  first stage that differs: {failed}\n  {detail}")
        # A hint: recompute only the failing stage, from the reference's (correct) input to it, with
        # each typical mistake; the reader's stage equal to one of them names the mistake.
        ref_stages = _stages_of(reference)
        valid = next(s[2] for s in _stage_list(ref_stages, real) if s[0] == failed)
        mine = _got_stage(_stages_of(got), failed)
        for mistake, advice in _ENCODER_MISTAKES.items():
            try:
                with np.errstate(all="ignore"):
                    typical = _Variant(tensors, config, mistake).stage(failed, ids, real, types, ref_stages)
            except Exception:
                continue
            problem, err = _stage_error(mine, typical, valid)
            if problem is None and err <= atol:
                message += f"\n  hint: {advice}"
                break
        break
    else:
        message = f"✓ {name}: all {count} cases passed, every stage within {atol:g} of the reference."
    return verdict(name, message, count, verbose)
