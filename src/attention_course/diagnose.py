"""Which conventions does an attention function follow? Probes tell them apart.

Libraries disagree silently: a mask's True may mean "attend" (PyTorch's
`scaled_dot_product_attention`, this course) or "ignore"
(`nn.MultiheadAttention`); the scale may be 1/sqrt(d_k), 1/sqrt(d_model) or
missing; causal masks align top-left or bottom-right when n_q != n_k; RoPE
pairs features (2i, 2i+1) or (i, i + d/2); grouped-query attention repeats or
tiles the key/value heads; heads are split with or without a transpose.

Each `diagnose_*` runs a function on tiny probe inputs whose answers differ
from one convention to the next, and returns a `Diagnosis`: one `Finding` per
axis, with the probe (line 1 of a counter-example) and what the function gave
next to what the course's convention gives (line 2). The function may be a
reader's numpy code or a thin wrapper around PyTorch code that returns arrays.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .checks import _short, check_callable, check_scalar

__all__ = [
    "Diagnosis",
    "Finding",
    "diagnose_attention",
    "diagnose_gqa",
    "diagnose_rope",
    "diagnose_split_heads",
]


@dataclass
class Finding:
    """What a function does on one axis, and the probe that shows it."""

    axis: str
    convention: str
    course: str
    agrees: bool | None  # None: not probed, or no course convention
    probe: str  # line 1 of the counter-example: the input
    observed: str  # line 2: what the function gave (and the course's answer)

    def __str__(self) -> str:
        mark = {True: "✓", False: "✗", None: "·"}[self.agrees]
        text = f"{mark} {self.axis}: {self.convention}"
        if self.agrees is False:
            text += f"  (course: {self.course})"
        if self.probe:
            text += f"\n    probe: {self.probe}\n    gives: {self.observed}"
        return text


@dataclass
class Diagnosis:
    """The findings of one `diagnose_*` call; printable, indexable by axis."""

    subject: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def conventions(self) -> dict[str, str]:
        """axis -> the convention the function follows on it."""
        return {f.axis: f.convention for f in self.findings}

    @property
    def disagreements(self) -> list[Finding]:
        """The findings where the function differs from the course."""
        return [f for f in self.findings if f.agrees is False]

    @property
    def agrees_with_course(self) -> bool:
        """True if no probed axis differs from the course's convention."""
        return not self.disagreements

    def __getitem__(self, axis: str) -> Finding:
        for finding in self.findings:
            if finding.axis == axis:
                return finding
        raise KeyError(
            f"no axis {axis!r}; the axes are {list(self.conventions)}")

    def __str__(self) -> str:
        n_bad = len(self.disagreements)
        verdict = (f"{n_bad} axis(es) differ from the course" if n_bad
                   else "the course's conventions on every probed axis")
        head = f"Diagnosis of {self.subject}: {verdict}"
        return "\n".join([head, *(str(f) for f in self.findings)])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


# ---- calling the function under test ----------------------------------------

class _Failed:
    """The function raised: keep the error to report it as a finding."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __str__(self) -> str:
        text = str(self.error).split(";")[0]  # the first clause is enough
        return f"raises {type(self.error).__name__}: {text}"


def _name(fn: Callable[..., Any]) -> str:
    """A readable name for fn (functools.partial and lambdas included)."""
    inner = getattr(fn, "func", fn)
    return getattr(inner, "__qualname__", None) or type(fn).__name__


def _accepts(fn: Callable[..., Any], arg: str) -> bool:
    """True if fn can take the keyword argument `arg` (or **kwargs)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return True
    return any(p.name == arg or p.kind is p.VAR_KEYWORD for p in params)


