"""Checkers for the coding exercises: run the reader's function on hidden cases, explain the first failure.

Each `check_*` takes the reader's function, runs it on a fixed set of cases (edge cases included:
huge logits, a fully masked row, n_q != n_k, batch and head axes) and compares it with the package.
It prints a verdict and returns a `CheckResult`, which is truthy when every case passed, so a
solution cell can end with `assert check_softmax(my_softmax)`.

The shared machinery is in `checking`; the checkers are grouped by the chapters that use them.
"""

from . import capstone, chapters, core, decoder, lookups_and_costs
from .capstone import *  # noqa: F403
from .chapters import *  # noqa: F403
from .checking import CheckResult
from .core import *  # noqa: F403
from .decoder import *  # noqa: F403
from .lookups_and_costs import *  # noqa: F403

__all__ = ["CheckResult", *core.__all__, *chapters.__all__, *capstone.__all__, *lookups_and_costs.__all__,
           *decoder.__all__]
