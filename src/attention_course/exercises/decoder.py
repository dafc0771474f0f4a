"""Checkers of chapter 16 (a real decoder): RMSNorm, top-p, repeat_kv."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from ..blocks import rms_norm
from ..models.generation import filter_top_p
from .checking import Case, CheckResult, Hint, case_rng, run_checks

__all__ = ["check_rms_norm", "check_top_p_filter", "check_repeat_kv"]


def _rms_cases() -> Iterator[Case]:
    rng = case_rng()
    x = rng.normal(3.0, 2.0, size=(4, 8))
    w = rng.normal(size=8)
    yield Case(
        "rows (4, 8) with mean 3, random weight", (x, w), rms_norm(x, w)
    )
    x3 = rng.normal(size=(2, 3, 6))
    yield Case("a batch (2, 3, 6)", (x3, np.ones(6)), rms_norm(x3, np.ones(6)))
    row = np.full((1, 5), 2.0)
    yield Case(
        "a constant row (RMSNorm keeps the mean)",
        (row, np.ones(5)),
        rms_norm(row, np.ones(5)),
    )
    tiny = np.array([[1e-4, -1e-4, 0.0, 0.0]])
    yield Case(
        "tiny values (eps matters)",
        (tiny, np.ones(4)),
        rms_norm(tiny, np.ones(4)),
    )
    big = rng.normal(size=(3, 4)) * 1e3
    yield Case("large values", (big, w[:4]), rms_norm(big, w[:4]))


def check_rms_norm(
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray], verbose: bool = True
) -> CheckResult:
    """Check fn(x: (..., d), weight: (d,)) -> RMSNorm(x) * weight, eps 1e-5."""

    def rms(
        c: Case, centred: bool = False, eps: float = 1e-5, std: bool = False
    ) -> np.ndarray:
        x, w = c.args
        if centred:
            x = x - x.mean(-1, keepdims=True)
        scale = (
            x.std(-1, keepdims=True)
            if std
            else np.sqrt((x * x).mean(-1, keepdims=True) + eps)
        )
        return x / scale * w

    hints: list[Hint] = [
        (
            lambda c: rms(c, centred=True),
            "that is layer norm: RMSNorm does not subtract the mean.",
        ),
        (
            lambda c: rms(c, std=True),
            "divide by the root mean square sqrt(mean(x**2) + eps), not the "
            "standard deviation (which subtracts the mean).",
        ),
        (lambda c: rms(c) / c.args[1], "multiply by weight at the end."),
        (lambda c: rms(c, eps=0.0), "add eps = 1e-5 inside the square root."),
        (
            lambda c: (
                c.args[0]
                / np.sqrt((c.args[0] ** 2).mean(0, keepdims=True) + 1e-5)
                * c.args[1]
            ),
            "average over the features (axis=-1) of each row, not over "
            "the rows.",
        ),
    ]
    return run_checks(
        "check_rms_norm", fn, _rms_cases(), hints, atol=1e-6, verbose=verbose
    )


def _top_p_cases() -> Iterator[Case]:
    p = np.array([0.1, 0.4, 0.2, 0.3])
    yield Case("p = 0.5: two tokens reach it", (p, 0.5), filter_top_p(p, 0.5))
    yield Case(
        "p = 0.35: the first token alone reaches it",
        (p, 0.35),
        filter_top_p(p, 0.35),
    )
    yield Case("p = 1.0: keep everything", (p, 1.0), filter_top_p(p, 1.0))
    yield Case(
        "p = 0.05: the single most likely token",
        (p, 0.05),
        filter_top_p(p, 0.05),
    )
    rng = case_rng()
    q = rng.dirichlet(np.ones(50))
    yield Case(
        "50 random probabilities, p = 0.9", (q, 0.9), filter_top_p(q, 0.9)
    )
    five = np.array([0.05, 0.15, 0.25, 0.35, 0.2])
    yield Case(
        "unsorted input, p = 0.55", (five, 0.55), filter_top_p(five, 0.55)
    )


def check_top_p_filter(
    fn: Callable[[np.ndarray, float], np.ndarray], verbose: bool = True
) -> CheckResult:
    """Check fn(probs: (v,), top_p) -> probs of the nucleus, renormalised."""

    def variant(
        c: Case, renormalise: bool = True, strict: bool = False
    ) -> np.ndarray:
        p, top = c.args
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = (
            order[cum <= top]
            if strict
            else order[np.concatenate([[0.0], cum[:-1]]) < top]
        )
        out = np.zeros_like(p)
        out[keep] = p[keep]
        return out / out.sum() if renormalise else out

    hints: list[Hint] = [
        (
            lambda c: variant(c, renormalise=False),
            "divide the kept probabilities by their sum, so they add to 1.",
        ),
        (
            lambda c: variant(c, strict=True),
            "keep the token that crosses top_p too: a token stays if the "
            "mass of "
            "the tokens BEFORE it is still below top_p.",
        ),
    ]
    return run_checks(
        "check_top_p_filter",
        fn,
        _top_p_cases(),
        hints,
        atol=1e-9,
        verbose=verbose,
    )


def _repeat_cases() -> Iterator[Case]:
    rng = case_rng()
    for heads, group, n, d, what in (
        (3, 3, 5, 4, "3 KV heads for 9 query heads (SmolLM2)"),
        (2, 2, 3, 2, "2 KV heads, groups of 2"),
        (1, 4, 2, 3, "one KV head (multi-query)"),
        (4, 1, 3, 2, "group of 1: nothing to repeat"),
    ):
        kv = rng.normal(size=(heads, n, d))
        yield Case(
            f"{what}: kv (num_kv_heads={heads}, n={n}, d={d}), group={group}",
            (kv, group),
            np.repeat(kv, group, axis=0),
        )


def check_repeat_kv(
    fn: Callable[[np.ndarray, int], np.ndarray], verbose: bool = True
) -> CheckResult:
    """Check fn(kv: (h_kv, n, d), group) -> (h_kv * group, n, d), in place."""
    hints: list[Hint] = [
        (
            lambda c: np.tile(c.args[0], (c.args[1], 1, 1)),
            "np.tile puts the copies one after the other "
            "(0, 1, 2, 0, 1, 2): query head h needs KV head "
            "h // group, so repeat each head in place (np.repeat).",
        ),
        (
            lambda c: np.repeat(c.args[0], c.args[1], axis=1),
            "repeat along the head axis (axis=0), not the tokens.",
        ),
    ]
    return run_checks(
        "check_repeat_kv",
        fn,
        _repeat_cases(),
        hints,
        atol=0.0,
        verbose=verbose,
    )
