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
