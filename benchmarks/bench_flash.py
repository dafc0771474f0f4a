"""Tiled (FlashAttention-style) attention vs the package's plain attention: time and peak memory.

Targets (shared notes): time <= 1.0x plain with blocks >= 256; peak extra memory <= 1% of plain at
n=16384, d=64, one head (tracemalloc: it sees numpy's allocations, so the peak is deterministic).
Both run with BLAS pinned to 1 thread (the tiled version is serial Python over tiles).
"""

# ruff: noqa: B023  (the lambdas are timed inside the loop iteration that defines them)
from __future__ import annotations

import tracemalloc

import numpy as np
from _timing import Row, fmt_ms, paired_ratio, pinned_threads, report, time_interleaved, time_once

from attention_course import flash_attention, scaled_dot_product_attention


def peak_bytes_and_seconds(fn) -> tuple[int, float]:
    """Peak bytes allocated (tracemalloc) while fn() runs, and the seconds it took."""
    tracemalloc.start()
    try:
        seconds = time_once(fn)
        return tracemalloc.get_traced_memory()[1], seconds
    finally:
        tracemalloc.stop()


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    n = 4096
    q, k, v = (rng.standard_normal((n, 64), dtype=np.float32) for _ in range(3))
    with pinned_threads(1):
        for causal in (False, True):
            fns = {"plain": lambda: scaled_dot_product_attention(q, k, v, causal=causal)}
            for block in (256, 512):
                fns[f"tiled {block}"] = lambda b=block: flash_attention(q, k, v, b, causal=causal)
            times = time_interleaved(fns, repeats=5)
            label = " causal" if causal else ""
            print(f"n={n}, d=64{label}: " + "  ".join(f"{k_} {fmt_ms(t)}" for k_, t in times.items()))
            for block in (256, 512):
                rows.append(Row(f"tiled (block {block}) vs plain time, n={n}, d=64{label}",
                                paired_ratio(times[f"tiled {block}"], times["plain"]), at_most=1.0))

    # n = 16384: one run of each (plain allocates 1 GiB of weights), timed and traced together;
    # tracemalloc only hooks allocations, so it barely changes the time of numpy-heavy code.
    n = 16384
    q, k, v = (rng.standard_normal((n, 64), dtype=np.float32) for _ in range(3))
    with pinned_threads(1):
        plain_bytes, plain_s = peak_bytes_and_seconds(lambda: scaled_dot_product_attention(q, k, v))
        for block in (256, 512):
            tiled_bytes, tiled_s = peak_bytes_and_seconds(lambda b=block: flash_attention(q, k, v, b))
            print(f"n={n}, d=64, float32: plain {plain_bytes / 2**20:.1f} MiB in {plain_s:.2f} s, "
                  f"tiled (block {block}) {tiled_bytes / 2**20:.2f} MiB in {tiled_s:.2f} s")
            rows.append(Row(f"tiled (block {block}) vs plain time, n={n}, d=64 (1 run)",
                            tiled_s / plain_s, at_most=1.0))
            rows.append(Row(f"tiled (block {block}) vs plain peak memory, n={n}, d=64",
                            100 * tiled_bytes / plain_bytes, at_most=1.0, unit="%",
                            detail=f"{tiled_bytes / 2**20:.2f} MiB vs {plain_bytes / 2**20:.0f} MiB"))
    report("tiled (flash) attention vs plain attention", rows)


if __name__ == "__main__":
    main()
