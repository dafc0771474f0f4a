"""Figures for attention weights: labelled heatmaps with colour-blind-safe colour maps.

This module takes arrays and words and imports only the input checks from the
package, so every layer of the course can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .checks import check_array, check_positive_int, check_texts

__all__ = [
    "plot_attention",
    "attention_table",
    "panel_grid",
    "flow_diagram",
    "FIGURE_WIDTH",
]

DEFAULT_CMAP = "viridis"  # perceptually uniform and readable with colour-vision deficiencies
# The book's column is about 750 px: 4.8 inches (+ margins) at the style's
# 150 dpi (notebooks/matplotlibrc), so 9 pt text stays 9 px on a phone.
FIGURE_WIDTH = 4.8
# The smallest text the figures use, in points (the style's tick and legend size).
SMALL_FONT = 9.0
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")


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


def _check_labelled_weights(
    weights: Any, query_labels: Any, key_labels: Any
) -> tuple[np.ndarray, list[str], list[str]]:
    """Checked (weights (n_q, n_k), query labels, key labels: default the query labels)."""
    query_labels = check_texts(query_labels, "query_labels")
    key_labels = (
        list(query_labels)
        if key_labels is None
        else check_texts(key_labels, "key_labels")
    )
    return _check_weights_2d(weights, query_labels, key_labels), query_labels, key_labels


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

    w, query_labels, key_labels = _check_labelled_weights(
        weights, query_labels, key_labels)
    if ax is None:
        size = (1.2 + 0.6 * w.shape[1], 1.0 + 0.45 * w.shape[0])
        width = min(max(size[0], 3.5), FIGURE_WIDTH)
        _, ax = plt.subplots(figsize=(width, max(size[1], 2.5)))
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
                ax.text(j, i, fmt.format(w[i, j]), ha="center", va="center", color=colour,
                        fontsize=SMALL_FONT)
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
    w, query_labels, key_labels = _check_labelled_weights(
        weights, query_labels, key_labels)
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


def panel_grid(
    n: int, *, height: float = 2.6, width: float = FIGURE_WIDTH, **kwargs: Any
) -> tuple[Any, Any]:
    """A figure of n panels, at most two side by side; returns (fig, axes: (n,)).

    More than two panels are stacked in rows of two, so every panel keeps a
    legible width in the book's column; `height` is the height of one row in
    inches. With one panel `axes` is that Axes, as with `plt.subplots`.
    Extra keyword arguments (sharey=..., ...) go to `plt.subplots`.
    """
    import matplotlib.pyplot as plt

    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int (panels), got {n!r}")
    cols = min(n, 2)
    rows = -(-n // cols)  # ceil: a fourth slot is left empty for three
    fig, axes = plt.subplots(
        rows, cols, figsize=(width, height * rows), squeeze=False, **kwargs
    )
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.remove()
    return fig, (flat[0] if n == 1 else flat[:n])


def flow_diagram(
    ax: Any,
    boxes: Sequence[str],
    *,
    colours: Sequence[int] | None = None,
    residuals: Sequence[tuple[int, int]] = (),
    box_width: float = 3.4,
    box_height: float = 0.62,
) -> dict[int, float]:
    """Draw boxes top to bottom joined by arrows; returns each box's centre y.

    `residuals` holds pairs (i, j): the input of box i skips the boxes
    between and is added at box j (j > i), drawn as a path down the left
    side, so a diagram of a residual block shows its skip connections.
    `colours` are indices into the Okabe-Ito palette, one per box;
    `box_height` is in data units (a gap between boxes is 0.42).
    """
    from matplotlib.patches import FancyBboxPatch

    n = len(boxes)
    colours = [0] * n if colours is None else list(colours)
    if len(colours) != n:
        raise ValueError(f"colours needs {n} entries (one per box), got {len(colours)}")
    for i, j in residuals:
        if not 0 <= i < j < n:
            raise ValueError(f"residual ({i}, {j}) must satisfy 0 <= i < j < {n}")
    box_h, gap = box_height, 0.42
    centre = {k: (n - 1 - k) * (box_h + gap) + box_h / 2 for k in range(n)}
    for k, (text, colour) in enumerate(zip(boxes, colours)):
        y = centre[k] - box_h / 2
        ax.add_patch(FancyBboxPatch(
            (0, y), box_width, box_h, boxstyle="round,pad=0.02,rounding_size=0.1",
            facecolor=OKABE_ITO[colour % 6], alpha=0.25,
            edgecolor=OKABE_ITO[colour % 6]))
        ax.text(box_width / 2, centre[k], text, ha="center", va="center")
        if k:  # the arrow from the box above
            ax.annotate("", xy=(box_width / 2, y + box_h),
                        xytext=(box_width / 2, y + box_h + gap),
                        arrowprops={"arrowstyle": "->", "color": "grey"})
    for depth, (i, j) in enumerate(residuals):
        # Leave the arrow into box i halfway, run down the left, enter box j.
        x = -0.25 - 0.2 * (depth % 2)
        start = centre[i] + box_h / 2 + gap / 2
        ax.plot([box_width / 2, x, x], [start, start, centre[j]],
                color=OKABE_ITO[5], lw=1.5)
        ax.annotate("", xy=(0, centre[j]), xytext=(x, centre[j]),
                    arrowprops={"arrowstyle": "->", "color": OKABE_ITO[5],
                                "lw": 1.5})
    ax.set(xlim=(-0.7, box_width + 0.1),
           ylim=(-0.1, n * (box_h + gap) - gap + 0.1))
    ax.axis("off")
    return centre
