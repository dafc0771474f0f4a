"""Workbooks: every chapter notebook with its exercises' answers taken out.

The convention (README, "Working on the course"): an exercise is a
sphinx-exercise `{exercise}` directive with a `:label:`, followed by
`{solution-start} <label>` ... `{solution-end}` in markdown cells. Every code
cell between the two carries the cell tag `solution`, and no other cell does.

In the workbook of a chapter
- each `solution` cell's functions become stubs with the same signature and a
  docstring, raising NotImplementedError; its checker calls (`check_*`) stay,
  without `assert`, so they print a verdict; the rest of the cell goes, except
  the statements that a later cell needs (they stay, and a stub they call is
  wrapped with `until_written`: the package's version stands in for it);
- the solutions' prose goes, and each `{exercise}` directive becomes plain
  Markdown that Jupyter shows.

Usage:
  python scripts/make_workbooks.py [--out DIR] [NOTEBOOK ...]
      write DIR/NN_stem.ipynb for each chapter (default: every notebook in
      notebooks/, DIR = _build/workbooks) and a zip of them all
  python scripts/make_workbooks.py --check [NOTEBOOK ...]
      only check the convention; exit 1 naming each problem
  python scripts/make_workbooks.py --tag [NOTEBOOK ...]
      add the `solution` tag to untagged code cells inside solutions
      (cell metadata only; then run scripts/clean_notebooks.py)
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TAG = "solution"
START = re.compile(r"^(`{3,}|:{3,})\{solution-start\}\s*(\S+)")
END = re.compile(r"^(`{3,}|:{3,})\{solution-end\}")
EXERCISE = re.compile(r"^(`{3,}|:{3,})\{exercise\}")
LABEL = re.compile(r"^:label:\s*(\S+)")


def source(cell: dict[str, Any]) -> str:
    """A cell's source as one string."""
    text = cell.get("source", "")
    return text if isinstance(text, str) else "".join(text)


def tags(cell: dict[str, Any]) -> list[str]:
    """A cell's tags."""
    return list(cell.get("metadata", {}).get("tags", []))


# ---- where the solutions are ------------------------------------------------

@dataclass
class Layout:
    """Exercise labels, and the solution label of every cell inside one."""

    exercises: list[str] = field(default_factory=list)
    solutions: list[str] = field(default_factory=list)
    label_of: dict[int, str] = field(default_factory=dict)  # cell -> label
    problems: list[str] = field(default_factory=list)


def _fence_end(lines: list[str], i: int, fence: str) -> int:
    """Index of the line closing the fence opened at line i."""
    for j in range(i + 1, len(lines)):
        if lines[j].strip() == fence:
            return j
    return len(lines) - 1


def layout(nb: dict[str, Any], name: str) -> Layout:
    """Find the exercises and solutions of a notebook and check the tags."""
    found, inside = Layout(), None
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            lines = source(cell).splitlines()
            for i, line in enumerate(lines):
                if EXERCISE.match(line):
                    labels = [m.group(1) for m in map(LABEL.match, lines[i:])
                              if m]
                    found.exercises.append(labels[0] if labels else "?")
                if (start := START.match(line)) is not None:
                    inside = start.group(2)
                    found.solutions.append(inside)
                elif END.match(line):
                    inside = None
            if inside is not None:
                found.label_of[index] = inside
            continue
        if inside is not None:
            found.label_of[index] = inside
        where = f"{name}, code cell {cell.get('id', index)}"
        if inside is not None and TAG not in tags(cell):
            found.problems.append(f"{where} is inside the solution of "
                                  f"{inside} but has no '{TAG}' tag")
        if inside is None and TAG in tags(cell):
            found.problems.append(f"{where} has the '{TAG}' tag but is not "
                                  "between solution-start and solution-end")
    if inside is not None:
        found.problems.append(f"{name}: the solution of {inside} never ends "
                              "(no solution-end)")
    tagged = {found.label_of.get(i) for i, c in enumerate(nb["cells"])
              if c["cell_type"] == "code" and TAG in tags(c)}
    for label in found.exercises:
        if label not in tagged:
            found.problems.append(
                f"{name}: exercise {label} has no solution code cell tagged "
                f"'{TAG}' (between solution-start {label} and solution-end)")
    return found


