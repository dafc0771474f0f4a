"""Interactive figures that work in the static book: every state is computed in Python, plotly draws it.

A widget needs a running kernel; the online book has none. These twins precompute each state of a
control (a slider position, a dropdown choice) and hand them to plotly.js, which switches between
them in the browser. The page loads plotly.js once from the book's own site (no CDN): the figures
are rendered with `include_plotlyjs=False` by the "course" renderer registered here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "register_plotly_renderer",
    "slider_heatmaps",
    "slider_bars",
    "slider_lines",
    "padded_length_sliders",


    "WIDE",
]

RENDERER = "course"
HEATMAP_COLORSCALE = "Viridis"  # colour-blind safe, as in the static figures
BAR_COLOUR = "#0072B2"  # Okabe-Ito blue


def register_plotly_renderer() -> None:
    """Make plotly figures render as HTML without an embedded plotly.js (the book serves one copy).

    The default renderer becomes "plotly_mimetype+course": JupyterLab shows its native figure from
    the mimetype, and the built book uses the HTML part.
    """
    import plotly.io as pio
    from plotly.io.base_renderers import MimetypeRenderer

    class CourseHtmlRenderer(MimetypeRenderer):
        """HTML that expects window.Plotly to be loaded by the page."""

        def to_mimebundle(self, fig_dict: dict) -> dict:
            html = pio.to_html(fig_dict, include_plotlyjs=False, include_mathjax=False, full_html=False,
                               config={"displaylogo": False, "responsive": True})
            return {"text/html": html}

    pio.renderers[RENDERER] = CourseHtmlRenderer()
    pio.renderers.default = f"plotly_mimetype+{RENDERER}"


def _check_states(states: Sequence[Any], labels: Sequence[str]) -> None:
    """Raise ValueError unless there is one label per state and at least one state."""
    if len(states) == 0 or len(states) != len(labels):
        raise ValueError(f"need one label per state and at least one state, got {len(states)} states "
                         f"and {len(labels)} labels")


def _slider(labels: Sequence[str], restyles: list[dict], prefix: str, active: int,
            titles: Sequence[str] | None = None) -> dict:
    """A plotly slider whose step i applies restyles[i] to every trace (and sets titles[i] if given)."""
    if titles is None:
        steps = [{"label": label, "method": "restyle", "args": [restyle]}
                 for label, restyle in zip(labels, restyles)]
    else:  # "update" changes the data and the layout together: the title can name each state's numbers
        steps = [{"label": label, "method": "update", "args": [restyle, {"title.text": title}]}
                 for label, restyle, title in zip(labels, restyles, titles)]
    return {"active": active, "steps": steps, "currentvalue": {"prefix": prefix}, "pad": {"t": 40}}


def _top_margin(base: int, titles: Sequence[str] | None) -> int:
    """Room above the plot: `base` pixels, plus one line per "<br>" in the longest state title."""
    extra_lines = max((t.count("<br>") for t in titles), default=0) if titles is not None else 0
    return base + 22 * extra_lines


def _check_titles(titles: Sequence[str] | None, labels: Sequence[str]) -> None:
    """Raise ValueError unless titles is None or holds one title per state."""
    if titles is not None and len(titles) != len(labels):
        raise ValueError(f"need one title per state, got {len(titles)} titles and {len(labels)} states")


def _prepare_states(states: Sequence[Any], labels: Sequence[str], title: str,
                    state_titles: Sequence[str] | None, active: int) -> tuple[list[np.ndarray], str]:
    """Check states, labels and titles; return the states as float arrays and the title shown first."""
    _check_states(states, labels)
    _check_titles(state_titles, labels)
    shown_title = title if state_titles is None else state_titles[active]
    return [np.asarray(s, dtype=float) for s in states], shown_title


def slider_heatmaps(
    states: Sequence[Any],
    labels: Sequence[str],
    x_labels: Sequence[str],
    y_labels: Sequence[str],
    *,
    title: str,
    slider_prefix: str,
    x_title: str = "key (attended to)",
    y_title: str = "query (attending)",
    zmin: float | None = 0.0,
    zmax: float | None = 1.0,
    colorscale: str = HEATMAP_COLORSCALE,
    active: int = 0,
    state_titles: Sequence[str] | None = None,
) -> Any:
    """One heatmap, states[i]: (n_y, n_x), switched by a slider labelled `labels[i]`.

    `state_titles[i]`, if given, replaces the figure title while state i is shown.
    """
    import plotly.graph_objects as go

    mats, shown_title = _prepare_states(states, labels, title, state_titles, active)
    shape = mats[0].shape
    if any(m.shape != shape for m in mats) or shape != (len(y_labels), len(x_labels)):
        raise ValueError(f"every state must have shape (len(y_labels), len(x_labels)) = "
                         f"({len(y_labels)}, {len(x_labels)}), got {[m.shape for m in mats]}")
    # No label on cells a state leaves empty (NaN), rather than "nan".
    text = [np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.2f}")(m).tolist()
            for m in mats]
    fig = go.Figure(go.Heatmap(z=mats[active].tolist(), x=list(x_labels), y=list(y_labels), zmin=zmin,
                               zmax=zmax, colorscale=colorscale, text=text[active], texttemplate="%{text}",
                               colorbar={"title": {"text": "weight"}},
                               hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>"))
    restyles = [{"z": [m.tolist()], "text": [t]} for m, t in zip(mats, text)]
    fig.update_layout(title=shown_title, xaxis_title=x_title, yaxis_title=y_title,
                      yaxis={"autorange": "reversed"},
                      sliders=[_slider(labels, restyles, slider_prefix, active, state_titles)],
                      height=460, margin={"l": 70, "r": 20, "t": _top_margin(60, state_titles), "b": 40})
    return fig


def slider_bars(
    states: Sequence[Any],
    labels: Sequence[str],
    categories: Sequence[str],
    *,
    panel_titles: Sequence[str],
    title: str,
    slider_prefix: str,
    y_title: str = "attention weight",
    y_range: tuple[float, float] = (0.0, 1.0),
    active: int = 0,
    state_titles: Sequence[str] | None = None,
    panel_y: Sequence[tuple[str, tuple[float, float]]] | None = None,
) -> Any:
    """Bar charts in panels side by side: states[i]: (n_panels, n_categories), switched by a slider.

    `state_titles[i]`, if given, replaces the figure title while state i is shown. By default the
    panels share one y axis (`y_title`, `y_range`); `panel_y`, one (y_title, y_range) per panel,
    gives each panel its own, for panels of different quantities.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    mats, shown_title = _prepare_states(states, labels, title, state_titles, active)
    n_panels = len(panel_titles)
    if any(m.shape != (n_panels, len(categories)) for m in mats):
        raise ValueError(f"every state must have shape (n_panels, n_categories) = ({n_panels}, "
                         f"{len(categories)}), got {[m.shape for m in mats]}")
    if panel_y is not None and len(panel_y) != n_panels:
        raise ValueError(f"need one (y_title, y_range) per panel, got {len(panel_y)} for {n_panels} panels")
    fig = make_subplots(rows=1, cols=n_panels, subplot_titles=list(panel_titles), shared_yaxes=panel_y is None)
    for p in range(n_panels):
        fig.add_trace(go.Bar(x=list(categories), y=mats[active][p].tolist(), marker_color=BAR_COLOUR,
                             text=[f"{v:.2f}" for v in mats[active][p]], textposition="outside", cliponaxis=False,
                             showlegend=False, hovertemplate="%{x}: %{y:.3f}<extra></extra>"), row=1, col=p + 1)
    restyles = [{"y": [row.tolist() for row in m], "text": [[f"{v:.2f}" for v in row] for row in m]}
                for m in mats]
    if panel_y is None:
        fig.update_yaxes(range=list(y_range))
        fig.update_yaxes(title_text=y_title, row=1, col=1)
    else:
        for p, (panel_y_title, panel_y_range) in enumerate(panel_y):
            fig.update_yaxes(title_text=panel_y_title, range=list(panel_y_range), row=1, col=p + 1)
    fig.update_layout(title=shown_title,
                      sliders=[_slider(labels, restyles, slider_prefix, active, state_titles)], height=420,
                      margin={"l": 60, "r": 20, "t": _top_margin(80, state_titles), "b": 40})
    return fig