def _result(fn: Callable[..., Any], *args: Any, weights_shape: tuple[int, ...]
            | None = None, **kwargs: Any) -> np.ndarray | _Failed:
    """fn's output as a float array (the weights if a tuple holds them).

    Tensors are detached and converted; leading axes of size 1 (a batch
    axis a wrapper kept) are dropped when the weights' shape is known.
    """
    try:
        with np.errstate(all="ignore"):
            out = fn(*args, **kwargs)
        if out is None or out is Ellipsis:
            raise NotImplementedError(f"returned {out!r}: not written yet")
        if isinstance(out, (tuple, list)):
            parts = [_array(p) for p in out if p is not None]
            shaped = [p for p in parts if p.shape == weights_shape]
            return shaped[-1] if shaped else parts[0]
        arr = _array(out)
        while (weights_shape and arr.ndim > len(weights_shape)
               and arr.shape[0] == 1):
            arr = arr[0]
        return arr
    except Exception as error:  # the function's failure is a finding
        return _Failed(error)


def _array(x: Any) -> np.ndarray:
    """x as a float numpy array; a PyTorch tensor is detached first."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    if np.iscomplexobj(x):  # a cast to float would drop the imaginary part
        raise TypeError(
            f"returned complex numbers (dtype {np.asarray(x).dtype}), "
            "expected real ones"
        )
    return np.asarray(x, dtype=float)


def _number(x: float) -> str:
    """2 decimals at most, no trailing zeros: 0.5, 1, 0.33, nan, -inf."""
    if not math.isfinite(x):
        return str(x)
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _show(x: Any) -> str:
    """A short one-line text for a small array (T/F for booleans)."""
    if isinstance(x, _Failed):
        return str(x)
    arr = np.asarray(x)
    if arr.ndim == 0:
        return _number(float(arr))
    sep = "; " if arr.dtype == np.bool_ else ", "
    if arr.dtype == np.bool_ and arr.ndim <= 2:
        rows = arr.reshape(-1, arr.shape[-1])
        return "[" + sep.join(" ".join("TF"[not b] for b in r)
                              for r in rows) + "]"
    return "[" + sep.join(_show(a) for a in arr) + "]"


def _match(got: Any, candidates: dict[str, np.ndarray]) -> str | None:
    """The name of the first candidate array equal to got, or None."""
    if isinstance(got, _Failed):
        return None
    for name, expected in candidates.items():
        if got.shape == expected.shape and np.allclose(
                got, expected, atol=1e-6, equal_nan=True):
            return name
    return None


def _unrecognised(x: Any) -> str:
    """The convention text of a result no candidate matched."""
    return str(x) if isinstance(x, _Failed) else f"unrecognised: {_show(x)}"


def _softmax(s: np.ndarray, axis: int = -1) -> np.ndarray:
    """Plain softmax along axis (probe scores are small: no shift needed)."""
    e = np.exp(s - np.max(s, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _visible(pattern: np.ndarray) -> np.ndarray:
    """Weights spread uniformly over the True entries of each row."""
    w = pattern.astype(float)
    sums = w.sum(axis=-1, keepdims=True)
    return w / np.where(sums > 0, sums, 1.0)


def _takes_mask(fn: Callable[..., Any]) -> bool:
    """True if fn can take a 4th positional argument (the mask)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    positional = [p for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 4 or any(
        p.kind is p.VAR_POSITIONAL for p in params)


def _weights(fn: Callable[..., Any], q: np.ndarray, k: np.ndarray,
             *mask: Any, **kwargs: Any) -> np.ndarray | _Failed:
    """fn(q, k, v = I, *mask, **kwargs): with one-hot values the output rows
    are the attention weights, (n_q, n_k)."""
    n_q, n_k = q.shape[0], k.shape[0]
    return _result(fn, q, k, np.eye(n_k), *mask,
                   weights_shape=(n_q, n_k), **kwargs)


# ---- attention: softmax axis and scale --------------------------------------

def _softmax_axis(fn: Callable[..., Any]) -> tuple[Finding, int | None]:
    """Which axis of the (n_q, n_k) weights sums to 1 -> (finding, axis)."""
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    k = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    probe = ("q = [[1, 0], [0, 1]], k = [[1, 0], [0, 1], [1, 1]], "
             "v = I (so the output rows are the weights)")
    w = _weights(fn, q, k)
    course = "over the keys (last axis): each query's row sums to 1"
    if isinstance(w, _Failed):
        return Finding("softmax axis", str(w), course, False, probe,
                       str(w)), None
    rows, cols = w.sum(axis=-1), w.sum(axis=-2)
    observed = (f"weights {_show(w)}, row sums {_show(rows)}, "
                f"column sums {_show(cols)}")
    if np.allclose(rows, 1.0):
        return Finding("softmax axis", course, course, True, probe,
                       observed), -1
    if np.allclose(cols, 1.0):
        text = "over the queries (axis -2): each key's column sums to 1"
        return Finding("softmax axis", text, course, False, probe,
                       observed), -2
    text = ("over the whole matrix" if np.isclose(w.sum(), 1.0)
            else "weights that do not sum to 1 along any axis")
    return Finding("softmax axis", text, course, False, probe, observed), None


def _fitted_scale(fn: Callable[..., Any], d_k: int, axis: int) -> float:
    """The factor c in softmax(c q k^T), read off a probe with one score of
    sqrt(d_k) and the others 0."""
    q, k = np.zeros((2, d_k)), np.zeros((2, d_k))
    q[0, 0], k[0, 0] = math.sqrt(d_k), 1.0
    w = _weights(fn, q, k)
    if isinstance(w, _Failed):
        return math.nan
    ratio = w[0, 0] / (w[0, 1] if axis == -1 else w[1, 0])
    with np.errstate(all="ignore"):
        return float(np.log(ratio)) / math.sqrt(d_k)


def _scale(fn: Callable[..., Any], axis: int | None) -> Finding:
    """The scale at d_k = 4 and d_k = 16 tells 1/sqrt(d_k), 1/d_k, none and
    a constant such as 1/sqrt(d_model) apart."""
    course = "1/sqrt(d_k)"
    probe = ("q = [[2, 0, 0, 0], [0, 0, 0, 0]], k = [[1, 0, 0, 0], "
             "[0, 0, 0, 0]] (one score of 2 at d_k = 4); then one score of "
             "4 at d_k = 16")
    if axis is None:
        return Finding("scale", "not probed (no softmax axis found)", course,
                       None, "", "")
    c4, c16 = _fitted_scale(fn, 4, axis), _fitted_scale(fn, 16, axis)
    observed = (f"scale {c4:.4g} at d_k = 4 and {c16:.4g} at d_k = 16; "
                "1/sqrt(d_k) gives 0.5 and 0.25 (weights [0.73, 0.27] "
                "both times)")

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-3)

    if close(c4, 0.5) and close(c16, 0.25):
        return Finding("scale", course, course, True, probe, observed)
    if close(c4, 1.0) and close(c16, 1.0):
        text = "none (scale 1: raw dot products)"
    elif close(c4, 0.25) and close(c16, 1 / 16):
        text = "1/d_k (not its square root)"
    elif close(c4, c16) and c4 > 0:
        text = (f"a constant {c4:.4g} = 1/sqrt({1 / c4**2:.4g}) whatever d_k "
                "(1/sqrt(d_model) instead of 1/sqrt(d_head)?)")
    else:
        text = f"{c4:.4g} at d_k = 4, {c16:.4g} at d_k = 16 (unrecognised)"
    return Finding("scale", text, course, False, probe, observed)


