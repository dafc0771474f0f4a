"""Sphinx extension: give every notebook output image a meaningful alt text.

myst-nb writes matplotlib outputs as <img> without an alt attribute, so the HTML writer falls back to
the file name (a sha256 hash), which a screen reader then reads out. This extension sets, for every
image inside a cell output that has no alt text of its own:

- the figure's title, taken from the cell's source (``fig.suptitle("...")``, ``ax.set_title("...")``,
  ``plt.title("...")`` or a ``title="..."`` argument, such as ``plot_attention(..., title=...)``);
  f-string parts computed at run time are read as "…";
- and, when the paragraph right after the cell starts with "Figure:" (the course's caption
  convention), a pointer to that caption, which describes the figure in words.

Without either, the alt text says that the code cell above drew the figure. An alt text set in a
cell's metadata (myst-nb ``image: alt:``) is kept.

It also warns (an error under ``-W``) when a "Figure:" caption follows a code cell that produced no
figure: for instance when the kernel ran with ``MPLBACKEND=Agg``, ``plt.show()`` displays nothing
and every matplotlib figure silently disappears from the book.
"""

from __future__ import annotations

import ast
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

TITLE_METHODS = {"suptitle", "set_title", "title"}


def _text_of(node: ast.expr) -> str | None:
    """The text of a string literal or f-string (run-time parts as '…'); None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else "…" for part in node.values
        )
    return None


def figure_titles(source: str) -> list[str]:
    """Titles a cell's code gives its figures, suptitles first, in source order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # e.g. IPython magics; no title then
        return []
    suptitles: list[str] = []
    titles: list[str] = []
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        name = getattr(call.func, "attr", None) or getattr(call.func, "id", None)
        if name in TITLE_METHODS and call.args:
            text = _text_of(call.args[0])
            if text:
                (suptitles if name == "suptitle" else titles).append(text)
        for keyword in call.keywords:
            if keyword.arg == "title":
                text = _text_of(keyword.value)
                if text:
                    titles.append(text)
    return suptitles or titles


def _caption_follows(cell: nodes.Element) -> bool:
    """Whether the element right after the cell is a paragraph starting with 'Figure:'."""
    parent = cell.parent
    if parent is None:
        return False
    index = parent.index(cell)
    following = parent.children[index + 1] if index + 1 < len(parent.children) else None
    return isinstance(following, nodes.paragraph) and following.astext().lstrip().startswith("Figure:")


def _draws_a_figure(cell: nodes.Element) -> bool:
    """Whether the cell's outputs hold a figure: an image, or HTML with a plotly figure, img or svg."""
    for box in cell.findall(nodes.container):
        if "cell_output" not in box.get("classes", []):
            continue
        if any(True for _ in box.findall(nodes.image)):
            return True
        if any(marker in raw.astext() for raw in box.findall(nodes.raw)
               for marker in ("plotly-graph-div", "<img", "<svg")):
            return True
    return False


def alt_text(source: str, caption_below: bool) -> str:
    """The alt text for the image output of a cell with this source."""
    titles = figure_titles(source)
    described = " (described in the caption below)" if caption_below else ""
    if titles:
        return f"Figure: {'; '.join(titles[:3])}{described}"
    if caption_below:
        return "Figure drawn by the code cell above, described in the caption below"
    return "Figure drawn by the code cell above"


def add_alt_texts(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Set alt on output images of notebook cells that have none."""
    for cell in doctree.findall(nodes.container):
        if "cell" not in cell.get("classes", []):
            continue
        sources = [
            block.astext()
            for box in cell.findall(nodes.container)
            if "cell_input" in box.get("classes", [])
            for block in box.findall(nodes.literal_block)
        ]
        images = [
            image
            for box in cell.findall(nodes.container)
            if "cell_output" in box.get("classes", [])
            for image in box.findall(nodes.image)
            if not image.get("alt")
        ]
        caption_below = _caption_follows(cell)
        if images:
            alt = alt_text("\n".join(sources), caption_below)
            for image in images:
                image["alt"] = alt
        elif caption_below and "cell_input" in {c for box in cell.children for c in box.get("classes", [])} \
                and not _draws_a_figure(cell):
            logger.warning(
                "a 'Figure:' caption follows a code cell that displayed no figure (is MPLBACKEND=Agg set "
                "for the build? the kernel needs matplotlib's inline backend)",
                location=cell, type="figure_alt", subtype="missing_figure",
            )


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-resolved", add_alt_texts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
