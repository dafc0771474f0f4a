"""Chapter 15's language model: step time vs PyTorch, a longer run vs the bigram, induction seeds.

1. Time per training step (forward, backward, Adam) of the numpy `DecoderLM` against the same
   model in PyTorch autograd with `torch.optim.Adam`: chapter 15's shapes (batch 32 x 32
   characters, width 64, 4 heads, 2 blocks, feed-forward 128), float32, both pinned to one
   thread, interleaved. Target <= 1.5x.
2. The chapter's character model trained longer than the notebook can (`--lm-steps`, default
   1500, seq 32, batch 32, peak lr 0.02): held-out bits per character on the last 10% of
   Macbeth, as a ratio to the add-one bigram's. Target <= 0.8x.
3. The chapter's induction-head run (2-block attention-only, 2 heads, width 32, vocabulary 16,
   sequences of 24, 800 steps) for 10 seeds: how many end with an induction score >= 0.5 and a
   repeat loss below half its start. Target 10 of 10.

Run: PYTHONPATH=src python benchmarks/bench_lm.py [--lm-steps 1500] [--seeds 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _timing import Row, fmt_ms, paired_ratio, pinned_threads, report, time_interleaved
from _torch_lm import torch_loss, torch_params

from attention_course.training import (
    Adam,
    CharVocab,
    DecoderLM,
    bigram_bpc,
    heldout_bpc,
    induction_score,
    load_text,
    previous_token_score,
    random_windows,
    repeat_task,
    split_text,
    train_lm,
)
from attention_course.training.grad import IGNORE_INDEX, cross_entropy

SIZES = dict(seq_len=32, d_model=64, num_heads=4, num_layers=2, d_ff=128, dtype=np.float32)


def macbeth() -> tuple[CharVocab, np.ndarray, np.ndarray]:
    """The vocabulary and the train / held-out ids of the chapter."""
    text = load_text("macbeth")
    vocab = CharVocab.from_text(text)
    train, test = split_text(vocab.encode(text), heldout_fraction=0.1)
    return vocab, train, test


def step_times(repeats: int) -> tuple[dict[str, list[float]], float]:
    """Seconds per training step, numpy and torch, and the two first losses' difference."""
    vocab, train, _ = macbeth()
    model = DecoderLM(vocab_size=len(vocab), seed=0, **SIZES)  # type: ignore[arg-type]
    x, y = random_windows(train, 32)(np.random.default_rng(0), 32)
    params = torch_params(model.params)
    numpy_opt = Adam(model.params, lr=1e-3)
    torch_opt = torch.optim.Adam(list(params.values()), lr=1e-3)
    first = {"numpy": model.loss_and_grads(x, y)[0],
             "torch": torch_loss(model, params, x, y).item()}

    def numpy_step() -> None:
        _, grads = model.loss_and_grads(x, y)
        numpy_opt.step(grads)

    def torch_step() -> None:
        torch_opt.zero_grad()
        torch_loss(model, params, x, y).backward()
        torch_opt.step()

    with pinned_threads(1):
        times = time_interleaved({"numpy": numpy_step, "torch": torch_step}, repeats=repeats,
                                 warmup=3)
    return times, abs(first["numpy"] - first["torch"])


def long_run(steps: int) -> tuple[float, float, float]:
    """Held-out bpc of the chapter's model after `steps` steps, the bigram's, and seconds."""
    vocab, train, test = macbeth()
    model = DecoderLM(vocab_size=len(vocab), seed=0, **SIZES)  # type: ignore[arg-type]
    history = train_lm(model, random_windows(train, 32), steps=steps, batch_size=32, lr=0.02,
                       warmup_steps=max(1, steps // 10), min_lr=0.002, seed=0)
    return heldout_bpc(model, test), bigram_bpc(train, test, len(vocab)), history.seconds


def induction_run(seed: int) -> tuple[bool, float, float, float]:
    """The chapter's induction run with this seed: success, repeat loss ratio, scores."""
    probe = repeat_task(np.random.default_rng(123), 200, 24, 16)
    on_repeat = np.where(probe.repeat, probe.targets, IGNORE_INDEX)
    model = DecoderLM(vocab_size=16, seq_len=23, d_model=32, num_heads=2, num_layers=2, d_ff=0,
                      seed=seed, dtype=np.float32)

    def measure(m: DecoderLM) -> dict[str, float]:
        logits, cache = m.forward(probe.inputs)
        first, second = (b["weights"] for b in cache["blocks"])
        return {"repeat": cross_entropy(logits, on_repeat),
                "induction": float(induction_score(second, probe.source).max()),
                "previous": float(previous_token_score(first).max())}

    def batches(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        batch = repeat_task(rng, size, 24, 16)
        return batch.inputs, batch.targets

    start = measure(model)
    train_lm(model, batches, steps=800, batch_size=32, lr=0.01, warmup_steps=80, min_lr=0.001,
             seed=seed)
    end = measure(model)
    ratio = end["repeat"] / start["repeat"]
    return end["induction"] >= 0.5 and ratio < 0.5, ratio, end["induction"], end["previous"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm-steps", type=int, default=1500)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    times, loss_gap = step_times(args.repeats)
    ratio = paired_ratio(times["numpy"], times["torch"])
    print(f"numpy step {fmt_ms(times['numpy'])}, torch step {fmt_ms(times['torch'])}; "
          f"first losses differ by {loss_gap:.1e}")

    bpc, bigram, seconds = long_run(args.lm_steps)
    print(f"{args.lm_steps} steps in {seconds:.1f} s: held-out {bpc:.3f} bits per character, "
          f"bigram {bigram:.3f}")

    successes = 0
    start = time.perf_counter()
    for seed in range(args.seeds):
        ok, repeat_ratio, ind, prev = induction_run(seed)
        successes += ok
        print(f"seed {seed}: repeat loss x{repeat_ratio:.2f}, induction {ind:.2f}, "
              f"previous-token {prev:.2f} -> {'formed' if ok else 'NOT formed'}")
    print(f"{args.seeds} induction runs in {time.perf_counter() - start:.1f} s")

    report("chapter 15 language model", [
        Row("numpy LM training step vs torch autograd (1 thread)", ratio, at_most=1.5,
            detail=f"numpy {1e3 * np.median(times['numpy']):.1f} ms, "
                   f"torch {1e3 * np.median(times['torch']):.1f} ms"),
        Row(f"char LM held-out bpc / bigram's ({args.lm_steps} steps)", bpc / bigram, at_most=0.8,
            detail=f"{bpc:.3f} vs {bigram:.3f} bits per character"),
        Row("induction head forms (seeds)", float(successes), at_least=float(args.seeds), unit="",
            detail=f"{successes} of {args.seeds}: score >= 0.5 and repeat loss halved"),
    ])


if __name__ == "__main__":
    main()
