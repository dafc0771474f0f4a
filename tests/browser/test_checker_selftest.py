"""The browser checks fail when they should: check_pages.mjs on a tiny fake site with broken twins.

A twin whose slider steps are all the same state, plotly.js loaded twice, from another URL, or on a
page without figures: each must be reported, and a sound twin must not be. One Chromium run, a few
seconds (part of `make browser`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_book_browser import ROOT, page_problems, plotly_problems, require_browser, run_checker, twin_problems

PLOTLY_JS = "_static/vendor/plotly/plotly.min.js"


def plotly_file() -> Path:
    """The plotly.js the book serves (fetched by `make assets`), else the plotly package's own copy."""
    vendored = ROOT / "_vendor" / PLOTLY_JS
    if vendored.is_file():
        return vendored
    plotly = pytest.importorskip("plotly", reason="plotly draws the twins")
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def twin_html(states: list[np.ndarray]) -> str:
    """A heatmap twin as the book's renderer emits it (no plotly.js inside)."""
    import plotly.io as pio

    from attention_course.interactive import slider_heatmaps

    fig = slider_heatmaps(states, [f"s{i}" for i in range(len(states))], ["a", "b"], ["x", "y"],
                          title="test twin", slider_prefix="state: ")
    return pio.to_html(fig, include_plotlyjs=False, include_mathjax=False, full_html=False)


def page(body: str, scripts: list[str]) -> str:
    tags = "".join(f'<script src="{src}"></script>' for src in scripts)
    return f"<!DOCTYPE html><html><head><title>t</title>{tags}</head><body><h1>t</h1>{body}</body></html>"


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    require_browser()
    site = tmp_path_factory.mktemp("site")
    (site / "_static" / "vendor" / "plotly").mkdir(parents=True)
    source = plotly_file().read_bytes()
    (site / PLOTLY_JS).write_bytes(source)
    (site / "_static" / "other-plotly.js").write_bytes(source)
    rng = np.random.default_rng(0)
    distinct = [rng.random((2, 2)) for _ in range(3)]
    same = [distinct[0]] * 3
    local = "../" + PLOTLY_JS
    pages = {
        "p/good.html": page(twin_html(distinct), [local]),
        "p/same.html": page(twin_html(same), [local]),
        "p/twice.html": page(twin_html(distinct), [local, local]),
        "p/elsewhere.html": page(twin_html(distinct), ["../_static/other-plotly.js"]),
        "p/needless.html": page("<p>no figure here</p>", [local]),
    }
    for name, html in pages.items():
        (site / name).parent.mkdir(exist_ok=True)
        (site / name).write_text(html)
    return run_checker(site, list(pages), timeout=60)


def test_a_sound_twin_passes(facts: dict[str, dict[str, Any]]) -> None:
    good = facts["p/good.html"]
    assert page_problems(good, "p/good.html") == []
    (twin,) = good["twins"]
    assert [m["to"] for m in twin["moves"]] == [2, 1]  # farthest step first, every step visited
    assert all("trace 0 z" in m["changed"] for m in twin["moves"])


def test_a_twin_whose_steps_are_identical_fails(facts: dict[str, dict[str, Any]]) -> None:
    problems = twin_problems(facts["p/same.html"])
    assert len(problems) == 2, problems  # both moves (0 -> 2, 2 -> 1) changed nothing
    assert "plotly figure 0 ('test twin'), slider 0: moving from step 0 to step 2 changed nothing" in problems[0]


def test_plotly_loaded_twice_fails(facts: dict[str, dict[str, Any]]) -> None:
    problems = plotly_problems(facts["p/twice.html"])
    assert any("exactly once" in p and "2 script tags" in p for p in problems), problems


def test_plotly_from_another_url_fails(facts: dict[str, dict[str, Any]]) -> None:
    problems = plotly_problems(facts["p/elsewhere.html"])
    assert any("must come from the local _static/vendor/plotly/plotly.min.js" in p for p in problems), problems


def test_plotly_on_a_page_without_figures_fails(facts: dict[str, dict[str, Any]]) -> None:
    assert any("without plotly figures" in p for p in plotly_problems(facts["p/needless.html"]))


def test_twin_problems_name_missed_clicks() -> None:
    twin = {"figure": 2, "title": "t", "slider": 0, "steps": 4, "active": 0,
            "moves": [{"to": 3, "landed": 0, "changed": []}]}
    assert twin_problems({"twins": [twin]}) == [
        "plotly figure 2 ('t'), slider 0: a click on step 3 left the slider at step 0"]
    one_step = {**twin, "steps": 1, "moves": []}
    assert "nothing to move" in twin_problems({"twins": [one_step]})[0]


def test_layout_problems_catch_phone_overflow_small_text_and_errors(tmp_path: Path) -> None:
    """A page wider than a phone, a figure shrunk below the text minimum, a console error."""
    require_browser()
    import base64

    import matplotlib
    from test_book_browser import layout_problems

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A 1500 px wide PNG: the style's 9 pt at 150 dpi is 18.75 px, shown at 358 px it is 4.5 px.
    fig = plt.figure(figsize=(10, 0.1), dpi=150)
    fig.savefig(tmp_path / "wide.png", dpi=150)
    plt.close(fig)
    png = base64.b64encode((tmp_path / "wide.png").read_bytes()).decode()
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "bad.html").write_text(page(
        f'<div class="cell_output"><img alt="wide" style="max-width:100%" src="data:image/png;base64,{png}"></div>'
        '<pre style="white-space:pre">' + "x" * 200 + "</pre><script>console.error('boom')</script>", []))
    (tmp_path / "p" / "ok.html").write_text(page("<p>short</p>", []))
    views = [{"name": "390-light", "width": 390, "scheme": "light"}]
    facts = run_checker(tmp_path, ["p/bad.html", "p/ok.html"], views=views, timeout=60)
    bad = "\n".join(layout_problems(facts["p/bad.html"]))
    assert "the page scrolls sideways at 390-light" in bad
    assert "figure text below 9 px at 390-light" in bad
    assert "console errors in view 390-light" in bad and "boom" in bad
    assert layout_problems(facts["p/ok.html"]) == []
