"""The machinery every checker shares: hidden cases, comparison, the verdict and its hint."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..checks import check_flag, check_scalar

__all__ = [
    "Case",
    "CheckResult",
    "Hint",
    "run_checks",
    "case_rng",
    "check_function",
    "check_tolerance",
    "unit_length",
    "verdict",
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
    try:
        text = repr(value)
    except Exception:  # a learner's object whose repr itself fails
        text = f"<{type(value).__name__}>"
    text = text if len(text) <= 60 else text[:57] + "..."
    return (
        f"{type(value).__name__} {text}"
        if not isinstance(value, (int, float, np.number))
        else text
    )


def _numbers(value: Any) -> np.ndarray | None:
    """value as an array of numbers or booleans, or None if it is not numbers.

    Why: a learner's function may return None, a string, a dict or a ragged
    list; those must become a verdict, not a TypeError raised from inside the
    comparison.
    """
    if (
        value is None
        or value is Ellipsis
        or isinstance(value, (str, bytes, dict))
    ):
        return None
    try:
        arr = np.asarray(value)
    except (
        Exception
    ):  # ragged nested lists and other objects numpy cannot hold
        return None
    if (
        arr.dtype == np.bool_
        or np.issubdtype(arr.dtype, np.integer)
        or (np.issubdtype(arr.dtype, np.floating))
    ):
        return arr
    return None  # strings, objects, complex: not what an exercise returns


def _close(got: Any, expected: Any, atol: float, equal_nan: bool = False) -> bool:
    """True if got matches expected (arrays: same shape, allclose; tuples element-wise)."""
    if isinstance(expected, tuple):
        return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                and all(_close(g, e, atol, equal_nan) for g, e in zip(got, expected)))
    got_arr = _numbers(got)
    expected_arr = np.asarray(expected)
    if got_arr is None or got_arr.shape != expected_arr.shape:
        return False
    if expected_arr.dtype == np.bool_:
        return got_arr.dtype == np.bool_ and bool(np.array_equal(got_arr, expected_arr))
    try:
        return bool(
            np.allclose(
                got_arr,
                expected_arr,
                atol=atol,
                rtol=1e-6,
                equal_nan=equal_nan,
            )
        )
    except (TypeError, ValueError):  # e.g. datetime or other exotic numbers
        return False


def _wrong_kind(got: Any, expected: Any) -> str | None:
    """The reason if got is not even the kind of value expected, else None."""
    wanted = _describe(expected)
    if got is None:
        return (
            f"returned None, expected {wanted}; did you forget to `return` "
            "the "
            "result?"
        )
    if got is Ellipsis:
        return (
            f"returned `...` (the placeholder), expected {wanted}; the "
            "function "
            "is not written yet"
        )
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)):
            return (
                f"expected a tuple of {len(expected)} values ({wanted}), "
                f"got {_describe(got)}"
            )
        return None
    if _numbers(got) is None:
        return f"expected {wanted}, got {_describe(got)}"
    return None


def _first_difference(got: Any, expected: Any) -> str:
    """Describe how got differs from expected in one line."""
    wrong = _wrong_kind(got, expected)
    if wrong is not None:
        return wrong
    if isinstance(expected, tuple):
        if len(got) != len(expected):
            return (
                f"returned {len(got)} values {_describe(tuple(got))}, "
                f"expected {len(expected)}"
            )
        for idx, (g, e) in enumerate(zip(got, expected)):
            if not _close(g, e, 1e-6):
                return f"element {idx} of the returned tuple: " + _first_difference(g, e)
        return f"returned {len(got)} values, expected {len(expected)}"
    g, e = np.asarray(got), np.asarray(expected)
    if g.shape != e.shape:
        return f"expected shape {e.shape}, got shape {g.shape}"
    if e.dtype == np.bool_ and g.dtype != np.bool_:
        return f"expected a boolean array, got dtype {g.dtype}"
    g64, e64 = g.astype(float), e.astype(float)
    if not np.all(np.isfinite(g64)):
        return (
            f"the result contains NaN or inf "
            f"({int((~np.isfinite(g64)).sum())} "
            f"entries), expected finite values"
        )
    diff = np.abs(g64 - e64)
    where = tuple(int(i) for i in np.unravel_index(np.argmax(diff), diff.shape))
    return (f"largest error {diff.max():.3g} at index {where}: expected {e[where].item()!r}, "
            f"got {g[where].item()!r}")


def _raised(error: Exception) -> str:
    """What the learner's function raised, with advice for the placeholder."""
    if isinstance(error, NotImplementedError):
        return (
            "is not written yet (it raises NotImplementedError): replace the "
            "`raise NotImplementedError` line with your code"
        )
    return f"raised {type(error).__name__}: {error}"


def _hint(got: Any, case: Case, hints: list[Hint], atol: float) -> str:
    """Advice of the first hint whose mistake equals got on case, or ""."""
    for recognise, advice in hints:
        try:
            with np.errstate(all="ignore"):
                typical = recognise(case)
        except Exception:
            continue
        if typical is not None and _close(got, typical, atol, equal_nan=True):
            return f"\n  hint: {advice}"
    return ""


def run_checks(name: str, fn: Callable[..., Any], cases: Iterable[Case], hints: list[Hint],
         atol: float = 1e-6, verbose: bool = True) -> CheckResult:
    """Run fn on every case, stop at the first failure, return the verdict.

    Whatever fn does (returns None, a string, a wrong shape, NaN, or raises)
    becomes a verdict naming the case, what came back and what was expected,
    never a traceback.
    """
    check_function(fn, name)
    verbose = check_flag(verbose, "verbose")
    count = 0
    message = ""
    for count, case in enumerate(cases, start=1):
        args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in case.args)
        try:
            got = fn(*args, **case.kwargs)
        except Exception as error:  # the reader's bug, reported rather than raised
            message = (
                f"✗ {name}: case {count} ({case.description}) "
                f"{_raised(error)}\n"
                f"  input: {_describe(case.args)}"
            )
            break
        if not _close(got, case.expected, atol):
            message = (f"✗ {name}: case {count} ({case.description}) failed.\n"
                       f"  input: {_describe(case.args)}"
                       + (f", {case.kwargs}" if case.kwargs else "")
                       + f"\n  {_first_difference(got, case.expected)}"
                       + _hint(got, case, hints, atol))
            break
    else:
        if count == 0:
            raise ValueError(f"run_checks({name!r}): cases is empty; a check "
                             "with no cases would pass anything")
        message = f"✓ {name}: all {count} cases passed."
    return verdict(name, message, count, verbose)


def check_function(fn: Any, checker: str) -> None:
    """Raise TypeError naming fn unless it is a function (not its result)."""
    if not callable(fn):
        raise TypeError(
            f"{checker} expects a function, the one to check, as fn; got "
            f"{type(fn).__name__} (pass `my_function`, not `my_function(...)`)"
        )


def check_tolerance(atol: Any) -> float:
    """Return `atol` as a non-negative finite float, else raise naming it."""
    atol = check_scalar(atol, "atol")
    if atol < 0:
        raise ValueError(f"atol must be >= 0, got {atol}")
    return atol


def verdict(name: str, message: str, cases_run: int, verbose: bool) -> CheckResult:
    """The CheckResult of a check whose message starts with ✓ (passed) or ✗, printed if verbose."""
    if verbose:
        print(message)
    return CheckResult(name, message.startswith("✓"), cases_run, message)


def case_rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


def unit_length(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """x scaled to length 1 along `axis` (rows of x: (..., d) by default)."""
    return x / np.linalg.norm(x, axis=axis, keepdims=True)
