"""KV-cache decoding speed-up on the toy decoder (d_model 256, 4 heads, 1 layer, float64).

Target (shared notes): >= 15x for 256 new tokens, greedy, tokens identical with and without cache.
BLAS pinned to 1 thread for both.
"""

from __future__ import annotations

import numpy as np
from _timing import Row, median, pinned_threads, report, time_once

from attention_course import ToyDecoder


def main() -> None:
    model = ToyDecoder(vocab_size=64, d_model=256, num_heads=4, seed=0)
    prompt = np.random.default_rng(1).integers(0, 64, size=16)
    new_tokens = 256
    with pinned_threads(1):
        model.generate(prompt, 8, use_cache=True)  # warm up
        cached_times = []
        uncached = time_once(lambda: model.generate(prompt, new_tokens, use_cache=False))
        for _ in range(3):
            cached_times.append(time_once(lambda: model.generate(prompt, new_tokens, use_cache=True)))
        with_cache = model.generate(prompt, new_tokens, use_cache=True)
        without_cache = model.generate(prompt, new_tokens, use_cache=False)
    identical = bool(np.array_equal(with_cache, without_cache))
    per_token = 1e6 * median(cached_times) / new_tokens
    print(f"{new_tokens} new tokens after a {prompt.size}-token prompt: without cache {uncached:.2f} s, "
          f"with cache {median(cached_times):.3f} s ({per_token:.0f} us/token); identical: {identical}")
    if not identical:
        raise SystemExit("tokens differ with and without the KV cache")
    report("KV cache", [Row(f"KV-cache speed-up, {new_tokens} tokens, toy decoder",
                            uncached / median(cached_times), at_least=15.0,
                            detail="tokens identical")])


if __name__ == "__main__":
    main()
