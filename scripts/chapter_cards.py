"""Write the chapter card cell into every notebook, right after the shared install cell.

The card (what the chapter builds on, what you will be able to do, how long it takes) is displayed by
`attention_course.course.chapter_card(stem)` from the package's learning path
(src/attention_course/data/learning_path.json). The cell is tagged `remove-input`: the book shows the
card, not the code. The script also copies each notebook's H1 title into the learning path, so the
cards and the landing page's table use the chapters' real titles.

Usage: python scripts/chapter_cards.py          (update every notebook in notebooks/ and the titles)
       python scripts/chapter_cards.py --check  (exit 1 if a card cell or a title is missing or outdated)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATH_FILE = ROOT / "src" / "attention_course" / "data" / "learning_path.json"
MARKER = "# Chapter card:"
INSTALL_MARKER = "# Course set-up (Colab, Binder, local):"  # the first line of scripts/install_cell.py's cell


def cell_source(stem: str) -> str:
    """The exact source of the card cell of chapter `stem`."""
    return (f"{MARKER} what this chapter builds on, what you will be able to do, and\n"
            "# how long it takes.\n"
            "from attention_course.course import chapter_card\n\n"
            f'chapter_card("{stem}")')


def card_cell(stem: str) -> dict:
    """The cell as notebook JSON; the book shows only its output."""
    return {"cell_type": "code", "execution_count": None, "id": "chapter-card",
            "metadata": {"tags": ["remove-input"]}, "outputs": [],
            "source": cell_source(stem).splitlines(keepends=True)}


def notebook_title(nb: dict) -> str:
    """The H1 title of a notebook (the first line of its first markdown cell)."""
    first = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    line = "".join(first["source"]).splitlines()[0]
    if not line.startswith("# "):
        raise SystemExit(f"the first markdown cell must start with an H1 title, got {line!r}")
    return line[2:].strip()


def with_card(nb: dict, stem: str) -> dict:
    """The notebook with exactly one card cell, right after the install cell (or before the first code cell)."""
    cells = [c for c in nb["cells"] if not (c["cell_type"] == "code" and "".join(c["source"]).startswith(MARKER))]
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    install = next((i for i in code if "".join(cells[i]["source"]).startswith(INSTALL_MARKER)), None)
    index = install + 1 if install is not None else (code[0] if code else len(cells))
    cells.insert(index, card_cell(stem))
    return {**nb, "cells": cells}


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def sync_title(text: str, stem: str, title: str) -> str:
    """The learning-path JSON text with chapter `stem`'s title set to `title` (the rest of the file untouched)."""
    pattern = re.compile(r'("stem": "' + re.escape(stem) + r'",\s*"title": )"(?:[^"\\]|\\.)*"')
    if not pattern.search(text):
        raise SystemExit(f"{PATH_FILE.name}: no entry with stem {stem!r} followed by its title")
    return pattern.sub(lambda m: m.group(1) + json.dumps(title, ensure_ascii=False), text, count=1)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    path_text = PATH_FILE.read_text(encoding="utf-8")
    known = {ch["stem"] for ch in json.loads(path_text)["chapters"]}
    problems = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        stem = path.stem
        if stem not in known:
            problems.append(f"{path.name}: no entry in {PATH_FILE.relative_to(ROOT)} (add stem, title, "
                            "prerequisites, outcomes, minutes)")
            continue
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        new_path_text = sync_title(path_text, stem, notebook_title(nb))
        if new_path_text != path_text:
            problems.append(f"{path.name}: its title differs from the learning path's")
            path_text = new_path_text
        new_text = dumps(with_card(nb, stem))
        if new_text != text:
            problems.append(f"{path.name}: missing or outdated chapter card cell")
            if not check:
                path.write_text(new_text, encoding="utf-8")
    unknown = [p for p in problems if "no entry" in p]
    if not check and path_text != PATH_FILE.read_text(encoding="utf-8"):
        json.loads(path_text)  # still valid JSON
        PATH_FILE.write_text(path_text, encoding="utf-8")
    if unknown or (check and problems):
        what = "fix the learning path:" if unknown else "run python scripts/chapter_cards.py:"
        print(what, *problems, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