def slider_lines(
    states: Sequence[Any],
    labels: Sequence[str],
    x: Sequence[float],
    *,
    series_names: Sequence[str],
    title: str,
    slider_prefix: str,
    x_title: str,
    y_title: str,
    y_range: tuple[float, float] | None = None,
    active: int = 0,
    state_titles: Sequence[str] | None = None,
) -> Any:
    """Line charts, states[i]: (n_series, len(x)), one line per series, switched by a slider.

    `state_titles[i]`, if given, replaces the figure title while state i is shown.
    """
    import plotly.graph_objects as go

    mats, shown_title = _prepare_states(states, labels, title, state_titles, active)
    if any(m.shape != (len(series_names), len(x)) for m in mats):
        raise ValueError(f"every state must have shape (n_series, len(x)) = ({len(series_names)}, {len(x)}), "
                         f"got {[m.shape for m in mats]}")
    palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]
    fig = go.Figure([go.Scatter(x=list(x), y=mats[active][i].tolist(), name=name, mode="lines+markers",
                                line={"color": palette[i % len(palette)]})
                     for i, name in enumerate(series_names)])
    restyles = [{"y": [row.tolist() for row in m]} for m in mats]
    fig.update_layout(title=shown_title, xaxis_title=x_title, yaxis_title=y_title,
                      sliders=[_slider(labels, restyles, slider_prefix, active, state_titles)], height=440)
    if y_range is not None:
        fig.update_yaxes(range=list(y_range))
    return fig


def padded_length_sliders(max_width: int, length: int = 3,
                          width: int | None = None) -> tuple[Any, Any]:
    """Two ipywidgets IntSliders, (real tokens, padded length), that keep length <= width.

    A padded sentence can never be shorter than its real tokens: the padded-length
    slider's minimum follows the real-token slider, which pushes its value up with it.
    """
    import ipywidgets as widgets

    width = max_width if width is None else width
    if not 1 <= length <= width <= max_width:
        raise ValueError(f"need 1 <= length <= width <= max_width, got length={length}, "
                         f"width={width}, max_width={max_width}")
    length_slider = widgets.IntSlider(value=length, min=1, max=max_width,
                                      description="real tokens",
                                      style=WIDE)
    width_slider = widgets.IntSlider(value=width, min=length, max=max_width,
                                     description="padded to",
                                     style=WIDE)

    def follow(change: dict[str, Any]) -> None:
        """Raise (or lower) the padded length's minimum to the new number of real tokens."""
        width_slider.min = change["new"]  # ipywidgets clamps the value up to the new min

    length_slider.observe(follow, names="value")
    return length_slider, width_slider


# ipywidgets cuts a control's description at about 80 px ("temperatu..."): pass
# `style=WIDE` to a slider or dropdown so its label takes the width it needs.
WIDE = {"description_width": "initial"}
