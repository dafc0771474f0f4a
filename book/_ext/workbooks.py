"""Sphinx extension: offer each chapter's workbook (its exercises without the
answers) as a download on the chapter's page.

At the end of an HTML build, scripts/make_workbooks.py writes
workbooks/NN_stem.ipynb for every chapter, and workbooks/workbooks.zip with
all of them, into the site. Each chapter page gets a download link under its
title. The workbooks are generated, never committed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from sphinx.application import Sphinx

FOLDER = "workbooks"  # in the built site


def generator(confdir: Path) -> ModuleType:
    """scripts/make_workbooks.py, loaded as a module."""
    path = confdir / "scripts" / "make_workbooks.py"
    spec = importlib.util.spec_from_file_location("make_workbooks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def add_download_link(app: Sphinx, pagename: str, templatename: str,
                      context: dict, doctree: Any) -> None:
    """Put a link to the workbook under the title of a chapter page."""
    folder, _, stem = pagename.partition("/")
    source = Path(app.confdir) / "notebooks" / f"{stem}.ipynb"
    body = context.get("body", "")
    if folder != "notebooks" or not source.is_file() or "</h1>" not in body:
        return
    href = context["pathto"](f"{FOLDER}/{stem}.ipynb", 1)
    every = context["pathto"](f"{FOLDER}/workbooks.zip", 1)
    link = (f'<p class="workbook-download"><a href="{href}" download>'
            "Download the workbook</a> of this chapter: the notebook with "
            "the exercises' answers taken out, stubs and checkers in their "
            f'place (<a href="{every}" download>all workbooks</a>, zip).</p>')
    context["body"] = body.replace("</h1>", "</h1>\n" + link, 1)


def write_workbooks(app: Sphinx, exception: Exception | None) -> None:
    """Write the workbooks of every chapter into the built site."""
    if exception is not None or app.builder.format != "html":
        return
    confdir = Path(app.confdir)
    make = generator(confdir)
    chapters = sorted((confdir / "notebooks").glob("*.ipynb"))
    make.write_workbooks(chapters, Path(app.outdir) / FOLDER)


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", add_download_link)
    app.connect("build-finished", write_workbooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
