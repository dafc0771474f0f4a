"""The self-check quizzes work in the static book: every answer of every chapter's quiz, clicked in Chromium.

Run after the book build, like test_book_browser.py (`make browser`; needs /usr/bin/chromium and `npm ci` in
tests/browser). The clicking is in check_quizzes.mjs; this file serves the book and reads what it saw.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
QUIZ_DIR = ROOT / "src" / "attention_course" / "data" / "quizzes"
STEMS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def seen() -> dict[str, dict[str, Any]]:
    """Serve _build/html locally and answer every chapter's quiz once."""
    if not (HTML / "index.html").exists():
        pytest.fail(f"no book in {HTML}: build it first (make book-only)")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    if not (HERE / "node_modules" / "playwright-core").exists():
        pytest.fail("playwright-core is not installed: run `npm ci` in tests/browser (make browser does)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, \
                tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as job:
            json.dump({"base": f"http://127.0.0.1:{server.server_address[1]}/", "stems": STEMS,
                       "profile": profile, "chromium": CHROMIUM}, job)
            job.close()
            run = subprocess.run(["node", str(HERE / "check_quizzes.mjs"), job.name],
                                 capture_output=True, text=True, timeout=300, cwd=HERE)
            os.unlink(job.name)
    finally:
        server.shutdown()
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)["pages"]


@pytest.mark.parametrize("stem", STEMS)
def test_card_and_quiz_work_without_a_kernel(seen, stem):
    facts = seen[stem]
    n_questions = len(json.loads((QUIZ_DIR / f"{stem}.json").read_text(encoding="utf-8")))
    assert facts["cards"] == 1, f"{stem}: the chapter card is missing"
    assert facts["questions"] == n_questions, f"{stem}: {facts['questions']} of {n_questions} questions rendered"
    assert not facts["problems"], f"{stem}: wrong feedback: {facts['problems']}"
    assert not facts["external"], f"{stem}: requests to other hosts: {facts['external']}"
    assert not facts["console"], f"{stem}: console errors: {facts['console']}"