# ---- attention: masks -------------------------------------------------------

# Probe: all scores equal (q = k = 0), so the unmasked weights are uniform and
# the mask alone decides which keys keep weight.
_PATTERN = np.array([[True, True, False], [False, True, True]])
_Q0, _K0 = np.zeros((2, 2)), np.zeros((3, 2))
_UNIFORM = np.full((2, 3), 1 / 3)

_MASK_LABELS = {
    "bool": {
        "attend": "True = attend (PyTorch SDPA's boolean attn_mask, "
                  "this course)",
        "ignore": "True = ignore (nn.MultiheadAttention's attn_mask and "
                  "key_padding_mask)",
        "added": "added to the scores as numbers (True adds 1, hides nothing)",
        "no effect": "the mask has no effect",
    },
    "int": {
        "attend": "1 = attend (Hugging Face's attention_mask)",
        "ignore": "1 = ignore (the opposite of Hugging Face)",
        "added": "added to the scores as numbers (1 adds 1, hides nothing)",
        "no effect": "the mask has no effect",
    },
    "float": {
        "attend": "added to the scores: 0 keeps a key, -inf hides it "
                  "(an additive mask, like PyTorch's float masks)",
        "ignore": "read as boolean: nonzero (-inf) = attend, so it attends "
                  "exactly the keys meant to be hidden",
        "no effect": "the mask has no effect",
    },
}
_MASK_COURSE = {
    "bool": "True = attend",
    "int": "1 = attend, or refused (the course's functions take booleans)",
    "float": "added to the scores, or refused (booleans only)",
}
_MASK_KINDS = {"bool": "boolean", "int": "0/1 integers",
               "float": "float, additive 0/-inf"}
