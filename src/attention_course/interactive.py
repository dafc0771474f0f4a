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


def _slider(labels: Sequence[str], restyles: list[dict], prefix: str, active: int) -> dict:
    """A plotly slider whose step i applies restyles[i] to every trace."""
    steps = [{"label": label, "method": "restyle", "args": [restyle]} for label, restyle in zip(labels, restyles)]
    return {"active": active, "steps": steps, "currentvalue": {"prefix": prefix}, "pad": {"t": 40}}


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
) -> Any:
    """One heatmap, states[i]: (n_y, n_x), switched by a slider labelled `labels[i]`."""
    import plotly.graph_objects as go

    _check_states(states, labels)
    mats = [np.asarray(s, dtype=float) for s in states]
    shape = mats[0].shape
    if any(m.shape != shape for m in mats) or shape != (len(y_labels), len(x_labels)):
        raise ValueError(f"every state must have shape (len(y_labels), len(x_labels)) = "
                         f"({len(y_labels)}, {len(x_labels)}), got {[m.shape for m in mats]}")
    text = [np.vectorize(lambda v: f"{v:.2f}")(m).tolist() for m in mats]
    fig = go.Figure(go.Heatmap(z=mats[active].tolist(), x=list(x_labels), y=list(y_labels), zmin=zmin,
                               zmax=zmax, colorscale=colorscale, text=text[active], texttemplate="%{text}",
                               colorbar={"title": {"text": "weight"}},
                               hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>"))
    restyles = [{"z": [m.tolist()], "text": [t]} for m, t in zip(mats, text)]
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title,
                      yaxis={"autorange": "reversed"}, sliders=[_slider(labels, restyles, slider_prefix, active)],
                      height=460, margin={"l": 70, "r": 20, "t": 60, "b": 40})
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
) -> Any:
    """Bar charts in panels side by side: states[i]: (n_panels, n_categories), switched by a slider."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    _check_states(states, labels)
    mats = [np.asarray(s, dtype=float) for s in states]
    n_panels = len(panel_titles)
    if any(m.shape != (n_panels, len(categories)) for m in mats):
        raise ValueError(f"every state must have shape (n_panels, n_categories) = ({n_panels}, "
                         f"{len(categories)}), got {[m.shape for m in mats]}")
    fig = make_subplots(rows=1, cols=n_panels, subplot_titles=list(panel_titles), shared_yaxes=True)
    for p in range(n_panels):
        fig.add_trace(go.Bar(x=list(categories), y=mats[active][p].tolist(), marker_color=BAR_COLOUR,
                             text=[f"{v:.2f}" for v in mats[active][p]], textposition="outside",
                             showlegend=False, hovertemplate="%{x}: %{y:.3f}<extra></extra>"), row=1, col=p + 1)
    restyles = [{"y": [row.tolist() for row in m], "text": [[f"{v:.2f}" for v in row] for row in m]}
                for m in mats]
    fig.update_yaxes(range=list(y_range))
    fig.update_yaxes(title_text=y_title, row=1, col=1)
    fig.update_layout(title=title, sliders=[_slider(labels, restyles, slider_prefix, active)], height=420,
                      margin={"l": 60, "r": 20, "t": 80, "b": 40})
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
) -> Any:
    """Line charts, states[i]: (n_series, len(x)), one line per series, switched by a slider."""
    import plotly.graph_objects as go

    _check_states(states, labels)
    mats = [np.asarray(s, dtype=float) for s in states]
    if any(m.shape != (len(series_names), len(x)) for m in mats):
        raise ValueError(f"every state must have shape (n_series, len(x)) = ({len(series_names)}, {len(x)}), "
                         f"got {[m.shape for m in mats]}")
    palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]
    fig = go.Figure([go.Scatter(x=list(x), y=mats[active][i].tolist(), name=name, mode="lines+markers",
                                line={"color": palette[i % len(palette)]})
                     for i, name in enumerate(series_names)])
    restyles = [{"y": [row.tolist() for row in m]} for m in mats]
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title,
                      sliders=[_slider(labels, restyles, slider_prefix, active)], height=440)
    if y_range is not None:
        fig.update_yaxes(range=list(y_range))
    return fig
