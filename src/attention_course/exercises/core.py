"""Checkers for the core ideas: softmax, attention, masks, heads, layer norm and GELU (chapters 4-6, 13)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..attention import scaled_dot_product_attention, softmax
from ..blocks import gelu, layer_norm
from ..diagnose import diagnose_attention, diagnose_split_heads
from ..heads import merge_heads, split_heads
from ..masks import causal_mask, padding_mask
from ..scaling import softmax_jacobian
from .checking import Case, CheckResult, Hint, case_rng, run_checks
from .conventions import with_conventions

__all__ = [
    "check_softmax",
    "check_attention",
    "check_causal_mask",
    "check_padding_mask",
    "check_split_heads",
    "check_merge_heads",
    "check_window_mask",
    "check_hf_mask_conversion",
    "check_mha_parameter_count",
    "check_softmax_jacobian",
    "check_layer_norm",
    "check_gelu",
    "check_head_padding_weights",
]



# ---- softmax --------------------------------------------------------------------------------

def _softmax_cases() -> Iterator[Case]:
    rng = case_rng()
    x = np.array([1.0, 2.0, 3.0])
    yield Case("a small vector", (x,), softmax(x))
    x = rng.normal(size=(4, 6))
    yield Case("a (4, 6) matrix: softmax over the last axis", (x,), softmax(x))
    x = np.array([[1000.0, 999.0, 998.0], [-1e4, 0.0, 1e4]])
    yield Case("huge logits (1e3, 1e4)", (x,), softmax(x))
    x = np.array([0.0, -np.inf, 1.0])
    yield Case("a -inf entry gets weight 0", (x,), softmax(x))
    x = rng.normal(size=(2, 3, 5))
    yield Case("batch axes (2, 3, 5)", (x,), softmax(x))


def _softmax_no_max(case: Case) -> np.ndarray:
    with np.errstate(all="ignore"):
        e = np.exp(case.args[0])
        return e / e.sum(axis=-1, keepdims=True)


def _softmax_wrong_axis(case: Case) -> np.ndarray | None:
    x = case.args[0]
    return softmax(x, axis=0) if x.ndim > 1 else None


def _softmax_global_sum(case: Case) -> np.ndarray:
    x = case.args[0]
    e = np.exp(x - x.max())
    return e / e.sum()


def check_softmax(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (..., n)) -> (..., n), a softmax over the last axis."""
    hints: list[Hint] = [
        (_softmax_no_max, "exp of a large number overflows to inf; subtract each row's maximum first "
                          "(softmax(x) equals softmax(x - c) for any constant c)."),
        (_softmax_wrong_axis, "normalise over the last axis (axis=-1), one distribution per row."),
        (_softmax_global_sum, "divide by each row's own sum: use sum(axis=-1, keepdims=True), "
                              "not the sum of the whole array."),
    ]
    return run_checks("check_softmax", fn, _softmax_cases(), hints, verbose=verbose)


# ---- attention ------------------------------------------------------------------------------

def _attention_cases() -> Iterator[Case]:
    rng = case_rng()
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    yield Case("self-attention, n=3, d_k=4", (q, k, v), scaled_dot_product_attention(q, k, v)[0])
    q, k, v = rng.normal(size=(2, 8)), rng.normal(size=(5, 8)), rng.normal(size=(5, 3))
    yield Case("n_q=2 queries, n_k=5 keys, d_k=8", (q, k, v), scaled_dot_product_attention(q, k, v)[0])
    q, k, v = rng.normal(size=(2, 3, 4, 16)), rng.normal(size=(2, 3, 6, 16)), rng.normal(size=(2, 3, 6, 5))
    yield Case("batch and head axes (2, 3, ...)", (q, k, v), scaled_dot_product_attention(q, k, v)[0])
    q, k, v = 30 * rng.normal(size=(3, 4)), 30 * rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    yield Case("large scores (saturated softmax)", (q, k, v), scaled_dot_product_attention(q, k, v)[0])


def _attention_unscaled(case: Case) -> np.ndarray:
    q, k, v = case.args
    return scaled_dot_product_attention(q, k, v, scale=1.0)[0]


def _attention_scaled_by_dk(case: Case) -> np.ndarray:
    q, k, v = case.args
    return scaled_dot_product_attention(q, k, v, scale=1.0 / q.shape[-1])[0]


