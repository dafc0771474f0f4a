"""Character-level text for a language model: the shipped text, encoding,
baselines, batches.

A character model's vocabulary is the set of characters of the text; `encode`
turns a string into (n,) int64 ids and `decode` back. Losses are reported in
bits per character (bpc): the mean cross-entropy in nats divided by ln 2, the
number of bits an ideal coder driven by the model would spend per character.
The unigram and bigram baselines are counted from the same text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from ..checks import check_positive_int, check_scalar

__all__ = ["CharVocab", "load_text", "split_text", "unigram_bpc",
           "bigram_bpc", "random_windows", "TEXTS"]

TEXTS = ("macbeth",)  # shipped in attention_course/data/texts/, see README


def load_text(name: str = "macbeth") -> str:
    """The shipped public-domain text `name` (see data/texts/README.md)."""
    if name not in TEXTS:
        raise ValueError(f"name must be one of {TEXTS}, got {name!r}")
    path = resources.files("attention_course") / "data" / "texts"
    return (path / f"{name}.txt").read_text(encoding="utf-8")


@dataclass(frozen=True)
class CharVocab:
    """The sorted distinct characters of a text; id = index in `chars`."""

    chars: str

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
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(
                f"ids must be a 1-D integer array, got shape "
                f"{ids.shape} and dtype {ids.dtype}"
            )
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
    ids = np.asarray(ids)
    frac = check_scalar(heldout_fraction, "heldout_fraction", positive=True)
    if ids.ndim != 1 or frac >= 1.0:
        raise ValueError(
            f"ids must be 1-D and 0 < heldout_fraction < 1, got "
            f"shape {ids.shape} and {heldout_fraction}"
        )
    cut = len(ids) - int(round(frac * len(ids)))
    return ids[:cut], ids[cut:]


def _check_ids(ids: Any, name: str, vocab_size: int) -> np.ndarray:
    """ids as a 1-D integer array with values in [0, vocab_size)."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"{name} must be a 1-D array of integer ids, got "
            f"shape {ids.shape} and dtype {ids.dtype}"
        )
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
    ids = np.asarray(ids)
    length = check_positive_int(length, "length")
    if ids.ndim != 1 or len(ids) <= length:
        raise ValueError(
            f"ids must be 1-D and longer than length={length}, "
            f"got shape {ids.shape}"
        )

    def batch(
        rng: np.random.Generator, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        starts = rng.integers(0, len(ids) - length, size=size)
        rows = starts[:, None] + np.arange(length)
        return ids[rows], ids[rows + 1]

    return batch