# ---- which names later cells need -------------------------------------------

def _stored(node: ast.AST) -> set[str]:
    """Names a top-level statement binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                         ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return {n.id for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _loaded(node: ast.AST) -> set[str]:
    """Names a statement reads from outside itself (function bodies: the
    names that are not their own parameters or locals)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        args = node.args
        params = {a.arg for a in [*args.posonlyargs, *args.args,
                                  *args.kwonlyargs]}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a}
        outer = set().union(*(_loaded(d) for d in
                              [*args.defaults, *args.kw_defaults] if d))
        body = node.body if isinstance(node.body, list) else [node.body]
        local = set().union(*(_stored(s) for s in body)) | params
        inner = set().union(*(_loaded(s) for s in body)) - local
        decorators = set().union(*(_loaded(d) for d in getattr(
            node, "decorator_list", [])))
        return outer | inner | decorators
    names: set[str] = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):
            names.add(child.id)
        else:
            names |= _loaded(child)
    return names


def free_names(code: str) -> set[str]:
    """Names a cell reads before binding them itself."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython magics: no names are tracked
        return set()
    bound: set[str] = set()
    free: set[str] = set()
    for stmt in tree.body:
        free |= _loaded(stmt) - bound
        bound |= _stored(stmt)
    return free


# ---- one solution cell becomes a stub cell ----------------------------------

def _is_check(stmt: ast.stmt) -> ast.Call | None:
    """The check_* call of `check_x(...)` or `assert check_x(...)`, or None."""
    node = stmt.test if isinstance(stmt, ast.Assert) else (
        stmt.value if isinstance(stmt, ast.Expr) else None)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id.startswith("check_")):
        return node
    return None


def _docstring(fn: ast.FunctionDef, checks: list[ast.Call],
               label: str) -> str:
    """The stub's docstring: the solution's own, else the checker's."""
    doc = ast.get_docstring(fn)
    if not doc:
        for call in checks:
            if any(isinstance(a, ast.Name) and a.id == fn.name
                   for a in call.args):
                doc = _checker_doc(call.func.id, fn.name)  # type: ignore
    what = doc or f"See exercise {label} above for what {fn.name} computes."
    return (f"{what}\n\nYour code for exercise {label}: replace the raise "
            "below.")


def _checker_doc(checker: str, name: str) -> str | None:
    """First line of a checker's docstring, about `name` instead of fn."""
    try:
        from attention_course import exercises
    except ImportError:
        return None
    doc = getattr(getattr(exercises, checker, None), "__doc__", None)
    if not doc:
        return None
    line = doc.strip().splitlines()[0]
    return re.sub(r"^Check fn\(", f"{name}(", line)


def _stub(fn: ast.FunctionDef, lines: list[str], doc: str) -> str:
    """def line(s) of fn as written, a docstring, raise NotImplementedError."""
    first = fn.lineno - 1 + len(fn.decorator_list)
    header = "\n".join(lines[first:fn.body[0].lineno - 1]).rstrip()
    if not header.endswith(":"):  # a one-line def: cut before the body
        header = header[:header.rindex(":") + 1]
    indent = " " * (fn.body[0].col_offset or 4)
    body = "\n".join((indent + line) if line else "" for line in
                     doc.splitlines())
    return (f'{header}\n{indent}"""{body.lstrip()}\n{indent}"""\n'
            f'{indent}raise NotImplementedError("{fn.name} is not written '
            'yet")')


def _statement(stmt: ast.stmt, lines: list[str]) -> str:
    """A kept statement as written; a checker loses its `assert`."""
    text = "\n".join(lines[stmt.lineno - 1:stmt.end_lineno])
    if isinstance(stmt, ast.Assert) and _is_check(stmt) and stmt.msg is None:
        text = re.sub(r"^(\s*)assert\s+", r"\1", text)
    return text


