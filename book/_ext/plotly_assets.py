"""Sphinx extension: load the book's single local copy of plotly.js on the pages that draw plotly figures.

The interactive twins (attention_course.interactive) emit HTML without plotly.js; this adds one
<script> tag, at one URL for every page so browsers cache it, and only where a figure needs it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

PLOTLY_JS = "vendor/plotly/plotly.min.js"  # relative to the output's _static/
logger = logging.getLogger(__name__)


def add_plotly_where_needed(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Add the plotly.js script tag to pages whose body holds a plotly figure."""
    if "plotly-graph-div" in context.get("body", ""):
        app.add_js_file(PLOTLY_JS, priority=400)  # per page: called during html-page-context
        app.env.plotly_pages = getattr(app.env, "plotly_pages", set()) | {pagename}


def plotly_source(confdir: Path) -> Path | None:
    """The plotly.js file to serve: the small cartesian bundle fetched by `make assets` if present,
    else the full bundle shipped inside the plotly Python package (the same plotly.js version)."""
    vendored = confdir / "_vendor" / "_static" / PLOTLY_JS  # scripts/fetch_assets.py puts it here
    if vendored.is_file():
        return vendored
    try:
        import plotly
    except ImportError:
        return None
    bundled = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return bundled if bundled.is_file() else None


def copy_plotly_file(app: Sphinx, exception: Exception | None) -> None:
    """Copy plotly.js into the site; warn (an error under -W) if a page needs it and none is found."""
    if exception is not None or app.builder.format != "html":
        return
    pages = getattr(app.env, "plotly_pages", set())
    source = plotly_source(Path(app.confdir))
    if source is None:
        if pages:
            logger.warning("pages %s draw plotly figures but no plotly.js was found", sorted(pages))
        return
    target = Path(app.outdir) / "_static" / PLOTLY_JS
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", add_plotly_where_needed)
    app.connect("build-finished", copy_plotly_file)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
