"""Time for the tiny attention model (numpy backprop, Adam) to reach 99% held-out accuracy.

Task: reverse sequences of 10 tokens over a vocabulary of 12 (chapter 10's setting). Each run
trains a freshly seeded model and stops at the first evaluation (every 5 steps, 500 held-out
sequences never seen in training) with token accuracy >= 99%; `train` pins BLAS to one thread
(faster for matrices this small). Prints the median of the runs
and the course target (< 10 s on 2 CPU cores).

Run: PYTHONPATH=src python benchmarks/bench_training.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from attention_course.training import TinyAttentionModel, evaluate, heldout_split, reversal_task, train

TARGET_SECONDS = 10.0
TARGET_ACCURACY = 0.99


def time_to_accuracy(seed: int) -> tuple[float, int, float]:
    """Seconds (wall clock, evaluations included), steps, and final held-out accuracy of one run."""
    inputs, targets = reversal_task(4000, length=10, vocab_size=12, seed=0)
    (train_x, train_y), (test_x, test_y) = heldout_split(inputs, targets, num_test=500)
    model = TinyAttentionModel(vocab_size=12, seq_len=10, d_model=32, seed=seed)
    start = time.perf_counter()
    history = train(model, train_x, train_y, steps=2000, batch_size=64, lr=3e-3, seed=seed,
                    eval_data=(test_x, test_y), eval_every=5, target_accuracy=TARGET_ACCURACY)
    seconds = time.perf_counter() - start
    return seconds, history.steps_run, evaluate(model, test_x, test_y).token_accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="number of seeded runs (default 5)")
    args = parser.parse_args()
    times = []
    for seed in range(args.runs):
        seconds, steps, accuracy = time_to_accuracy(seed)
        reached = "reached" if accuracy >= TARGET_ACCURACY else "MISSED"
        print(f"seed {seed}: {seconds:6.3f} s, {steps:4d} steps, held-out accuracy {accuracy:.4f} ({reached})")
        times.append(seconds if accuracy >= TARGET_ACCURACY else float("inf"))
    median = statistics.median(times)
    print(f"time to {TARGET_ACCURACY:.0%} held-out accuracy: median {median:.3f} s over {args.runs} runs "
          f"(range {min(times):.3f}-{max(times):.3f} s); target < {TARGET_SECONDS:.0f} s; "
          f"ratio to target {median / TARGET_SECONDS:.3f}")
    print("PASS" if median < TARGET_SECONDS else "FAIL")


if __name__ == "__main__":
    main()
