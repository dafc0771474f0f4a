"""Checkers for chapters 2, 3, 4, 7, 8, 9, 10 and 15: scores, one query, scale, order, RoPE, blocks,
gradients, Adam."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from ..attention import scaled_dot_product_attention, softmax
from ..blocks import TransformerBlock, gelu
from ..diagnose import diagnose_rope
from ..positions import apply_rope
from ..training.grad import gelu_backward
from ..training.optim import Adam
from .checking import Case, CheckResult, Hint, case_rng, run_checks, unit_length
from .conventions import with_conventions

__all__ = [
    "check_log_softmax",
    "check_cosine_attention",
    "check_attention_one_query",
    "check_score_scale",
    "check_permutation_matrix",
    "check_rope",
    "check_block_parameters",
    "check_gelu_derivative",
    "check_adam_step",
]


# ---- chapter 2: log-softmax, cosine attention -------------------------------------------------

def _log_softmax(x: np.ndarray) -> np.ndarray:
    """Reference log-softmax over the last axis by log-sum-exp (exact where log(softmax) underflows)."""
    m = np.max(x, axis=-1, keepdims=True)
    return x - (m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)))


def _log_softmax_cases() -> Iterator[Case]:
    rng = case_rng()
    x = np.array([2.0, 1.0, 0.1, -1.0])
    yield Case("the four scores of chapter 2", (x,), _log_softmax(x))
    x = rng.normal(size=(4, 6))
    yield Case("a (4, 6) matrix: one log-softmax per row", (x,), _log_softmax(x))
    x = np.array([1e4, 0.0])
    yield Case("x = [1e4, 0]: exp(-1e4) underflows to 0", (x,), np.array([0.0, -1e4]))
    x = np.array([[1000.0, 999.0, 998.0], [-1e4, 0.0, 1e4]])
    yield Case("huge logits, rows of very different size", (x,), _log_softmax(x))
    x = rng.normal(size=(2, 3, 5))
    yield Case("batch axes (2, 3, 5)", (x,), _log_softmax(x))


def _log_softmax_global(case: Case) -> np.ndarray:
    x = case.args[0]
    m = x.max()
    return x - (m + np.log(np.sum(np.exp(x - m))))


def check_log_softmax(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (..., n)) -> (..., n), log(softmax(x)) over the last axis, exact for huge gaps."""
    hints: list[Hint] = [
        (lambda c: np.log(softmax(c.args[0])), "log(softmax(x)) takes the log of weights that underflowed to 0 "
                                               "(-inf); use x - (m + log(sum(exp(x - m)))) with m = max(x)."),
        (lambda c: c.args[0] - np.log(np.sum(np.exp(c.args[0] - c.args[0].max(-1, keepdims=True)), axis=-1,
                                             keepdims=True)),
         "you subtracted the maximum inside the exp: add m back, x - (m + log(sum(exp(x - m))))."),
        (_log_softmax_global, "take the maximum and the sum of each row: axis=-1, keepdims=True, "
                              "not of the whole array."),
    ]
    return run_checks("check_log_softmax", fn, _log_softmax_cases(), hints, verbose=verbose)


def _cosine_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    return scaled_dot_product_attention(unit_length(q), unit_length(k), v, scale=1.0)[0]


def _cosine_cases() -> Iterator[Case]:
    rng = case_rng()
    q, k, v = np.array([[1.0, 0.0]]), np.array([[1.0, 0.2], [3.0, 3.0], [-1.0, 0.5]]), np.eye(3)
    yield Case("chapter 2's query and three keys, one-hot values", (q, k, v), _cosine_attention(q, k, v))
    q, k, v = rng.normal(size=(2, 8)), rng.normal(size=(5, 8)), rng.normal(size=(5, 3))
    yield Case("n_q=2 queries, n_k=5 keys, d=8", (q, k, v), _cosine_attention(q, k, v))
    k = k * np.array([[1.0], [1e3], [1.0], [1e-3], [1.0]])
    yield Case("keys of very different lengths (1e-3 to 1e3)", (q, k, v), _cosine_attention(q, k, v))
    q, k, v = rng.normal(size=(2, 3, 4, 6)), rng.normal(size=(2, 3, 5, 6)), rng.normal(size=(2, 3, 5, 2))
    yield Case("batch and head axes (2, 3, ...)", (q, k, v), _cosine_attention(q, k, v))


