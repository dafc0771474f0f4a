"""Character-level text for a language model: the shipped text, encoding,
baselines, batches.

A character model's vocabulary is the set of characters of the text; `encode`
turns a string into (n,) int64 ids and `decode` back. Losses are reported in
bits per character (bpc): the mean cross-entropy in nats divided by ln 2, the
number of bits an ideal coder driven by the model would spend per character.
The unigram and bigram baselines are counted from the same text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from ..checks import (
    _short,
    check_int_array,
    check_positive_int,
    check_scalar,
    check_size,
)

__all__ = ["CharVocab", "load_text", "split_text", "unigram_bpc",
           "bigram_bpc", "random_windows", "TEXTS"]

TEXTS = ("macbeth",)  # shipped in attention_course/data/texts/, see README


def load_text(name: str = "macbeth") -> str:
    """The shipped public-domain text `name` (see data/texts/README.md)."""
    if not isinstance(name, str):
        raise TypeError(
            f"name must be a str, one of {TEXTS}, got "
            f"{type(name).__name__} {_short(name)}"
        )
    if name not in TEXTS:
        raise ValueError(f"name must be one of {TEXTS}, got {name!r}")
    path = resources.files("attention_course") / "data" / "texts"
    return (path / f"{name}.txt").read_text(encoding="utf-8")


@dataclass(frozen=True)
class CharVocab:
    """The sorted distinct characters of a text; id = index in `chars`."""

    chars: str

    def __post_init__(self) -> None:
        """Refuse a non-str, '' or repeated characters (ambiguous ids)."""
        if not isinstance(self.chars, str):
            raise TypeError(
                f"chars must be a str of distinct characters, got "
                f"{type(self.chars).__name__} {_short(self.chars)}"
            )
        if not self.chars or len(set(self.chars)) < len(self.chars):
            counts = Counter(self.chars)
            repeated = sorted(c for c, k in counts.items() if k > 1)
            raise ValueError(
                "chars must hold at least one character, each once, got "
                f"{_short(self.chars)} (repeated: {repeated[:5]})"
            )

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """Vocabulary of every character that occurs in text."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text must hold at least one character, got ''")
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """str of length n -> (n,) int64 ids."""
        if not isinstance(text, str):
            raise TypeError(
                f"text must be a str, got {type(text).__name__} "
                f"{_short(text)}"
            )
        index = {c: i for i, c in enumerate(self.chars)}
        unknown = sorted(set(text) - set(index))
        if unknown:
            raise ValueError(
                f"text holds characters outside the vocabulary "
                f"of {len(self)}: {unknown[:5]}"
            )
        return np.array([index[c] for c in text], dtype=np.int64)

    def decode(self, ids: Any) -> str:
        """(n,) ids -> str."""
        ids = _ids_1d(ids, "ids")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(
                f"ids must lie in [0, {len(self)}), got "
                f"{ids.min()} to {ids.max()}"
            )
        return "".join(self.chars[i] for i in ids)


def split_text(
    ids: Any, heldout_fraction: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """(n,) ids -> (train, held_out): the held-out part is the last fraction.

    A contiguous tail, not random characters: random ones would sit inside
    training windows, so the model would have seen their neighbours.
    """
    ids = _ids_1d(ids, "ids")
    frac = check_scalar(heldout_fraction, "heldout_fraction", positive=True)
    if frac >= 1.0:
        raise ValueError(
            f"heldout_fraction must lie in (0, 1), got {heldout_fraction}"
        )
    cut = len(ids) - int(round(frac * len(ids)))
    return ids[:cut], ids[cut:]


def _ids_1d(ids: Any, name: str) -> np.ndarray:
    """ids as a 1-D integer array (TypeError for other dtypes)."""
    ids = check_int_array(ids, name)
    if ids.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of integer ids, got "
            f"shape {ids.shape}"
        )
    return ids


def _check_ids(ids: Any, name: str, vocab_size: int) -> np.ndarray:
    """ids as a 1-D integer array with values in [0, vocab_size)."""
    ids = _ids_1d(ids, name)
    if ids.size < 2 or ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(
            f"{name} must hold at least 2 ids in [0, "
            f"vocab_size={vocab_size}), got {ids.size} ids"
            + (f" from {ids.min()} to {ids.max()}" if ids.size else "")
        )
    return ids


def _counts_bpc(
    counts: np.ndarray, rows: np.ndarray, cols: np.ndarray, alpha: float
) -> float:
    """Bits per item of cols under add-alpha smoothed counts[rows]."""
    probs = counts + alpha
    probs /= probs.sum(axis=-1, keepdims=True)
    return float(-np.mean(np.log2(probs[rows, cols])))


def unigram_bpc(
    train: Any, test: Any, vocab_size: int, alpha: float = 1.0
) -> float:
    """Held-out bpc of character frequencies counted on train (add-alpha)."""
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    check_size(vocab_size, "vocab_size", f"{vocab_size:.3g} counts")
    train = _check_ids(train, "train", vocab_size)
    test = _check_ids(test, "test", vocab_size)
    alpha = check_scalar(alpha, "alpha", positive=True)
    counts = np.bincount(train, minlength=vocab_size)[None].astype(float)
    return _counts_bpc(counts, np.zeros_like(test), test, alpha)


def bigram_bpc(
    train: Any, test: Any, vocab_size: int, alpha: float = 1.0
) -> float:
    """Held-out bpc of P(next | previous char) counted on train (add-alpha).

    The first test character has no previous one and is not scored.
    """
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    check_size(
        vocab_size**2, "vocab_size", f"a {vocab_size} x {vocab_size} table"
    )
    train = _check_ids(train, "train", vocab_size)
    test = _check_ids(test, "test", vocab_size)
    alpha = check_scalar(alpha, "alpha", positive=True)
    counts = np.zeros((vocab_size, vocab_size))
    np.add.at(counts, (train[:-1], train[1:]), 1.0)
    return _counts_bpc(counts, test[:-1], test[1:], alpha)


def random_windows(
    ids: Any, length: int
) -> Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]:
    """A batch maker: (rng, batch) -> inputs, targets: (batch, length).

    Each row is a window of `length` characters at a random start; its
    targets are the same window shifted by one (the next characters).
    """
    ids = check_int_array(ids, "ids")
    length = check_positive_int(length, "length")
    if ids.ndim != 1 or len(ids) <= length:
        raise ValueError(
            f"ids must be 1-D and longer than length={length}, "
            f"got shape {ids.shape}"
        )

    def batch(
        rng: np.random.Generator, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"rng must be a numpy Generator, got {type(rng).__name__}"
            )
        size = check_positive_int(size, "size (the batch size)")
        check_size(size * length, "size", f"{size} windows of {length} ids")
        starts = rng.integers(0, len(ids) - length, size=size)
        rows = starts[:, None] + np.arange(length)
        return ids[rows], ids[rows + 1]

    return batch
