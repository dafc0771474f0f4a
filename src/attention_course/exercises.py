"""Checkers for the coding exercises: run the reader's function on hidden cases, explain the first failure.

Each `check_*` takes the reader's function, runs it on a fixed set of cases (edge cases included:
huge logits, a fully masked row, n_q != n_k, batch and head axes) and compares it with the package.
It prints a verdict and returns a `CheckResult`, which is truthy when every case passed, so a
solution cell can end with `assert check_softmax(my_softmax)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .attention import scaled_dot_product_attention, softmax
from .blocks import gelu, layer_norm
from .heads import merge_heads, split_heads
from .masks import causal_mask, padding_mask
from .scaling import softmax_jacobian

__all__ = [
    "CheckResult",
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
]


@dataclass
class Case:
    """One hidden test case: a description, the arguments and the expected output."""

    description: str
    args: tuple[Any, ...]
    expected: Any
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckResult:
    """Outcome of a check: truthy if every case passed; `message` says what failed and why."""

    name: str
    passed: bool
    cases_run: int
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython display
        printer.text(self.message)


# A hint is a pair (recogniser, advice): if the reader's output equals what the usual mistake
# would produce on that case, the advice names the mistake.
Hint = tuple[Callable[[Case], Any], str]


def _describe(value: Any) -> str:
    """Short text for an argument or output: shape and dtype for arrays, repr otherwise."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}, dtype {value.dtype}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    return repr(value)


def _close(got: Any, expected: Any, atol: float, equal_nan: bool = False) -> bool:
    """True if got matches expected (arrays: same shape, allclose; tuples element-wise)."""
    if isinstance(expected, tuple):
        return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                and all(_close(g, e, atol, equal_nan) for g, e in zip(got, expected)))
    got_arr = np.asarray(got)
    expected_arr = np.asarray(expected)
    if got_arr.shape != expected_arr.shape:
        return False
    if expected_arr.dtype == np.bool_:
        return got_arr.dtype == np.bool_ and bool(np.array_equal(got_arr, expected_arr))
    return bool(np.allclose(got_arr, expected_arr, atol=atol, rtol=1e-6, equal_nan=equal_nan))


def _first_difference(got: Any, expected: Any) -> str:
    """Describe how got differs from expected in one line."""
    if isinstance(expected, tuple):
        for idx, (g, e) in enumerate(zip(got, expected)):
            if not _close(g, e, 1e-6):
                return f"element {idx} of the returned tuple: " + _first_difference(g, e)
        return f"returned {len(got)} values, expected {len(expected)}"
    g, e = np.asarray(got), np.asarray(expected)
    if g.shape != e.shape:
        return f"expected shape {e.shape}, got shape {g.shape}"
    if e.dtype == np.bool_ and g.dtype != np.bool_:
        return f"expected a boolean array, got dtype {g.dtype}"
    if not np.all(np.isfinite(g.astype(float))):
        return f"the result contains NaN or inf ({int((~np.isfinite(g.astype(float))).sum())} entries)"
    diff = np.abs(g.astype(float) - e.astype(float))
    where = tuple(int(i) for i in np.unravel_index(np.argmax(diff), diff.shape))
    return (f"largest error {diff.max():.3g} at index {where}: expected {e[where].item()!r}, "
            f"got {g[where].item()!r}")


def _run(name: str, fn: Callable[..., Any], cases: Iterable[Case], hints: list[Hint],
         atol: float = 1e-6, verbose: bool = True) -> CheckResult:
    """Run fn on every case, stop at the first failure, and print and return the verdict."""
    if not callable(fn):
        raise TypeError(f"{name} expects a function, got {type(fn).__name__}")
    count = 0
    message = ""
    for count, case in enumerate(cases, start=1):
        args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in case.args)
        try:
            got = fn(*args, **case.kwargs)
        except Exception as error:  # the reader's bug, reported rather than raised
            message = (f"✗ {name}: case {count} ({case.description}) raised "
                       f"{type(error).__name__}: {error}\n  input: {_describe(case.args)}")
            break
        if not _close(got, case.expected, atol):
            message = (f"✗ {name}: case {count} ({case.description}) failed.\n"
                       f"  input: {_describe(case.args)}"
                       + (f", {case.kwargs}" if case.kwargs else "")
                       + f"\n  {_first_difference(got, case.expected)}")
            for recognise, advice in hints:
                try:
                    with np.errstate(all="ignore"):
                        typical = recognise(case)
                except Exception:
                    continue
                if typical is not None and _close(got, typical, atol, equal_nan=True):
                    message += f"\n  hint: {advice}"
                    break
            break
    else:
        message = f"✓ {name}: all {count} cases passed."
    result = CheckResult(name, message.startswith("✓"), count, message)
    if verbose:
        print(message)
    return result


def _rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


# ---- softmax --------------------------------------------------------------------------------

def _softmax_cases() -> Iterator[Case]:
    rng = _rng()
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
    return _run("check_softmax", fn, _softmax_cases(), hints, verbose=verbose)


# ---- attention ------------------------------------------------------------------------------

def _attention_cases() -> Iterator[Case]:
    rng = _rng()
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
    return _run("check_attention", fn, _attention_cases(), hints, verbose=verbose)


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
    return _run("check_causal_mask", fn, _causal_cases(), hints, verbose=verbose)


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
    return _run("check_padding_mask", fn, _padding_cases(), hints, verbose=verbose)


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
    return _run("check_window_mask", fn, _window_cases(), hints, verbose=verbose)


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
    return _run("check_hf_mask_conversion", fn, _hf_cases(), hints, verbose=verbose)


# ---- heads ----------------------------------------------------------------------------------

def _split_cases() -> Iterator[Case]:
    rng = _rng()
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
    return _run("check_split_heads", fn, _split_cases(), hints, verbose=verbose)


