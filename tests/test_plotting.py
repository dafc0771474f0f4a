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


def test_panel_grid_puts_at_most_two_panels_side_by_side():
    import matplotlib.pyplot as plt

    from attention_course.plotting import FIGURE_WIDTH, panel_grid

    fig, axes = panel_grid(5, height=2.0)
    assert len(axes) == 5 and len(fig.axes) == 5  # the sixth slot is removed
    lefts = sorted({round(ax.get_position().x0, 3) for ax in axes})
    assert len(lefts) == 2  # two columns
    assert tuple(fig.get_size_inches()) == (FIGURE_WIDTH, 6.0)  # three rows of 2 in
    _, one = panel_grid(1)
    assert hasattr(one, "plot")  # a single Axes, as plt.subplots returns
    with pytest.raises(ValueError, match="n must be a positive int"):
        panel_grid(0)
    plt.close("all")


def test_flow_diagram_draws_boxes_and_residual_paths():
    import matplotlib.pyplot as plt

    from attention_course.plotting import flow_diagram

    _, ax = plt.subplots()
    centre = flow_diagram(ax, ["x", "f", "add"], residuals=[(1, 2)])
    assert centre[0] > centre[1] > centre[2]  # top to bottom
    assert [t.get_text() for t in ax.texts if t.get_text()] == ["x", "f", "add"]
    assert len(ax.lines) == 1  # the residual path
    with pytest.raises(ValueError, match="residual"):
        flow_diagram(ax, ["x", "f"], residuals=[(1, 0)])
    with pytest.raises(ValueError, match="colours"):
        flow_diagram(ax, ["x", "f"], colours=[0])
    plt.close("all")