_MASK_GOOD = {"bool": {"attend"}, "int": {"attend", "refused"},
              "float": {"attend", "refused"}}


def _mask_as(kind: str, allowed: np.ndarray) -> np.ndarray:
    """The pattern `allowed` (True = may attend) written as a mask of `kind`:
    bool and int as they are, float additive (0 / -inf)."""
    if kind == "bool":
        return allowed.copy()
    if kind == "int":
        return allowed.astype(np.int64)
    return np.where(allowed, 0.0, -np.inf)


def _mask_polarity(fn: Callable[..., Any], kind: str) -> tuple[Finding, str]:
    """How fn reads a boolean, 0/1 integer or additive float mask."""
    mask = _mask_as(kind, _PATTERN)
    axis = f"mask ({_MASK_KINDS[kind]})"
    probe = f"q = k = 0 (equal scores), v = I, mask = {_show(mask)}"
    w = _weights(fn, _Q0, _K0, mask)
    candidates = {"attend": _visible(_PATTERN), "ignore": _visible(~_PATTERN),
                  "no effect": _UNIFORM}
    if kind != "float":
        candidates["added"] = _softmax(_PATTERN.astype(float))
    found = _match(w, candidates)
    if isinstance(w, _Failed) and isinstance(w.error, (TypeError, ValueError)):
        found, text = "refused", f"refused ({w})"
    elif found is None:
        text = _unrecognised(w)
    else:
        text = _MASK_LABELS[kind][found]
    observed = (f"{'weights ' * (not isinstance(w, _Failed))}{_show(w)}; "
                "the course's reading (True = attend) gives "
                f"{_show(_visible(_PATTERN))}")
    agrees = found in _MASK_GOOD[kind]
    return (Finding(axis, text, _MASK_COURSE[kind], agrees, probe, observed),
            found or "")


def _own_mask(polarity: dict[str, str], allowed: np.ndarray) -> Any:
    """The pattern `allowed` in the first mask kind fn reads correctly or
    inverted, in fn's own polarity; None if it reads none."""
    for kind in ("bool", "float", "int"):
        found = polarity.get(kind)
        if found in ("attend", "ignore"):
            return _mask_as(kind, allowed if found == "attend" else ~allowed)
    return None


def _fully_masked_row(fn: Callable[..., Any], polarity: dict[str, str]
                      ) -> Finding:
    """What a query with every key hidden gets: zeros, NaN or uniform."""
    course = "zeros (no key to attend to: zero weights, zero output)"
    allowed = np.array([[True, True, False], [False, False, False]])
    mask = _own_mask(polarity, allowed)
    if mask is None:
        return Finding("fully masked row", "not probed (no mask reading "
                       "found)", course, None, "", "")
    probe = (f"q = k = 0, v = I, mask {_show(mask)} "
             "(in the function's own polarity): row 1 hides every key")
    w = _weights(fn, _Q0, _K0, mask)
    observed = (f"weights {_show(w)}; the course gives "
                f"{_show(_visible(allowed))}")
    if isinstance(w, _Failed):
        return Finding("fully masked row", str(w), course, False, probe,
                       observed)
    row = w[1]
    if np.isnan(row).any():
        text, agrees = "NaN (exp(-inf) = 0 everywhere, then 0 / 0)", False
    elif np.allclose(row, 0.0):
        text, agrees = course, True
    elif np.allclose(row, 1 / 3):
        text = ("uniform over the hidden keys (a large negative number "
                "instead of -inf)")
        agrees = False
    else:
        text, agrees = f"unrecognised: {_show(row)}", False
    return Finding("fully masked row", text, course, agrees, probe, observed)


