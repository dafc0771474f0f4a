"""Checkers for chapters 1, 11 and 12: soft lookups, real-model heads and search, attention costs."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..attention import scaled_dot_product_attention, softmax
from ..heads import grouped_query_attention
from ..kv_cache import kv_cache_bytes
from .checking import Case, CheckResult, Hint, case_rng, run_checks, unit_length

__all__ = [
    "check_normalise_rows",
    "check_soft_lookup",
    "check_self_scores",
    "check_rank_by_cosine",
    "check_attention_layer_cost",
    "check_merge_partials",
    "check_kv_cache_size",
    "check_grouped_query",
    "check_decode_step",
]


# ---- chapter 1: normalising a relevance table -------------------------------------------------

def _normalise_rows(table: np.ndarray) -> np.ndarray:
    """Each row (last axis) divided by its sum; a row of zeros stays a row of zeros."""
    table = np.asarray(table, dtype=float)
    sums = table.sum(axis=-1, keepdims=True)
    return table / np.where(sums > 0, sums, 1.0)


def _normalise_cases() -> Iterator[Case]:
    rng = case_rng()
    x = np.array([[1.0, 3.0], [2.0, 2.0]])
    yield Case("a (2, 2) table", (x,), _normalise_rows(x))
    x = rng.uniform(0.0, 2.0, size=(5, 5))
    yield Case("a (5, 5) relevance table", (x,), _normalise_rows(x))
    x = rng.uniform(0.0, 1.0, size=(3, 6))
    yield Case("3 query words, 6 key words: (3, 6)", (x,), _normalise_rows(x))
    x = np.array([[0.5, 0.0, 0.5], [0.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    yield Case("a row of zeros (a word that finds nothing relevant) stays zeros", (x,), _normalise_rows(x))
    x = np.array([[1, 0, 3], [2, 2, 4]])
    yield Case("a table of integers", (x,), _normalise_rows(x))
    x = rng.uniform(0.0, 1.0, size=(2, 3, 4))
    yield Case("batch axes: two tables (2, 3, 4)", (x,), _normalise_rows(x))


def check_normalise_rows(fn: Callable[[np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(table: (..., n_q, n_k) >= 0) -> (..., n_q, n_k), each row divided by its sum (zero rows stay 0)."""
    def rows(c: Case) -> np.ndarray:
        return np.asarray(c.args[0], dtype=float)

    hints: list[Hint] = [
        (lambda c: rows(c) / rows(c).sum(axis=-1, keepdims=True),
         "a row of zeros has sum 0, and 0 / 0 is NaN: divide only where the sum is positive and leave a "
         "row of zeros as zeros, e.g. table / np.where(sums > 0, sums, 1)."),
        (lambda c: rows(c) / rows(c).sum(axis=-2, keepdims=True),
         "that divides by the column sums: each ROW must sum to 1, so sum over the last axis, "
         "table.sum(axis=-1, keepdims=True)."),
        (lambda c: rows(c) / rows(c).sum(),
         "that divides by the sum of the whole table: divide each row by its own sum, "
         "table.sum(axis=-1, keepdims=True)."),
        (lambda c: rows(c) / rows(c).sum(axis=1, keepdims=True) if rows(c).ndim == 3 else None,
         "with batch axes axis=1 is not the rows' axis: sum over the last axis, axis=-1."),
    ]
    return run_checks("check_normalise_rows", fn, _normalise_cases(), hints, verbose=verbose)


# ---- chapter 1: a soft lookup of several queries at once --------------------------------------

def _soft_lookup(queries: np.ndarray, keys: np.ndarray, values: np.ndarray,
                 temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    out, weights = scaled_dot_product_attention(queries, keys, values, scale=1.0 / temperature)
    return weights, out


# Chapter 1's keys and values for "Cat sat on the mat", and its two queries ("who?" and "where?").
_CH01_KEYS = np.array([[2.0, 0.5], [1.0, 1.5], [-0.5, 1.0], [-1.0, -0.5], [1.5, -0.8]])
_CH01_VALUES = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 0.5, 0.5], [0, 0, 0, 1.0], [0, 0, 1.0, 0]])
_CH01_QUERIES = np.array([[1.8, 0.6], [1.4, -1.0]])


