"""Package scaled_dot_product_attention vs torch's, float32, same thread count, interleaved medians.

Target (shared notes): <= 1.4x torch at n=1024, d=64, 8 heads. Other shapes are shown for context.
Ratios are medians of per-round ratios (see `_timing.paired_ratio`). The package returns the
(..., n, n) weights by default, torch does not; need_weights=False compares like with like.
"""

# ruff: noqa: B023  (the lambdas are timed inside the loop iteration that defines them)
from __future__ import annotations

import numpy as np
import torch
from _timing import Row, fmt_ms, paired_ratio, pinned_threads, report, time_interleaved

from attention_course import scaled_dot_product_attention

TARGET = 1.4
SHAPES = [  # (batch, heads, n, d); the second is the course's target shape
    (1, 8, 256, 64),
    (1, 8, 1024, 64),
    (2, 8, 512, 64),
    (1, 4, 2048, 64),
    (1, 8, 1024, 128),
]


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for threads in (1, 2):
        for batch, heads, n, d in SHAPES:
            q, k, v = (rng.standard_normal((batch, heads, n, d), dtype=np.float32) for _ in range(3))
            tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
            cases = [("", False)] + ([(" causal", True)] if n == 1024 and d == 64 else [])
            for label, causal in cases:
                with pinned_threads(threads), torch.inference_mode():
                    times = time_interleaved(
                        {
                            "numpy": lambda: scaled_dot_product_attention(q, k, v, causal=causal),
                            "numpy_no_w": lambda: scaled_dot_product_attention(
                                q, k, v, causal=causal, need_weights=False
                            ),
                            "torch": lambda: torch.nn.functional.scaled_dot_product_attention(
                                tq, tk, tv, is_causal=causal
                            ),
                        },
                        repeats=15 if n * n * heads * batch <= 2**23 else 7,
                    )
                name = f"SDPA ({batch},{heads},{n},{d}){label}, {threads} thr"
                print(f"{name}: numpy {fmt_ms(times['numpy'])}  need_weights=False "
                      f"{fmt_ms(times['numpy_no_w'])}  torch {fmt_ms(times['torch'])}")
                headline = (batch, heads, n, d) == (1, 8, 1024, 64) and not causal
                # Median of per-round ratios: steadier than a ratio of medians on a shared machine.
                rows.append(Row(f"{name} vs torch", paired_ratio(times["numpy"], times["torch"]),
                                at_most=TARGET if headline else None))
                rows.append(Row(f"{name}, need_weights=False vs torch",
                                paired_ratio(times["numpy_no_w"], times["torch"])))
    report("package SDPA vs torch SDPA (float32)", rows)


if __name__ == "__main__":
    main()