def _attention_wrong_axis(case: Case) -> np.ndarray:
    q, k, v = case.args
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    return softmax(scores, axis=-2) @ v


def check_attention(fn: Callable[..., np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(q: (..., n_q, d_k), k: (..., n_k, d_k), v: (..., n_k, d_v)) -> output (..., n_q, d_v)."""
    hints: list[Hint] = [
        (_attention_unscaled, "divide the scores by sqrt(d_k) before the softmax."),
        (_attention_scaled_by_dk, "the scale is 1/sqrt(d_k), not 1/d_k."),
        (_attention_wrong_axis, "the softmax runs over the keys, the last axis of the scores (axis=-1)."),
    ]
    result = run_checks("check_attention", fn, _attention_cases(), hints, verbose=False)
    return with_conventions(result, fn, diagnose_attention, verbose)


# ---- masks ----------------------------------------------------------------------------------

def _causal_cases() -> Iterator[Case]:
    for n in (3, 1, 6):
        yield Case(f"n = {n}", (n,), causal_mask(n))


def check_causal_mask(fn: Callable[[int], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(n) -> boolean (n, n), True where query i may attend to key j (j <= i)."""
    hints: list[Hint] = [
        (lambda c: ~causal_mask(*c.args), "wrong polarity: in this course True means 'may attend'."),
        (lambda c: causal_mask(*c.args).T, "query i is row i: it may see keys j <= i, the lower triangle."),
        (lambda c: np.tril(np.ones((c.args[0],) * 2, dtype=bool), -1),
         "a token may attend to itself: keep the diagonal."),
    ]
    return run_checks("check_causal_mask", fn, _causal_cases(), hints, verbose=verbose)


def _padding_cases() -> Iterator[Case]:
    yield Case("lengths [2, 4], n = 4", (np.array([2, 4]), 4), padding_mask(np.array([2, 4]), 4))
    yield Case("an empty sequence: lengths [0, 3], n = 3", (np.array([0, 3]), 3),
               padding_mask(np.array([0, 3]), 3))


def check_padding_mask(fn: Callable[[np.ndarray, int], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(lengths: (batch,), n) -> boolean (batch, 1, n), True for real (non-padding) keys."""
    hints: list[Hint] = [
        (lambda c: ~padding_mask(*c.args), "wrong polarity: True should mark the real tokens that may be attended."),
        (lambda c: padding_mask(*c.args)[:, 0, :], "keep a middle axis of size 1, shape (batch, 1, n), so the "
                                                   "mask broadcasts over the queries."),
    ]
    return run_checks("check_padding_mask", fn, _padding_cases(), hints, verbose=verbose)


def _window_mask(n: int, w: int) -> np.ndarray:
    """Sliding-window causal mask (n, n): query i may attend to keys i - w + 1, ..., i."""
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    return (j <= i) & (j > i - w)


def _window_cases() -> Iterator[Case]:
    for n, w, what in ((6, 2, "the chapter's example"), (6, 6, "w = n: the causal mask"),
                       (5, 1, "w = 1: each token sees only itself"), (4, 10, "w > n: the causal mask"),
                       (1, 3, "a single token"), (7, 3, "n = 7, w = 3")):
        yield Case(f"n = {n}, w = {w} ({what})", (n, w), _window_mask(n, w))


def check_window_mask(fn: Callable[[int, int], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(n, w) -> boolean (n, n), True where key j lies in the causal window i - w < j <= i."""
    hints: list[Hint] = [
        (lambda c: ~_window_mask(*c.args), "wrong polarity: in this course True means 'may attend'."),
        (lambda c: _window_mask(c.args[0], c.args[1] + 1),
         "off by one: the window holds w keys including the query's own, i - w + 1 <= j <= i "
         "(so j > i - w, not j >= i - w)."),
        (lambda c: _window_mask(c.args[0], c.args[1] - 1) if c.args[1] > 1 else None,
         "off by one: the window holds w keys including the query's own, i - w + 1 <= j <= i."),
        (lambda c: _window_mask(*c.args) | _window_mask(*c.args).T,
         "the window is causal: keys after the query (j > i) stay hidden."),
        (lambda c: _window_mask(*c.args).T, "query i is row i: it may see keys j <= i, below the diagonal."),
    ]
    return run_checks("check_window_mask", fn, _window_cases(), hints, verbose=verbose)


def _hf_convert(attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hugging Face attention_mask (batch, n), 1 = real token -> (SDPA decoder mask, MHA key_padding_mask)."""
    real = np.asarray(attention_mask) == 1
    n = real.shape[-1]
    return real[:, None, :] & causal_mask(n), ~real


def _hf_cases() -> Iterator[Case]:
    masks = [
        ("the exercise: right padding", [[1, 1, 1, 0], [1, 1, 0, 0]]),
        ("left padding (rows with nothing to attend to)", [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]),
        ("no padding at all", [[1, 1, 1]]),
        ("one token", [[1]]),
    ]
    for description, m in masks:
        arr = np.array(m, dtype=np.int64)
        yield Case(description, (arr,), _hf_convert(arr))


def check_hf_mask_conversion(fn: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                             verbose: bool = True) -> CheckResult:
    """Check fn(attention_mask: (batch, n) ints, 1 = real) -> (sdpa_mask (batch, n, n), key_padding_mask (batch, n)).

    sdpa_mask: boolean, True = may attend, padding and causal combined (a decoder);
    key_padding_mask: boolean, True = ignore, as `torch.nn.MultiheadAttention` expects.
    """
    def swap(c: Case, sdpa: Any = None, kpm: Any = None) -> tuple[np.ndarray, np.ndarray]:
        good = _hf_convert(c.args[0])
        return (good[0] if sdpa is None else sdpa, good[1] if kpm is None else kpm)

    hints: list[Hint] = [
        (lambda c: swap(c, kpm=~_hf_convert(c.args[0])[1]),
         "key_padding_mask has the opposite polarity: True = ignore (padding), so it is attention_mask == 0."),
        (lambda c: swap(c, sdpa=~_hf_convert(c.args[0])[0]),
         "the SDPA mask uses True = may attend; do not flip it."),
        (lambda c: swap(c, sdpa=np.broadcast_to((c.args[0] == 1)[:, None, :], _hf_convert(c.args[0])[0].shape)),
         "a decoder also needs the causal mask: combine padding & causal_mask(n)."),
        (lambda c: swap(c, sdpa=(c.args[0] == 1)[:, None, :]),
         "a decoder also needs the causal mask: combine padding & causal_mask(n), shape (batch, n, n)."),
        (lambda c: swap(c, sdpa=np.broadcast_to(causal_mask(c.args[0].shape[1]), _hf_convert(c.args[0])[0].shape)),
         "the padding is missing: padded keys must be hidden too, (attention_mask == 1)[:, None, :]."),
        (lambda c: swap(c, sdpa=(c.args[0] == 1)[:, :, None] & causal_mask(c.args[0].shape[1])),
         "padding hides keys (columns), not queries (rows): use attention_mask[:, None, :], not [:, :, None]."),
    ]
    return run_checks("check_hf_mask_conversion", fn, _hf_cases(), hints, verbose=verbose)


# ---- heads ----------------------------------------------------------------------------------

def _split_cases() -> Iterator[Case]:
    rng = case_rng()
    x = np.arange(3 * 8, dtype=float).reshape(3, 8)
    yield Case("x (3, 8), 2 heads", (x, 2), split_heads(x, 2))
    x = rng.normal(size=(2, 5, 12))
    yield Case("batch x (2, 5, 12), 3 heads", (x, 3), split_heads(x, 3))


def check_split_heads(fn: Callable[[np.ndarray, int], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (..., n, d_model), num_heads) -> (..., num_heads, n, d_head)."""
    hints: list[Hint] = [
        (lambda c: c.args[0].reshape(*c.args[0].shape[:-2], c.args[1], c.args[0].shape[-2], -1),
         "a plain reshape to (..., heads, n, d_head) mixes different tokens into one row; reshape to "
         "(..., n, heads, d_head) first, then swap the n and heads axes."),
    ]
    result = run_checks("check_split_heads", fn, _split_cases(), hints, verbose=False)
    return with_conventions(result, fn, diagnose_split_heads, verbose)


def _merge_cases() -> Iterator[Case]:
    rng = case_rng()
    for shape in ((2, 3, 4), (2, 4, 5, 3)):
        x = rng.normal(size=shape)
        yield Case(f"x {shape}", (x,), merge_heads(x))


def check_merge_heads(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (..., num_heads, n, d_head)) -> (..., n, num_heads * d_head)."""
    hints: list[Hint] = [
        (lambda c: c.args[0].reshape(*c.args[0].shape[:-3], c.args[0].shape[-2], -1),
         "swap the heads and n axes back before the reshape, or tokens get mixed."),
    ]
    return run_checks("check_merge_heads", fn, _merge_cases(), hints, verbose=verbose)


def _mha_parameters(d_model: int, num_heads: int, bias: bool = True) -> int:
    """Parameters of one multi-head attention layer: four (d_model, d_model) weights, four biases."""
    return 4 * d_model * d_model + (4 * d_model if bias else 0)


def _parameter_cases() -> Iterator[Case]:
    for d_model, heads, bias, what in ((768, 12, True, "BERT-base"), (512, 8, False, "base Transformer, no biases"),
                                       (512, 1, True, "one head"), (12, 3, True, "a small layer"),
                                       (64, 64, True, "as many heads as features")):
        yield Case(f"d_model = {d_model}, num_heads = {heads}, bias = {bias} ({what})", (d_model, heads),
                   _mha_parameters(d_model, heads, bias), {"bias": bias})


def check_mha_parameter_count(fn: Callable[..., int], verbose: bool = True) -> CheckResult:
    """Check fn(d_model, num_heads, bias=True) -> int, the parameters of one multi-head attention layer."""
    def kw(c: Case) -> bool:
        return bool(c.kwargs["bias"])

    hints: list[Hint] = [
        (lambda c: 4 * c.args[0] ** 2 if kw(c) else None, "with bias=True, add the four bias vectors (4 d_model)."),
        (lambda c: _mha_parameters(c.args[0], 1, True) if not kw(c) else None,
         "with bias=False there are no bias vectors."),
        (lambda c: 3 * c.args[0] ** 2 + (3 * c.args[0] if kw(c) else 0),
         "do not forget the output projection W_O: four matrices, not three."),
        (lambda c: c.args[1] * _mha_parameters(c.args[0], 1, kw(c)) if c.args[1] > 1 else None,
         "heads do not get full-size matrices: each head owns d_model / num_heads columns of the same W_Q, W_K, W_V."),
        (lambda c: 4 * c.args[0] * (c.args[0] // c.args[1]) + (4 * c.args[0] // c.args[1] if kw(c) else 0)
         if c.args[1] > 1 else None,
         "that is the count for one head's slice; the layer has num_heads of them, d_model x d_model in all."),
    ]
    return run_checks("check_mha_parameter_count", fn, _parameter_cases(), hints, verbose=verbose)


# ---- softmax Jacobian -----------------------------------------------------------------------

def _jacobian_cases() -> Iterator[Case]:
    rng = case_rng()
    rows = [("uniform weights over 4 keys", np.full(4, 0.25)),
            ("a random row of 5 weights", softmax(rng.normal(size=5))),
            ("a saturated row (one-hot): the Jacobian vanishes", np.array([0.0, 1.0, 0.0])),
            ("a single key", np.array([1.0])),
            ("batch of rows (2, 3, 4)", softmax(rng.normal(size=(2, 3, 4))))]
    for description, s in rows:
        yield Case(description, (s,), softmax_jacobian(s))


def check_softmax_jacobian(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(s: (..., n)) -> (..., n, n), the softmax Jacobian d s_i / d x_j = s_i (delta_ij - s_j)."""
    hints: list[Hint] = [
        (lambda c: c.args[0][..., :, None] * np.eye(c.args[0].shape[-1]),
         "the weights compete: add the term - s_i s_j (the outer product) to diag(s)."),
        (lambda c: -c.args[0][..., :, None] * c.args[0][..., None, :],
         "the diagonal also has s_i itself: diag(s) - s s^T."),
        (lambda c: -softmax_jacobian(c.args[0]), "check the sign: it is diag(s) - s s^T, not s s^T - diag(s)."),
    ]
    return run_checks("check_softmax_jacobian", fn, _jacobian_cases(), hints, verbose=verbose)


# ---- block pieces ---------------------------------------------------------------------------

def _layer_norm_cases() -> Iterator[Case]:
    rng = case_rng()
    x, g, b = rng.normal(2.0, 3.0, size=(4, 8)), rng.normal(size=8), rng.normal(size=8)
    yield Case("x (4, 8) with gamma, beta", (x, g, b), layer_norm(x, g, b))
    x = rng.normal(size=(2, 3, 6))
    yield Case("batch x (2, 3, 6)", (x, np.ones(6), np.zeros(6)), layer_norm(x, np.ones(6), np.zeros(6)))


def _layer_norm_unbiased(case: Case) -> np.ndarray:
    x, g, b = case.args
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, ddof=1, keepdims=True) + 1e-5) * g + b


def check_layer_norm(fn: Callable[..., np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (..., d), gamma: (d,), beta: (d,)) -> (..., d) with eps = 1e-5."""
    hints: list[Hint] = [
        (_layer_norm_unbiased, "use the biased variance (divide by d, numpy's default ddof=0)."),
        (lambda c: layer_norm(c.args[0].T, np.ones(c.args[0].shape[0]), np.zeros(c.args[0].shape[0])).T
         if c.args[0].ndim == 2 else None, "normalise over the last axis (the features of each token)."),
    ]
    return run_checks("check_layer_norm", fn, _layer_norm_cases(), hints, atol=1e-5, verbose=verbose)


def check_gelu(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (...)) -> (...), the exact (erf) GELU."""
    x = np.linspace(-5, 5, 41)
    cases = [Case("41 points in [-5, 5]", (x,), gelu(x))]
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    hints: list[Hint] = [
        (lambda c: tanh_form, "that is the tanh approximation; the exact GELU is x * Phi(x) with "
                              "Phi(x) = (1 + erf(x / sqrt(2))) / 2."),
    ]
    return run_checks("check_gelu", fn, cases, hints, atol=1e-7, verbose=verbose)


# ---- masks once there are heads (chapter 6) ---------------------------------------------------

def _head_padding_weights(scores: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """scores (batch, heads, n_q, n_k), lengths (batch,) -> weights, padded keys hidden."""
    keep = padding_mask(lengths, scores.shape[-1], heads=True)  # (batch, 1, 1, n_k)
    return softmax(np.where(keep, scores, -np.inf))


def _head_padding_cases() -> Iterator[Case]:
    rng = case_rng()
    # batch == heads first: there the usual mistake runs and is silently wrong.
    for batch, heads, lengths in ((2, 2, [2, 4]), (3, 2, [1, 4, 3]), (1, 4, [3])):
        scores = rng.normal(size=(batch, heads, 5, 4))
        lengths_arr = np.array(lengths)
        yield Case(f"{batch} sentences, {heads} heads, lengths {lengths}",
                   (scores, lengths_arr), _head_padding_weights(scores, lengths_arr))


def _head_padding_trap(case: Case) -> np.ndarray:
    """The (batch, 1, n_k) mask numpy lines up as (1, batch, 1, n_k): batch meets heads."""
    scores, lengths = case.args
    keep = padding_mask(lengths, scores.shape[-1])  # (batch, 1, n_k): no heads axis
    return softmax(np.where(keep, scores, -np.inf))


def _head_padding_queries(case: Case) -> np.ndarray:
    """Padding queries hidden instead of keys: rows of padded queries all -inf (zeros)."""
    scores, lengths = case.args
    rows = np.arange(scores.shape[-2]) < lengths[:, None]  # (batch, n_q)
    return softmax(np.where(rows[:, None, :, None], scores, -np.inf))


def check_head_padding_weights(fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
                               verbose: bool = True) -> CheckResult:
    """Check fn(scores (batch, heads, n_q, n_k), lengths (batch,)) -> weights, same shape.

    The weights are the softmax over the keys with sentence b's keys from lengths[b] on
    hidden, in every head.
    """
    hints: list[Hint] = [
        (_head_padding_trap,
         "the mask has no heads axis: numpy lined its batch axis up with the scores' heads "
         "axis, so head h got sentence h's mask. Give it shape (batch, 1, 1, n_k): "
         "keep[:, None, None, :] or padding_mask(lengths, n, heads=True)."),
        (lambda c: softmax(c.args[0]), "hide the padded keys: set their scores to -inf "
                                       "before the softmax."),
        (_head_padding_queries, "padding hides keys (the last axis), not queries: the mask's "
                                "shape is (batch, 1, 1, n_k)."),
    ]
    return run_checks("check_head_padding_weights", fn, _head_padding_cases(), hints,
                      verbose=verbose)
