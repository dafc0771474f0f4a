"""Weigh every page of the built book: the HTML plus everything it loads, as a static host sends it.

Usage: python scripts/page_weight.py [--html _build/html] [--requests _build/page-requests.json]
                                     [--limit-mb 2] [--raw-limit-mb 12] [--top 10] [--static-only]

A page's weight is the sum of the sizes of its own HTML file and of every local file it loads, each
file counted once per page, both uncompressed and gzip-compressed (level 6, as a static host such as
GitHub Pages or nginx sends text). What a page loads is the union of
  * what headless Chromium requested when it showed the page (the browser test, `make browser`,
    writes _build/page-requests.json): this includes what scripts load at run time, such as
    MathJax's fonts and extensions, the widget manager's icon fonts and the stylesheets' fonts;
  * what the HTML itself references (script, stylesheet, icon, image, source, ... tags): this
    counts lazy images below the fold too, which the browser would fetch on scrolling.
`--static-only` skips the browser report and undercounts (no run-time loads): for a quick look only.

Prints a table of the pages, heaviest first, then the heaviest files of the heaviest page, and
exits 1 if any page is over a limit, 2 if the browser report is missing or incomplete. The limit
(default 2 MB = 2,000,000 bytes) is on what a reader downloads, the gzip size, as the course's
toolchain notes ask ("count page weight as a static host sends it"); a second, looser limit on the
uncompressed size (default 12 MB) guards against growth that compression would hide.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import posixpath
import sys
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
# Folders of the built site that hold no pages of the book (the browser test skips the same ones).
SKIP_DIRS = {"_static", "_sources", "_images", "jupyter_execute", "reports", "_panels_static"}
# <link rel=...> values whose href the browser fetches when the page loads.
FETCHING_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload", "prefetch",
                 "manifest", "mask-icon"}
# (tag, attribute) pairs that make the browser fetch a URL (<link> is handled by its rel).
LOADING = {
    ("script", "src"), ("img", "src"), ("iframe", "src"), ("source", "src"), ("video", "src"),
    ("video", "poster"), ("audio", "src"), ("embed", "src"), ("object", "data"), ("input", "src"),
    ("track", "src"),
}
SRCSETS = {("img", "srcset"), ("source", "srcset")}


class References(HTMLParser):
    """The URLs in an HTML page that the browser fetches when it shows the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value for name, value in attrs if value}
        if tag == "link":
            if set(values.get("rel", "").lower().split()) & FETCHING_RELS and "href" in values:
                self.urls.append(values["href"])
            return
        for name, value in values.items():
            if (tag, name) in LOADING:
                self.urls.append(value)
            elif (tag, name) in SRCSETS:  # "a.png 1x, b.png 2x": every candidate counts (strict)
                self.urls.extend(part.split()[0] for part in value.split(",") if part.strip())


