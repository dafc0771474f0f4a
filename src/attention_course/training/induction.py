"""Induction heads: a repeated random segment, and scores that find the heads
that copy it.

An induction head completes "... A B ... A" with "B": at the second A it
attends to the token *after* the earlier A and copies it. In a 2-layer
attention-only model it needs a helper in layer 1, a previous-token head, which
writes "my previous token was A" into B's position, so that layer 2's query "A"
can find B by content (Olsson et al., 2022).

`repeat_task` makes sequences "prefix, segment, segment again, filler" with
random lengths, so no fixed position or offset solves it: only content matching
can predict the repeat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import (
    check_array,
    check_int_array,
    check_positive_int,
    check_probabilities,
    check_size,
)

__all__ = [
    "RepeatBatch",
    "repeat_task",
    "induction_score",
    "previous_token_score",
]


@dataclass
class RepeatBatch:
    """inputs, targets: (batch, n) next-token pairs; source: (batch, n).

    source[b, i] is the position an induction head at query i should
    attend to (the token after the earlier copy of token i), or -1 outside
    the repeat. repeat = source >= 0 marks the predictable positions.
    """

    inputs: np.ndarray
    targets: np.ndarray
    source: np.ndarray

    @property
    def repeat(self) -> np.ndarray:
        """(batch, n) bool: positions whose next token is a copy."""
        return self.source >= 0


def repeat_task(
    rng: np.random.Generator,
    batch: int,
    length: int,
    vocab_size: int,
    min_segment: int = 4,
) -> RepeatBatch:
    """Random sequences of `length` tokens holding one repeated segment.

    Each row draws a segment length L in [min_segment, length // 2] and a
    start P; positions P..P+L-1 are repeated at P+L..P+2L-1; all other
    tokens are uniform random. Returns next-token pairs of length - 1.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy Generator, got {type(rng).__name__}"
        )
    batch = check_positive_int(batch, "batch")
    length = check_positive_int(length, "length")
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    min_segment = check_positive_int(min_segment, "min_segment")
    check_size(batch * length, "batch or length", f"{batch} x {length} ids")
    if 2 * min_segment > length:
        raise ValueError(
            f"length={length} must hold two segments of "
            f"min_segment={min_segment}"
        )
    seq = rng.integers(0, vocab_size, size=(batch, length))
    seg = rng.integers(min_segment, length // 2 + 1, size=batch)
    start = (rng.random(batch) * (length - 2 * seg + 1)).astype(int)
    pos = np.arange(length)
    second = (pos >= (start + seg)[:, None]) & (
        pos < (start + 2 * seg)[:, None]
    )
    rows, cols = np.nonzero(second)
    seq[rows, cols] = seq[rows, cols - seg[rows]]
    # Query i (input position) predicts token i + 1; it is a copy when
    # i + 1 lies in the second segment and i itself does too (so the model
    # has seen the token that repeats): source = i - L + 1.
    q = pos[:-1]
    in_repeat = second[:, 1:] & second[:, :-1]
    source = np.where(in_repeat, q - seg[:, None] + 1, -1)
    return RepeatBatch(seq[:, :-1], seq[:, 1:], source)


def induction_score(weights: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Mean weight each head puts on the induction source; weights: (batch,
    h, n, n), source: (batch, n) -> (h,). 1 = a perfect induction head."""
    weights = _check_weights(weights)
    source = check_int_array(source, "source")
    if source.shape != (
        weights.shape[0],
        weights.shape[2],
    ):
        raise ValueError(
            f"weights must be (batch, h, n, n) and source "
            f"(batch, n), got {weights.shape} and "
            f"{source.shape}"
        )
    n_k = weights.shape[3]
    if source.size and (source.min() < -1 or source.max() >= n_k):
        raise ValueError(
            f"source must hold key positions in [0, {n_k}) or -1 (no "
            f"repeat), got values from {source.min()} to {source.max()}"
        )
    b, i = np.nonzero(source >= 0)
    if not len(b):
        raise ValueError(
            "source marks no repeat position (every entry is -1): there "
            "is no induction target to score"
        )
    return weights[b, :, i, source[b, i]].mean(axis=0)


def previous_token_score(weights: np.ndarray) -> np.ndarray:
    """Mean weight on the previous position: (batch, h, n, n) -> (h,)."""
    weights = _check_weights(weights)
    n = weights.shape[-1]
    if n < 2 or weights.shape[-2] != n:
        raise ValueError(
            f"weights must be (batch, h, n, n) with n >= 2 (a previous "
            f"position to score), got {weights.shape}"
        )
    i = np.arange(1, n)
    return weights[:, :, i, i - 1].mean(axis=(0, 2))


def _check_weights(weights: np.ndarray) -> np.ndarray:
    """weights: (batch, h, n_q, n_k) finite softmax outputs, else raise."""
    weights = check_array(weights, "weights")
    if weights.ndim != 4:
        raise ValueError(
            f"weights must be (batch, h, n, n), got {weights.shape}"
        )
    check_probabilities(weights, "weights")
    return weights