def _soft_lookup_cases() -> Iterator[Case]:
    rng = case_rng()
    k, v, q = _CH01_KEYS, _CH01_VALUES, _CH01_QUERIES
    yield Case("chapter 1's two queries, default temperature", (q, k, v), _soft_lookup(q, k, v))
    for t in (0.25, 4.0):
        yield Case(f"chapter 1's two queries, temperature {t}", (q, k, v), _soft_lookup(q, k, v, t),
                   {"temperature": t})
    q, k, v = rng.normal(size=(3, 3)), rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    yield Case("3 queries, 6 keys, d_k = 3, d_v = 2", (q, k, v), _soft_lookup(q, k, v, 0.5), {"temperature": 0.5})
    q = rng.normal(size=(1, 3))
    yield Case("a single query (1, 3)", (q, k, v), _soft_lookup(q, k, v), {"temperature": 1.0})
    q = np.array([[1000.0, 300.0], [-1000.0, -300.0]])  # row maxima 2150 and 1150
    yield Case("huge scores of opposite sign in the two rows", (q, _CH01_KEYS, _CH01_VALUES),
               _soft_lookup(q, _CH01_KEYS, _CH01_VALUES))


def _soft_lookup_variant(case: Case, axis: int = -1, shift: str = "row",
                         temperature: str = "divide") -> tuple[np.ndarray, np.ndarray]:
    """The lookup with one typical mistake: softmax axis, which maximum is subtracted, how T is used."""
    q, k, v = case.args
    t = float(case.kwargs.get("temperature", 1.0))
    scores = q @ k.T
    scores = {"divide": scores / t, "multiply": scores * t, "ignore": scores}[temperature]
    m = {"row": scores.max(axis=axis, keepdims=True), "global": scores.max(), "none": 0.0}[shift]
    e = np.exp(scores - m)
    weights = e / e.sum(axis=axis, keepdims=True)
    return weights, weights @ v


def check_soft_lookup(fn: Callable[..., tuple[np.ndarray, np.ndarray]], verbose: bool = True) -> CheckResult:
    """Check fn(queries: (n_q, d_k), keys: (n, d_k), values: (n, d_v), temperature=1.0) -> (weights, outputs).

    weights: (n_q, n), one softmax of the scores / temperature per query; outputs: (n_q, d_v).
    """
    hints: list[Hint] = [
        (lambda c: _soft_lookup_variant(c, shift="none"),
         "exp of a large score overflows to inf: subtract each row's maximum score before the exp."),
        (lambda c: _soft_lookup_variant(c, shift="global"),
         "subtract each row's OWN maximum (max(axis=-1, keepdims=True)): with the maximum of the whole "
         "table, a row of much smaller scores underflows to 0 / 0."),
        (lambda c: _soft_lookup_variant(c, axis=0),
         "one softmax per query: normalise each row (over the keys, axis=-1), not each column."),
        (lambda c: _soft_lookup_variant(c, temperature="multiply") if "temperature" in c.kwargs else None,
         "divide the scores by the temperature: a low temperature must make the focus sharper."),
        (lambda c: _soft_lookup_variant(c, temperature="ignore") if "temperature" in c.kwargs else None,
         "use the temperature: divide the scores by it before the softmax."),
    ]
    return run_checks("check_soft_lookup", fn, _soft_lookup_cases(), hints, verbose=verbose)


# ---- chapter 11: a score that finds a head ----------------------------------------------------