def site_file(url: str, page: str) -> str | None:
    """The site path (relative to the root, posix) a URL on `page` loads, or None if not a local file."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme or parts.netloc or not parts.path:  # another host, data:, or "#anchor"
        return None
    path = urllib.parse.unquote(parts.path)
    joined = path.lstrip("/") if path.startswith("/") else posixpath.join(posixpath.dirname(page), path)
    normal = posixpath.normpath(joined)
    if normal.startswith(".."):
        return None
    return normal + "/index.html" if path.endswith("/") else normal


def static_references(html_file: Path, page: str) -> set[str]:
    """Site paths of the files the HTML of `page` references with loading tags."""
    parser = References()
    parser.feed(html_file.read_text(encoding="utf-8", errors="replace"))
    return {p for p in (site_file(u, page) for u in parser.urls) if p is not None}


def book_pages(html: Path) -> list[str]:
    """Every page of the built book, relative to the root (the root redirect index.html excluded)."""
    pages = []
    for path in html.rglob("*.html"):
        rel = path.relative_to(html)
        if not SKIP_DIRS & set(rel.parts[:-1]) and rel.as_posix() != "index.html":
            pages.append(rel.as_posix())
    return sorted(pages)


@dataclass
class Sizes:
    """Uncompressed and gzip (level 6) sizes of site files, each file read and compressed once."""

    html: Path
    cache: dict[str, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: str) -> tuple[int, int] | None:
        """(bytes, gzip bytes) of one site file, or None if it does not exist."""
        if path not in self.cache:
            file = self.html / path
            if file.is_dir():
                file = file / "index.html"
            if not file.is_file():
                return None
            data = file.read_bytes()
            self.cache[path] = (len(data), len(gzip.compress(data, compresslevel=6, mtime=0)))
        return self.cache[path]


@dataclass
class PageWeight:
    """One page and what it loads."""

    page: str
    files: dict[str, tuple[int, int]]  # site path -> (bytes, gzip bytes), the page's HTML included
    missing: list[str]  # loaded paths that are not in the site (the browser test reports them as 404s)

    @property
    def raw(self) -> int:
        return sum(raw for raw, _ in self.files.values())

    @property
    def gzipped(self) -> int:
        return sum(gz for _, gz in self.files.values())


def weigh_page(sizes: Sizes, page: str, requested: set[str]) -> PageWeight:
    """The weight of `page`: its HTML, what it references statically and what the browser requested."""
    wanted = {page} | static_references(sizes.html / page, page) | requested
    files, missing = {}, []
    for path in sorted(wanted):
        size = sizes.of(path)
        if size is None:
            missing.append(path)
        else:
            files[path] = size
    return PageWeight(page, files, missing)


def load_requests(path: Path, pages: list[str], html: Path) -> dict[str, set[str]]:
    """The browser report: page -> site paths it requested. SystemExit(2) if missing or incomplete."""
    if not path.is_file():
        raise SystemExit(f"page_weight: no browser report at {path}: run the browser test first "
                         f"(`make browser`), or pass --static-only (undercounts what scripts load)")
    report = json.loads(path.read_text())
    requested = {page: set(paths) for page, paths in report["pages"].items()}
    absent = [p for p in pages if p not in requested]
    if absent:
        raise SystemExit(f"page_weight: {path} has no entry for {absent}: it is older than the build; "
                         f"run the browser test again (`make browser`)")
    newest = max((html / p).stat().st_mtime for p in pages)
    if path.stat().st_mtime < newest:
        print(f"page_weight: warning: {path} is older than the built pages; run `make browser` again",
              file=sys.stderr)
    return requested


def mb(n: int) -> str:
    return f"{n / MB:.2f} MB"


def over_limits(w: PageWeight, limit: int, raw_limit: int) -> bool:
    """True if the page sends more than `limit` gzip bytes or holds more than `raw_limit` bytes."""
    return w.gzipped > limit or w.raw > raw_limit


def table(weights: list[PageWeight], limit: int, raw_limit: int, top: int, source: str) -> str:
    """The report: pages heaviest first, then the heaviest files of the heaviest page."""
    width = max(len(w.page) for w in weights)
    lines = [f"Page weight: {len(weights)} pages, each with every file it loads ({source}); "
             f"limits {mb(limit)} gzip, {mb(raw_limit)} uncompressed",
             f"{'page':<{width}}  {'files':>5}  {'uncompressed':>12}  {'gzip -6':>10}"]
    for w in weights:
        flag = "  OVER THE LIMIT" if over_limits(w, limit, raw_limit) else ""
        lines.append(f"{w.page:<{width}}  {len(w.files):>5}  {mb(w.raw):>12}  {mb(w.gzipped):>10}{flag}")
    sent = max(weights, key=lambda w: (w.gzipped, w.page))
    verdict = "within" if sent.gzipped <= limit else "OVER"
    lines += ["", f"Heaviest page as sent: {sent.page}, {mb(sent.gzipped)} gzip ({mb(sent.raw)} uncompressed), "
              f"{verdict} the {mb(limit)} target"]
    worst = weights[0]
    lines += ["", f"Heaviest files of {worst.page} ({mb(worst.raw)}, gzip {mb(worst.gzipped)}):"]
    heaviest = sorted(worst.files.items(), key=lambda item: (-item[1][0], item[0]))[:top]
    lines += [f"  {mb(raw):>10}  {mb(gz):>10}  {path}" for path, (raw, gz) in heaviest]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the built site")
    parser.add_argument("--requests", type=Path, default=ROOT / "_build" / "page-requests.json",
                        help="what the browser test saw each page load")
    parser.add_argument("--limit-mb", type=float, default=2.0,
                        help="target: largest page as sent, gzip (1 MB = 10^6 B)")
    parser.add_argument("--raw-limit-mb", type=float, default=12.0, help="largest page, uncompressed")
    parser.add_argument("--top", type=int, default=10, help="how many of the worst page's files to list")
    parser.add_argument("--static-only", action="store_true", help="ignore the browser report (undercounts)")
    args = parser.parse_args(argv)

    pages = book_pages(args.html)
    if not pages:
        print(f"page_weight: no pages in {args.html}: build the book first (`make book-only`)", file=sys.stderr)
        return 2
    try:
        requested = {} if args.static_only else load_requests(args.requests, pages, args.html)
    except SystemExit as stop:
        print(stop, file=sys.stderr)
        return 2
    sizes = Sizes(args.html)
    weights = sorted((weigh_page(sizes, p, requested.get(p, set())) for p in pages),
                     key=lambda w: (-w.raw, w.page))
    limit, raw_limit = round(args.limit_mb * MB), round(args.raw_limit_mb * MB)
    source = "HTML references only" if args.static_only else "browser requests + HTML references"
    print(table(weights, limit, raw_limit, args.top, source))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:  # on GitHub Actions, the table also goes to the job's summary page
        with open(summary, "a", encoding="utf-8") as out:
            out.write("### Page weight\n\n```\n" + table(weights, limit, raw_limit, args.top, source) + "\n```\n")
    for w in weights:
        if w.missing:
            print(f"page_weight: warning: {w.page} loads files that are not in the site: {w.missing}",
                  file=sys.stderr)
    over = [w for w in weights if over_limits(w, limit, raw_limit)]
    if over:
        print(f"page_weight: {len(over)} page(s) over {mb(limit)} gzip or {mb(raw_limit)} uncompressed: "
              + ", ".join(f"{w.page} ({mb(w.gzipped)} gzip, {mb(w.raw)})" for w in over), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