def check_cosine_attention(fn: Callable[..., np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(q: (..., n_q, d), k: (..., n_k, d), v: (..., n_k, d_v)) -> softmax(cos(q, k)) v: (..., n_q, d_v)."""
    hints: list[Hint] = [
        (lambda c: scaled_dot_product_attention(c.args[0], c.args[1], c.args[2], scale=1.0)[0],
         "scale each query and key to length 1 first (divide by np.linalg.norm(..., axis=-1, keepdims=True))."),
        (lambda c: scaled_dot_product_attention(unit_length(c.args[0]), unit_length(c.args[1]), c.args[2])[0],
         "cosine scores need no 1/sqrt(d) scale: pass scale=1.0."),
        (lambda c: scaled_dot_product_attention(unit_length(c.args[0], -2), unit_length(c.args[1], -2), c.args[2],
                                                scale=1.0)[0],
         "divide each vector (a row, axis=-1) by its own length, not each feature (axis=-2)."),
        (lambda c: scaled_dot_product_attention(c.args[0], unit_length(c.args[1]), c.args[2], scale=1.0)[0],
         "normalise the queries too, not only the keys."),
    ]
    return run_checks("check_cosine_attention", fn, _cosine_cases(), hints, verbose=verbose)


# ---- chapter 3: one query by hand -------------------------------------------------------------

def _one_query(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float | None = None) -> np.ndarray:
    return scaled_dot_product_attention(q[None, :], k, v, scale=scale)[0][0]


def _one_query_cases() -> Iterator[Case]:
    rng = case_rng()
    q, k, v = rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    yield Case("d_k=3, n_k=5 keys, d_v=3", (q, k, v), _one_query(q, k, v))
    q, k, v = rng.normal(size=8), rng.normal(size=(2, 8)), rng.normal(size=(2, 4))
    yield Case("d_k=8, n_k=2 keys, d_v=4", (q, k, v), _one_query(q, k, v))
    q, k, v = rng.normal(size=4), rng.normal(size=(1, 4)), rng.normal(size=(1, 2))
    yield Case("a single key: its value is the output", (q, k, v), _one_query(q, k, v))
    q, k, v = 30 * rng.normal(size=4), 30 * rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
    yield Case("large scores (saturated softmax)", (q, k, v), _one_query(q, k, v))


def check_attention_one_query(fn: Callable[..., np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(q: (d_k,), k: (n_k, d_k), v: (n_k, d_v)) -> output (d_v,), attention of one query."""
    hints: list[Hint] = [
        (lambda c: _one_query(c.args[0], c.args[1], c.args[2], scale=1.0),
         "divide the scores by sqrt(d_k) before the softmax."),
        (lambda c: _one_query(c.args[0], c.args[1], c.args[2], scale=1.0 / c.args[0].shape[-1]),
         "the scale is 1/sqrt(d_k), not 1/d_k."),
        (lambda c: (c.args[1] @ c.args[0] / math.sqrt(c.args[0].shape[-1])) @ c.args[2],
         "turn the scores into weights with softmax before mixing the values."),
    ]
    return run_checks("check_attention_one_query", fn, _one_query_cases(), hints, verbose=verbose)


# ---- chapter 4: the scale for entries of any spread -------------------------------------------

def check_score_scale(fn: Callable[[int, float], float], verbose: bool = True) -> CheckResult:
    """Check fn(d_k, sigma) -> the factor that gives q . k unit variance when q, k have entries N(0, sigma^2)."""
    cases = [Case(f"d_k = {d}, sigma = {s}", (d, s), 1.0 / (s * s * math.sqrt(d)))
             for d, s in [(64, 1.0), (32, 2.0), (100, 0.5), (1, 3.0)]]
    hints: list[Hint] = [
        (lambda c: 1.0 / (c.args[1] * math.sqrt(c.args[0])),
         "both q and k carry sigma: each product q_i k_i has variance sigma^4, so divide by sigma^2."),
        (lambda c: 1.0 / math.sqrt(c.args[0]), "1/sqrt(d_k) assumes sigma = 1; account for sigma too."),
        (lambda c: 1.0 / (c.args[1] ** 2 * c.args[0]), "the square root applies to d_k as well: divide by "
                                                       "sqrt(d_k) sigma^2, not d_k sigma^2."),
        (lambda c: 1.0 / (c.args[1] ** 4 * c.args[0]), "that is one over the variance; the scale is one over "
                                                       "the standard deviation, its square root."),
    ]
    return run_checks("check_score_scale", fn, cases, hints, atol=1e-12, verbose=verbose)


# ---- chapter 7: permutation matrices ----------------------------------------------------------

def check_permutation_matrix(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(perm: (n,) ints) -> P: (n, n) with P @ x == x[perm] for every x: (n, ...)."""
    perms = [np.array([2, 0, 1]), np.arange(4), np.array([3, 1, 4, 0, 2, 5]), np.array([0])]
    cases = [Case(f"perm = {p.tolist()}", (p,), np.eye(len(p))[p]) for p in perms]
    hints: list[Hint] = [
        (lambda c: np.eye(len(c.args[0]))[:, c.args[0]],
         "that is the transpose (it undoes the permutation): row i of P must be the one-hot vector of "
         "perm[i], so that (P @ x)[i] = x[perm[i]]; use np.eye(n)[perm]."),
    ]
    return run_checks("check_permutation_matrix", fn, cases, hints, verbose=verbose)


# ---- chapter 8: rotary embeddings -------------------------------------------------------------

def _rope_cases() -> Iterator[Case]:
    rng = case_rng()
    x, pos = rng.normal(size=(6, 32)), np.array([0, 1, 2, 5, 50, 1000])
    yield Case("x (6, 32) at positions 0, 1, 2, 5, 50, 1000", (x, pos), apply_rope(x, pos))
    x, pos = rng.normal(size=(3, 4)), np.array([7, 3, 11])
    yield Case("x (3, 4) at positions 7, 3, 11 (not in order)", (x, pos), apply_rope(x, pos))
    x, pos = rng.normal(size=(2, 3, 5, 8)), np.arange(5)
    yield Case("batch and head axes: x (2, 3, 5, 8)", (x, pos), apply_rope(x, pos))


def _rope_half_split(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """RoPE pairing feature i with i + d/2 (the Llama 'rotate_half' convention)."""
    half = x.shape[-1] // 2
    perm = np.concatenate([np.arange(0, 2 * half, 2), np.arange(1, 2 * half, 2)])  # interleaved -> halves
    return apply_rope(x[..., np.argsort(perm)], positions)[..., perm]


def check_rope(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (..., n, d), positions: (n,)) -> (..., n, d), RoPE with interleaved pairs, base 10000."""
    hints: list[Hint] = [
        (lambda c: apply_rope(c.args[0], -c.args[1]), "you rotate the wrong way: the pair (a, b) turned by "
                                                      "alpha is (a cos - b sin, a sin + b cos)."),
        (lambda c: _rope_half_split(*c.args), "pair the features interleaved, (0, 1), (2, 3), ..., not "
                                              "feature i with i + d/2 (the half-split convention)."),
        (lambda c: apply_rope(c.args[0], np.arange(c.args[0].shape[-2])),
         "rotate each row by its given position, not by its row index."),
    ]
    result = run_checks("check_rope", fn, _rope_cases(), hints, atol=1e-9, verbose=False)
    return with_conventions(result, fn, diagnose_rope, verbose)


# ---- chapter 9: counting a block's parameters -------------------------------------------------

def _block_cases() -> Iterator[Case]:
    for d, h, d_ff, cross in [(8, 2, 32, False), (8, 2, 32, True), (12, 3, 20, True), (16, 4, 64, False)]:
        block = TransformerBlock(d, h, d_ff, np.random.default_rng(0), cross_attention=cross)
        yield Case(f"d_model = {d}, d_ff = {d_ff}, cross = {cross}", (d, d_ff), block.num_parameters,
                   {"cross": cross})


def _parameters(d: int, d_ff: int, cross: bool, biases: bool = True, norms: int | None = None) -> int:
    attention = 4 * d * d + (4 * d if biases else 0)
    ffn = 2 * d * d_ff + (d_ff + d if biases else 0)
    n_norms = (3 if cross else 2) if norms is None else norms
    return attention * (2 if cross else 1) + ffn + n_norms * 2 * d


def check_block_parameters(fn: Callable[..., int], verbose: bool = True) -> CheckResult:
    """Check fn(d_model, d_ff, cross=False) -> the number of parameters of a TransformerBlock."""
    hints: list[Hint] = [
        (lambda c: _parameters(c.args[0], c.args[1], c.kwargs["cross"], biases=False),
         "count the biases: d for each of the four attention projections, d_ff + d for the feed-forward."),
        (lambda c: _parameters(c.args[0], c.args[1], c.kwargs["cross"], norms=0),
         "each layer norm has 2 d_model parameters (gamma and beta)."),
        (lambda c: _parameters(c.args[0], c.args[1], c.kwargs["cross"], norms=2) if c.kwargs["cross"] else None,
         "a block with cross-attention has three layer norms, one per sub-layer."),
        (lambda c: _parameters(c.args[0], c.args[1], False) if c.kwargs["cross"] else None,
         "cross-attention brings a second set of four projections (and a third layer norm)."),
    ]
    return run_checks("check_block_parameters", fn, _block_cases(), hints, atol=0.0, verbose=verbose)


# ---- chapter 10: the derivative of GELU -------------------------------------------------------

def check_gelu_derivative(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(x: (...)) -> d gelu(x) / dx, element-wise, for the exact (erf) GELU."""
    x = np.linspace(-5, 5, 41)  # includes x = 0
    x2 = case_rng().normal(scale=2.0, size=(2, 3))
    cases = [Case("41 points in [-5, 5], 0 included", (x,), gelu_backward(np.ones_like(x), x)),
             Case("a (2, 3) array", (x2,), gelu_backward(np.ones_like(x2), x2))]
    hints: list[Hint] = [
        (lambda c: 0.5 * (1 + np.vectorize(math.erf)(c.args[0] / math.sqrt(2))),
         "that is Phi(x) alone: by the product rule, d/dx [x Phi(x)] = Phi(x) + x phi(x)."),
        (lambda c: gelu(c.args[0]) / c.args[0], "that is Phi(x) alone, and it is 0/0 at x = 0: by the product "
                                                "rule, d/dx [x Phi(x)] = Phi(x) + x phi(x)."),
        (lambda c: np.exp(-c.args[0] ** 2 / 2) / math.sqrt(2 * math.pi),
         "that is the density phi(x) alone: d/dx [x Phi(x)] = Phi(x) + x phi(x)."),
    ]
    return run_checks("check_gelu_derivative", fn, cases, hints, atol=1e-9, verbose=verbose)


# ---- chapter 15: one step of Adam -------------------------------------------------------------

AdamState = tuple[np.ndarray, np.ndarray, np.ndarray]


def _adam_reference(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,
                    lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                    eps: float = 1e-8, correct: bool = True) -> AdamState:
    """(new p, new m, new v) after Adam's step t; correct=False drops the bias correction."""
    if correct:  # the package's optimiser is the reference
        opt = Adam({"p": p.copy()}, lr=lr, betas=(beta1, beta2), eps=eps)
        opt.m["p"][...], opt.v["p"][...], opt.t = m, v, t - 1
        opt.step({"p": g})
        return opt.params["p"], opt.m["p"], opt.v["p"]
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return p - lr * m / (np.sqrt(v) + eps), m, v


def _adam_cases() -> Iterator[Case]:
    rng = case_rng()
    p, g, zero = np.ones(3), np.array([1e-2, -3.0, 500.0]), np.zeros(3)
    yield Case("the first step (t=1, m = v = 0): every entry moves by lr",
               (p, g, zero, zero, 1), _adam_reference(p, g, zero, zero, 1, lr=0.1), {"lr": 0.1})
    p, g = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    m, v = 0.1 * rng.normal(size=(4, 5)), rng.random((4, 5))
    yield Case("a (4, 5) matrix at step t=3 with running m and v",
               (p, g, m, v, 3), _adam_reference(p, g, m, v, 3))
    yield Case("step t=1000: the bias correction is almost 1",
               (p, g, m, v, 1000), _adam_reference(p, g, m, v, 1000, lr=0.01), {"lr": 0.01})
    g = np.full(3, 1e-9)
    yield Case("tiny gradients (1e-9): eps matters", (np.ones(3), g, zero, zero, 2),
               _adam_reference(np.ones(3), g, zero, zero, 2))


def check_adam_step(fn: Callable[..., AdamState], verbose: bool = True) -> CheckResult:
    """Check fn(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8) -> (p, m, v) after step t.

    p, g, m, v: arrays of one shape; t: the step number, 1 for the first step.
    """
    hints: list[Hint] = [
        (lambda c: _adam_reference(*c.args, **{**c.kwargs, "correct": False}),
         "divide m by (1 - beta1**t) and v by (1 - beta2**t) before the update (bias correction)."),
        (lambda c: tuple(2 * a - b for a, b in zip(c.args[:1], _adam_reference(*c.args, **c.kwargs)[:1]))
         + _adam_reference(*c.args, **c.kwargs)[1:],
         "the step goes against the gradient: p - lr * m_hat / (sqrt(v_hat) + eps)."),
    ]
    # A wrong return (None, 2 values, ...) is described by run_checks.
    return run_checks(
        "check_adam_step", fn, _adam_cases(), hints, verbose=verbose
    )
