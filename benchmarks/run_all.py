"""Run every benchmarks/bench_*.py and print one table of all their ratios with targets.

    python benchmarks/run_all.py            # all benchmarks
    python benchmarks/run_all.py sdpa flash # only scripts whose name contains one of the words

Each script runs in its own process (so thread settings and memory do not leak between them)
and reports its rows through `_timing.report`. Exit status 1 if a script fails (a MISS is not a
failure: it is a measurement).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _timing import RESULT_PREFIX, Row, format_table, row_from_dict  # noqa: E402


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(word in s.name for word in argv)]
    rows: list[Row] = []
    failed: list[str] = []
    start = time.perf_counter()
    for script in scripts:
        print(f"\n##### {script.name}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                                cwd=HERE.parent)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(RESULT_PREFIX):
                row = row_from_dict(json.loads(line[len(RESULT_PREFIX):]))
                row.figure = f"{script.stem.removeprefix('bench_')}: {row.figure}"
                rows.append(row)
            else:
                print(line, end="", flush=True)
        if proc.wait() != 0:
            failed.append(script.name)
        print(f"({script.name} took {time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"\n===== all benchmarks ({time.perf_counter() - start:.0f} s) =====")
    if rows:
        print(format_table(rows))
        misses = sum(r.verdict == "MISS" for r in rows)
        passes = sum(r.verdict == "PASS" for r in rows)
        print(f"\n{passes} PASS, {misses} MISS")
    if failed:
        print("FAILED scripts: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