def _merge_cases() -> Iterator[Case]:
    rng = _rng()
    for shape in ((2, 3, 4), (2, 4, 5, 3)):
        x = rng.normal(size=shape)
        yield Case(f"x {shape}", (x,), merge_heads(x))


def check_merge_heads(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (..., num_heads, n, d_head)) -> (..., n, num_heads * d_head)."""
    hints: list[Hint] = [
        (lambda c: c.args[0].reshape(*c.args[0].shape[:-3], c.args[0].shape[-2], -1),
         "swap the heads and n axes back before the reshape, or tokens get mixed."),
    ]
    return _run("check_merge_heads", fn, _merge_cases(), hints, verbose=verbose)


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
    return _run("check_mha_parameter_count", fn, _parameter_cases(), hints, verbose=verbose)


# ---- softmax Jacobian -----------------------------------------------------------------------

def _jacobian_cases() -> Iterator[Case]:
    rng = _rng()
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
    return _run("check_softmax_jacobian", fn, _jacobian_cases(), hints, verbose=verbose)


# ---- block pieces ---------------------------------------------------------------------------

def _layer_norm_cases() -> Iterator[Case]:
    rng = _rng()
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
    return _run("check_layer_norm", fn, _layer_norm_cases(), hints, atol=1e-5, verbose=verbose)


def check_gelu(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (...)) -> (...), the exact (erf) GELU."""
    x = np.linspace(-5, 5, 41)
    cases = [Case("41 points in [-5, 5]", (x,), gelu(x))]
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    hints: list[Hint] = [
        (lambda c: tanh_form, "that is the tanh approximation; the exact GELU is x * Phi(x) with "
                              "Phi(x) = (1 + erf(x / sqrt(2))) / 2."),
    ]
    return _run("check_gelu", fn, cases, hints, atol=1e-7, verbose=verbose)


# =================================================================================================
# Checkers for chapters 2, 3, 4, 7, 8, 9 and 10 (issue 11). A separate block: append-only.
# =================================================================================================

from .blocks import TransformerBlock  # noqa: E402  (kept with this block so merges stay trivial)
from .positions import apply_rope  # noqa: E402
from .training.grad import gelu_backward  # noqa: E402

__all__ += [
    "check_log_softmax",
    "check_cosine_attention",
    "check_attention_one_query",
    "check_score_scale",
    "check_permutation_matrix",
    "check_rope",
    "check_block_parameters",
    "check_gelu_derivative",
]


# ---- chapter 2: log-softmax, cosine attention -------------------------------------------------

def _log_softmax(x: np.ndarray) -> np.ndarray:
    """Reference log-softmax over the last axis by log-sum-exp (exact where log(softmax) underflows)."""
    m = np.max(x, axis=-1, keepdims=True)
    return x - (m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)))


def _log_softmax_cases() -> Iterator[Case]:
    rng = _rng()
    x = np.array([2.0, 1.0, 0.1, -1.0])
    yield Case("the four scores of chapter 2", (x,), _log_softmax(x))
    x = rng.normal(size=(4, 6))
    yield Case("a (4, 6) matrix: one log-softmax per row", (x,), _log_softmax(x))
    x = np.array([1e4, 0.0])
    yield Case("x = [1e4, 0]: exp(-1e4) underflows to 0", (x,), np.array([0.0, -1e4]))
    x = np.array([[1000.0, 999.0, 998.0], [-1e4, 0.0, 1e4]])
    yield Case("huge logits, rows of very different size", (x,), _log_softmax(x))
    x = rng.normal(size=(2, 3, 5))
    yield Case("batch axes (2, 3, 5)", (x,), _log_softmax(x))


def _log_softmax_global(case: Case) -> np.ndarray:
    x = case.args[0]
    m = x.max()
    return x - (m + np.log(np.sum(np.exp(x - m))))


def check_log_softmax(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (..., n)) -> (..., n), log(softmax(x)) over the last axis, exact for huge gaps."""
    hints: list[Hint] = [
        (lambda c: np.log(softmax(c.args[0])), "log(softmax(x)) takes the log of weights that underflowed to 0 "
                                               "(-inf); use x - (m + log(sum(exp(x - m)))) with m = max(x)."),
        (lambda c: c.args[0] - np.log(np.sum(np.exp(c.args[0] - c.args[0].max(-1, keepdims=True)), axis=-1,
                                             keepdims=True)),
         "you subtracted the maximum inside the exp: add m back, x - (m + log(sum(exp(x - m))))."),
        (_log_softmax_global, "take the maximum and the sum of each row: axis=-1, keepdims=True, "
                              "not of the whole array."),
    ]
    return _run("check_log_softmax", fn, _log_softmax_cases(), hints, verbose=verbose)


def _unit(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


def _cosine_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    return scaled_dot_product_attention(_unit(q), _unit(k), v, scale=1.0)[0]


def _cosine_cases() -> Iterator[Case]:
    rng = _rng()
    q, k, v = np.array([[1.0, 0.0]]), np.array([[1.0, 0.2], [3.0, 3.0], [-1.0, 0.5]]), np.eye(3)
    yield Case("chapter 2's query and three keys, one-hot values", (q, k, v), _cosine_attention(q, k, v))
    q, k, v = rng.normal(size=(2, 8)), rng.normal(size=(5, 8)), rng.normal(size=(5, 3))
    yield Case("n_q=2 queries, n_k=5 keys, d=8", (q, k, v), _cosine_attention(q, k, v))
    k = k * np.array([[1.0], [1e3], [1.0], [1e-3], [1.0]])
    yield Case("keys of very different lengths (1e-3 to 1e3)", (q, k, v), _cosine_attention(q, k, v))
    q, k, v = rng.normal(size=(2, 3, 4, 6)), rng.normal(size=(2, 3, 5, 6)), rng.normal(size=(2, 3, 5, 2))
    yield Case("batch and head axes (2, 3, ...)", (q, k, v), _cosine_attention(q, k, v))


def check_cosine_attention(fn: Callable[..., np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(q: (..., n_q, d), k: (..., n_k, d), v: (..., n_k, d_v)) -> softmax(cos(q, k)) v: (..., n_q, d_v)."""
    hints: list[Hint] = [
        (lambda c: scaled_dot_product_attention(c.args[0], c.args[1], c.args[2], scale=1.0)[0],
         "scale each query and key to length 1 first (divide by np.linalg.norm(..., axis=-1, keepdims=True))."),
        (lambda c: scaled_dot_product_attention(_unit(c.args[0]), _unit(c.args[1]), c.args[2])[0],
         "cosine scores need no 1/sqrt(d) scale: pass scale=1.0."),
        (lambda c: scaled_dot_product_attention(_unit(c.args[0], -2), _unit(c.args[1], -2), c.args[2],
                                                scale=1.0)[0],
         "divide each vector (a row, axis=-1) by its own length, not each feature (axis=-2)."),
        (lambda c: scaled_dot_product_attention(c.args[0], _unit(c.args[1]), c.args[2], scale=1.0)[0],
         "normalise the queries too, not only the keys."),
    ]
    return _run("check_cosine_attention", fn, _cosine_cases(), hints, verbose=verbose)


