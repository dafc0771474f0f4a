"""The built book as a reader's browser meets it: every page of _build/html in headless Chromium.

Run after the book build: `make browser` (part of `make test`). Needs /usr/bin/chromium (Debian's
`chromium` package; `.ci/run` installs it) and `npm ci` in tests/browser (the Makefile does it).
The page checks live in check_pages.mjs (Playwright); this file serves the book, runs it once for
all pages, and turns what it saw into one test per page with readable messages. It also writes every
local URL each page loaded to _build/page-requests.json, which scripts/page_weight.py weighs.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
SCREENSHOTS = ROOT / "_build" / "screenshots"
REQUESTS = ROOT / "_build" / "page-requests.json"  # read by scripts/page_weight.py
HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SKIP_DIRS = {"_static", "_sources", "_images", "jupyter_execute", "reports", "_panels_static"}
# Pages photographed for a human look (saved even when the checks pass): these at 1366 px in light
# mode, and every chapter in every view below as well (`_build/screenshots/<page>-<view>.png`).
SCREENSHOT_PAGES = ["book/intro.html", "notebooks/01_attention_as_focus.html", "book/glossary.html"]
# Every page is visited at 1366 px in light mode (all checks), then again in each of these views:
# a 390 px phone in light and dark mode, and the desktop in dark mode.
VIEWS = [
    {"name": "390-light", "width": 390, "scheme": "light"},
    {"name": "390-dark", "width": 390, "scheme": "dark"},
    {"name": "1366-dark", "width": 1366, "scheme": "dark"},
]
# Figure text must stay at least this high on screen, in CSS pixels, on a desktop and on a phone.
MIN_TEXT_PX = 9.0
MATPLOTLIBRC = ROOT / "notebooks" / "matplotlibrc"
# The one copy of plotly.js the book serves (book/_ext/plotly_assets.py), relative to the site root.
PLOTLY_JS = "_static/vendor/plotly/plotly.min.js"


def book_pages() -> list[str]:
    """Every HTML page of the built book, relative to _build/html (the root redirect excluded)."""
    if not (HTML / "index.html").exists():
        return []
    return sorted(
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*.html")
        if not SKIP_DIRS & set(p.relative_to(HTML).parts[:-1]) and p.relative_to(HTML).as_posix() != "index.html"
    )


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def run_checker(html: Path, pages: list[str], screenshots: dict[str, str] | None = None,
                timeout: float = 180, views: list[dict[str, Any]] | None = None,
                view_shots: dict[str, dict[str, str]] | None = None) -> dict[str, dict[str, Any]]:
    """Serve `html` on a free local port, let Chromium visit `pages` once, return its facts per page.

    Each page's `requests` (absolute URLs) become paths relative to the site root, without the query.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as job_file:
            json.dump({"base": base, "pages": pages, "screenshots": screenshots or {}, "profile": profile,
                       "chromium": CHROMIUM, "views": views or [], "viewShots": view_shots or {}},
                      job_file)
        run = subprocess.run(
            ["node", str(HERE / "check_pages.mjs"), job_file.name],
            capture_output=True, text=True, timeout=timeout, cwd=HERE,
        )
        if run.returncode != 0:
            pytest.fail(f"check_pages.mjs failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
        pages_facts: dict[str, dict[str, Any]] = json.loads(run.stdout)["pages"]
    finally:
        server.shutdown()
        server.server_close()
        os.unlink(job_file.name)
        shutil.rmtree(profile, ignore_errors=True)
    for facts in pages_facts.values():
        facts["requests"] = [site_path(url, base) for url in facts["requests"]]
    return pages_facts


def site_path(url: str, base: str) -> str:
    """A local URL as a path relative to the site root: no query, no fragment, %-escapes decoded."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    root = urllib.parse.urlsplit(base).path
    return path[len(root):] if path.startswith(root) else path.lstrip("/")


def require_browser() -> None:
    """Fail (not skip) when the browser or its driver is missing: the check is part of `make test`."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    if not (HERE / "node_modules" / "playwright-core").exists():
        pytest.fail("playwright-core is not installed: run `npm ci` in tests/browser (make browser does)")


@pytest.fixture(scope="module")
def report() -> dict[str, dict[str, Any]]:
    """Every page of the built book, visited once; what each page loaded goes to REQUESTS."""
    require_browser()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = book_pages()
    view_shots = {p: {v["name"]: str(SCREENSHOTS / f"{Path(p).stem}-{v['name']}.png") for v in VIEWS}
                  for p in pages if p.startswith("notebooks/")}
    shots = {p: str(SCREENSHOTS / (Path(p).stem + ".png")) for p in SCREENSHOT_PAGES}
    shots.update({p: str(SCREENSHOTS / f"{Path(p).stem}-1366-light.png") for p in view_shots})
    facts = run_checker(HTML, pages, shots, views=VIEWS, view_shots=view_shots,
                        timeout=180 + 20 * len(pages) * len(VIEWS))
    REQUESTS.parent.mkdir(parents=True, exist_ok=True)
    REQUESTS.write_text(json.dumps({
        "html": str(HTML),
        "note": "every local file each page requested in headless Chromium (cache off), by tests/browser",
        "pages": {page: sorted(set(f["requests"])) for page, f in facts.items()},
    }, indent=1))
    return facts


def plotly_problems(facts: dict[str, Any]) -> list[str]:
    """plotly.js loaded exactly once, from the book's own copy, on pages with plotly figures; else never.

    Counted three ways: the files fetched, the <script src> tags (the browser fetches a repeated URL
    once but runs it twice) and copies inlined in the page.
    """
    loads = [r for r in facts["requests"] if re.search(r"plotly[^/]*\.js$", r, re.IGNORECASE)]
    tags, inline = facts["plotlyTags"], facts["plotlyInline"]
    if not facts["plotlyFigures"]:
        if loads or tags or inline:
            return [f"plotly.js loaded on a page without plotly figures: fetched {loads}, script tags {tags}, "
                    f"{inline} inlined"]
        return []
    problems = []
    if len(loads) != 1 or len(tags) + inline != 1:
        problems.append(f"plotly.js must load exactly once, got {len(loads)} files fetched {loads}, "
                        f"{len(tags)} script tags {tags} and {inline} inlined copies")
    if not loads or any(r != PLOTLY_JS for r in loads):
        problems.append(f"plotly.js must come from the local {PLOTLY_JS}, got {loads}")
    if not facts["plotlyVersion"]:
        problems.append(f"{facts['plotlyFigures']} plotly figures but window.Plotly is not defined")
    return problems


def twin_problems(facts: dict[str, Any]) -> list[str]:
    """Every slider of every plotly figure moves where it is clicked, and each move changes the figure."""
    problems = []
    for twin in facts.get("twins", []):
        name = f"plotly figure {twin['figure']} ({twin['title'][:60]!r}), slider {twin['slider']}"
        if twin["steps"] < 2:
            problems.append(f"{name}: {twin['steps']} step, nothing to move")
        where = twin["active"]
        for move in twin["moves"]:
            if "error" in move:
                problems.append(f"{name}: cannot move to step {move['to']}: {move['error']}")
                break
            if move["landed"] != move["to"]:
                problems.append(f"{name}: a click on step {move['to']} left the slider at step {move['landed']}")
                break
            if not move["changed"]:
                problems.append(f"{name}: moving from step {where} to step {move['to']} changed nothing in the "
                                f"figure's data or title (are the two states identical?)")
            where = move["landed"]
    return problems


def page_problems(facts: dict[str, Any], page: str = "") -> list[str]:
    """Everything wrong with one page, as readable sentences (empty: the page is fine)."""
    problems = []
    if facts["console"]:
        problems.append(f"console errors: {facts['console']}")
    if facts["external"]:
        problems.append(f"requests to other hosts (the book must work offline): {sorted(set(facts['external']))}")
    if facts["failed"] or facts["httpErrors"]:
        problems.append(f"failed local requests: {facts['failed'] + facts['httpErrors']}")
    if facts["untypeset"] or facts["rawMath"]:
        problems.append(f"math not typeset: raw {facts['rawMath']} in the text; untypeset: {facts['untypeset'][:5]}")
    if facts["mathNodes"] and not facts["mjx"]:
        problems.append(f"{facts['mathNodes']} math elements but no MathJax output (mjx-container)")
    if facts["texErrors"]:
        problems.append(f"TeX errors in MathJax output: {facts['texErrors']}")
    if facts["brokenImages"]:
        problems.append(f"images that did not load: {facts['brokenImages']}")
    if facts["imagesWithoutAlt"]:
        problems.append(f"images without a meaningful alt text: {facts['imagesWithoutAlt']}")
    if facts["tracebacks"]:
        problems.append(f"Python tracebacks in outputs: {facts['tracebacks']}")
    if facts["openSolutions"]:
        problems.append(f"exercise solutions not collapsed: {facts['openSolutions']}")
    if facts["widgetViews"] and facts["widgetsShown"] < facts["widgetViews"]:
        problems.append(f"{facts['widgetViews']} widgets saved but {facts['widgetsShown']} shown")
    if page.startswith("notebooks/"):
        buttons = [("Colab", "colab.research.google.com"), ("Binder", "mybinder.org"), ("download", ".ipynb")]
        for kind, pattern in buttons:
            if not any(pattern in link for link in facts["launchLinks"]):
                problems.append(f"no {kind} button (links seen: {facts['launchLinks']})")
    if facts["copyButtons"] < facts["codeBlocks"]:
        problems.append(f"{facts['codeBlocks']} code blocks but {facts['copyButtons']} copy buttons")
    levels = facts["headings"]
    if levels and (levels[0] != 1 or levels.count(1) != 1 or any(b > a + 1 for a, b in zip(levels, levels[1:]))):
        problems.append(f"headings out of order (one h1 first, no skipped level): {levels}")
    return problems + plotly_problems(facts) + twin_problems(facts) + layout_problems(facts)


def figure_style() -> tuple[float, float]:
    """(dpi, smallest font size in points) of the book's matplotlib style, notebooks/matplotlibrc."""
    values: dict[str, str] = {}
    for line in MATPLOTLIBRC.read_text().splitlines():
        key, sep, value = line.split("#", 1)[0].partition(":")
        if sep:
            values[key.strip()] = value.strip()
    dpi = float(values.get("savefig.dpi", values.get("figure.dpi", "100")))
    keys = ["font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize",
            "legend.fontsize", "legend.title_fontsize", "figure.titlesize"]
    sizes = [float(values[k]) for k in keys if k in values and values[k].replace(".", "", 1).isdigit()]
    return dpi, min(sizes, default=10.0)


def figure_text_problems(figures: list[dict[str, Any]], where: str) -> list[str]:
    """Figures whose smallest text would show below MIN_TEXT_PX: the style's smallest font at its dpi,
    scaled by how much the page shrinks the image (displayed width / pixel width)."""
    dpi, points = figure_style()
    small = []
    for fig in figures:
        px = points * dpi / 72 * fig["shown"] / fig["natural"]
        if px < MIN_TEXT_PX - 0.05:
            small.append(f"{fig['src']} ({fig['natural']} px shown at {fig['shown']:.0f} px: "
                         f"{points:g} pt text is {px:.1f} px)")
    if not small:
        return []
    return [f"figure text below {MIN_TEXT_PX:g} px {where}: {small[:5]}"
            + (f" and {len(small) - 5} more" if len(small) > 5 else "")]


def layout_problems(facts: dict[str, Any]) -> list[str]:
    """What a screen shows wrong: sideways scrolling on a phone, figure text too small to read,
    console errors in dark mode or at a phone's width."""
    problems = figure_text_problems(facts["layout"]["figures"], "at 1366 px")
    for name, view in facts.get("views", {}).items():
        if view["console"]:
            problems.append(f"console errors in view {name}: {view['console']}")
        if view["scrollWidth"] > view["width"] + 1 or view["wide"]:
            problems.append(f"the page scrolls sideways at {name} ({view['scrollWidth']} px wide in a "
                            f"{view['width']} px window); too wide: {view['wide']}")
        if name.endswith("-dark") and view["theme"] != "dark":
            problems.append(f"view {name}: the page did not switch to the dark theme ({view['theme']!r})")
        problems += figure_text_problems(view["figures"], f"at {name}")
    return problems


def test_book_is_built() -> None:
    assert (HTML / "index.html").exists(), f"no book in {HTML}: run `make book-only` first"
    assert len(book_pages()) >= 3, f"only {book_pages()} in {HTML}"


@pytest.mark.parametrize("page", book_pages())
def test_page(page: str, report: dict[str, dict[str, Any]]) -> None:
    facts = report[page]
    problems = page_problems(facts, page)
    assert not problems, f"{page} ({facts['title']}):\n  " + "\n  ".join(problems)
