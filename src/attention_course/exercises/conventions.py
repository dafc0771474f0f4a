"""A failing check also names the conventions the reader's function follows.

The checkers of attention, head splitting and RoPE run the matching
`attention_course.diagnose` probes on a function that failed, and add to the
verdict each axis where it differs from the course (mask polarity, scale,
pairing, ...), so the reader learns which convention they followed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..checks import check_flag
from ..diagnose import Diagnosis
from .checking import CheckResult

__all__ = ["convention_note", "with_conventions"]


def convention_note(fn: Callable[..., Any],
                    diagnose: Callable[..., Diagnosis]) -> str:
    """Lines naming each axis where fn differs from the course, or ''."""
    try:
        report = diagnose(fn)
    except Exception:  # the diagnosis is extra help, never a new error
        return ""
    differ = [f for f in report.disagreements
              if not f.convention.startswith("raises")]
    if not differ:
        return ""
    lines = [f"\n  conventions: yours differs from the course's on "
             f"{len(differ)} axis(es) ({diagnose.__name__}(fn) shows the "
             "probes):"]
    lines += [f"    {f.axis}: {f.convention}" for f in differ]
    return "\n".join(lines)


def with_conventions(result: CheckResult, fn: Callable[..., Any],
                     diagnose: Callable[..., Diagnosis],
                     verbose: bool) -> CheckResult:
    """result, a failing verdict extended by `convention_note`; printed if
    verbose (run the check itself with verbose=False)."""
    verbose = check_flag(verbose, "verbose")
    if not result:
        note = convention_note(fn, diagnose)
        result = dataclasses.replace(result, message=result.message + note)
    if verbose:
        print(result.message)
    return result