def stub_cell(code: str, label: str, needed: set[str],
              package_versions: set[str]) -> tuple[str, set[str]]:
    """The workbook source of a solution cell, and the names it then reads.

    needed: names later cells read. Statements binding them stay, as do the
    checker calls; stubs that kept statements call are wrapped first.
    """
    tree = ast.parse(code)
    lines = code.splitlines()
    defs = [s for s in tree.body if isinstance(s, ast.FunctionDef)]
    stubs = {d.name for d in defs}
    checks = [c for s in tree.body if (c := _is_check(s)) is not None]
    keep: list[ast.stmt] = []
    wanted = set(needed)
    for stmt in reversed(tree.body):
        if isinstance(stmt, ast.FunctionDef):
            continue
        if _is_check(stmt) is not None or _stored(stmt) & wanted:
            keep.insert(0, stmt)
            wanted |= _loaded(stmt)
    parts = [_stub(d, lines, _docstring(d, checks, label)) for d in defs]
    if not defs:
        parts.append(f"# Your code for exercise {label} (see above).")
    wrapped: set[str] = set()
    body: list[str] = []

    def wrap(names: set[str]) -> None:
        for name in sorted(names & stubs - wrapped):
            if name not in package_versions:
                raise ValueError(
                    f"exercise {label}: a later cell needs {name}, which has "
                    "no package version; add one to PACKAGE_VERSIONS in "
                    "attention_course/exercises/workbook.py")
            if not wrapped:
                body.insert(0, "from attention_course.exercises.workbook "
                               "import until_written\n")
            body.append(f"{name} = until_written({name})  # the package's "
                        "version until yours is written")
            wrapped.add(name)

    for stmt in keep:
        call = _is_check(stmt)
        direct = {a.id for a in call.args if isinstance(a, ast.Name)} \
            if call else set()
        wrap(_loaded(stmt) - direct)  # a checker sees the stub itself
        body.append(_statement(stmt, lines))
    wrap(needed)
    if keep and _is_check(keep[-1]) is not None and body[-1] == _statement(
            keep[-1], lines):
        body[-1] = _quiet(keep[-1], body[-1])
    text = "\n\n\n".join(parts) + ("\n\n\n" + "\n".join(body) if body else "")
    # A stub still reads its default arguments (activation=my_gelu).
    defaults = [x for d in defs for x in [*d.args.defaults,
                                          *d.args.kw_defaults] if x]
    reads = (wanted - _stored_all(tree)) | {
        n.id for x in defaults for n in ast.walk(x)
        if isinstance(n, ast.Name)}
    return text, reads


def _quiet(stmt: ast.stmt, text: str) -> str:
    """A cell's last checker call with `;`: the verdict it prints is not
    echoed again as the cell's value."""
    lines = text.splitlines()
    end = stmt.end_col_offset or len(lines[-1])
    if isinstance(stmt, ast.Assert):  # `assert ` was cut from the first line
        end -= 7 if len(lines) == 1 else 0
    lines[-1] = lines[-1][:end] + ";" + lines[-1][end:]
    return "\n".join(lines)


def _stored_all(tree: ast.Module) -> set[str]:
    """Every name a cell binds at top level."""
    return set().union(*(_stored(s) for s in tree.body))


# ---- markdown: the exercises stay, the solutions go -------------------------

