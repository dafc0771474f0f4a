"""scripts/page_weight.py on tiny fake sites: what it counts, how it compresses, when it fails."""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "page_weight.py"
spec = importlib.util.spec_from_file_location("page_weight", SCRIPT)
assert spec is not None and spec.loader is not None
page_weight = importlib.util.module_from_spec(spec)
sys.modules["page_weight"] = page_weight  # dataclasses look their module up
spec.loader.exec_module(page_weight)

PAGE = """<!DOCTYPE html><html><head>
<link rel="stylesheet" href="../_static/style.css?v=1234">
<link rel="icon" href="../_static/favicon.png">
<link rel="next" href="two.html">
<link rel="stylesheet" href="https://cdn.example.org/never.css">
<script src="../_static/app.js"></script>
<script src="../_static/app.js#again"></script>
</head><body>
<img src="../_images/a%20b.png" srcset="../_images/a%20b.png 1x, ../_images/big.png 2x" alt="a">
<img src="data:image/png;base64,AAAA" alt="inline">
<a href="../_images/linked-only.png">a link is not a load</a>
</body></html>
"""


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6, mtime=0))


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """_build/html with one chapter page, its assets, a font only a script loads, and a tiny second page."""
    html = tmp_path / "html"
    write(html / "index.html", '<meta http-equiv="refresh" content="0; url=ch/one.html">')
    write(html / "ch" / "one.html", PAGE)
    write(html / "ch" / "two.html", "<html><body>two</body></html>")
    write(html / "_static" / "style.css", "body { color: black; }\n" * 200)
    write(html / "_static" / "favicon.png", bytes(range(256)))
    write(html / "_static" / "app.js", "console.log('app');\n" * 500)
    write(html / "_static" / "font.woff2", random.Random(0).randbytes(5000))
    write(html / "_images" / "a b.png", random.Random(1).randbytes(3000))
    write(html / "_images" / "big.png", random.Random(2).randbytes(20_000))
    write(html / "_images" / "linked-only.png", bytes(10**6))
    write(html / "_static" / "unused.js", "x" * 10**6)
    return html


def report(tmp_path: Path, pages: dict[str, list[str]]) -> Path:
    path = tmp_path / "page-requests.json"
    path.write_text(json.dumps({"pages": pages}))
    return path


def run(site: Path, requests: Path | None, *extra: str) -> int:
    args = ["--html", str(site)] + (["--requests", str(requests)] if requests else ["--static-only"])
    return page_weight.main(args + list(extra))


def test_static_references_resolve_against_the_page(site: Path) -> None:
    refs = page_weight.static_references(site / "ch" / "one.html", "ch/one.html")
    assert refs == {"_static/style.css", "_static/favicon.png", "_static/app.js", "_images/a b.png",
                    "_images/big.png"}  # no <link rel=next>, no other host, no data:, no <a href>


def test_site_file() -> None:
    assert page_weight.site_file("../_static/x.js?v=1#frag", "ch/one.html") == "_static/x.js"
    assert page_weight.site_file("/_static/x.js", "ch/one.html") == "_static/x.js"
    assert page_weight.site_file("sub/", "ch/one.html") == "ch/sub/index.html"
    assert page_weight.site_file("//cdn.example.org/x.js", "ch/one.html") is None
    assert page_weight.site_file("../../outside.js", "ch/one.html") is None
    assert page_weight.site_file("#top", "ch/one.html") is None


def test_weight_counts_each_file_once_with_browser_requests(site: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # The browser also saw a font that only a script loads, and the stylesheet again.
    requests = report(tmp_path, {"ch/one.html": ["ch/one.html", "_static/font.woff2", "_static/style.css"],
                                 "ch/two.html": ["ch/two.html"]})
    assert run(site, requests) == 0
    files = ["ch/one.html", "_static/style.css", "_static/favicon.png", "_static/app.js", "_images/a b.png",
             "_images/big.png", "_static/font.woff2"]
    data = [(site / f).read_bytes() for f in files]
    weight = page_weight.weigh_page(page_weight.Sizes(site), "ch/one.html", {"_static/font.woff2"})
    assert sorted(weight.files) == sorted(files)
    assert weight.raw == sum(len(d) for d in data)
    assert weight.gzipped == sum(gz(d) for d in data)
    out = capsys.readouterr().out
    assert "browser requests + HTML references" in out
    lines = out.splitlines()
    rows = [line.split()[0] for line in lines[2:4]]
    assert rows == ["ch/one.html", "ch/two.html"]  # heaviest first
    assert f"{weight.raw / 1e6:.2f} MB" in lines[2] and f"{weight.gzipped / 1e6:.2f} MB" in lines[2]
    heaviest = lines[lines.index(next(x for x in lines if x.startswith("Heaviest files of ch/one.html"))) + 1]
    assert heaviest.endswith("_images/big.png")  # the largest file of the worst page comes first


def test_a_page_over_the_limit_fails(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 9 MB of random bytes: gzip cannot shrink them, so the page sends more than the 2 MB target.
    write(site / "_images" / "huge.png", random.Random(5).randbytes(9 * 10**6))
    write(site / "ch" / "two.html", '<html><body><img src="../_images/huge.png" alt="huge"></body></html>')
    requests = report(tmp_path, {"ch/one.html": [], "ch/two.html": []})
    assert run(site, requests) == 1
    captured = capsys.readouterr()
    assert "ch/two.html" in captured.err and "over 2.00 MB gzip" in captured.err
    assert "OVER THE LIMIT" in captured.out and "ch/two.html, 9.00 MB gzip" in captured.out
    assert run(site, requests, "--limit-mb", "10") == 0


def test_the_uncompressed_guard_catches_what_gzip_hides(site: Path, tmp_path: Path) -> None:
    # 13 MB of zeros: a few kB as sent, but over the 12 MB uncompressed guard.
    write(site / "_images" / "zeros.png", bytes(13 * 10**6))
    write(site / "ch" / "two.html", '<html><body><img src="../_images/zeros.png" alt="zeros"></body></html>')
    requests = report(tmp_path, {"ch/one.html": [], "ch/two.html": []})
    assert run(site, requests) == 1
    assert run(site, requests, "--raw-limit-mb", "14") == 0


def test_a_file_only_the_browser_saw_can_push_a_page_over(site: Path, tmp_path: Path) -> None:
    # Loaded at run time by a script (as MathJax loads its fonts): invisible to a static parse.
    write(site / "_static" / "runtime.bin", random.Random(3).randbytes(9 * 10**6))
    assert run(site, None) == 0
    assert run(site, report(tmp_path, {"ch/one.html": ["_static/runtime.bin"], "ch/two.html": []})) == 1


def test_missing_or_incomplete_browser_report(site: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert run(site, tmp_path / "nothing.json") == 2
    assert "make browser" in capsys.readouterr().err
    assert run(site, report(tmp_path, {"ch/one.html": []})) == 2
    assert "ch/two.html" in capsys.readouterr().err


def test_missing_files_are_reported(site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(site, report(tmp_path, {"ch/one.html": ["_static/gone.woff2"], "ch/two.html": []})) == 0
    assert "_static/gone.woff2" in capsys.readouterr().err


def test_no_site(tmp_path: Path) -> None:
    assert page_weight.main(["--html", str(tmp_path / "none"), "--static-only"]) == 2
