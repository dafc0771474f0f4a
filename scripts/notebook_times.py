"""Print each notebook's execution time from the nbval run's JUnit report, and check the budget.

`make notebooks` runs `pytest --nbval-lax --junitxml=_build/nbval-junit.xml notebooks`; every cell is
one test case with its time. This script adds them up per notebook, prints a table sorted by time
and the total, and exits 1 if a notebook or the total is over budget (a regression guard with a
generous margin, not a benchmark).

Usage: python scripts/notebook_times.py [_build/nbval-junit.xml] [--per-notebook 30] [--total 150]
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path


def notebook_times(report: Path) -> dict[str, float]:
    """Seconds per notebook, summed over its cells' test cases."""
    times: dict[str, float] = defaultdict(float)
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("classname", "") or case.get("file", "")
        notebook = name.replace(".", "/").split("/ipynb")[0].split("/")[-1] or name
        times[notebook] += float(case.get("time", 0.0))
    return dict(times)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", default="_build/nbval-junit.xml", type=Path)
    parser.add_argument("--per-notebook", type=float, default=30.0, help="budget per notebook (s)")
    # 16 chapters: the budget grew from 120 s (14 chapters) with chapters 15 and 16.
    parser.add_argument("--total", type=float, default=150.0, help="budget for all notebooks (s)")
    args = parser.parse_args(argv)
    if not args.report.exists():
        print(f"no report at {args.report}: run `make notebooks` first")
        return 1
    times = notebook_times(args.report)
    width = max((len(n) for n in times), default=10)
    over = [n for n, t in times.items() if t > args.per_notebook]
    for name, seconds in sorted(times.items(), key=lambda item: -item[1]):
        flag = "  OVER BUDGET" if name in over else ""
        print(f"{name:<{width}}  {seconds:7.2f} s{flag}")
    total = sum(times.values())
    print(f"{'total':<{width}}  {total:7.2f} s  (budget {args.total:.0f} s, {args.per_notebook:.0f} s each)")
    return 1 if over or total > args.total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