def workbook_markdown(text: str, inside: bool) -> tuple[str, bool]:
    """Drop solution text, turn {exercise} into Markdown; inside: whether
    the cell starts inside a solution. Returns (text, inside at the end)."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        if inside:
            if END.match(line):
                inside = False
                fence = line[:len(line) - len(line.lstrip("`:"))]
                i = _fence_end(lines, i, fence)
            i += 1
            continue
        if (start := START.match(line)) is not None:
            inside = True
            i = _fence_end(lines, i, start.group(1)) + 1
            continue
        if (exercise := EXERCISE.match(line)) is not None:
            j = _fence_end(lines, i, exercise.group(1))
            body = lines[i + 1:j]
            label = next((m.group(1) for m in map(LABEL.match, body) if m),
                         "")
            body = [b for b in body if not re.match(r"^:\w+:", b)]
            out += [f"**Exercise** `{label}`", "", *body]
            i = j + 1
            continue
        out.append(line)
        i += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip(), inside


# ---- a whole notebook -------------------------------------------------------

HEADER = ("**This is the workbook of the chapter**: its exercises without the "
          "answers. Each solution is a stub that raises `NotImplementedError`;"
          " write your code in its place and run the cell: the checker below "
          "it prints a verdict (a stub is *not written yet*). Where a later "
          "cell needs one of your functions, the package's version stands in "
          "for it, with a note, until you have written yours. The chapter "
          "with the solutions is in the book.")


def make_workbook(nb: dict[str, Any], name: str,
                  package_versions: set[str]) -> dict[str, Any]:
    """The workbook of notebook `nb` (a new dict); ValueError if the
    solutions are not marked as the convention says."""
    found = layout(nb, name)
    if found.problems:
        raise ValueError("\n".join(found.problems))
    cells = copy.deepcopy(nb["cells"])
    needed: set[str] = set()
    for index in reversed(range(len(cells))):
        cell = cells[index]
        if cell["cell_type"] != "code":
            continue
        if TAG in tags(cell):
            text, reads = stub_cell(source(cell), found.label_of[index],
                                    needed, package_versions)
            needed = (needed - _stored_all(ast.parse(source(cell)))) | reads
            cell["source"] = text
        else:
            needed = (needed - _bound_by(source(cell))) | free_names(
                source(cell))
    kept, inside = [], False
    for cell in cells:
        if cell["cell_type"] == "markdown":
            text, inside = workbook_markdown(source(cell), inside)
            if not text:
                continue
            cell["source"] = text
        kept.append(cell)
    header = {"cell_type": "markdown", "id": "workbook-header",
              "metadata": {"tags": ["workbook"]}, "source": HEADER}
    kept.insert(1, header)
    return {**nb, "cells": kept}


def _bound_by(code: str) -> set[str]:
    """Names a code cell binds (none if it does not parse)."""
    try:
        return _stored_all(ast.parse(code))
    except SyntaxError:
        return set()


def _package_versions() -> set[str]:
    """Names the package can stand in for (attention_course installed)."""
    from attention_course.exercises.workbook import PACKAGE_VERSIONS
    return set(PACKAGE_VERSIONS)


def add_tags(path: Path) -> int:
    """Tag the untagged code cells inside solutions; returns how many."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found, count = layout(nb, path.name), 0
    for index, cell in enumerate(nb["cells"]):
        if (cell["cell_type"] == "code" and index in found.label_of
                and TAG not in tags(cell)):
            cell.setdefault("metadata", {})["tags"] = [*tags(cell), TAG]
            count += 1
    if count:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    return count


def write_workbooks(paths: list[Path], out: Path) -> list[Path]:
    """Write out/NN_stem.ipynb for each notebook, the chapters' matplotlibrc
    and out/workbooks.zip with them all."""
    out.mkdir(parents=True, exist_ok=True)
    versions, written = _package_versions(), []
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        target = out / path.name
        target.write_text(json.dumps(make_workbook(nb, path.name, versions),
                                     indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
        written.append(target)
    # The chapters' figure style: matplotlib reads ./matplotlibrc.
    style = [p.parent / "matplotlibrc" for p in paths[:1]
             if (p.parent / "matplotlibrc").is_file()]
    if style:
        shutil.copyfile(style[0], out / "matplotlibrc")
    with zipfile.ZipFile(out / "workbooks.zip", "w",
                         zipfile.ZIP_DEFLATED) as archive:
        for target in [*written, *(out / s.name for s in style)]:
            archive.write(target, f"workbooks/{target.name}")
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "_build" /
                        "workbooks")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--tag", action="store_true")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.tag:
        for path in paths:
            print(f"{path.name}: tagged {add_tags(path)} cell(s)")
        return 0
    problems = [p for path in paths for p in layout(
        json.loads(path.read_text(encoding="utf-8")), path.name).problems]
    if problems or args.check:
        print("\n".join(problems) or "every exercise has a marked solution")
        return 1 if problems else 0
    written = write_workbooks(paths, args.out)
    print(f"wrote {len(written)} workbooks and workbooks.zip to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
