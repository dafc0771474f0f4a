"""Every chapter notebook is stored clean, listed in the book, seeded, and built to the chapter pattern."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))

import install_cell  # noqa: E402


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def sources(nb, kind):
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(path):
    for cell in load(path)["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{path.name} has stored outputs: run python scripts/clean_notebooks.py")


def test_notebooks_are_clean_per_script():
    result = subprocess.run([sys.executable, "scripts/clean_notebooks.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_listed_in_toc(path):
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert f"notebooks/{path.stem}" in toc, f"{path.name} is not in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_randomness_is_seeded(path):
    code = "\n".join(sources(load(path), "code"))
    assert not re.search(r"np\.random\.(rand|randn|randint|normal|uniform|choice|shuffle|permutation|seed)\(",
                         code), f"{path.name} uses numpy's global random state; use np.random.default_rng(seed)"
    assert not re.search(r"default_rng\(\s*\)", code), f"{path.name} calls default_rng() without a seed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_pattern(path):
    nb = load(path)
    markdown = sources(nb, "markdown")
    assert markdown[0].startswith("# "), f"{path.name} must open with an H1 title"
    headings = [line for text in markdown for line in text.splitlines() if line.startswith("## ")]
    assert "## Summary" in headings and "## Exercises" in headings, f"{path.name} needs Summary and Exercises"
    assert headings.index("## Summary") < headings.index("## Exercises")
    text = "\n".join(markdown)
    assert "```{exercise}" in text and "```{solution-start}" in text and ":class: dropdown" in text
    assert text.count("```{solution-start}") == text.count("```{solution-end}")


def test_exercise_labels_are_unique_across_the_book():
    labels = []
    for path in NOTEBOOKS:
        labels += re.findall(r"```\{exercise\}\n:label: (\S+)", "\n".join(sources(load(path), "markdown")))
    assert len(labels) == len(set(labels)), f"duplicate exercise labels: {sorted(labels)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_shared_install_cell(path):
    first = next(c for c in load(path)["cells"] if c["cell_type"] == "code")
    assert "".join(first["source"]) == install_cell.cell_source(), (
        f"{path.name}: run python scripts/install_cell.py")


def test_install_cell_uses_the_one_repository_url():
    url = install_cell.repository_url()
    assert url.startswith("https://github.com/")
    # The cell spells the package's URL as two strings that Python joins (lines of 79 characters).
    pieces = re.findall(r'^    "(.*)"$', install_cell.cell_source(), flags=re.MULTILINE)
    assert url in "".join(pieces)
    assert url in (ROOT / "README.md").read_text(encoding="utf-8") or url in (
        ROOT / "book" / "intro.md").read_text(encoding="utf-8")


def test_install_cell_is_a_no_op_when_the_package_is_installed(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    exec(compile(install_cell.cell_source(), "install-cell", "exec"), {})
    assert calls == [], "the install cell ran pip although attention_course is importable"


def test_install_cell_installs_when_the_package_is_missing(monkeypatch):
    import importlib.util

    calls = []
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "attention_course" else real_find_spec(name, *a))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: calls.append(cmd))
    exec(compile(install_cell.cell_source(), "install-cell", "exec"), {})
    assert len(calls) == 1 and calls[0][1:4] == ["-m", "pip", "install"]
    assert calls[0][-1].endswith("@v" + install_cell.package_version())
