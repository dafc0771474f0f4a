"""Seeded toy tasks whose solution is an attention pattern you can read off a heatmap.

Every generator returns `(inputs, targets)`, two int64 arrays of shape (num_sequences, length):
`targets[b, i]` is the token the model should output at position i of sequence b, or
`IGNORE_INDEX` (-100) where nothing is scored. The same seed always gives the same arrays.

- reversal: output position i copies input position n-1-i  -> an anti-diagonal attention map;
- sorting: output position i holds the i-th smallest input token (needs comparisons, harder);
- key-value retrieval: "k1 v1 k2 v2 ... q" -> the value paired with key q (content lookup).
"""

from __future__ import annotations

import numpy as np

from ..checks import check_int_array, check_positive_int, check_size
from .grad import IGNORE_INDEX

__all__ = ["reversal_task", "sorting_task", "retrieval_task", "heldout_split", "IGNORE_INDEX"]


def _random_tokens(num_sequences: int, length: int, vocab_size: int, seed: int) -> np.ndarray:
    """Uniform random tokens in [0, vocab_size): (num_sequences, length) int64."""
    num_sequences = check_positive_int(num_sequences, "num_sequences")
    length = check_positive_int(length, "length")
    vocab_size = check_positive_int(vocab_size, "vocab_size")
    seed = check_positive_int(seed, "seed", allow_zero=True)
    check_size(num_sequences * length, "num_sequences * "
        "length", "the token array")
    return np.random.default_rng(seed).integers(0, vocab_size, size=(num_sequences, length), dtype=np.int64)


def reversal_task(num_sequences: int, length: int, vocab_size: int, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Random token sequences and their reversals: inputs, targets: (num_sequences, length) int64.

    targets[b, i] = inputs[b, length - 1 - i]; tokens lie in [0, vocab_size).
    """
    inputs = _random_tokens(num_sequences, length, vocab_size, seed)
    return inputs, inputs[:, ::-1].copy()


def sorting_task(num_sequences: int, length: int, vocab_size: int, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Random token sequences and the same tokens sorted ascending: (num_sequences, length) int64 each."""
    inputs = _random_tokens(num_sequences, length, vocab_size, seed)
    return inputs, np.sort(inputs, axis=1)


def retrieval_task(num_sequences: int, num_pairs: int, num_keys: int, num_values: int, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Key-value lookup: inputs "k_1 v_1 ... k_P v_P q", scored only at the last position.

    Keys are token ids in [0, num_keys), distinct within a sequence; values are ids in
    [num_keys, num_keys + num_values) (so the vocabulary has num_keys + num_values tokens);
    the query q is one of the sequence's keys. inputs, targets: (num_sequences, 2 num_pairs + 1)
    int64; targets is IGNORE_INDEX everywhere except the last position, which holds q's value.
    """
    num_sequences = check_positive_int(num_sequences, "num_sequences")
    num_pairs = check_positive_int(num_pairs, "num_pairs")
    num_keys = check_positive_int(num_keys, "num_keys")
    num_values = check_positive_int(num_values, "num_values")
    if num_pairs > num_keys:
        raise ValueError(f"num_pairs={num_pairs} distinct keys per sequence need num_keys >= num_pairs, "
                         f"got num_keys={num_keys}")
    seed = check_positive_int(seed, "seed", allow_zero=True)
    check_size(
        num_sequences * (num_keys + 2 * num_pairs + 1),
        "num_sequences or num_keys",
        "the random keys and the sequences",
    )
    rng = np.random.default_rng(seed)
    # A random permutation per row, cut to num_pairs, gives distinct keys.
    keys = np.argsort(rng.random((num_sequences, num_keys)), axis=1)[:, :num_pairs]
    values = num_keys + rng.integers(0, num_values, size=(num_sequences, num_pairs))
    which = rng.integers(0, num_pairs, size=num_sequences)
    rows = np.arange(num_sequences)
    inputs = np.empty((num_sequences, 2 * num_pairs + 1), dtype=np.int64)
    inputs[:, 0:-1:2] = keys
    inputs[:, 1:-1:2] = values
    inputs[:, -1] = keys[rows, which]
    targets = np.full_like(inputs, IGNORE_INDEX)
    targets[:, -1] = values[rows, which]
    return inputs, targets


def heldout_split(inputs: np.ndarray, targets: np.ndarray, num_test: int
                  ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Drop duplicate input rows, then split into ((train_x, train_y), (test_x, test_y)).

    inputs, targets: (num_sequences, length). The last num_test unique rows form the test set,
    so no test sequence ever occurs in the training set ("held out" for real).
    """
    inputs = check_int_array(inputs, "inputs")
    targets = check_int_array(targets, "targets")
    if inputs.ndim != 2 or inputs.shape != targets.shape:
        raise ValueError(f"inputs and targets must be 2-D arrays of the same shape (num_sequences, length), "
                         f"got inputs {inputs.shape} and targets {targets.shape}")
    num_test = check_positive_int(num_test, "num_test")
    _, first = np.unique(inputs, axis=0, return_index=True)
    keep = np.sort(first)  # original order, each distinct row once
    if keep.size <= num_test:
        raise ValueError(f"only {keep.size} distinct sequences among inputs with shape {inputs.shape}; "
                         f"cannot hold out num_test={num_test} and still train")
    train, test = keep[:-num_test], keep[-num_test:]
    return (inputs[train], targets[train]), (inputs[test], targets[test])