# ---- attention: the causal path ---------------------------------------------

def _causal_square(fn: Callable[..., Any]) -> Finding:
    """causal=True with n_q = n_k = 3: which triangle stays visible."""
    course = "lower triangle: each query sees itself and the past"
    tri = np.tril(np.ones((3, 3), dtype=bool))
    strict = np.tril(np.ones((3, 3), dtype=bool), -1)
    probe = "q = k = 0 (3 tokens, equal scores), v = I, causal=True"
    w = _weights(fn, np.zeros((3, 2)), np.zeros((3, 2)), causal=True)
    nan_first = _visible(strict)
    nan_first[0] = np.nan
    found = _match(w, {
        course: _visible(tri),
        "upper triangle: each query sees itself and the FUTURE (flipped)":
            _visible(tri.T),
        "strictly lower: a query may not see itself (row 0 sees nothing)":
            _visible(strict),
        "strictly lower: a query may not see itself (row 0 is NaN)":
            nan_first,
        "causal=True has no effect": np.full((3, 3), 1 / 3)})
    text = found or _unrecognised(w)
    observed = f"weights {_show(w)}; the course gives {_show(_visible(tri))}"
    return Finding("causal mask", text, course, found == course, probe,
                   observed)


def _causal_alignment(fn: Callable[..., Any]) -> Finding:
    """causal=True with n_q = 2 queries and n_k = 4 keys."""
    course = ("bottom-right: the queries are the last n_q positions "
              "(decoding with a KV cache; PyTorch's causal_lower_right)")
    top_left = np.tril(np.ones((2, 4), dtype=bool))
    bottom_right = np.tril(np.ones((2, 4), dtype=bool), 2)
    probe = "q = 0 (n_q = 2), k = 0 (n_k = 4), v = I, causal=True"
    w = _weights(fn, np.zeros((2, 2)), np.zeros((4, 2)), causal=True)
    found = _match(w, {
        course: _visible(bottom_right),
        "top-left: the queries are the first n_q positions (PyTorch's "
        "is_causal=True)": _visible(top_left)})
    text = found or _unrecognised(w)
    observed = (f"weights {_show(w)}; the course gives "
                f"{_show(_visible(bottom_right))}")
    return Finding("causal alignment (n_q != n_k)", text, course,
                   found == course, probe, observed)


def _causal_vs_mask(fn: Callable[..., Any], polarity: dict[str, str]
                    ) -> Finding:
    """Does causal=True equal passing the causal mask in fn's own polarity?"""
    course = "causal=True equals the causal mask passed explicitly"
    tri = np.tril(np.ones((3, 3), dtype=bool))
    mask = _own_mask(polarity, tri)
    if mask is None:
        return Finding("causal path vs mask path", "not probed (no mask "
                       "reading found)", course, None, "", "")
    rng = np.random.default_rng(0)
    q, k = rng.normal(size=(3, 4)).round(1), rng.normal(size=(3, 4)).round(1)
    by_flag = _weights(fn, q, k, causal=True)
    by_mask = _weights(fn, q, k, mask)
    probe = (f"q, k random (3 tokens, d_k = 4), v = I: causal=True, then "
             f"mask = {_show(mask)} (the function's own polarity)")
    observed = (f"causal=True: {_show(by_flag)}; with the mask: "
                f"{_show(by_mask)}")
    same = _match(by_flag, {"same": by_mask}) if not isinstance(
        by_mask, _Failed) else None
    if same:
        return Finding("causal path vs mask path", course, course, True,
                       probe, observed)
    text = ("they DISAGREE: the causal path and the mask path follow "
            "different conventions")
    return Finding("causal path vs mask path", text, course, False, probe,
                   observed)


