"""The numpy SmolLM2-135M decoder against PyTorch, same float32 weights.

    PYTHONPATH=src python benchmarks/bench_decoder.py \
        [--threads 1] [--repeats 3] [--uncached 256]

Figures (targets of issue 15):
- greedy decoding with the KV cache, 64 new tokens after a 16-token prompt,
  time per token numpy / torch (transformers' `generate`, the same GGUF
  dequantized to float32, the same threads): <= 1.3x;
- cached vs uncached numpy decoding of `--uncached` new tokens (256), tokens
  identical: >= 10x;
- first load (dequantize the GGUF) numpy / transformers: <= 1x; a second
  load in a fresh process, from the float32 cache: < 1 s;
- peak resident memory of a fresh process that loads the model and
  generates 64 tokens: < 1.5 GB.
Timings on a shared machine vary; ratios of interleaved runs are the steady
figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from _timing import (
    Row,
    paired_ratio,
    pinned_threads,
    report,
    time_interleaved,
    time_once,
)  # noqa: E402

# Peak RSS from /proc/self/status (VmHWM): ru_maxrss survives exec, so a
# child forked from this large process would report the parent's size.
FRESH_PROCESS = """
import resource, time
t0 = time.perf_counter()
from attention_course.models import generate, load_smollm2
model = load_smollm2()
load = time.perf_counter() - t0
generate(model, list(range(100, 116)), 64, stop_at_eos=False)
try:
    status = open("/proc/self/status").read()
    peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
except (OSError, IndexError):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(load, peak)
"""


def fresh_process(threads: int) -> tuple[float, float]:
    """(seconds to load from the cache, peak RSS bytes) of a new process."""
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        OPENBLAS_NUM_THREADS=str(threads),
    )
    src = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"
    )
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--uncached", type=int, default=256)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM

    from attention_course.models import SmolLM2, generate, smollm2_gguf_path

    path = smollm2_gguf_path()
    with pinned_threads(args.threads):
        torch.set_num_threads(args.threads)
        t_numpy_load = time_once(lambda: SmolLM2.from_gguf(use_cache=False))
        t0 = time.perf_counter()
        ref = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=torch.float32
        ).eval()
        t_torch_load = time.perf_counter() - t0
        model = SmolLM2.from_gguf()  # writes or maps the float32 cache
        prompt = list(np.random.default_rng(0).integers(100, 20000, size=16))
        new = 64

        def numpy_decode() -> list[int]:
            return generate(model, prompt, new, stop_at_eos=False)

        def torch_decode() -> list[int]:
            with torch.no_grad():
                out = ref.generate(
                    torch.tensor([prompt]),
                    attention_mask=torch.ones(1, 16, dtype=torch.long),
                    max_new_tokens=new,
                    min_new_tokens=new,
                    do_sample=False,
                    pad_token_id=2,
                )
            return out[0, 16:].tolist()

        same = numpy_decode() == torch_decode()
        times = time_interleaved(
            {"numpy": numpy_decode, "torch": torch_decode},
            repeats=args.repeats,
        )
        ratio = paired_ratio(times["numpy"], times["torch"])
        n_unc = args.uncached
        t_cached = time_once(
            lambda: generate(model, prompt, n_unc, stop_at_eos=False)
        )
        t_uncached = time_once(
            lambda: generate(
                model, prompt, n_unc, stop_at_eos=False, use_cache=False
            )
        )
        identical = generate(model, prompt, 32, stop_at_eos=False) == generate(
            model, prompt, 32, stop_at_eos=False, use_cache=False
        )
    second_load, peak_rss = fresh_process(args.threads)
    per_np, per_pt = (1e3 * min(times[k]) / new for k in ("numpy", "torch"))
    print(
        f"{new} tokens after 16: numpy {per_np:.1f} ms/token, "
        f"torch {per_pt:.1f} ms/token (best of "
        f"{args.repeats}); same greedy tokens: {same}"
    )
    print(
        f"{n_unc} tokens: cached {t_cached:.1f} s, uncached {t_uncached:.1f} s"
    )
    print(
        f"first load: numpy {t_numpy_load:.1f} s, transformers "
        f"{t_torch_load:.1f} s; second load (fresh process, float32 cache) "
        f"{second_load:.2f} s; peak RSS {peak_rss / 2**30:.2f} GiB"
    )
    report(
        "SmolLM2 decoder",
        [
            Row(
                f"decode ms/token numpy / torch, {args.threads} thread(s)",
                ratio,
                at_most=1.3,
                detail=f"{per_np:.0f} vs {per_pt:.0f} ms/token; "
                f"same tokens: {same}",
            ),
            Row(
                f"cached vs uncached, {n_unc} new tokens",
                t_uncached / t_cached,
                at_least=10.0,
                detail=f"tokens identical (32 checked): {identical}",
            ),
            Row(
                "first load numpy / transformers",
                t_numpy_load / t_torch_load,
                at_most=1.0,
                detail=f"{t_numpy_load:.1f} s vs {t_torch_load:.1f} s",
            ),
            Row(
                "second load, fresh process",
                second_load,
                at_most=1.0,
                unit="s",
            ),
            Row(
                "peak RSS, load + generate 64",
                peak_rss / 2**30,
                at_most=1.5,
                unit="GiB",
            ),
        ],
    )


if __name__ == "__main__":
    main()
