"""The static-book twins: figures with every state precomputed, switched by a plotly slider."""

import numpy as np
import pytest

plotly = pytest.importorskip("plotly", reason="plotly draws the interactive twins")

from attention_course.interactive import (  # noqa: E402
    register_plotly_renderer,
    slider_bars,
    slider_heatmaps,
    slider_lines,
)


def test_slider_heatmaps_holds_every_state():
    states = [np.eye(3), np.full((3, 3), 1 / 3)]
    fig = slider_heatmaps(states, ["a", "b"], list("xyz"), list("pqr"), title="t", slider_prefix="s = ", active=1)
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["a", "b"]
    np.testing.assert_allclose(steps[0].args[0]["z"][0], np.eye(3))
    np.testing.assert_allclose(np.array(fig.data[0].z, dtype=float), states[1])
    assert fig.layout.sliders[0].active == 1
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


def test_slider_bars_and_lines_shapes():
    states = [np.ones((2, 3)) / 3, np.array([[1, 0, 0], [0, 0, 1.0]])]
    fig = slider_bars(states, ["1", "2"], list("abc"), panel_titles=["p", "q"], title="t", slider_prefix="T=")
    assert len(fig.data) == 2
    assert fig.layout.sliders[0].steps[1].args[0]["y"][1] == [0, 0, 1.0]
    fig = slider_lines(states, ["1", "2"], [0, 1, 2], series_names=["u", "v"], title="t", slider_prefix="k=",
                       x_title="x", y_title="y")
    assert len(fig.data) == 2 and fig.layout.xaxis.title.text == "x"


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: slider_heatmaps([np.eye(2)], ["a", "b"], ["x", "y"], ["p", "q"], title="", slider_prefix=""),
         ["1 states", "2 labels"]),
        (lambda: slider_heatmaps([np.eye(2)], ["a"], ["x", "y", "z"], ["p", "q"], title="", slider_prefix=""),
         ["(2, 3)", "(2, 2)"]),
        (lambda: slider_bars([np.ones((2, 2))], ["a"], ["x"], panel_titles=["p", "q"], title="", slider_prefix=""),
         ["(2, 1)"]),
    ],
)
def test_bad_states_name_the_shapes(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_renderer_emits_html_without_plotly_js():
    import plotly.io as pio

    register_plotly_renderer()
    fig = slider_lines([np.zeros((1, 2))], ["0"], [0, 1], series_names=["s"], title="t", slider_prefix="",
                       x_title="x", y_title="y")
    bundle = pio.renderers["course"].to_mimebundle(fig.to_dict())
    html = bundle["text/html"]
    assert "plotly-graph-div" in html
    assert "cdn.plot.ly" not in html and len(html) < 50_000  # no embedded or CDN plotly.js
    assert pio.renderers.default == "plotly_mimetype+course"


# ---- per-state titles (twins of chapters 2-4, 8) ----------------------------------------------

def test_state_titles_switch_with_the_slider():
    states = [np.ones((1, 2)) / 2, np.array([[1.0, 0.0]])]
    fig = slider_bars(states, ["a", "b"], ["x", "y"], panel_titles=["p"], title="ignored", slider_prefix="s=",
                      active=1, state_titles=["first state", "second state"])
    assert fig.layout.title.text == "second state"
    steps = fig.layout.sliders[0].steps
    assert [s.method for s in steps] == ["update", "update"]
    assert steps[0].args[1] == {"title.text": "first state"}
    assert steps[0].args[0]["y"] == [[0.5, 0.5]]
    fig = slider_lines(states, ["a", "b"], [0, 1], series_names=["u"], title="t", slider_prefix="",
                       x_title="x", y_title="y", state_titles=["one", "two"])
    assert fig.layout.title.text == "one" and fig.layout.sliders[0].steps[1].args[1]["title.text"] == "two"
    fig = slider_heatmaps([np.eye(2)], ["a"], ["x", "y"], ["p", "q"], title="t", slider_prefix="",
                          state_titles=["only"])
    assert fig.layout.title.text == "only"


def test_without_state_titles_the_slider_only_restyles():
    fig = slider_bars([np.ones((1, 2))], ["a"], ["x", "y"], panel_titles=["p"], title="fixed", slider_prefix="")
    assert fig.layout.title.text == "fixed" and fig.layout.sliders[0].steps[0].method == "restyle"


def test_state_titles_need_one_per_state():
    with pytest.raises(ValueError, match="2 titles and 1 states"):
        slider_bars([np.ones((1, 2))], ["a"], ["x", "y"], panel_titles=["p"], title="", slider_prefix="",
                    state_titles=["a", "b"])


def test_panels_can_have_their_own_y_axes():
    states = [np.array([[-2.0, 1.0], [0.1, 0.9]])]
    fig = slider_bars(states, ["a"], ["x", "y"], panel_titles=["scores", "weights"], title="t", slider_prefix="",
                      panel_y=[("score", (-3.0, 3.0)), ("weight", (0.0, 1.0))])
    assert tuple(fig.layout.yaxis.range) == (-3.0, 3.0) and tuple(fig.layout.yaxis2.range) == (0.0, 1.0)
    assert fig.layout.yaxis.title.text == "score" and fig.layout.yaxis2.title.text == "weight"
    with pytest.raises(ValueError, match="1 for 2 panels"):
        slider_bars(states, ["a"], ["x", "y"], panel_titles=["p", "q"], title="", slider_prefix="",
                    panel_y=[("score", (-3.0, 3.0))])


def test_two_line_state_titles_get_room_above_the_plot():
    one = slider_bars([np.ones((1, 2))], ["a"], ["x", "y"], panel_titles=["p"], title="", slider_prefix="",
                      state_titles=["one line"])
    two = slider_bars([np.ones((1, 2))], ["a"], ["x", "y"], panel_titles=["p"], title="", slider_prefix="",
                      state_titles=["first line<br>second line"])
    assert two.layout.margin.t > one.layout.margin.t


def test_padded_length_never_falls_below_the_real_tokens():
    pytest.importorskip("ipywidgets", reason="the chapter 5 explorer's sliders")
    from attention_course.interactive import padded_length_sliders

    length, width = padded_length_sliders(6, length=3, width=4)
    assert (length.value, width.value, width.min) == (3, 4, 3)
    length.value = 5  # more real tokens than the padded length: the padding grows
    assert (width.min, width.value) == (5, 5)
    width.value = 2  # below the real tokens: clamped
    assert width.value == 5
    length.value = 2  # fewer real tokens: the padded length may shrink again
    width.value = 2
    assert (width.min, width.value) == (2, 2)
    for low, high in [(length.min, length.max), (width.min, width.max)]:
        assert 1 <= low <= high == 6
    with pytest.raises(ValueError, match="length=4"):
        padded_length_sliders(6, length=4, width=3)
