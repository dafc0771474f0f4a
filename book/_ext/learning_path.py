"""Sphinx extension: the ``{learning-path}`` directive draws the course's learning path as a table.

The data is the package's ``attention_course/data/learning_path.json``, the same file that writes the
card at the top of every chapter. One row per chapter **that is part of this build** (its notebook is
in ``_toc.yml``); chapters not written yet are left out, so the table never links to a missing page.
Prerequisites that are not part of the build are named in plain text, without a link.

Usage in a MyST page::

    ```{learning-path}
    ```
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def _docname(stem: str) -> str:
    return f"notebooks/{stem}"


class LearningPathDirective(SphinxDirective):
    """Table of the chapters in the build: chapter, what it builds on, outcomes, time."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from attention_course.course import chapter_number, learning_path

        data_file = resources.files("attention_course").joinpath("data", "learning_path.json")
        self.env.note_dependency(str(data_file))  # rebuild this page when the path changes
        chapters = learning_path()
        present = [ch for ch in chapters if _docname(ch["stem"]) in self.env.found_docs]
        if not present:
            return [nodes.paragraph(text="No chapters are part of this build yet.")]

        table = nodes.table(classes=["learning-path"])
        group = nodes.tgroup(cols=4)
        table += group
        for width in (22, 16, 50, 12):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += _row(*([nodes.Text(t)] for t in ("Chapter", "Builds on", "You will be able to", "Time")))
        group += head
        body = nodes.tbody()
        for chapter in present:
            number = chapter_number(chapter["stem"])
            link = self._link(chapter["stem"], f"{number}. {chapter['title']}")
            prerequisites: list[nodes.Node] = []
            for i, stem in enumerate(chapter["prerequisites"]):
                if i:
                    prerequisites.append(nodes.Text(", "))
                text = f"ch. {chapter_number(stem)}"
                prerequisites.append(self._link(stem, text) if _docname(stem) in self.env.found_docs
                                     else nodes.Text(text))
            outcomes = nodes.bullet_list()
            for outcome in chapter["outcomes"]:
                inline, messages = self.state.inline_text(outcome, self.lineno)
                outcomes += nodes.list_item("", nodes.paragraph("", "", *inline, *messages))
            minutes = chapter["minutes"]["reading"] + chapter["minutes"]["exercises"]
            body += _row([link], prerequisites or [nodes.Text("none")], outcomes, [nodes.Text(f"{minutes} min")])
        group += body
        total = sum(ch["minutes"]["reading"] + ch["minutes"]["exercises"] for ch in present)
        hours, mins = divmod(total, 60)
        duration = f"{hours} h {mins:02d} min" if hours else f"{mins} min"
        summary = nodes.paragraph(text=(
            f"{len(present)} of {len(chapters)} chapters, about {duration} in all "
            "(reading and running the code, then the exercises and the quiz)."))
        return [table, summary]

    def _link(self, stem: str, text: str) -> nodes.Node:
        xref = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget="/" + _docname(stem),
                                     refexplicit=True, refwarn=True, refdoc=self.env.docname)
        xref += nodes.inline("", text)
        return xref


def _row(*cells: list[nodes.Node] | nodes.Element) -> nodes.row:
    """A table row: a list of inline nodes becomes a paragraph, a block node (a bullet list) stays as it is."""
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += nodes.paragraph("", "", *cell) if isinstance(cell, list) else cell
        row += entry
    return row


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("learning-path", LearningPathDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
