"""Sphinx extension: no page loads the scripts of a feature the book does not use.

* sphinx-thebe (always on in Jupyter Book 1) adds an inline script declaring `const THEBE_JS_URL`
  once per `env-before-read-docs` event, so a page holds it twice and the browser logs
  "SyntaxError: Identifier 'THEBE_JS_URL' has already been declared". The book has no live code
  (no thebe launch button), so both the inline config and sphinx-thebe.js are dropped.
* The ipywidgets manager (require.js, a MathJax shim and the 3.6 MB embed-amd.js) and the saved
  widget state are loaded only on pages that show a widget. The chapters' *Play with it* cells are
  tagged `remove-output`: without a kernel their controls would only show a first state that a
  static figure already shows (book/how_to_use.md says so), so the book shows none and no page
  needs the manager; a page that does show a widget keeps it.

(pydata-sphinx-theme's 1.5 MB fontawesome.js is written into its template, not added as a script
file: book/_templates/static/webpack-macros.html leaves it out.)
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

UNUSED_SCRIPTS = ("sphinx-thebe.js",)
UNUSED_INLINE = ("THEBE_JS_URL",)
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _filename(script: Any) -> str:
    return str(getattr(script, "filename", script) or "")


def _body(script: Any) -> str:
    return str(getattr(script, "attributes", {}).get("body", ""))


def drop_unused_scripts(app: Sphinx, pagename: str, templatename: str, context: dict,
                        doctree: Any) -> None:
    """Remove the scripts of features the book does not use from this page."""
    scripts = context.get("script_files")
    if not scripts:
        return
    unused = [s for s in scripts
              if _filename(s).endswith(UNUSED_SCRIPTS) or any(m in _body(s) for m in UNUSED_INLINE)]
    if WIDGET_VIEW not in context.get("body", ""):
        # Sphinx stores them as _static/<path>.
        widget_files = tuple(app.config.nb_ipywidgets_js)
        unused += [s for s in scripts if _filename(s).endswith(widget_files)
                   or getattr(s, "attributes", {}).get("type") == WIDGET_STATE]
    # By identity: inline scripts without a file name compare equal as strings.
    dropped = {id(s) for s in unused}
    context["script_files"] = [s for s in scripts if id(s) not in dropped]


def setup(app: Sphinx) -> dict:
    # After every extension has added its scripts for the page (default priority is 500).
    app.connect("html-page-context", drop_unused_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
