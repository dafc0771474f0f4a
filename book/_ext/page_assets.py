"""Sphinx extension: each page loads only what it uses, and logs no error in the console.

* sphinx-thebe (always on in Jupyter Book 1) adds an inline script declaring `const THEBE_JS_URL`
  once per `env-before-read-docs` event, so a page holds it twice and the browser logs
  "SyntaxError: Identifier 'THEBE_JS_URL' has already been declared". The book has no live code
  (no thebe launch button), so both the inline config and sphinx-thebe.js are dropped.
* pydata-sphinx-theme loads a 1.5 MB fontawesome.js that turns each <i class="fa-..."> into an
  SVG. Its stylesheet already holds Font Awesome's web-font rules (@font-face and the .fa-*
  glyphs), so the few icons of the header draw from a woff2 font without the script.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

UNUSED_SCRIPTS = ("sphinx-thebe.js", "scripts/fontawesome.js")
UNUSED_INLINE = ("THEBE_JS_URL",)


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
    context["script_files"] = [
        s for s in scripts
        if not _filename(s).endswith(UNUSED_SCRIPTS)
        and not any(marker in _body(s) for marker in UNUSED_INLINE)
    ]


def setup(app: Sphinx) -> dict:
    # After every extension has added its scripts for the page (default priority is 500).
    app.connect("html-page-context", drop_unused_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