# ---- chapter 3: one query by hand -------------------------------------------------------------

def _one_query(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float | None = None) -> np.ndarray:
    return scaled_dot_product_attention(q[None, :], k, v, scale=scale)[0][0]


def _one_query_cases() -> Iterator[Case]:
    rng = _rng()
    q, k, v = rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    yield Case("d_k=3, n_k=5 keys, d_v=3", (q, k, v), _one_query(q, k, v))
    q, k, v = rng.normal(size=8), rng.normal(size=(2, 8)), rng.normal(size=(2, 4))
    yield Case("d_k=8, n_k=2 keys, d_v=4", (q, k, v), _one_query(q, k, v))
    q, k, v = rng.normal(size=4), rng.normal(size=(1, 4)), rng.normal(size=(1, 2))
    yield Case("a single key: its value is the output", (q, k, v), _one_query(q, k, v))
    q, k, v = 30 * rng.normal(size=4), 30 * rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
    yield Case("large scores (saturated softmax)", (q, k, v), _one_query(q, k, v))


def check_attention_one_query(fn: Callable[..., np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(q: (d_k,), k: (n_k, d_k), v: (n_k, d_v)) -> output (d_v,), attention of one query."""
    hints: list[Hint] = [
        (lambda c: _one_query(c.args[0], c.args[1], c.args[2], scale=1.0),
         "divide the scores by sqrt(d_k) before the softmax."),
        (lambda c: _one_query(c.args[0], c.args[1], c.args[2], scale=1.0 / c.args[0].shape[-1]),
         "the scale is 1/sqrt(d_k), not 1/d_k."),
        (lambda c: (c.args[1] @ c.args[0] / math.sqrt(c.args[0].shape[-1])) @ c.args[2],
         "turn the scores into weights with softmax before mixing the values."),
    ]
    return _run("check_attention_one_query", fn, _one_query_cases(), hints, verbose=verbose)


# ---- chapter 4: the scale for entries of any spread -------------------------------------------

def check_score_scale(fn: Callable[[int, float], float], verbose: bool = True) -> CheckResult:
    """Check fn(d_k, sigma) -> the factor that gives q . k unit variance when q, k have entries N(0, sigma^2)."""
    cases = [Case(f"d_k = {d}, sigma = {s}", (d, s), 1.0 / (s * s * math.sqrt(d)))
             for d, s in [(64, 1.0), (32, 2.0), (100, 0.5), (1, 3.0)]]
    hints: list[Hint] = [
        (lambda c: 1.0 / (c.args[1] * math.sqrt(c.args[0])),
         "both q and k carry sigma: each product q_i k_i has variance sigma^4, so divide by sigma^2."),
        (lambda c: 1.0 / math.sqrt(c.args[0]), "1/sqrt(d_k) assumes sigma = 1; account for sigma too."),
        (lambda c: 1.0 / (c.args[1] ** 2 * c.args[0]), "the square root applies to d_k as well: divide by "
                                                       "sqrt(d_k) sigma^2, not d_k sigma^2."),
        (lambda c: 1.0 / (c.args[1] ** 4 * c.args[0]), "that is one over the variance; the scale is one over "
                                                       "the standard deviation, its square root."),
    ]
    return _run("check_score_scale", fn, cases, hints, atol=1e-12, verbose=verbose)


# ---- chapter 7: permutation matrices ----------------------------------------------------------

def check_permutation_matrix(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(perm: (n,) ints) -> P: (n, n) with P @ x == x[perm] for every x: (n, ...)."""
    perms = [np.array([2, 0, 1]), np.arange(4), np.array([3, 1, 4, 0, 2, 5]), np.array([0])]
    cases = [Case(f"perm = {p.tolist()}", (p,), np.eye(len(p))[p]) for p in perms]
    hints: list[Hint] = [
        (lambda c: np.eye(len(c.args[0]))[:, c.args[0]],
         "that is the transpose (it undoes the permutation): row i of P must be the one-hot vector of "
         "perm[i], so that (P @ x)[i] = x[perm[i]]; use np.eye(n)[perm]."),
    ]
    return _run("check_permutation_matrix", fn, cases, hints, verbose=verbose)


# ---- chapter 8: rotary embeddings -------------------------------------------------------------

def _rope_cases() -> Iterator[Case]:
    rng = _rng()
    x, pos = rng.normal(size=(6, 32)), np.array([0, 1, 2, 5, 50, 1000])
    yield Case("x (6, 32) at positions 0, 1, 2, 5, 50, 1000", (x, pos), apply_rope(x, pos))
    x, pos = rng.normal(size=(3, 4)), np.array([7, 3, 11])
    yield Case("x (3, 4) at positions 7, 3, 11 (not in order)", (x, pos), apply_rope(x, pos))
    x, pos = rng.normal(size=(2, 3, 5, 8)), np.arange(5)
    yield Case("batch and head axes: x (2, 3, 5, 8)", (x, pos), apply_rope(x, pos))


def _rope_half_split(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """RoPE pairing feature i with i + d/2 (the Llama 'rotate_half' convention)."""
    half = x.shape[-1] // 2
    perm = np.concatenate([np.arange(0, 2 * half, 2), np.arange(1, 2 * half, 2)])  # interleaved -> halves
    return apply_rope(x[..., np.argsort(perm)], positions)[..., perm]


def check_rope(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (..., n, d), positions: (n,)) -> (..., n, d), RoPE with interleaved pairs, base 10000."""
    hints: list[Hint] = [
        (lambda c: apply_rope(c.args[0], -c.args[1]), "you rotate the wrong way: the pair (a, b) turned by "
                                                      "alpha is (a cos - b sin, a sin + b cos)."),
        (lambda c: _rope_half_split(*c.args), "pair the features interleaved, (0, 1), (2, 3), ..., not "
                                              "feature i with i + d/2 (the half-split convention)."),
        (lambda c: apply_rope(c.args[0], np.arange(c.args[0].shape[-2])),
         "rotate each row by its given position, not by its row index."),
    ]
    return _run("check_rope", fn, _rope_cases(), hints, atol=1e-9, verbose=verbose)


# ---- chapter 9: counting a block's parameters -------------------------------------------------

def _block_cases() -> Iterator[Case]:
    for d, h, d_ff, cross in [(8, 2, 32, False), (8, 2, 32, True), (12, 3, 20, True), (16, 4, 64, False)]:
        block = TransformerBlock(d, h, d_ff, np.random.default_rng(0), cross_attention=cross)
        yield Case(f"d_model = {d}, d_ff = {d_ff}, cross = {cross}", (d, d_ff), block.num_parameters,
                   {"cross": cross})


def _parameters(d: int, d_ff: int, cross: bool, biases: bool = True, norms: int | None = None) -> int:
    attention = 4 * d * d + (4 * d if biases else 0)
    ffn = 2 * d * d_ff + (d_ff + d if biases else 0)
    n_norms = (3 if cross else 2) if norms is None else norms
    return attention * (2 if cross else 1) + ffn + n_norms * 2 * d


def check_block_parameters(fn: Callable[..., int], verbose: bool = True) -> CheckResult:
    """Check fn(d_model, d_ff, cross=False) -> the number of parameters of a TransformerBlock."""
    hints: list[Hint] = [
        (lambda c: _parameters(c.args[0], c.args[1], c.kwargs["cross"], biases=False),
         "count the biases: d for each of the four attention projections, d_ff + d for the feed-forward."),
        (lambda c: _parameters(c.args[0], c.args[1], c.kwargs["cross"], norms=0),
         "each layer norm has 2 d_model parameters (gamma and beta)."),
        (lambda c: _parameters(c.args[0], c.args[1], c.kwargs["cross"], norms=2) if c.kwargs["cross"] else None,
         "a block with cross-attention has three layer norms, one per sub-layer."),
        (lambda c: _parameters(c.args[0], c.args[1], False) if c.kwargs["cross"] else None,
         "cross-attention brings a second set of four projections (and a third layer norm)."),
    ]
    return _run("check_block_parameters", fn, _block_cases(), hints, atol=0.0, verbose=verbose)


# ---- chapter 10: the derivative of GELU -------------------------------------------------------

def check_gelu_derivative(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (...)) -> d gelu(x) / dx, element-wise, for the exact (erf) GELU."""
    x = np.linspace(-5, 5, 41)  # includes x = 0
    x2 = _rng().normal(scale=2.0, size=(2, 3))
    cases = [Case("41 points in [-5, 5], 0 included", (x,), gelu_backward(np.ones_like(x), x)),
             Case("a (2, 3) array", (x2,), gelu_backward(np.ones_like(x2), x2))]
    hints: list[Hint] = [
        (lambda c: 0.5 * (1 + np.vectorize(math.erf)(c.args[0] / math.sqrt(2))),
         "that is Phi(x) alone: by the product rule, d/dx [x Phi(x)] = Phi(x) + x phi(x)."),
        (lambda c: gelu(c.args[0]) / c.args[0], "that is Phi(x) alone, and it is 0/0 at x = 0: by the product "
                                                "rule, d/dx [x Phi(x)] = Phi(x) + x phi(x)."),
        (lambda c: np.exp(-c.args[0] ** 2 / 2) / math.sqrt(2 * math.pi),
         "that is the density phi(x) alone: d/dx [x Phi(x)] = Phi(x) + x phi(x)."),
    ]
    return _run("check_gelu_derivative", fn, cases, hints, atol=1e-9, verbose=verbose)


# =================================================================================================
# Checkers of the capstone, chapter 14 (issue 12): the feed-forward block and a whole BERT-style
# encoder compared stage by stage with the package's MiniLM. A separate block: append-only.
# =================================================================================================

from collections.abc import Mapping  # noqa: E402  (kept with this block so merges stay trivial)

from .blocks import feed_forward  # noqa: E402
from .models.minilm import EncoderConfig, EncoderOutput, MiniLM, mean_pool  # noqa: E402
from .models.tokenizer import WordPieceTokenizer  # noqa: E402

__all__ += [
    "check_feed_forward",
    "check_encoder_stages",
    "check_minilm_encoder",
]


# ---- the feed-forward block -------------------------------------------------------------------

def _tanh_gelu(x: np.ndarray) -> np.ndarray:
    """The tanh approximation of GELU (GPT-2's), a common mistake where BERT's exact erf GELU is meant."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def _feed_forward_cases() -> Iterator[Case]:
    rng = _rng()
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
         "that is the tanh approximation of GELU; BERT uses the exact x * Phi(x) with erf."),
        (lambda c: np.maximum(c.args[0] @ c.args[1] + c.args[2], 0) @ c.args[3] + c.args[4],
         "that is ReLU; BERT's feed-forward uses GELU, x * Phi(x)."),
        (lambda c: (c.args[0] @ c.args[1] + c.args[2]) @ c.args[3] + c.args[4],
         "apply GELU between the two linear maps: without it the block is one linear map."),
        (lambda c: feed_forward(c.args[0], c.args[1], np.zeros_like(c.args[2]), c.args[3], np.zeros_like(c.args[4])),
         "add the biases b_1 and b_2."),
    ]
    return _run("check_feed_forward", fn, _feed_forward_cases(), hints, atol=1e-6, verbose=verbose)


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
    real = np.asarray(reference.attention_mask, dtype=bool)
    failed, compared, detail = _compare_stages(yours, reference, real, atol)
    if compared == 0:
        message = f"✗ {name}: no stage to compare; give at least one of the keys {_STAGE_KEYS}."
    elif failed is not None:
        message = f"✗ {name}: the first stage that differs is {failed}.\n  {detail}"
    else:
        message = f"✓ {name}: all {compared} stages given match the reference (atol {atol:g})."
    result = CheckResult(name, message.startswith("✓"), compared, message)
    if verbose:
        print(message)
    return result


# Typical mistakes, each a variant of the forward pass; a hint is given when the reader's failing
# stage equals the variant's. The variant with no mistake equals MiniLM.forward (tested).
_ENCODER_MISTAKES = {
    "tanh_gelu": "that is the tanh approximation of GELU; BERT uses the exact x * Phi(x) with erf.",
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
        mask = None if mistake == "no_padding_mask" else padding_mask(real.sum(axis=1), real.shape[1])[:, None]
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
    rng = _rng()
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
    if not callable(fn):
        raise TypeError(f"{name} expects a function, got {type(fn).__name__}")
    if tensors is None or config is None:
        from .models.minilm import minilm_folder
        from .models.safetensors_io import read_safetensors

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
            reference = model.forward(ids, real, types)
            failed, _, detail = _compare_stages(got, reference, real, atol)
        except Exception as error:  # the reader's bug, reported rather than raised
            message = (f"✗ {name}: case {count} ({description}) raised {type(error).__name__}: {error}\n"
                       f"  input: {shapes}")
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
    result = CheckResult(name, message.startswith("✓"), count, message)
    if verbose:
        print(message)
    return result


# =================================================================================================
# Checkers of chapters 1, 11 and 12 (issue 11, part 2). A separate block: append-only.
# =================================================================================================

from .kv_cache import kv_cache_bytes  # noqa: E402  (kept with this block so merges stay trivial)

__all__ += [
    "check_normalise_rows",
    "check_soft_lookup",
    "check_self_scores",
    "check_rank_by_cosine",
    "check_attention_layer_cost",
    "check_merge_partials",
    "check_kv_cache_size",
]


# ---- chapter 1: normalising a relevance table -------------------------------------------------

def _normalise_rows(table: np.ndarray) -> np.ndarray:
    """Each row (last axis) divided by its sum; a row of zeros stays a row of zeros."""
    table = np.asarray(table, dtype=float)
    sums = table.sum(axis=-1, keepdims=True)
    return table / np.where(sums > 0, sums, 1.0)


def _normalise_cases() -> Iterator[Case]:
    rng = _rng()
    x = np.array([[1.0, 3.0], [2.0, 2.0]])
    yield Case("a (2, 2) table", (x,), _normalise_rows(x))
    x = rng.uniform(0.0, 2.0, size=(5, 5))
    yield Case("a (5, 5) relevance table", (x,), _normalise_rows(x))
    x = rng.uniform(0.0, 1.0, size=(3, 6))
    yield Case("3 query words, 6 key words: (3, 6)", (x,), _normalise_rows(x))
    x = np.array([[0.5, 0.0, 0.5], [0.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    yield Case("a row of zeros (a word that finds nothing relevant) stays zeros", (x,), _normalise_rows(x))
    x = np.array([[1, 0, 3], [2, 2, 4]])
    yield Case("a table of integers", (x,), _normalise_rows(x))
    x = rng.uniform(0.0, 1.0, size=(2, 3, 4))
    yield Case("batch axes: two tables (2, 3, 4)", (x,), _normalise_rows(x))


def check_normalise_rows(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(table: (..., n_q, n_k) >= 0) -> (..., n_q, n_k), each row divided by its sum (zero rows stay 0)."""
    def rows(c: Case) -> np.ndarray:
        return np.asarray(c.args[0], dtype=float)

    hints: list[Hint] = [
        (lambda c: rows(c) / rows(c).sum(axis=-1, keepdims=True),
         "a row of zeros has sum 0, and 0 / 0 is NaN: divide only where the sum is positive and leave a "
         "row of zeros as zeros, e.g. table / np.where(sums > 0, sums, 1)."),
        (lambda c: rows(c) / rows(c).sum(axis=-2, keepdims=True),
         "that divides by the column sums: each ROW must sum to 1, so sum over the last axis, "
         "table.sum(axis=-1, keepdims=True)."),
        (lambda c: rows(c) / rows(c).sum(),
         "that divides by the sum of the whole table: divide each row by its own sum, "
         "table.sum(axis=-1, keepdims=True)."),
        (lambda c: rows(c) / rows(c).sum(axis=1, keepdims=True) if rows(c).ndim == 3 else None,
         "with batch axes axis=1 is not the rows' axis: sum over the last axis, axis=-1."),
    ]
    return _run("check_normalise_rows", fn, _normalise_cases(), hints, verbose=verbose)


# ---- chapter 1: a soft lookup of several queries at once --------------------------------------

def _soft_lookup(queries: np.ndarray, keys: np.ndarray, values: np.ndarray,
                 temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    out, weights = scaled_dot_product_attention(queries, keys, values, scale=1.0 / temperature)
    return weights, out


# Chapter 1's keys and values for "Cat sat on the mat", and its two queries ("who?" and "where?").
_CH01_KEYS = np.array([[2.0, 0.5], [1.0, 1.5], [-0.5, 1.0], [-1.0, -0.5], [1.5, -0.8]])
_CH01_VALUES = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 0.5, 0.5], [0, 0, 0, 1.0], [0, 0, 1.0, 0]])
_CH01_QUERIES = np.array([[1.8, 0.6], [1.4, -1.0]])


def _soft_lookup_cases() -> Iterator[Case]:
    rng = _rng()
    k, v, q = _CH01_KEYS, _CH01_VALUES, _CH01_QUERIES
    yield Case("chapter 1's two queries, default temperature", (q, k, v), _soft_lookup(q, k, v))
    for t in (0.25, 4.0):
        yield Case(f"chapter 1's two queries, temperature {t}", (q, k, v), _soft_lookup(q, k, v, t),
                   {"temperature": t})
    q, k, v = rng.normal(size=(3, 3)), rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    yield Case("3 queries, 6 keys, d_k = 3, d_v = 2", (q, k, v), _soft_lookup(q, k, v, 0.5), {"temperature": 0.5})
    q = rng.normal(size=(1, 3))
    yield Case("a single query (1, 3)", (q, k, v), _soft_lookup(q, k, v), {"temperature": 1.0})
    q = np.array([[1000.0, 300.0], [-1000.0, -300.0]])  # row maxima 2150 and 1150
    yield Case("huge scores of opposite sign in the two rows", (q, _CH01_KEYS, _CH01_VALUES),
               _soft_lookup(q, _CH01_KEYS, _CH01_VALUES))


def _soft_lookup_variant(case: Case, axis: int = -1, shift: str = "row",
                         temperature: str = "divide") -> tuple[np.ndarray, np.ndarray]:
    """The lookup with one typical mistake: softmax axis, which maximum is subtracted, how T is used."""
    q, k, v = case.args
    t = float(case.kwargs.get("temperature", 1.0))
    scores = q @ k.T
    scores = {"divide": scores / t, "multiply": scores * t, "ignore": scores}[temperature]
    m = {"row": scores.max(axis=axis, keepdims=True), "global": scores.max(), "none": 0.0}[shift]
    e = np.exp(scores - m)
    weights = e / e.sum(axis=axis, keepdims=True)
    return weights, weights @ v


def check_soft_lookup(fn: Callable[..., tuple[np.ndarray, np.ndarray]], verbose: bool = True) -> CheckResult:
    """Check fn(queries: (n_q, d_k), keys: (n, d_k), values: (n, d_v), temperature=1.0) -> (weights, outputs).

    weights: (n_q, n), one softmax of the scores / temperature per query; outputs: (n_q, d_v).
    """
    hints: list[Hint] = [
        (lambda c: _soft_lookup_variant(c, shift="none"),
         "exp of a large score overflows to inf: subtract each row's maximum score before the exp."),
        (lambda c: _soft_lookup_variant(c, shift="global"),
         "subtract each row's OWN maximum (max(axis=-1, keepdims=True)): with the maximum of the whole "
         "table, a row of much smaller scores underflows to 0 / 0."),
        (lambda c: _soft_lookup_variant(c, axis=0),
         "one softmax per query: normalise each row (over the keys, axis=-1), not each column."),
        (lambda c: _soft_lookup_variant(c, temperature="multiply") if "temperature" in c.kwargs else None,
         "divide the scores by the temperature: a low temperature must make the focus sharper."),
        (lambda c: _soft_lookup_variant(c, temperature="ignore") if "temperature" in c.kwargs else None,
         "use the temperature: divide the scores by it before the softmax."),
    ]
    return _run("check_soft_lookup", fn, _soft_lookup_cases(), hints, verbose=verbose)


# ---- chapter 11: a score that finds a head ----------------------------------------------------

def _self_scores(attentions: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Reference: per (layer, head), the mean diagonal weight over each sentence's word tokens, then over sentences."""
    per_sentence = []
    for b, n in enumerate(np.asarray(attention_mask).sum(axis=1)):
        i = np.arange(1, int(n) - 1)  # the word tokens: not [CLS] (0) and not the final [SEP] (n - 1)
        per_sentence.append(attentions[:, b, :, i, i].mean(axis=0))
    return np.mean(per_sentence, axis=0)


def _fake_attentions(rng: np.random.Generator, layers: int, heads: int,
                     lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Random attention maps (L, B, H, n, n) with padded keys at 0 and padding query rows set to 0.9."""
    n = max(lengths)
    mask = np.arange(n)[None, :] < np.array(lengths)[:, None]
    logits = 3.0 * rng.normal(size=(layers, len(lengths), heads, n, n))
    weights = softmax(np.where(mask[None, :, None, None, :], logits, -np.inf))
    weights = np.where(mask[None, :, None, :, None], weights, 0.9)  # garbage in the padding rows
    return weights, mask.astype(np.int64)


def _self_cases() -> Iterator[Case]:
    rng = _rng()
    for layers, heads, lengths, what in ((2, 3, [6], "one sentence of 6 tokens, no padding"),
                                         (2, 3, [9, 5, 7], "3 sentences padded to 9 tokens"),
                                         (1, 1, [3, 8], "a one-word sentence next to a long one"),
                                         (3, 4, [12, 4, 10, 6], "4 sentences, L = 3 layers, H = 4 heads")):
        a, m = _fake_attentions(rng, layers, heads, lengths)
        yield Case(f"{what}: lengths {lengths}", (a, m), _self_scores(a, m))


def _self_all_positions(case: Case) -> np.ndarray:
    a, m = case.args
    return np.mean([np.diagonal(a[:, b, :, :n, :n], axis1=-2, axis2=-1).mean(-1)
                    for b, n in enumerate(m.sum(axis=1))], axis=0)


def _self_token_weighted(case: Case) -> np.ndarray:
    a, m = case.args
    diag = [np.diagonal(a[:, b, :, 1:n - 1, 1:n - 1], axis1=-2, axis2=-1) for b, n in enumerate(m.sum(axis=1))]
    return np.concatenate(diag, axis=-1).mean(-1)


def check_self_scores(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(attentions: (L, B, H, n, n), attention_mask: (B, n)) -> (L, H), a word token's weight on itself.

    Averaged over the word tokens of each sentence (not [CLS], not the final [SEP], not padding),
    then over the sentences, as chapter 11's head scores are.
    """
    hints: list[Hint] = [
        (_self_all_positions, "leave out [CLS] (position 0) and the final [SEP] (position n - 1): "
                              "average over the word tokens 1, ..., n - 2."),
        (lambda c: np.diagonal(c.args[0], axis1=-2, axis2=-1).mean(axis=(-1, 1)),
         "padding positions are not tokens of the sentence: use only the first n = attention_mask[b].sum() "
         "positions of sentence b, and of those only the word tokens 1, ..., n - 2."),
        (lambda c: _self_scores(*c.args).T, "return one score per (layer, head): shape (L, H), layers first."),
        (_self_token_weighted, "average each sentence over its own word tokens first, then average the "
                               "sentences, so every sentence counts equally (as in head_scores)."),
    ]
    return _run("check_self_scores", fn, _self_cases(), hints, verbose=verbose)


# ---- chapter 11: semantic search --------------------------------------------------------------

def _rank_by_cosine(query: np.ndarray, docs: np.ndarray) -> np.ndarray:
    cos = (docs @ query) / (np.linalg.norm(docs, axis=-1) * np.linalg.norm(query))
    return np.argsort(-cos, kind="stable")


def _rank_cases() -> Iterator[Case]:
    rng = _rng()
    docs = _unit(rng.normal(size=(4, 8)))
    query = _unit(rng.normal(size=8))
    yield Case("4 unit-length documents (like the model's embeddings), d = 8", (query, docs),
               _rank_by_cosine(query, docs))
    docs = rng.normal(size=(6, 5)) * np.array([[1.0], [10.0], [0.1], [3.0], [1.0], [0.5]])
    query = rng.normal(size=5) * 4.0
    yield Case("6 documents of very different lengths, query of length about 8", (query, docs),
               _rank_by_cosine(query, docs))
    docs = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.1], [5.0, 5.0]])
    query = np.array([2.0, 1.0])
    yield Case("4 documents in 2-D, one of them long", (query, docs), _rank_by_cosine(query, docs))
    docs, query = rng.normal(size=(1, 3)), rng.normal(size=3)
    yield Case("a single document", (query, docs), np.array([0]))