def diagnose_attention(fn: Callable[..., Any], name: str | None = None
                       ) -> Diagnosis:
    """Probe fn(q, k, v, mask=None, causal=False) -> output (or a tuple).

    q: (n_q, d_k), k: (n_k, d_k), v: (n_k, d_v) -> output (n_q, d_v); a
    returned tuple may hold the weights (n_q, n_k), which are then used.
    The mask (4th positional argument, (n_q, n_k)) is probed as boolean,
    0/1 integers and additive float; `causal` only if fn accepts it.
    Axes: softmax axis, scale, mask polarity, fully masked row, causal mask,
    causal alignment when n_q != n_k, and causal path vs mask path.
    """
    _check_args(fn, name)
    result = Diagnosis(name or _name(fn))
    axis_finding, axis = _softmax_axis(fn)
    result.findings += [axis_finding, _scale(fn, axis)]
    polarity: dict[str, str] = {}
    if _takes_mask(fn):
        for kind in ("bool", "int", "float"):
            finding, polarity[kind] = _mask_polarity(fn, kind)
            result.findings.append(finding)
        result.findings.append(_fully_masked_row(fn, polarity))
    if _accepts(fn, "causal"):
        result.findings += [_causal_square(fn), _causal_alignment(fn)]
        if _takes_mask(fn):
            result.findings.append(_causal_vs_mask(fn, polarity))
    return result


# ---- grouped-query attention, RoPE, splitting heads -------------------------

def diagnose_gqa(fn: Callable[..., Any], name: str | None = None
                 ) -> Diagnosis:
    """Probe fn(q, k, v) -> output (num_heads, n_q, d_v) (or a tuple, output
    first): which key/value head each query head reads.

    q: (num_heads, n_q, d_k), k: (num_kv_heads, n_k, d_k),
    v: (num_kv_heads, n_k, d_v), with num_kv_heads dividing num_heads.
    """
    _check_args(fn, name)
    course = ("repeat: query head h reads kv head h // group (this course, "
              "PyTorch's enable_gqa, Hugging Face's repeat_kv)")
    # One key per head: every weight is 1, so each query head's output is
    # the value of the kv head it reads, here that head's number.
    q, k = np.zeros((4, 1, 2)), np.zeros((2, 1, 2))
    v = np.arange(2.0).reshape(2, 1, 1)
    out = _result(fn, q, k, v)
    got = out if isinstance(out, _Failed) else out.reshape(-1)
    found = _match(got, {course: np.array([0.0, 0.0, 1.0, 1.0]),
                         "tile: query head h reads kv head h % num_kv_heads "
                         "(np.tile or torch's .repeat)":
                         np.array([0.0, 1.0, 0.0, 1.0])})
    probe = ("4 query heads, 2 kv heads, one key each, v[kv head g] = g: "
             "the output of each query head names the kv head it read")
    observed = (f"query heads 0-3 read kv heads {_show(got)}; the course: "
                "[0, 0, 1, 1]")
    text = found or _unrecognised(got)
    return Diagnosis(name or _name(fn), [Finding(
        "GQA head order", text, course, found == course, probe, observed)])


def _rope_base(fn: Callable[..., Any], pairing: str) -> tuple[float, str]:
    """The base of omega_i = base^(-2i/d), read off the slow pair of d = 4."""
    # d = 4 has omega_1 = base^(-1/2); position 100 turns it by 100 omega_1.
    first, second = (2, 3) if pairing == "interleaved" else (1, 3)
    x = np.zeros((1, 4))
    x[0, first] = 1.0
    out = _result(fn, x, np.array([100]))
    if isinstance(out, _Failed):
        return math.nan, str(out)
    angle = abs(math.atan2(out[0, second], out[0, first]))
    base = (100 / angle) ** 2 if angle > 0 else math.inf
    return base, f"e_{first} at position 100 -> {_show(out)}"