def _self_scores(attentions: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Reference: per (layer, head), the mean diagonal weight over each sentence's word tokens, then over sentences."""
    per_sentence = []
    for b, n in enumerate(np.asarray(attention_mask).sum(axis=1)):
        i = np.arange(1, int(n) - 1)  # the word tokens: not [CLS] (0) and not the final [SEP] (n - 1)
        per_sentence.append(attentions[:, b, :, i, i].mean(axis=0))
    return np.mean(per_sentence, axis=0)


def _fake_attentions(rng: np.random.Generator, layers: int, heads: int,
                     lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Random attention maps (L, B, H, n, n) with padded keys at 0 and padding query rows set to 0.9."""
    n = max(lengths)
    mask = np.arange(n)[None, :] < np.array(lengths)[:, None]
    logits = 3.0 * rng.normal(size=(layers, len(lengths), heads, n, n))
    weights = softmax(np.where(mask[None, :, None, None, :], logits, -np.inf))
    weights = np.where(mask[None, :, None, :, None], weights, 0.9)  # garbage in the padding rows
    return weights, mask.astype(np.int64)


def _self_cases() -> Iterator[Case]:
    rng = case_rng()
    for layers, heads, lengths, what in ((2, 3, [6], "one sentence of 6 tokens, no padding"),
                                         (2, 3, [9, 5, 7], "3 sentences padded to 9 tokens"),
                                         (1, 1, [3, 8], "a one-word sentence next to a long one"),
                                         (3, 4, [12, 4, 10, 6], "4 sentences, L = 3 layers, H = 4 heads")):
        a, m = _fake_attentions(rng, layers, heads, lengths)
        yield Case(f"{what}: lengths {lengths}", (a, m), _self_scores(a, m))


def _self_all_positions(case: Case) -> np.ndarray:
    a, m = case.args
    return np.mean([np.diagonal(a[:, b, :, :n, :n], axis1=-2, axis2=-1).mean(-1)
                    for b, n in enumerate(m.sum(axis=1))], axis=0)


def _self_token_weighted(case: Case) -> np.ndarray:
    a, m = case.args
    diag = [np.diagonal(a[:, b, :, 1:n - 1, 1:n - 1], axis1=-2, axis2=-1) for b, n in enumerate(m.sum(axis=1))]
    return np.concatenate(diag, axis=-1).mean(-1)


def check_self_scores(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(attentions: (L, B, H, n, n), attention_mask: (B, n)) -> (L, H), a word token's weight on itself.

    Averaged over the word tokens of each sentence (not [CLS], not the final [SEP], not padding),
    then over the sentences, as chapter 11's head scores are.
    """
    hints: list[Hint] = [
        (_self_all_positions, "leave out [CLS] (position 0) and the final [SEP] (position n - 1): "
                              "average over the word tokens 1, ..., n - 2."),
        (lambda c: np.diagonal(c.args[0], axis1=-2, axis2=-1).mean(axis=(-1, 1)),
         "padding positions are not tokens of the sentence: use only the first n = attention_mask[b].sum() "
         "positions of sentence b, and of those only the word tokens 1, ..., n - 2."),
        (lambda c: _self_scores(*c.args).T, "return one score per (layer, head): shape (L, H), layers first."),
        (_self_token_weighted, "average each sentence over its own word tokens first, then average the "
                               "sentences, so every sentence counts equally (as in head_scores)."),
    ]
    return run_checks("check_self_scores", fn, _self_cases(), hints, verbose=verbose)


# ---- chapter 11: semantic search --------------------------------------------------------------

def _rank_by_cosine(query: np.ndarray, docs: np.ndarray) -> np.ndarray:
    cos = (docs @ query) / (np.linalg.norm(docs, axis=-1) * np.linalg.norm(query))
    return np.argsort(-cos, kind="stable")


def _rank_cases() -> Iterator[Case]:
    rng = case_rng()
    docs = unit_length(rng.normal(size=(4, 8)))
    query = unit_length(rng.normal(size=8))
    yield Case("4 unit-length documents (like the model's embeddings), d = 8", (query, docs),
               _rank_by_cosine(query, docs))
    docs = rng.normal(size=(6, 5)) * np.array([[1.0], [10.0], [0.1], [3.0], [1.0], [0.5]])
    query = rng.normal(size=5) * 4.0
    yield Case("6 documents of very different lengths, query of length about 8", (query, docs),
               _rank_by_cosine(query, docs))
    docs = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.1], [5.0, 5.0]])
    query = np.array([2.0, 1.0])
    yield Case("4 documents in 2-D, one of them long", (query, docs), _rank_by_cosine(query, docs))
    docs, query = rng.normal(size=(1, 3)), rng.normal(size=3)
    yield Case("a single document", (query, docs), np.array([0]))


def check_rank_by_cosine(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], verbose: bool = True) -> CheckResult:
    """Check fn(query: (d,), docs: (n, d)) -> (n,) indices of the documents, most similar (cosine) first."""
    def cos(c: Case) -> np.ndarray:
        q, d = c.args
        return (d @ q) / (np.linalg.norm(d, axis=-1) * np.linalg.norm(q))

    hints: list[Hint] = [
        (lambda c: np.argsort(cos(c)), "that is the order from LEAST to most similar: sort by -similarity, "
                                       "or reverse the result of np.argsort."),
        (lambda c: np.argsort(-(c.args[1] @ c.args[0])),
         "the dot product favours long documents: divide by both lengths (cosine), or scale every "
         "vector to length 1 first."),
        (lambda c: np.argsort(c.args[1] @ c.args[0]), "sort from most to least similar, and use the cosine "
                                                      "(divide the dot products by the lengths)."),
        (lambda c: cos(c), "return the ranking (document indices, np.argsort), not the similarities."),
        (lambda c: np.sort(cos(c))[::-1], "return the ranking (document indices), not the sorted similarities."),
    ]
    return run_checks("check_rank_by_cosine", fn, _rank_cases(), hints, atol=0.0, verbose=verbose)


