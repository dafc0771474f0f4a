"""Text generation with a decoder: greedy or sampled, cached, streamed.

A decoder gives, after each token, logits over the vocabulary for the next
one. To write, pick a token from the last position's logits, append it, and
repeat:

- greedy: always the most likely token (deterministic; tends to repeat);
- sampling: draw from softmax(logits / temperature), optionally only among
  the top_k most likely tokens and/or the smallest set whose probabilities
  add up to top_p ("nucleus").

With a cache (`use_cache=True`) the prompt runs once and each step feeds only
the newest token; without one every step reruns the whole sequence. Both pick
the same tokens.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..attention import softmax
from ..checks import (
    check_array,
    check_flag,
    check_positive_int,
    check_probabilities,
    check_scalar,
)

if TYPE_CHECKING:  # only for the type hints: no import cycle at run time
    from .smollm2 import SmolLM2

__all__ = [
    "filter_top_k",
    "filter_top_p",
    "generate",
    "generate_stream",
    "next_token_probabilities",
]


def filter_top_k(probs: Any, top_k: int) -> np.ndarray:
    """Keep the top_k largest of probs: (v,) (ties kept), renormalised."""
    p = _check_probs(probs)
    top_k = check_positive_int(top_k, "top_k")
    if top_k >= p.size:
        return p / p.sum()
    threshold = np.partition(p, p.size - top_k)[p.size - top_k]
    kept = np.where(p >= threshold, p, 0.0)
    return kept / kept.sum()


def filter_top_p(probs: Any, top_p: float) -> np.ndarray:
    """Nucleus filter of probs: (v,): the most likely tokens up to mass top_p.

    Sort descending and keep token i if the mass *before* it is still below
    top_p, so the smallest set with mass >= top_p survives (always at least one
    token). Renormalised.
    """
    p = _check_probs(probs)
    top_p = _check_top_p(top_p)
    order = np.argsort(-p, kind="stable")
    # mass of the more likely tokens (a shifted cumsum: subtracting would
    # round)
    before = np.concatenate([[0.0], np.cumsum(p[order])[:-1]])
    kept = np.zeros_like(p)
    keep = order[before < top_p]
    kept[keep] = p[keep]
    return kept / kept.sum()


def _check_probs(probs: Any) -> np.ndarray:
    """probs as a float64 (v,) array of probabilities with a positive sum."""
    p = check_array(probs, "probs", ndim=1).astype(np.float64)
    check_probabilities(p, "probs")
    if not p.sum() > 0:
        raise ValueError(
            f"probs must have a positive sum, got {p.size} zeros or none"
        )
    return p


def _check_top_p(top_p: Any) -> float:
    """top_p as a float in (0, 1], else ValueError."""
    value = check_scalar(top_p, "top_p")
    if not 0.0 < value <= 1.0:
        raise ValueError(f"top_p must lie in (0, 1], got top_p={top_p!r}")
    return value


def next_token_probabilities(
    logits: Any,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
) -> np.ndarray:
    """Sampling distribution (v,) from one position's logits (v,).

    softmax(logits / temperature), then the top-k and top-p filters.
    """
    logits = check_array(logits, "logits", ndim=1, allow_neg_inf=True)
    top_p = _check_top_p(top_p)
    temperature = check_scalar(temperature, "temperature")
    if temperature <= 0:
        raise ValueError(
            "temperature must be > 0 when sampling, got "
            f"temperature={temperature}; "
            "use greedy decoding (sample=False) for the limit temperature -> 0"
        )
    probs = softmax(
        np.asarray(logits, dtype=np.float64), temperature=temperature
    )
    if top_k is not None:
        probs = filter_top_k(probs, top_k)
    if top_p < 1.0:
        probs = filter_top_p(probs, top_p)
    return probs


def _check_generation(
    model: SmolLM2,
    prompt: Any,
    max_new_tokens: Any,
    sample: bool,
    temperature: Any,
    top_k: Any,
    top_p: Any,
    rng: Any,
    **flags: Any,
) -> np.ndarray:
    """Check every argument up front: errors at the call, not mid-stream."""
    from .smollm2 import SmolLM2  # here: smollm2 imports this module

    if not isinstance(model, SmolLM2):
        raise TypeError(
            f"model must be a SmolLM2, got {type(model).__name__}"
        )
    for name, flag in {"sample": sample, **flags}.items():
        check_flag(flag, name)
    try:
        ids = model.check_ids(prompt)
    except (TypeError, ValueError) as err:  # check_ids calls them ids
        raise type(err)(f"prompt: {err}") from err
    if ids.size == 0:
        raise ValueError(
            "prompt must hold at least one token id, got an empty prompt"
        )
    check_positive_int(max_new_tokens, "max_new_tokens", allow_zero=True)
    _check_top_p(top_p)
    if top_k is not None:
        check_positive_int(top_k, "top_k")
    if sample:
        next_token_probabilities(
            np.zeros(2), temperature
        )  # checks temperature
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                "rng must be a np.random.Generator "
                "(e.g. np.random.default_rng(0)) "
                f"when sampling, got {type(rng).__name__}"
            )
    return ids


def generate_stream(
    model: SmolLM2,
    prompt: Sequence[int] | np.ndarray,
    max_new_tokens: int,
    *,
    sample: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    rng: np.random.Generator | None = None,
    use_cache: bool = True,
    stop_at_eos: bool = True,
) -> Iterator[int]:
    """Yield up to max_new_tokens new token ids after prompt (n,), one by one.

    Stops early after the end-of-text token (it is yielded) or when the context
    is full. Greedy unless sample=True (then rng, a np.random.Generator, makes
    it reproducible).
    """
    ids = _check_generation(
        model, prompt, max_new_tokens, sample, temperature, top_k, top_p, rng,
        use_cache=use_cache, stop_at_eos=stop_at_eos,
    )
    return _stream(
        model,
        ids,
        int(max_new_tokens),
        sample,
        temperature,
        top_k,
        top_p,
        rng,
        use_cache,
        stop_at_eos,
    )


def _stream(
    model: SmolLM2,
    ids: np.ndarray,
    max_new_tokens: int,
    sample: bool,
    temperature: float,
    top_k: int | None,
    top_p: float,
    rng: np.random.Generator | None,
    use_cache: bool,
    stop_at_eos: bool,
) -> Iterator[int]:
    """The loop behind `generate_stream` (arguments already checked)."""
    n_ctx = model.config.context_length
    steps = min(max_new_tokens, n_ctx - ids.size)
    cache = model.new_cache(ids.size + steps) if use_cache else None
    tokens = list(ids)
    feed = ids
    for _ in range(steps):
        logits = model.run(feed, cache, last_only=True).logits[-1]
        if sample:
            probs = next_token_probabilities(logits, temperature, top_k, top_p)
            assert rng is not None
            token = int(rng.choice(probs.size, p=probs))
        else:
            token = int(np.argmax(logits))
        yield token
        if stop_at_eos and token == model.config.eos_id:
            return
        tokens.append(token)
        # With a cache only the new token runs; without, the whole sequence
        # again.
        feed = np.array([token]) if cache is not None else np.array(tokens)


def generate(
    model: SmolLM2,
    prompt: Sequence[int] | np.ndarray,
    max_new_tokens: int,
    **kwargs: Any,
) -> list[int]:
    """New token ids after prompt, as a list; options as in generate_stream."""
    return list(generate_stream(model, prompt, max_new_tokens, **kwargs))
