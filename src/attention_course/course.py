"""The course around the code: the learning path (chapter cards) and the self-check quizzes.

Both read data files shipped inside the package (`attention_course/data/`), so they work the same
locally, in Colab (where only the notebook is downloaded, and the install cell installs the package
with its data) and in the built book. The quizzes are rendered by jupyterquiz as HTML + JavaScript
that runs in the browser: they give feedback in the static book, with no kernel and no network.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "chapter_card",
    "chapter_card_markdown",
    "chapter_info",
    "learning_path",
    "quiz_outputs",
    "quiz_questions",
    "show_quiz",
]

STEM_PATTERN = re.compile(r"^(\d{2})_[a-z0-9_]+$")
# Keys of a question that are the course's own (for tests), not jupyterquiz's.
COURSE_ONLY_KEYS = {"id"}


@cache
def _read_json(*parts: str) -> Any:
    """Parsed JSON of the package data file data/<parts...> (read once per process)."""
    return json.loads(resources.files("attention_course").joinpath("data", *parts).read_text(encoding="utf-8"))


def learning_path() -> list[dict[str, Any]]:
    """All chapters in reading order: dicts with stem, title, prerequisites, outcomes, minutes."""
    return [dict(ch) for ch in _read_json("learning_path.json")["chapters"]]


def chapter_info(stem: str) -> dict[str, Any]:
    """The learning-path entry of the chapter whose notebook is notebooks/<stem>.ipynb."""
    for chapter in learning_path():
        if chapter["stem"] == stem:
            return chapter
    known = ", ".join(ch["stem"] for ch in learning_path())
    raise ValueError(f"no chapter {stem!r} in the learning path; known chapters: {known}")


def chapter_number(stem: str) -> int:
    """The chapter number written at the start of its stem: '03_query_key_value' -> 3."""
    match = STEM_PATTERN.match(stem)
    if not match:
        raise ValueError(f"a chapter stem looks like '03_query_key_value', got {stem!r}")
    return int(match.group(1))


def _minutes(chapter: dict[str, Any]) -> str:
    reading, exercises = chapter["minutes"]["reading"], chapter["minutes"]["exercises"]
    return (f"about {reading + exercises} minutes: {reading} to read and run the code, "
            f"{exercises} for the exercises and the quiz")


def chapter_card_markdown(stem: str) -> str:
    """The chapter's card as Markdown: what it builds on, what you will be able to do, how long it takes."""
    chapter = chapter_info(stem)
    total = len(learning_path())
    if chapter["prerequisites"]:
        before = "; ".join(f"chapter {chapter_number(p)}, *{chapter_info(p)['title']}*"
                           for p in chapter["prerequisites"])
    else:
        before = "nothing but the course prerequisites (Python, NumPy arrays, dot products)"
    outcomes = "\n".join(f"> - {outcome}" for outcome in chapter["outcomes"])
    # A block quote, not headings: headings in an output would become sections of the book page.
    return (f"> **Chapter {chapter_number(stem)} of {total}** · {_minutes(chapter)}\n>\n"
            f"> **Builds on:** {before}.\n>\n"
            f"> **After this chapter you will be able to:**\n>\n{outcomes}\n")


def chapter_card(stem: str) -> Any:
    """The chapter's card as an IPython Markdown object (the last expression of a cell displays it)."""
    from IPython.display import Markdown

    return Markdown(chapter_card_markdown(stem))


def quiz_questions(stem: str) -> list[dict[str, Any]]:
    """The chapter's quiz questions in jupyterquiz's format (course-only keys such as 'id' removed)."""
    chapter_info(stem)  # a clear error for an unknown chapter
    try:
        questions = _read_json("quizzes", f"{stem}.json")
    except FileNotFoundError:
        raise ValueError(f"no quiz for chapter {stem!r}: add attention_course/data/quizzes/{stem}.json") from None
    return [{k: v for k, v in q.items() if k not in COURSE_ONLY_KEYS} for q in questions]


# jupyterquiz 2.9.6.4 loads MathJax 3 from a CDN when the page's MathJax has no `typeset` yet. The course
# never wants that (the book serves its own MathJax, and the questions contain no math): drop that branch.
_CDN_FALLBACK = re.compile(r"console\.log\('WARNING: Trying to force load MathJax 3'\);.*?\}\)\(\);", re.DOTALL)
_MATHJAX_CHECK = re.compile(r"typeof MathJax !==? 'undefined'")
# Darker Okabe-Ito bluish green and vermillion: distinguishable with colour-blindness, readable with white
# text (contrast above 4.5:1); the feedback text also starts with "Correct" or "Not quite".
QUIZ_COLOURS = {"--jq-correct-color": "#007a5a", "--jq-incorrect-color": "#b34700"}


def quiz_outputs(questions: list[dict[str, Any]], div_id: str) -> tuple[str, str]:
    """The quiz's HTML (container and styles) and its JavaScript, as jupyterquiz's display_quiz builds them.

    The script carries the questions inline and loads nothing from the network.
    """
    from jupyterquiz.dynamic.loader import load_questions_script
    from jupyterquiz.dynamic.renderer import build_script, build_styles, render_div

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", div_id):
        raise ValueError(f"div_id must be a JavaScript identifier (jupyterquiz uses it as one), got {div_id!r}")
    prefix, static, url = load_questions_script(list(questions), div_id)
    html = render_div(div_id, False, True, False, 1_000_000, 700, 10, "left")
    colours = {
        "--jq-multiple-choice-bg": "#392061", "--jq-mc-button-bg": "#fafafa", "--jq-mc-button-border": "#e0e0e0e0",
        "--jq-mc-button-inset-shadow": "#555555", "--jq-many-choice-bg": "#f75c03ff", "--jq-numeric-bg": "#392061ff",
        "--jq-numeric-input-bg": "#c0c0c0", "--jq-numeric-input-label": "#101010",
        "--jq-numeric-input-shadow": "#999999", "--jq-string-bg": "#4c1a57", "--jq-text-color": "#fafafa",
        "--jq-link-color": "#9abafa", **QUIZ_COLOURS,
    }
    html += build_styles(div_id, colours) + "</div>"  # jupyterquiz leaves the container open
    script, replaced = _CDN_FALLBACK.subn("/* attention_course: never load MathJax from a CDN */",
                                          build_script(prefix, static, url, div_id, True))
    # Typeset only with a loaded MathJax: a page whose MathJax is still a configuration object (no version)
    # made jupyterquiz throw "Cannot read properties of undefined" on every click.
    script, guarded = _MATHJAX_CHECK.subn(r"\g<0> && typeof MathJax.version == 'string'", script)
    if replaced != 2 or guarded != 6 or "://" in script:
        raise RuntimeError("jupyterquiz's script changed (expected jupyterquiz 2.9.6.4): it may load from the "
                           "network; update attention_course.course.quiz_outputs")
    return html, script


def show_quiz(stem: str) -> None:
    """Display the chapter's self-check quiz (works in Jupyter, Colab and the static book, no kernel needed)."""
    from IPython.display import HTML, Javascript, display

    chapter_number(stem)
    html, script = quiz_outputs(quiz_questions(stem), f"quiz_{stem}")
    display(HTML(html))
    display(Javascript(script))
