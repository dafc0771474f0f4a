"""Workbooks: every chapter's exercises have marked solutions, the workbook
holds exactly the chapter's code with the solutions stubbed out, and putting
the solutions back gives the chapter again. (`make workbooks` runs every
workbook top to bottom under nbval.)"""

from __future__ import annotations

import ast
import copy
import json
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from attention_course.exercises.workbook import PACKAGE_VERSIONS, until_written

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import make_workbooks as mw  # noqa: E402
import workbooks as ext  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
VERSIONS = set(PACKAGE_VERSIONS)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(nb: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["id"], mw.source(c)) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_exercise_has_a_marked_solution(path: Path) -> None:
    found = mw.layout(load(path), path.name)
    assert not found.problems, "\n".join(found.problems) + (
        "\n(python scripts/make_workbooks.py --tag adds the missing tags)")
    assert sorted(found.exercises) == sorted(found.solutions)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_putting_the_solutions_back_gives_the_chapter(path: Path) -> None:
    chapter = load(path)
    workbook = mw.make_workbook(chapter, path.name, VERSIONS)
    solutions = {c["id"]: mw.source(c) for c in chapter["cells"] if mw.TAG in mw.tags(c)}
    restored = [(cid, solutions.get(cid, text)) for cid, text in code_cells(workbook)]
    assert restored == code_cells(chapter)
    # ... and nothing of a solution is left but signatures, docstrings and checks.
    for cell in workbook["cells"]:
        if mw.TAG not in mw.tags(cell):
            continue
        tree = ast.parse(mw.source(cell))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                assert isinstance(node.body[0], ast.Expr) and isinstance(node.body[1], ast.Raise)
                assert len(node.body) == 2, ast.unparse(node)
            elif isinstance(node, ast.Assert):
                pytest.fail(f"{path.name}: an assert is left in a stub cell: {ast.unparse(node)}")
    text = json.dumps(workbook)
    assert "solution-start" not in text and "solution-end" not in text and "{exercise}" not in text


