"""Input checks shared by every module, with error messages that name shapes.

Every public function of the package validates its inputs here first, so a wrong
shape or a NaN fails loudly at the call that caused it instead of broadcasting
silently into a wrong answer three cells later.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "as_float_array",
    "check_array",
    "check_axis",
    "check_callable",
    "check_texts",
    "check_flag",
    "check_float_dtype",
    "check_int_array",
    "check_size",
    "check_work",
    "check_finite",
    "check_ndim",
    "check_mask",
    "check_positive_int",
    "check_probabilities",
    "check_scalar",
]


def as_float_array(x: Any, name: str, *, min_ndim: int = 0) -> np.ndarray:
    """Return `x` as a real floating array (ints become float64) or raise TypeError/ValueError."""
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(
            f"{name} must be an array of real numbers, got dtype {arr.dtype} "
            f"with shape {arr.shape}"
        )
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float64)
    check_ndim(arr, name, min_ndim)
    return arr


def check_ndim(arr: np.ndarray, name: str, min_ndim: int, *, layout: str = "") -> None:
    """Raise ValueError if `arr` has fewer than `min_ndim` axes."""
    if arr.ndim < min_ndim:
        expected = f" {layout}" if layout else ""
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions{expected}, "
            f"got shape {arr.shape}"
        )


def check_finite(arr: np.ndarray, name: str, *, allow_neg_inf: bool = False) -> None:
    """Raise ValueError if `arr` holds NaN or infinities (optionally allowing -inf)."""
    if allow_neg_inf:
        bad = np.isnan(arr) | (arr == np.inf)
        what = "NaN or +inf"
    else:
        bad = ~np.isfinite(arr)
        what = "NaN or inf"
    if bad.any():
        count = int(bad.sum())
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} with shape {arr.shape} contains {count} {what} value(s), "
            f"the first at index {first}"
        )


def check_mask(mask: Any, target_shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """Return `mask` as a boolean array broadcastable to `target_shape`, else raise.

    True means "may attend". Integer or float masks are refused (TypeError) because
    libraries disagree on what 1/0 or additive masks mean.
    """
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        raise TypeError(
            f"{name} must be a boolean array (True = may attend), got dtype {arr.dtype} "
            f"with shape {arr.shape}; convert with `mask == 1` or `mask > 0` "
            "after checking which convention your mask uses"
        )
    if arr.ndim > len(target_shape):
        raise ValueError(
            f"{name} with shape {arr.shape} has more dimensions than the attention "
            f"scores, whose shape is {target_shape}"
        )
    try:
        broadcast = np.broadcast_shapes(arr.shape, target_shape)
    except ValueError:
        broadcast = None
    if broadcast != tuple(target_shape):
        raise ValueError(
            f"{name} with shape {arr.shape} does not broadcast to the attention scores' "
            f"shape {target_shape} (batch dims..., n_q, n_k)"
        )
    return arr


def check_positive_int(value: Any, name: str, *, allow_zero: bool = False) -> int:
    """Return `value` as int if it is a (non-negative / positive) integer, else raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    low = 0 if allow_zero else 1
    if value < low:
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_scalar(value: Any, name: str, *, positive: bool = False) -> float:
    """Return `value` as a finite Python float (optionally > 0), else raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and out <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return out


# ---- issue 19: every array, option and size ---------------------------------

# A single call that would need more than this many bytes of memory (or numbers
# of work) is refused up front: a learner's typo (10**12 layers) should fail in
# a millisecond with the number it would need, not after the machine starts
# swapping.
MAX_BYTES = 8 * 2**30
MAX_WORK = 10**12


def check_array(
    x: Any,
    name: str,
    *,
    min_ndim: int = 0,
    ndim: int | None = None,
    allow_neg_inf: bool = False,
) -> np.ndarray:
    """Return x as a finite real float array with the right axes or raise."""
    arr = as_float_array(x, name, min_ndim=min_ndim)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimension(s), got shape {arr.shape}"
        )
    check_finite(arr, name, allow_neg_inf=allow_neg_inf)
    return arr


def check_float_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """Return dtype as a numpy floating dtype; other dtypes raise TypeError.

    Why: weights drawn in [-1/sqrt(d), 1/sqrt(d)] and cast to an integer dtype
    all become 0.
    """
    try:
        out = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(
            f"{name} must be a floating dtype such as np.float64, got "
            f"{dtype!r}"
        ) from err
    if not np.issubdtype(out, np.floating):
        raise TypeError(
            f"{name} must be a floating dtype (np.float32 or np.float64), got "
            f"{out}; "
            "integer weights would all round to 0"
        )
    return out


def check_flag(value: Any, name: str) -> bool:
    """Return value as a bool if it is True/False (numpy bools too)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(
        f"{name} must be True or False, got {type(value).__name__} "
        f"{_short(value)}"
    )