# ---- chapter 12: what a layer of attention costs ----------------------------------------------

def _layer_cost(n: int, d: int, num_heads: int, itemsize: int = 2) -> tuple[int, int]:
    """(FLOPs of the two matrix products, 4 n^2 d per head; bytes of the stored n x n weights) for one layer."""
    return num_heads * 4 * n * n * d, num_heads * n * n * itemsize


def _cost_cases() -> Iterator[Case]:
    for n, d, h, itemsize, what in ((8192, 128, 32, 2, "the exercise, float16"),
                                    (6, 4, 1, 8, "one small head, float64"),
                                    (1024, 64, 12, 4, "BERT-sized heads, float32"), (1, 1, 1, 1, "one token"),
                                    (4096, 128, 8, 2, "8 heads, float16")):
        yield Case(f"n = {n}, d = {d}, num_heads = {h}, itemsize = {itemsize} ({what})", (n, d, h, itemsize),
                   _layer_cost(n, d, h, itemsize))


def check_attention_layer_cost(fn: Callable[..., tuple[int, int]], verbose: bool = True) -> CheckResult:
    """Check fn(n, d, num_heads, itemsize) -> (FLOPs, bytes of the stored attention weights) of one layer."""
    def cost(c: Case, flops: Any = None, size: Any = None) -> tuple[Any, Any]:
        right = _layer_cost(*c.args)
        return (right[0] if flops is None else flops, right[1] if size is None else size)

    hints: list[Hint] = [
        (lambda c: cost(c, flops=c.args[2] * 2 * c.args[0] ** 2 * c.args[1]),
         "there are two matrix products, q k^T and weights @ v, each 2 n^2 d FLOPs: 4 n^2 d per head."),
        (lambda c: cost(c, flops=c.args[2] * c.args[0] ** 2 * c.args[1]),
         "a multiply-add is two FLOPs, and there are two matrix products: 4 n^2 d per head."),
        (lambda c: cost(c, flops=4 * c.args[0] ** 2 * c.args[1]) if c.args[2] > 1 else None,
         "every head does this work: multiply the FLOPs by num_heads."),
        (lambda c: cost(c, size=c.args[0] ** 2 * c.args[2]) if c.args[3] > 1 else None,
         "that is the number of weights; multiply by itemsize (bytes per number) to get bytes."),
        (lambda c: cost(c, size=c.args[0] ** 2 * c.args[3]) if c.args[2] > 1 else None,
         "every head has its own n x n weights: multiply the bytes by num_heads."),
        (lambda c: cost(c, size=c.args[0] ** 2 * c.args[1] * c.args[2] * c.args[3]) if c.args[1] > 1 else None,
         "the weights are n x n numbers per head, whatever the width d."),
    ]
    return run_checks("check_attention_layer_cost", fn, _cost_cases(), hints, atol=0.0, verbose=verbose)


# ---- chapter 12: merging two partial softmax results ------------------------------------------

def _partial(x: np.ndarray) -> tuple[float, float]:
    """(running maximum, running sum of exp(x - max)) of a part of a row; (-inf, 0) for an empty part."""
    if x.size == 0:
        return -math.inf, 0.0
    m = float(x.max())
    return m, float(np.exp(x - m).sum())


def _merge_partial_cases() -> Iterator[Case]:
    rng = case_rng()
    rows = [("a row of 9 scores split after 4", rng.normal(scale=3.0, size=9), 4),
            ("the larger maximum in the second part", np.array([0.5, -1.0, 2.0, 4.0, 3.5]), 3),
            ("both parts with the same maximum", np.array([1.0, 2.0, 0.0, 2.0, -1.0]), 2),
            ("scores near +1000 and -1000: exp(1000) overflows", np.array([1000.0, 999.0, -1000.0, -999.5]), 2),
            ("an empty first part (a worker with no keys): (-inf, 0)", np.array([0.3, -0.7, 1.2]), 0),
            ("an empty second part: (-inf, 0)", np.array([0.3, -0.7, 1.2]), 3),
            ("both parts empty (two workers with no keys): (-inf, 0)",
             np.array([]), 0)]
    for description, x, cut in rows:
        m1, l1 = _partial(x[:cut])
        m2, l2 = _partial(x[cut:])
        yield Case(description, (m1, l1, m2, l2), _partial(x))