def diagnose_rope(fn: Callable[..., Any], name: str | None = None,
                  base: float = 10000.0) -> Diagnosis:
    """Probe fn(x, positions) -> rotated x: x: (n, d), positions: (n,) ints.

    Axes: which features form a rotating pair (interleaved (2i, 2i+1) or
    half-split (i, i + d/2)), the direction of rotation, and the base of the
    frequencies omega_i = base^(-2i/d) (the course's default: 10000).
    """
    _check_args(fn, name)
    base = check_scalar(base, "base", positive=True)
    course = "interleaved: pairs (2i, 2i+1), as in RoFormer and this course"
    c, s = math.cos(1.0), math.sin(1.0)
    out = _result(fn, np.array([[1.0, 0.0, 0.0, 0.0]]), np.array([1]))
    got = out if isinstance(out, _Failed) else out.reshape(-1)
    found = _match(got, {
        course: np.array([c, s, 0, 0]),
        "interleaved, but rotating the other way (angle -p omega)":
            np.array([c, -s, 0, 0]),
        "half-split: pairs (i, i + d/2), as Hugging Face's Llama "
        "(rotate_half)": np.array([c, 0, s, 0]),
        "half-split, rotating the other way": np.array([c, 0, -s, 0]),
        "positions have no effect (no rotation)": np.array([1.0, 0, 0, 0])})
    probe = "x = e_0 = [1, 0, 0, 0] at position 1 (d = 4, angle 1 rad)"
    observed = (f"{_show(got)}; the course gives [cos 1, sin 1, 0, 0] = "
                f"{_show(np.array([c, s, 0, 0]))}")
    findings = [Finding("RoPE pairing", found or _unrecognised(got),
                        course, found == course, probe, observed)]
    if found and ("interleaved" in found or "half-split" in found):
        pairing = "interleaved" if "interleaved" in found else "half-split"
        fitted, seen = _rope_base(fn, pairing)
        agrees = math.isclose(fitted, base, rel_tol=1e-6)
        findings.append(Finding(
            "RoPE base", f"{fitted:.6g}", f"{base:g}", agrees,
            "the slow pair of d = 4 (omega_1 = base^(-1/2)) at position 100",
            f"{seen}: base {fitted:.6g}; the course: {base:g}"))
    return Diagnosis(name or _name(fn), findings)


def diagnose_split_heads(fn: Callable[..., Any], name: str | None = None
                         ) -> Diagnosis:
    """Probe fn(x, num_heads) -> (num_heads, n, d_head): x: (n, d_model).

    Tells reshape-then-transpose (each head gets a slice of every token's
    features) from a plain reshape (heads mix tokens), a reshape without the
    transpose, and strided heads (every num_heads-th feature).
    """
    _check_args(fn, name)
    course = ("reshape to (n, heads, d_head), then swap axes: head h gets "
              "features h*d_head ... of every token")
    # x[t, f] = 10 (t + 1) + f: the tens digit names the token.
    x = 10.0 * np.arange(1, 4)[:, None] + np.arange(4)[None, :]
    out = _result(fn, x, 2)
    found = _match(out, {
        course: x.reshape(3, 2, 2).swapaxes(0, 1),
        "a plain reshape to (heads, n, d_head): one head's rows mix "
        "different tokens": x.reshape(2, 3, 2),
        "a reshape to (n, heads, d_head) without the swap of axes":
            x.reshape(3, 2, 2),
        "strided: head h gets every num_heads-th feature":
            x.reshape(3, 2, 2).transpose(2, 0, 1)})
    probe = (f"x[t, f] = 10 (t + 1) + f = {_show(x)} (3 tokens, d_model = 4),"
             " num_heads = 2")
    head_0 = out if isinstance(out, _Failed) else out[0]
    observed = (f"head 0 = {_show(head_0)}"
                f"; the course's head 0 = {_show(x[:, :2])}")
    text = found or _unrecognised(out)
    return Diagnosis(name or _name(fn), [Finding(
        "splitting heads", text, course, found == course, probe, observed)])


def _check_args(fn: Any, name: Any) -> None:
    """Refuse a non-callable fn or a non-str name (the learner's function
    itself is never judged here: its failures become findings)."""
    check_callable(fn, "fn")
    if name is not None and not isinstance(name, str):
        raise TypeError(
            f"name must be a str (or None for fn's own name), got "
            f"{type(name).__name__} {_short(name)}"
        )
