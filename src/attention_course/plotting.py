"""Figures for attention weights: labelled heatmaps with colour-blind-safe colour maps.

This module takes arrays and words and imports only the input checks from the
package, so every layer of the course can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .checks import check_array, check_positive_int, check_texts

__all__ = ["plot_attention", "attention_table"]

DEFAULT_CMAP = "viridis"  # perceptually uniform and readable with colour-vision deficiencies


def _check_weights_2d(weights: Any, query_labels: Sequence[str], key_labels: Sequence[str]) -> np.ndarray:
    """Return weights: (n_q, n_k) as an array after checking it matches the label counts."""
    w = check_array(weights, "weights")
    check_texts(query_labels, "query_labels")
    check_texts(key_labels, "key_labels")
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D (n_q, n_k), got shape {w.shape}")
    if len(query_labels) != w.shape[0] or len(key_labels) != w.shape[1]:
        raise ValueError(
            f"weights with shape {w.shape} need {w.shape[0]} query labels and {w.shape[1]} "
            f"key labels, got {len(query_labels)} and {len(key_labels)}"
        )
    return w


def plot_attention(
    weights: Any,
    query_labels: Sequence[str],
    key_labels: Sequence[str] | None = None,
    *,
    ax: Any = None,
    annotate: bool = True,
    title: str | None = None,
    cmap: str = DEFAULT_CMAP,
    vmin: float | None = 0.0,
    vmax: float | None = None,
    colorbar: bool = True,
    fmt: str = "{:.2f}",
) -> Any:
    """Heatmap of weights: (n_q, n_k), queries as rows and keys as columns; returns the Axes.

    Rows are labelled with `query_labels`, columns with `key_labels` (default: the same words),
    a colour bar shows the scale, and with `annotate` every cell shows its value.
    """
    import matplotlib.pyplot as plt

    query_labels = check_texts(query_labels, "query_labels")
    key_labels = (
        list(query_labels)
        if key_labels is None
        else check_texts(key_labels, "key_labels")
    )
    w = _check_weights_2d(weights, query_labels, key_labels)
    if ax is None:
        size = (1.0 + 0.65 * w.shape[1], 0.8 + 0.55 * w.shape[0])
        _, ax = plt.subplots(figsize=(max(size[0], 3.5), max(size[1], 2.5)))
    image = ax.imshow(w, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(w.shape[1]), key_labels, rotation=45, ha="right")
    ax.set_yticks(range(w.shape[0]), list(query_labels))
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    if title:
        ax.set_title(title)
    if annotate:
        low, high = image.get_clim()
        middle = (low + high) / 2
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                # Dark text on the bright end of viridis, light text on the dark end.
                colour = "black" if w[i, j] > middle else "white"
                ax.text(j, i, fmt.format(w[i, j]), ha="center", va="center", color=colour, fontsize=8)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="attention weight", fraction=0.046, pad=0.04)
    return ax


def attention_table(
    weights: Any,
    query_labels: Sequence[str],
    key_labels: Sequence[str] | None = None,
    top: int = 3,
) -> str:
    """Text alternative to a heatmap of weights: (n_q, n_k): each query's top keys with weights."""
    query_labels = check_texts(query_labels, "query_labels")
    key_labels = (
        list(query_labels)
        if key_labels is None
        else check_texts(key_labels, "key_labels")
    )
    w = _check_weights_2d(weights, query_labels, key_labels)
    top = check_positive_int(top, "top")
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    width = max((len(label) for label in query_labels), default=0)
    lines = []
    for label, row in zip(query_labels, w):
        order = np.argsort(-row, kind="stable")[: min(top, len(row))]
        picks = ", ".join(f"{key_labels[j]} {row[j]:.2f}" for j in order)
        lines.append(f"{label:>{width}} -> {picks}")
    return "\n".join(lines)