NOTEBOOK = {"cells": [
    {"cell_type": "markdown", "id": "m0", "metadata": {}, "source": "# A chapter"},
    {"cell_type": "code", "id": "c0", "metadata": {}, "outputs": [], "execution_count": None,
     "source": "import numpy as np\nfrom attention_course.exercises import check_gelu"},
    {"cell_type": "markdown", "id": "m1", "metadata": {}, "source":
        "## Exercises\n\n```{exercise}\n:label: ex-gelu\n\nWrite `my_gelu(x)`.\n```\n\n"
        "```{solution-start} ex-gelu\n:class: dropdown\n```\n\nThe answer is erf."},
    {"cell_type": "code", "id": "c1", "metadata": {"tags": ["solution"]}, "outputs": [],
     "execution_count": None, "source":
        "def my_gelu(x):\n    return x * 0.5 * (1 + erf(x / 2**0.5))\n\n\n"
        "assert check_gelu(my_gelu)  # hidden cases\ny = my_gelu(np.ones(3))\nz = 2"},
    {"cell_type": "markdown", "id": "m2", "metadata": {}, "source":
        "More answer.\n\n```{solution-end}\n```\n\nAfter the exercise."},
    {"cell_type": "code", "id": "c2", "metadata": {}, "outputs": [], "execution_count": None,
     "source": "print(y)"},
], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_a_solution_cell_becomes_stub_checker_and_what_later_cells_need() -> None:
    workbook = mw.make_workbook(copy.deepcopy(NOTEBOOK), "toy", VERSIONS)
    cells = {c["id"]: mw.source(c) for c in workbook["cells"]}
    stub = cells["c1"]
    assert 'raise NotImplementedError("my_gelu is not written yet")' in stub
    assert "my_gelu(x: (...)) -> (...), the exact (erf) GELU." in stub  # the checker's docstring
    assert "\ncheck_gelu(my_gelu)  # hidden cases\n" in stub and "assert" not in stub
    assert "my_gelu = until_written(my_gelu)" in stub  # c2 needs y, so my_gelu runs
    assert stub.index("check_gelu(") < stub.index("until_written(my_gelu)") < stub.index("y = ")
    assert "erf(x" not in stub and "z = 2" not in stub
    assert cells["m1"].startswith("## Exercises\n\n**Exercise** `ex-gelu`\n\nWrite `my_gelu(x)`.")
    assert "answer" not in cells["m1"] + cells["m2"] and cells["m2"] == "After the exercise."
    assert workbook["cells"][1]["id"] == "workbook-header"


def test_a_function_later_cells_need_without_a_package_version_fails() -> None:
    nb = copy.deepcopy(NOTEBOOK)
    nb["cells"][3]["source"] = "def mine(x):\n    return x\n\n\ny = mine(1)"
    with pytest.raises(ValueError, match="a later cell needs mine, which has no package version"):
        mw.make_workbook(nb, "toy", VERSIONS)


def test_an_exercise_without_a_marked_solution_fails(tmp_path: Path) -> None:
    nb = copy.deepcopy(NOTEBOOK)
    nb["cells"][3]["metadata"] = {}
    with pytest.raises(ValueError, match="code cell c1 is inside the solution of ex-gelu but has no 'solution' tag"):
        mw.make_workbook(nb, "toy", VERSIONS)
    path = tmp_path / "99_toy.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert mw.main(["--check", str(path)]) == 1
    assert mw.add_tags(path) == 1 and mw.main(["--check", str(path)]) == 0

    no_solution = copy.deepcopy(NOTEBOOK)
    no_solution["cells"][2]["source"] = "```{exercise}\n:label: ex-lonely\n\nDo it.\n```"
    del no_solution["cells"][3:5]
    problems = mw.layout(no_solution, "toy").problems
    assert problems == ["toy: exercise ex-lonely has no solution code cell tagged 'solution' "
                        "(between solution-start ex-lonely and solution-end)"]
    stray = copy.deepcopy(NOTEBOOK)
    stray["cells"][5]["metadata"] = {"tags": ["solution"]}
    assert "code cell c2 has the 'solution' tag but is not between" in mw.layout(stray, "toy").problems[0]


def test_the_script_writes_workbooks_a_zip_and_the_style(tmp_path: Path) -> None:
    chapters = [CHAPTERS[0], CHAPTERS[4]]
    assert mw.main(["--out", str(tmp_path), *map(str, chapters)]) == 0
    names = sorted(zipfile.ZipFile(tmp_path / "workbooks.zip").namelist())
    assert names == sorted(f"workbooks/{p.name}" for p in [*chapters, ROOT / "notebooks" / "matplotlibrc"])
    assert load(tmp_path / chapters[1].name)["cells"][1]["id"] == "workbook-header"


def test_the_book_links_each_chapter_page_to_its_workbook(tmp_path: Path) -> None:
    app = SimpleNamespace(confdir=str(ROOT), outdir=str(tmp_path), builder=SimpleNamespace(format="html"))
    context = {"body": "<h1>Masks</h1><p>text</p>", "pathto": lambda name, resource: f"../{name}"}
    ext.add_download_link(app, "notebooks/05_masks", "page.html", context, None)
    assert context["body"].startswith('<h1>Masks</h1>\n<p class="workbook-download"><a href='
                                      '"../workbooks/05_masks.ipynb" download>')
    other = {"body": "<h1>Notation</h1>", "pathto": context["pathto"]}
    ext.add_download_link(app, "book/notation", "page.html", other, None)
    assert other["body"] == "<h1>Notation</h1>"


def test_until_written_uses_the_package_until_the_reader_writes() -> None:
    def my_gelu(x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    stand_in = until_written(my_gelu)
    np.testing.assert_allclose(stand_in(np.zeros(2)), 0.0)
    assert stand_in.__name__ == "my_gelu"

    def written(x: np.ndarray) -> np.ndarray:
        return x + 1

    assert until_written(written, package=np.negative)(1.0) == 2.0
    assert until_written(lambda x: None, package=np.negative)(1.0) == -1.0
    def mine() -> None:
        raise NotImplementedError

    with pytest.raises(ValueError, match="no package version of 'mine'"):
        until_written(mine)
    with pytest.raises(TypeError, match="yours must be a function, got int"):
        until_written(3)


def test_until_written_prints_its_note_once(capsys: pytest.CaptureFixture[str]) -> None:
    def my_gelu(x: np.ndarray) -> Any:
        return ...

    stand_in = until_written(my_gelu)
    stand_in(np.zeros(1))
    stand_in(np.zeros(1))
    assert capsys.readouterr().out.count("note: my_gelu is not written yet") == 1


def test_the_capstone_stand_ins_pass_the_capstone_checks() -> None:
    from attention_course.exercises import check_minilm_encoder

    assert check_minilm_encoder(PACKAGE_VERSIONS["my_encoder"], verbose=False)


def test_the_book_build_writes_every_workbook(tmp_path: Path) -> None:
    app = SimpleNamespace(confdir=str(ROOT), outdir=str(tmp_path), builder=SimpleNamespace(format="html"))
    ext.write_workbooks(app, None)
    assert sorted(p.name for p in (tmp_path / "workbooks").glob("*.ipynb")) == [p.name for p in CHAPTERS]
    ext.write_workbooks(app, RuntimeError("the build failed"))  # then nothing is written