def check_int_array(x: Any, name: str, *, min_ndim: int = 0) -> np.ndarray:
    """Return x as an integer array (token ids, lengths), else raise."""
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{name} must be an array of integers, got dtype {arr.dtype} with "
            f"shape {arr.shape}"
        )
    check_ndim(arr, name, min_ndim)
    return arr


def check_size(
    count: int,
    name: str,
    what: str,
    *,
    itemsize: int = 8,
    limit_bytes: int = MAX_BYTES,
) -> None:
    """Raise ValueError if count numbers of itemsize bytes exceed limit_bytes.

    name: the argument(s) that make it big; what: what would be allocated.
    """
    needed = int(count) * int(itemsize)
    if needed > limit_bytes:
        raise ValueError(
            f"{name} is too large: {what} would need {_bytes(needed)} of "
            "memory "
            f"(the limit for one call is {_bytes(limit_bytes)})"
        )


def check_work(
    steps: int, name: str, what: str, *, limit: int = MAX_WORK
) -> None:
    """Raise ValueError if a loop would run more than limit operations."""
    if int(steps) > limit:
        raise ValueError(
            f"{name} is too large: {what} would take about {int(steps):.3g} "
            f"operations (the limit for one call is {limit:.3g}, minutes to "
            "hours of work)"
        )


def _bytes(n: int) -> str:
    """n bytes in the largest unit keeping the number >= 1 (B ... PiB)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            return f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} PiB"


def _short(value: Any) -> str:
    """repr of `value`, or its shape for arrays, cut to 60 characters."""
    if isinstance(value, np.ndarray):
        return f"with shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_probabilities(arr: np.ndarray, name: str) -> None:
    """Raise ValueError unless every entry of arr lies in [0, 1] (softmax)."""
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0 + 1e-6):
        raise ValueError(
            f"{name} with shape {arr.shape} must hold softmax outputs in [0, "
            "1], got "
            f"values from {arr.min():.3g} to {arr.max():.3g}"
        )


def check_axis(
    axis: Any, arr: np.ndarray, arr_name: str, name: str = "axis"
) -> int:
    """Return axis as an int in [-arr.ndim, arr.ndim), else raise."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(
        axis, (int, np.integer)
    ):
        raise TypeError(
            f"{name} must be an integer, got {type(axis).__name__} "
            f"{_short(axis)}"
        )
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(
            f"{name} {axis} is out of range for {arr_name} with shape "
            f"{arr.shape}"
        )
    return int(axis)


def check_texts(texts: Any, name: str = "texts") -> list[str]:
    """Return texts as a list of str; a str or non-str items raise."""
    if isinstance(texts, np.ndarray) and texts.ndim == 1:
        texts = (
            texts.tolist()
        )  # an array of words, e.g. from np.array(sentence.split())
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise TypeError(
            f"{name} must be a list of str, got {type(texts).__name__} "
            f"{_short(texts)}"
        )
    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(
            f"{name} must be a list of str, but it holds "
            f"{type(bad[0]).__name__} {_short(bad[0])}"
        )
    return list(texts)


def check_callable(fn: Any, name: str) -> Any:
    """Return `fn` if it can be called, else raise TypeError naming it."""
    if not callable(fn):
        raise TypeError(
            f"{name} must be a function, got {type(fn).__name__} {_short(fn)}"
        )
    return fn
