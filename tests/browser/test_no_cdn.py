"""The built HTML loads nothing from another host: no script, stylesheet, image or frame with a URL.

A static scan of every file in _build/html (run with the browser test, after the book build).
Plain links (<a href>) may point anywhere; what a page *loads* must come from the site itself.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
# (tag, attribute) pairs that make the browser fetch something.
LOADING = {
    ("script", "src"), ("link", "href"), ("img", "src"), ("img", "srcset"), ("iframe", "src"),
    ("source", "src"), ("source", "srcset"), ("video", "src"), ("video", "poster"), ("audio", "src"),
    ("embed", "src"), ("object", "data"), ("input", "src"), ("track", "src"),
}
# <link rel=...> values that only name a URL and never fetch it.
NON_FETCHING_RELS = {"canonical", "alternate", "author", "license", "search", "index", "next", "prev", "top"}
REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)  # http://, https://, //host
CSS_REMOTE = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:https?:)?//[^'")\s]+)""", re.IGNORECASE)


class LoadedURLs(HTMLParser):
    """Collects remote URLs in attributes that make the browser load something."""

    def __init__(self) -> None:
        super().__init__()
        self.remote: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and set((values.get("rel") or "").lower().split()) <= NON_FETCHING_RELS:
            if values.get("rel"):
                return
        for name, value in attrs:
            if (tag, name) in LOADING and value and REMOTE.match(value):
                self.remote.append(f"<{tag} {name}={value}>")
        if values.get("style"):
            self.remote += [f"<{tag} style=url({u})>" for u in CSS_REMOTE.findall(values["style"])]


def built_files(*suffixes: str) -> list[Path]:
    return sorted(p for p in HTML.rglob("*") if p.suffix in suffixes and p.is_file())


def test_scan_finds_a_cdn_script() -> None:
    """The scanner itself: it flags remote loads and leaves plain links alone."""
    parser = LoadedURLs()
    parser.feed('<a href="https://example.org">x</a><script src="https://cdn.example/x.js"></script>'
                '<link rel="stylesheet" href="//fonts.example/a.css"><link rel="canonical" href="https://a.b/">'
                '<img src="../_images/a.png">')
    assert parser.remote == ["<script src=https://cdn.example/x.js>", "<link href=//fonts.example/a.css>"]


def test_no_remote_loads_in_html() -> None:
    pages = built_files(".html")
    if not pages:
        pytest.fail(f"no HTML in {HTML}: run `make book-only` first")
    found = {}
    for page in pages:
        parser = LoadedURLs()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        if parser.remote:
            found[page.relative_to(HTML).as_posix()] = sorted(set(parser.remote))
    assert not found, f"pages that load from another host: {found}"


def test_no_remote_urls_in_css() -> None:
    found = {}
    for sheet in built_files(".css"):
        urls = CSS_REMOTE.findall(sheet.read_text(encoding="utf-8", errors="replace"))
        if urls:
            found[sheet.relative_to(HTML).as_posix()] = sorted(set(urls))
    assert not found, f"stylesheets that load from another host: {found}"
