"""The figure style is legible by construction, and no chapter undoes it.

notebooks/matplotlibrc sets the size, resolution and fonts of every figure; these checks read the
chapters' code cells for what would break it: a font below the style's smallest size, more than two
panels side by side, a figure wider than the column, or `tight_layout` (it fights the style's
constrained layout, and its warning fails the -W build). The browser test measures the same figures
on the built pages (tests/browser/test_book_browser.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import pytest

from attention_course.plotting import FIGURE_WIDTH, SMALL_FONT

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STYLE = matplotlib.rc_params_from_file(str(ROOT / "notebooks" / "matplotlibrc"), use_default_template=False)
FONT_KEYS = ["font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize",
             "legend.fontsize", "legend.title_fontsize", "figure.titlesize"]


def code_lines(path: Path) -> list[tuple[int, str]]:
    """(cell number, line) for every line of the notebook's code cells."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(n, line) for n, cell in enumerate(cells) if cell["cell_type"] == "code"
            for line in "".join(cell["source"]).splitlines()]


def test_style_is_legible() -> None:
    assert STYLE["savefig.dpi"] >= 150 and STYLE["figure.dpi"] >= 150
    assert STYLE["figure.constrained_layout.use"] is True
    assert STYLE["figure.figsize"][0] <= FIGURE_WIDTH
    assert min(float(STYLE[key]) for key in FONT_KEYS) >= SMALL_FONT >= 9


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_keeps_the_style(path: Path) -> None:
    problems = []
    for cell, line in code_lines(path):
        for size in re.findall(r"\b(?:fontsize|labelsize)=([0-9.]+)", line):
            if float(size) < SMALL_FONT:
                problems.append(f"cell {cell}: font size {size} < {SMALL_FONT:g}: {line.strip()}")
        for width in re.findall(r"figsize=\(([0-9.]+),", line):
            if float(width) > FIGURE_WIDTH:
                problems.append(f"cell {cell}: figure {width} in wide > {FIGURE_WIDTH:g} in "
                                f"(the column): {line.strip()}")
        for cols in re.findall(r"subplots\(\s*\d+\s*,\s*(\d+)", line):
            if int(cols) > 2:
                problems.append(f"cell {cell}: {cols} panels side by side (at most 2; "
                                f"panel_grid stacks more): {line.strip()}")
        if "tight_layout(" in line:
            problems.append(f"cell {cell}: tight_layout() (the style uses constrained layout): "
                            f"{line.strip()}")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)
