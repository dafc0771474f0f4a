"""Small shared timing helpers for the benchmark scripts (benchmarks/bench_*.py).

Habits that give stable ratios on a small shared machine (see shared notes on performance):
pin the thread count of BOTH sides (numpy's BLAS through threadpoolctl, torch through
torch.set_num_threads), interleave the variants being compared, repeat, and report medians,
ranges and ratios rather than single times.

Usage:
    from _timing import Row, paired_ratio, pinned_threads, report, time_interleaved

    with pinned_threads(1):
        times = time_interleaved({"numpy": f, "torch": g}, repeats=9)
    ratio = paired_ratio(times["numpy"], times["torch"])
    report("my benchmark", [Row("numpy vs torch", ratio, at_most=1.2)])

`report` prints a table and, for `run_all.py`, one machine-readable line per row.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# Benchmark this checkout's package, not whichever copy happens to be installed.
_SRC = str(Path(__file__).resolve().parent.parent / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

RESULT_PREFIX = "@@result "  # run_all.py collects lines starting with this


@contextlib.contextmanager
def pinned_threads(n: int) -> Iterator[None]:
    """Limit numpy's BLAS (threadpoolctl) and, if it is imported, torch to n threads."""
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def time_once(fn: Callable[[], object]) -> float:
    """Seconds taken by one call of fn()."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_interleaved(
    fns: dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 1
) -> dict[str, list[float]]:
    """Call each fn in turn, `repeats` rounds (after `warmup` untimed rounds); seconds per call."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(time_once(fn))
    return times


def median(ts: list[float]) -> float:
    """Median of a list of times."""
    return statistics.median(ts)


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of numerator[i] / denominator[i] (times from `time_interleaved`).

    Load from other processes drifts over seconds; the two calls of one round see about the same
    load, so the median of per-round ratios is steadier than the ratio of the two medians.
    """
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


def fmt_ms(ts: list[float]) -> str:
    """'median ms [min-max]' of a list of times in seconds."""
    return f"{1e3 * median(ts):8.2f} ms [{1e3 * min(ts):.2f}-{1e3 * max(ts):.2f}]"


@dataclass
class Row:
    """One line of a results table: a figure, its value and an optional target (at_most / at_least)."""

    figure: str
    value: float
    at_most: float | None = None
    at_least: float | None = None
    unit: str = "x"
    detail: str = ""

    @property
    def target(self) -> str:
        if self.at_most is not None:
            return f"<= {self.at_most:g}{self.unit}"
        if self.at_least is not None:
            return f">= {self.at_least:g}{self.unit}"
        return "-"

    @property
    def verdict(self) -> str:
        if self.at_most is not None:
            return "PASS" if self.value <= self.at_most else "MISS"
        if self.at_least is not None:
            return "PASS" if self.value >= self.at_least else "MISS"
        return "info"


def format_table(rows: list[Row]) -> str:
    """The rows as an aligned text table: figure | value | target | verdict | detail."""
    width = max([len(r.figure) for r in rows] + [6])
    lines = [f"{'figure':<{width}}  {'value':>10}  {'target':>10}  verdict  detail"]
    lines.append("-" * len(lines[0]) + "-" * 10)
    for r in rows:
        value = f"{r.value:.3g}{r.unit}" if r.unit in ("x", "%") else f"{r.value:.3g} {r.unit}"
        lines.append(f"{r.figure:<{width}}  {value:>10}  {r.target:>10}  {r.verdict:<7}  {r.detail}")
    return "\n".join(lines)


def report(title: str, rows: list[Row]) -> None:
    """Print the table, plus one '@@result {json}' line per row for run_all.py."""
    print(f"\n== {title} ==")
    print(format_table(rows))
    for r in rows:
        payload = {"source": title, "figure": r.figure, "value": r.value, "at_most": r.at_most,
                   "at_least": r.at_least, "unit": r.unit, "detail": r.detail}
        print(RESULT_PREFIX + json.dumps(payload))
    sys.stdout.flush()


def row_from_dict(payload: dict) -> Row:
    """Rebuild a Row from a '@@result' line's JSON (used by run_all.py)."""
    return Row(payload["figure"], payload["value"], payload.get("at_most"), payload.get("at_least"),
               payload.get("unit", "x"), payload.get("detail", ""))