def check_merge_partials(fn: Callable[[float, float, float, float], tuple[float, float]],
                         verbose: bool = True) -> CheckResult:
    """Check fn(m1, l1, m2, l2) -> (m, l): the maximum and the sum of exp(x - m) of a row from its two parts."""
    def merged(c: Case, sign: float = 1.0) -> tuple[float, float]:
        m1, l1, m2, l2 = c.args
        m = max(m1, m2)
        return m, l1 * math.exp(sign * (m1 - m)) + l2 * math.exp(sign * (m2 - m))

    hints: list[Hint] = [
        (lambda c: merged(c) if c.args[0] == c.args[2] == -math.inf else None,
         "both parts are empty: m = -inf and exp(m1 - m) = exp(-inf + inf) "
         "is NaN; return (-inf, 0) when m is -inf."),
        (lambda c: (max(c.args[0], c.args[2]), c.args[1] + c.args[3]),
         "the two sums are relative to different maxima: rescale each to the common maximum m, "
         "l = l1 exp(m1 - m) + l2 exp(m2 - m)."),
        (lambda c: merged(c, sign=-1.0), "check the sign of the exponent: the part with the smaller maximum "
                                         "shrinks, l1 exp(m1 - m) with m1 - m <= 0."),
        (lambda c: (max(c.args[0], c.args[2]), c.args[1] * np.exp(c.args[0]) + c.args[3] * np.exp(c.args[2])),
         "l1 exp(m1) overflows for large scores, and the sum must be relative to m: use l1 exp(m1 - m) "
         "+ l2 exp(m2 - m)."),
        (lambda c: (min(c.args[0], c.args[2]), merged(c)[1]),
         "the merged maximum is the larger of the two, max(m1, m2)."),
    ]
    return run_checks("check_merge_partials", fn, _merge_partial_cases(), hints, atol=1e-12, verbose=verbose)


# ---- chapter 12: the size of a KV cache -------------------------------------------------------

def _kv_cases() -> Iterator[Case]:
    for layers, kv_heads, head_dim, seq_len, itemsize, what in (
            (80, 8, 128, 4096, 2, "a 70B-class model with 8 key/value heads, float16"),
            (80, 64, 128, 4096, 2, "the same with 64 key/value heads"),
            (1, 4, 64, 6, 8, "one layer, 4 heads, 6 tokens, float64"),
            (32, 32, 128, 1, 2, "a single cached token"),
            (12, 12, 64, 0, 4, "nothing cached yet (seq_len = 0)"),
            (24, 2, 96, 1000, 1, "one byte per number (int8)")):
        args = (layers, kv_heads, head_dim, seq_len, itemsize)
        yield Case(f"num_layers = {layers}, num_kv_heads = {kv_heads}, head_dim = {head_dim}, seq_len = {seq_len},"
                   f" itemsize = {itemsize} ({what})", args, kv_cache_bytes(*args[:4], itemsize=itemsize))


def check_kv_cache_size(fn: Callable[[int, int, int, int, int], int], verbose: bool = True) -> CheckResult:
    """Check fn(num_layers, num_kv_heads, head_dim, seq_len, itemsize) -> bytes of a KV cache for one sequence."""
    def numbers(c: Case) -> int:
        layers, kv_heads, head_dim, seq_len, _ = c.args
        return layers * kv_heads * head_dim * seq_len

    hints: list[Hint] = [
        (lambda c: numbers(c) * c.args[4], "the cache holds keys AND values: two tensors, a factor 2."),
        (lambda c: 2 * numbers(c) if c.args[4] > 1 else None,
         "that counts numbers; multiply by itemsize, the bytes per number, to get bytes."),
        (lambda c: 16 * numbers(c) * c.args[4], "itemsize is already in bytes, not bits: do not multiply by 8."),
        (lambda c: 2 * numbers(c) // c.args[0] * c.args[4] if c.args[0] > 1 else None,
         "every layer caches its own keys and values: multiply by num_layers."),
    ]
    return run_checks("check_kv_cache_size", fn, _kv_cases(), hints, atol=0.0, verbose=verbose)


