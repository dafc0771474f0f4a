"""Write the `## Self-check quiz` section at the end of every notebook, after `## Exercises`.

The quiz's questions live in the package (src/attention_course/data/quizzes/<stem>.json), so that the
notebook finds them in Colab, locally and in the book alike; `attention_course.course.show_quiz(stem)`
displays them with jupyterquiz. The code cell is tagged `remove-input`: the book shows only the quiz,
which gives feedback in the browser without a kernel.

Usage: python scripts/chapter_quizzes.py          (update every notebook in notebooks/)
       python scripts/chapter_quizzes.py --check  (exit 1 if a notebook lacks the current quiz section)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUIZ_DIR = ROOT / "src" / "attention_course" / "data" / "quizzes"
HEADING = "## Self-check quiz"
MARKER = "# Self-check quiz:"
INTRO = (f"{HEADING}\n\n"
         "Five to eight quick questions on this chapter. Click an answer, or type a number and press Enter, "
         "to get feedback at once; a wrong answer tells you what went wrong. The quiz runs in your browser, "
         "in the online book too, and records nothing.")


def cell_source(stem: str) -> str:
    """The exact source of the quiz cell of chapter `stem`."""
    return (f"{MARKER} the questions are in the package,\n"
            f"# attention_course/data/quizzes/{stem}.json\n"
            "from attention_course.course import show_quiz\n\n"
            f'show_quiz("{stem}")')


def quiz_cells(stem: str) -> list[dict]:
    """The section heading (markdown) and the quiz (code, shown without its input in the book)."""
    return [
        {"cell_type": "markdown", "id": "self-check-quiz", "metadata": {}, "source": INTRO.splitlines(keepends=True)},
        {"cell_type": "code", "execution_count": None, "id": "self-check-quiz-cell",
         "metadata": {"tags": ["remove-input"]}, "outputs": [], "source": cell_source(stem).splitlines(keepends=True)},
    ]


def is_quiz_cell(cell: dict) -> bool:
    source = "".join(cell["source"])
    return ((cell["cell_type"] == "markdown" and source.startswith(HEADING))
            or (cell["cell_type"] == "code" and source.startswith(MARKER)))


def with_quiz(nb: dict, stem: str) -> dict:
    """The notebook with exactly one quiz section, as its last cells."""
    cells = [c for c in nb["cells"] if not is_quiz_cell(c)]
    return {**nb, "cells": cells + quiz_cells(stem)}


def has_exercises(nb: dict) -> bool:
    return any(c["cell_type"] == "markdown" and any(line.strip() == "## Exercises"
                                                     for line in "".join(c["source"]).splitlines())
               for c in nb["cells"])


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    problems, fatal = [], False
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if not (QUIZ_DIR / f"{path.stem}.json").exists():
            problems.append(f"{path.name}: no quiz data, add {(QUIZ_DIR / (path.stem + '.json')).relative_to(ROOT)}")
            fatal = True
            continue
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        if not has_exercises(nb):
            problems.append(f"{path.name}: no '## Exercises' section; the quiz goes after it")
            fatal = True
            continue
        new_text = dumps(with_quiz(nb, path.stem))
        if new_text != text:
            problems.append(f"{path.name}: missing or outdated self-check quiz section")
            if not check:
                path.write_text(new_text, encoding="utf-8")
    if fatal or (check and problems):
        what = "cannot add every quiz:" if fatal else "run python scripts/chapter_quizzes.py:"
        print(what, *problems, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
