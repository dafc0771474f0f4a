"""Tests of the heatmap helper and its text alternative."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attention_course import attention_table, plot_attention  # noqa: E402

WORDS = ["cat", "sat", "mat"]
W = np.array([[0.8, 0.1, 0.1], [0.3, 0.4, 0.3], [0.2, 0.2, 0.6]])


def test_plot_attention_labels_axes_and_cells():
    ax = plot_attention(W, WORDS, title="demo")
    assert [t.get_text() for t in ax.get_xticklabels()] == WORDS
    assert [t.get_text() for t in ax.get_yticklabels()] == WORDS
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "demo"
    assert len(ax.texts) == 9 and ax.texts[0].get_text() == "0.80"
    assert len(ax.figure.axes) == 2  # heatmap and colour bar
    matplotlib.pyplot.close(ax.figure)


def test_plot_attention_rejects_mismatched_labels():
    with pytest.raises(ValueError, match=r"\(3, 3\).*3 key labels, got 3 and 2"):
        plot_attention(W, WORDS, ["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        plot_attention(W[0], WORDS)


def test_attention_table_lists_top_keys():
    text = attention_table(W, WORDS, top=2)
    assert text.splitlines()[0] == "cat -> cat 0.80, sat 0.10"
    assert text.splitlines()[2] == "mat -> mat 0.60, cat 0.20"