def check_rank_by_cosine(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(query: (d,), docs: (n, d)) -> (n,) indices of the documents, most similar (cosine) first."""
    def cos(c: Case) -> np.ndarray:
        q, d = c.args
        return (d @ q) / (np.linalg.norm(d, axis=-1) * np.linalg.norm(q))

    hints: list[Hint] = [
        (lambda c: np.argsort(cos(c)), "that is the order from LEAST to most similar: sort by -similarity, "
                                       "or reverse the result of np.argsort."),
        (lambda c: np.argsort(-(c.args[1] @ c.args[0])),
         "the dot product favours long documents: divide by both lengths (cosine), or scale every "
         "vector to length 1 first."),
        (lambda c: np.argsort(c.args[1] @ c.args[0]), "sort from most to least similar, and use the cosine "
                                                      "(divide the dot products by the lengths)."),
        (lambda c: cos(c), "return the ranking (document indices, np.argsort), not the similarities."),
        (lambda c: np.sort(cos(c))[::-1], "return the ranking (document indices), not the sorted similarities."),
    ]
    return _run("check_rank_by_cosine", fn, _rank_cases(), hints, atol=0.0, verbose=verbose)


# ---- chapter 12: what a layer of attention costs ----------------------------------------------

def _layer_cost(n: int, d: int, num_heads: int, itemsize: int = 2) -> tuple[int, int]:
    """(FLOPs of the two matrix products, 4 n^2 d per head; bytes of the stored n x n weights) for one layer."""
    return num_heads * 4 * n * n * d, num_heads * n * n * itemsize


def _cost_cases() -> Iterator[Case]:
    for n, d, h, itemsize, what in ((8192, 128, 32, 2, "the exercise, float16"),
                                    (6, 4, 1, 8, "one small head, float64"),
                                    (1024, 64, 12, 4, "BERT-sized heads, float32"), (1, 1, 1, 1, "one token"),
                                    (4096, 128, 8, 2, "8 heads, float16")):
        yield Case(f"n = {n}, d = {d}, num_heads = {h}, itemsize = {itemsize} ({what})", (n, d, h, itemsize),
                   _layer_cost(n, d, h, itemsize))


def check_attention_layer_cost(fn: Callable[..., tuple[int, int]], verbose: bool = True) -> CheckResult:
    """Check fn(n, d, num_heads, itemsize) -> (FLOPs, bytes of the stored attention weights) of one layer."""
    def cost(c: Case, flops: Any = None, size: Any = None) -> tuple[Any, Any]:
        right = _layer_cost(*c.args)
        return (right[0] if flops is None else flops, right[1] if size is None else size)

    hints: list[Hint] = [
        (lambda c: cost(c, flops=c.args[2] * 2 * c.args[0] ** 2 * c.args[1]),
         "there are two matrix products, q k^T and weights @ v, each 2 n^2 d FLOPs: 4 n^2 d per head."),
        (lambda c: cost(c, flops=c.args[2] * c.args[0] ** 2 * c.args[1]),
         "a multiply-add is two FLOPs, and there are two matrix products: 4 n^2 d per head."),
        (lambda c: cost(c, flops=4 * c.args[0] ** 2 * c.args[1]) if c.args[2] > 1 else None,
         "every head does this work: multiply the FLOPs by num_heads."),
        (lambda c: cost(c, size=c.args[0] ** 2 * c.args[2]) if c.args[3] > 1 else None,
         "that is the number of weights; multiply by itemsize (bytes per number) to get bytes."),
        (lambda c: cost(c, size=c.args[0] ** 2 * c.args[3]) if c.args[2] > 1 else None,
         "every head has its own n x n weights: multiply the bytes by num_heads."),
        (lambda c: cost(c, size=c.args[0] ** 2 * c.args[1] * c.args[2] * c.args[3]) if c.args[1] > 1 else None,
         "the weights are n x n numbers per head, whatever the width d."),
    ]
    return _run("check_attention_layer_cost", fn, _cost_cases(), hints, atol=0.0, verbose=verbose)


# ---- chapter 12: merging two partial softmax results ------------------------------------------

def _partial(x: np.ndarray) -> tuple[float, float]:
    """(running maximum, running sum of exp(x - max)) of a part of a row; (-inf, 0) for an empty part."""
    if x.size == 0:
        return -math.inf, 0.0
    m = float(x.max())
    return m, float(np.exp(x - m).sum())


def _merge_partial_cases() -> Iterator[Case]:
    rng = _rng()
    rows = [("a row of 9 scores split after 4", rng.normal(scale=3.0, size=9), 4),
            ("the larger maximum in the second part", np.array([0.5, -1.0, 2.0, 4.0, 3.5]), 3),
            ("both parts with the same maximum", np.array([1.0, 2.0, 0.0, 2.0, -1.0]), 2),
            ("scores near +1000 and -1000: exp(1000) overflows", np.array([1000.0, 999.0, -1000.0, -999.5]), 2),
            ("an empty first part (a worker with no keys): (-inf, 0)", np.array([0.3, -0.7, 1.2]), 0),
            ("an empty second part: (-inf, 0)", np.array([0.3, -0.7, 1.2]), 3)]
    for description, x, cut in rows:
        m1, l1 = _partial(x[:cut])
        m2, l2 = _partial(x[cut:])
        yield Case(description, (m1, l1, m2, l2), _partial(x))


def check_merge_partials(fn: Callable[[float, float, float, float], tuple[float, float]],
                         verbose: bool = True) -> CheckResult:
    """Check fn(m1, l1, m2, l2) -> (m, l): the maximum and the sum of exp(x - m) of a row from its two parts."""
    def merged(c: Case, sign: float = 1.0) -> tuple[float, float]:
        m1, l1, m2, l2 = c.args
        m = max(m1, m2)
        return m, l1 * math.exp(sign * (m1 - m)) + l2 * math.exp(sign * (m2 - m))

    hints: list[Hint] = [
        (lambda c: (max(c.args[0], c.args[2]), c.args[1] + c.args[3]),
         "the two sums are relative to different maxima: rescale each to the common maximum m, "
         "l = l1 exp(m1 - m) + l2 exp(m2 - m)."),
        (lambda c: merged(c, sign=-1.0), "check the sign of the exponent: the part with the smaller maximum "
                                         "shrinks, l1 exp(m1 - m) with m1 - m <= 0."),
        (lambda c: (max(c.args[0], c.args[2]), c.args[1] * np.exp(c.args[0]) + c.args[3] * np.exp(c.args[2])),
         "l1 exp(m1) overflows for large scores, and the sum must be relative to m: use l1 exp(m1 - m) "
         "+ l2 exp(m2 - m)."),
        (lambda c: (min(c.args[0], c.args[2]), merged(c)[1]),
         "the merged maximum is the larger of the two, max(m1, m2)."),
    ]
    return _run("check_merge_partials", fn, _merge_partial_cases(), hints, atol=1e-12, verbose=verbose)


# ---- chapter 12: the size of a KV cache -------------------------------------------------------

def _kv_cases() -> Iterator[Case]:
    for layers, kv_heads, head_dim, seq_len, itemsize, what in (
            (80, 8, 128, 4096, 2, "a 70B-class model with 8 key/value heads, float16"),
            (80, 64, 128, 4096, 2, "the same with 64 key/value heads"),
            (1, 4, 64, 6, 8, "one layer, 4 heads, 6 tokens, float64"),
            (32, 32, 128, 1, 2, "a single cached token"),
            (12, 12, 64, 0, 4, "nothing cached yet (seq_len = 0)"),
            (24, 2, 96, 1000, 1, "one byte per number (int8)")):
        args = (layers, kv_heads, head_dim, seq_len, itemsize)
        yield Case(f"num_layers = {layers}, num_kv_heads = {kv_heads}, head_dim = {head_dim}, seq_len = {seq_len},"
                   f" itemsize = {itemsize} ({what})", args, kv_cache_bytes(*args[:4], itemsize=itemsize))


def check_kv_cache_size(fn: Callable[[int, int, int, int, int], int], verbose: bool = True) -> CheckResult:
    """Check fn(num_layers, num_kv_heads, head_dim, seq_len, itemsize) -> bytes of a KV cache for one sequence."""
    def numbers(c: Case) -> int:
        layers, kv_heads, head_dim, seq_len, _ = c.args
        return layers * kv_heads * head_dim * seq_len

    hints: list[Hint] = [
        (lambda c: numbers(c) * c.args[4], "the cache holds keys AND values: two tensors, a factor 2."),
        (lambda c: 2 * numbers(c) if c.args[4] > 1 else None,
         "that counts numbers; multiply by itemsize, the bytes per number, to get bytes."),
        (lambda c: 16 * numbers(c) * c.args[4], "itemsize is already in bytes, not bits: do not multiply by 8."),
        (lambda c: 2 * numbers(c) // c.args[0] * c.args[4] if c.args[0] > 1 else None,
         "every layer caches its own keys and values: multiply by num_layers."),
    ]
    return _run("check_kv_cache_size", fn, _kv_cases(), hints, atol=0.0, verbose=verbose)
