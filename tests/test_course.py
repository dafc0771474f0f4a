"""The learning path (data, chapter cards, the landing page's table) and the quiz sections of the notebooks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from attention_course.course import chapter_card, chapter_card_markdown, chapter_info, chapter_number, learning_path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHAPTERS = learning_path()
STEMS = [ch["stem"] for ch in CHAPTERS]
sys.path.insert(0, str(ROOT / "scripts"))

import chapter_cards  # noqa: E402
import chapter_quizzes  # noqa: E402
import install_cell  # noqa: E402


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    return "".join(cell["source"])


# ---------------------------------------------------------------- the data
def test_every_notebook_has_a_learning_path_entry():
    missing = [p.name for p in NOTEBOOKS if p.stem not in STEMS]
    assert not missing, f"add these chapters to src/attention_course/data/learning_path.json: {missing}"


def test_chapters_are_numbered_in_reading_order():
    numbers = [chapter_number(stem) for stem in STEMS]
    assert numbers == list(range(1, len(STEMS) + 1)), STEMS


def test_prerequisites_are_earlier_chapters_without_cycles():
    position = {stem: i for i, stem in enumerate(STEMS)}
    graph = {}
    for chapter in CHAPTERS:
        prereqs = chapter["prerequisites"]
        assert len(prereqs) == len(set(prereqs)), chapter["stem"]
        for p in prereqs:
            assert p in position, f"{chapter['stem']}: unknown prerequisite {p!r}"
            assert position[p] < position[chapter["stem"]], f"{chapter['stem']}: prerequisite {p} is not earlier"
        graph[chapter["stem"]] = prereqs
    # No cycles, checked directly too (earlier-only already implies it): depth-first search.
    state: dict[str, int] = {}

    def visit(stem: str) -> None:
        assert state.get(stem) != 1, f"cycle through {stem}"
        if state.get(stem) == 2:
            return
        state[stem] = 1
        for p in graph[stem]:
            visit(p)
        state[stem] = 2

    for stem in graph:
        visit(stem)
    assert not CHAPTERS[0]["prerequisites"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=STEMS)
def test_entry_is_complete(chapter):
    assert set(chapter) == {"stem", "title", "prerequisites", "outcomes", "minutes"}
    assert chapter["title"] and chapter["title"] == chapter["title"].strip()
    assert 2 <= len(chapter["outcomes"]) <= 4, "2 to 4 outcomes per chapter"
    for outcome in chapter["outcomes"]:
        assert outcome[0].islower() and not outcome.endswith("."), "outcomes continue 'you will be able to ...'"
    minutes = chapter["minutes"]
    assert set(minutes) == {"reading", "exercises"}
    assert all(isinstance(m, int) and 10 <= m <= 90 for m in minutes.values()), minutes


def test_unknown_chapter_is_a_clear_error():
    with pytest.raises(ValueError, match="no chapter '13_nothing'.*01_attention_as_focus"):
        chapter_info("13_nothing")
    with pytest.raises(ValueError, match="looks like '03_query_key_value'"):
        chapter_number("attention")


# ---------------------------------------------------------------- the card
def test_card_names_prerequisites_outcomes_and_time():
    text = chapter_card_markdown("06_multi_head_attention")
    chapter = chapter_info("06_multi_head_attention")
    assert text.startswith(f"> **Chapter 6 of {len(CHAPTERS)}**")
    assert "chapter 3, *" + chapter_info("03_query_key_value")["title"] + "*" in text
    assert "chapter 5, *" + chapter_info("05_masks")["title"] + "*" in text
    assert all(outcome in text for outcome in chapter["outcomes"])
    total = chapter["minutes"]["reading"] + chapter["minutes"]["exercises"]
    assert f"about {total} minutes" in text
    assert not re.search(r"^>?\s*#", text, flags=re.MULTILINE), "no headings: they would become book sections"
    assert all(line.startswith(">") for line in text.splitlines()), "the whole card is one block quote"


def test_first_chapter_card_has_no_prerequisite_chapters():
    assert "nothing but the course prerequisites" in chapter_card_markdown(STEMS[0])


def test_card_is_displayable_markdown():
    card = chapter_card(STEMS[0])
    assert type(card).__name__ == "Markdown" and card._repr_markdown_() == chapter_card_markdown(STEMS[0])


# ---------------------------------------------------------------- the notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_card_cell_follows_the_install_cell(path):
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    assert source(code[0]) == install_cell.cell_source()
    assert source(code[1]) == chapter_cards.cell_source(path.stem), f"{path.name}: run python scripts/chapter_cards.py"
    assert code[1]["metadata"].get("tags") == ["remove-input"]
    assert sum(source(c).startswith(chapter_cards.MARKER) for c in code) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_quiz_is_the_last_section_after_exercises(path):
    cells = load(path)["cells"]
    heading, quiz = cells[-2], cells[-1]
    assert heading["cell_type"] == "markdown" and source(heading) == chapter_quizzes.INTRO, (
        f"{path.name}: run python scripts/chapter_quizzes.py")
    assert quiz["cell_type"] == "code" and source(quiz) == chapter_quizzes.cell_source(path.stem)
    assert quiz["metadata"].get("tags") == ["remove-input"]
    markdown = [source(c) for c in cells if c["cell_type"] == "markdown"]
    h2 = [line for text in markdown for line in text.splitlines() if line.startswith("## ")]
    assert h2[-1] == "## Self-check quiz" and h2[-2] == "## Exercises", h2[-3:]
    assert h2.count("## Self-check quiz") == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_card_title_is_the_notebook_title(path):
    assert chapter_info(path.stem)["title"] == chapter_cards.notebook_title(load(path)), (
        f"{path.name}: run python scripts/chapter_cards.py (it copies the H1 title into the learning path)")


@pytest.mark.parametrize("script", ["chapter_cards.py", "chapter_quizzes.py"])
def test_scripts_find_nothing_to_do(script):
    result = subprocess.run([sys.executable, f"scripts/{script}", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_scripts_are_idempotent_and_repair_a_notebook():
    nb = load(NOTEBOOKS[0])
    stem = NOTEBOOKS[0].stem
    bare = {**nb, "cells": [c for c in nb["cells"] if not (
        source(c).startswith(chapter_cards.MARKER) or chapter_quizzes.is_quiz_cell(c))]}
    assert chapter_quizzes.with_quiz(chapter_cards.with_card(bare, stem), stem) == nb
    assert chapter_cards.with_card(nb, stem) == nb and chapter_quizzes.with_quiz(nb, stem) == nb
    # A card in the wrong place moves back; an old quiz section is replaced, not duplicated.
    cells = nb["cells"]
    assert source(cells[2]).startswith(chapter_cards.MARKER)
    moved = {**nb, "cells": cells[:2] + cells[3:-2] + [cells[2]] + cells[-2:] + cells[-2:]}
    assert chapter_quizzes.with_quiz(chapter_cards.with_card(moved, stem), stem) == nb


def test_title_sync_changes_only_that_title():
    text = (ROOT / "src/attention_course/data/learning_path.json").read_text(encoding="utf-8")
    new = chapter_cards.sync_title(text, "04_why_scale", 'Why "scale"?')
    assert json.loads(new)["chapters"][3]["title"] == 'Why "scale"?'
    assert new.replace(json.dumps('Why "scale"?'), json.dumps(CHAPTERS[3]["title"])) == text


# ---------------------------------------------------------------- the landing page's table
def test_learning_path_directive_links_only_chapters_in_the_build(tmp_path):
    """A small Sphinx build with three of the chapters: rows only for them, links only to them, no warnings."""
    sphinx_build = pytest.importorskip("sphinx.cmd.build", reason="Sphinx builds the book")
    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    present = ["01_attention_as_focus", "03_query_key_value", "05_masks"]
    for stem in present:
        (src / "notebooks" / f"{stem}.md").write_text(f"# {chapter_info(stem)['title']}\n\nText.\n", encoding="utf-8")
    toctree = "\n".join(f"notebooks/{s}" for s in present)
    (src / "index.md").write_text(f"# Course\n\n```{{learning-path}}\n```\n\n```{{toctree}}\n{toctree}\n```\n",
                                  encoding="utf-8")
    (src / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['myst_parser', 'learning_path']\n", encoding="utf-8")
    out = tmp_path / "out"
    assert sphinx_build.build_main(["-W", "-q", "-b", "html", str(src), str(out)]) == 0
    html = (out / "index.html").read_text(encoding="utf-8")
    table = html[html.index('<table class="learning-path'):html.index("</table>")]
    rows = re.findall(r"<tr.*?</tr>", table, flags=re.DOTALL)[1:]
    assert len(rows) == 3
    links = re.findall(r'href="([^"]+)"', table)
    assert sorted(set(links)) == sorted(f"notebooks/{s}.html" for s in present)
    assert "ch. 2" in rows[1] and 'href="notebooks/02' not in table  # a missing prerequisite: plain text
    assert re.search(r'href="notebooks/03_query_key_value.html"><span class="doc">ch. 3', rows[2])
    assert "<code" in table  # outcomes are parsed as inline markdown
    assert f"3 of {len(CHAPTERS)} chapters" in html


def test_config_registers_the_extension_once_without_duplicate_keys():
    """Two branches adding `local_extensions:` blocks merge silently into duplicate YAML keys (the last wins)."""
    yaml = pytest.importorskip("yaml")

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
            duplicates = sorted({k for k in keys if keys.count(k) > 1})
            assert not duplicates, f"_config.yml line {node.start_mark.line + 1}: duplicate keys {duplicates}"
            return super().construct_mapping(node, deep=deep)

    config = yaml.load((ROOT / "_config.yml").read_text(encoding="utf-8"), Loader=StrictLoader)
    assert config["sphinx"]["local_extensions"]["learning_path"] == "book/_ext"
    assert (ROOT / "book" / "_ext" / "learning_path.py").exists()
    assert "```{learning-path}" in (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