# ---- chapter 12: grouped-query attention by hand ---------------------------

def _gqa_cases() -> Iterator[Case]:
    rng = case_rng()
    for lead, heads, kv_heads, n_q, n_k, what in (
            ((), 4, 4, 3, 3, "4 query heads, 4 kv heads: plain multi-head"),
            ((), 4, 2, 3, 3, "groups of 2"),
            ((), 8, 2, 2, 5, "groups of 4, n_q != n_k"),
            ((), 4, 1, 3, 4, "one kv head for all (multi-query)"),
            ((2,), 6, 3, 2, 3, "a batch axis, groups of 2")):
        q = rng.normal(size=(*lead, heads, n_q, 4))
        k = rng.normal(size=(*lead, kv_heads, n_k, 4))
        v = rng.normal(size=(*lead, kv_heads, n_k, 3))
        expected = grouped_query_attention(q, k, v)[0]
        yield Case(f"q {q.shape}, k {k.shape}, v {v.shape} ({what})",
                   (q, k, v), expected)


def _gqa_tiled(c: Case) -> np.ndarray:
    """The typical mistake: query head h gets kv head h % num_kv_heads."""
    q, k, v = c.args
    reps = q.shape[-3] // k.shape[-3]
    k_t = np.concatenate([k] * reps, axis=-3)
    v_t = np.concatenate([v] * reps, axis=-3)
    return scaled_dot_product_attention(q, k_t, v_t)[0]


def check_grouped_query(fn: Callable[..., np.ndarray],
                        verbose: bool = True) -> CheckResult:
    """Check fn(q, k, v) -> grouped-query output (..., num_heads, n_q, d_v)."""
    hints: list[Hint] = [
        (_gqa_tiled, "query head i uses kv head i // group_size (group_size "
                     "= num_heads // num_kv_heads): repeat each kv head in "
                     "place (np.repeat), do not tile the whole stack "
                     "(np.tile)."),
    ]
    return run_checks("check_grouped_query", fn, _gqa_cases(), hints,
                      atol=1e-10, verbose=verbose)


# ---- chapter 12: one decoding step with a KV cache -------------------------

def _decode_cases() -> Iterator[Case]:
    rng = case_rng()
    for lead, n, d_v, what in (((), 5, 3, "one head"), ((2,), 4, 2, "2 heads"),
                               ((2, 3), 3, 2, "batch 2, 3 heads")):
        q = rng.normal(size=(*lead, n, 4))
        k = rng.normal(size=(*lead, n, 4))
        v = rng.normal(size=(*lead, n, d_v))
        full = scaled_dot_product_attention(q, k, v, causal=True)[0]
        for t in (0, n - 1):  # an empty cache, then a cache of n - 1 tokens
            step = slice(t, t + 1)
            args = (q[..., step, :], k[..., step, :], v[..., step, :],
                    k[..., :t, :], v[..., :t, :])
            expected = (full[..., step, :], k[..., :t + 1, :],
                        v[..., :t + 1, :])
            yield Case(f"{what}, {t} cached tokens", args, expected)


def _decode_without_self(c: Case) -> tuple[Any, ...] | None:
    """The typical mistake: attend over the old cache, append afterwards."""
    q, k, v, cache_k, cache_v = c.args
    if cache_k.shape[-2] == 0:
        return None
    out = scaled_dot_product_attention(q, cache_k, cache_v)[0]
    return (out, np.concatenate([cache_k, k], axis=-2),
            np.concatenate([cache_v, v], axis=-2))


def check_decode_step(fn: Callable[..., tuple[np.ndarray, ...]],
                      verbose: bool = True) -> CheckResult:
    """Check fn(q, k, v, cache_k, cache_v) -> (output, cache_k, cache_v).

    One cached decoding step. q, k, v: (..., 1, d), the new token;
    cache_k, cache_v: (..., t, d) with t >= 0.
    """
    hints: list[Hint] = [
        (_decode_without_self, "append the new key and value before "
                               "attending: the new token attends to itself "
                               "too."),
    ]
    return run_checks("check_decode_step", fn, _decode_cases(), hints,
                      atol=1e-10, verbose=verbose)
