"""The exercise checkers accept correct answers written differently and reject the usual mistakes."""

import math

import numpy as np
import pytest
from scipy.special import erf

from attention_course import exercises as ex

# ---- answers a reader might write -------------------------------------------------------------

def softmax_loop(x):
    x = np.asarray(x, dtype=float)
    flat = x.reshape(-1, x.shape[-1])
    out = np.empty_like(flat)
    for i, row in enumerate(flat):
        m = row.max()
        e = np.exp(row - m)
        out[i] = e / e.sum()
    return out.reshape(x.shape)


def softmax_logsumexp(x):
    m = np.max(x, axis=-1, keepdims=True)
    return np.exp(x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)))


def softmax_no_max(x):
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_global(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def attention_einsum(q, k, v):
    s = np.einsum("...qd,...kd->...qk", q, k) * q.shape[-1] ** -0.5
    s = s - s.max(-1, keepdims=True)
    w = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    return w @ v


def attention_unscaled(q, k, v):
    s = q @ np.swapaxes(k, -1, -2)
    w = np.exp(s - s.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True) @ v


def split_transpose(x, h):
    *batch, n, d = x.shape
    return x.reshape(*batch, n, h, d // h).swapaxes(-2, -3)


def split_plain_reshape(x, h):
    *batch, n, d = x.shape
    return x.reshape(*batch, h, n, d // h)


def merge_moveaxis(x):
    *batch, h, n, d = x.shape
    return np.moveaxis(x, -3, -2).reshape(*batch, n, h * d)


def layer_norm_by_hand(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g + b


GOOD = [
    (ex.check_softmax, softmax_loop),
    (ex.check_softmax, softmax_logsumexp),
    (ex.check_attention, attention_einsum),
    (ex.check_causal_mask, lambda n: np.tril(np.ones((n, n), dtype=bool))),
    (ex.check_causal_mask, lambda n: np.arange(n)[:, None] >= np.arange(n)[None, :]),
    (ex.check_padding_mask, lambda lengths, n: (np.arange(n) < lengths[:, None])[:, None, :]),
    (ex.check_split_heads, split_transpose),
    (ex.check_merge_heads, merge_moveaxis),
    (ex.check_layer_norm, layer_norm_by_hand),
    (ex.check_gelu, lambda x: x * 0.5 * (1 + erf(x / math.sqrt(2)))),
]

BAD = [
    (ex.check_softmax, softmax_no_max, "subtract each row's maximum"),
    (ex.check_softmax, softmax_global, "each row's own sum"),
    (ex.check_softmax, lambda x: np.exp(x - x.max(-1, keepdims=True)), None),
    (ex.check_attention, attention_unscaled, "sqrt(d_k)"),
    (ex.check_causal_mask, lambda n: ~np.tril(np.ones((n, n), dtype=bool)), "polarity"),
    (ex.check_causal_mask, lambda n: np.triu(np.ones((n, n), dtype=bool)), "lower triangle"),
    (ex.check_causal_mask, lambda n: np.tril(np.ones((n, n), dtype=bool), -1), "diagonal"),
    (ex.check_causal_mask, lambda n: np.tril(np.ones((n, n))), "boolean"),
    (ex.check_padding_mask, lambda lengths, n: (np.arange(n) >= lengths[:, None])[:, None, :], "polarity"),
    (ex.check_padding_mask, lambda lengths, n: np.arange(n) < lengths[:, None], "middle axis"),
    (ex.check_split_heads, split_plain_reshape, "plain reshape"),
    (ex.check_merge_heads, lambda x: x.reshape(*x.shape[:-3], x.shape[-2], -1), "swap the heads"),
    (ex.check_layer_norm, lambda x, g, b: (x - x.mean(-1, keepdims=True)) / np.sqrt(
        x.var(-1, ddof=1, keepdims=True) + 1e-5) * g + b, "biased variance"),
    (ex.check_gelu, lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))), "tanh"),
]


@pytest.mark.parametrize("checker, answer", GOOD)
def test_checker_accepts_correct_answers(checker, answer, capsys):
    result = checker(answer)
    assert result, result.message
    assert result.cases_run >= 1
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("checker, answer, hint", BAD)
def test_checker_rejects_typical_mistakes_with_a_hint(checker, answer, hint):
    with np.errstate(all="ignore"):
        result = checker(answer, verbose=False)
    assert not result
    assert "✗" in result.message and "input:" in result.message
    if hint:
        assert hint in result.message, result.message


def test_checker_reports_exceptions_and_shapes():
    result = ex.check_attention(lambda q, k, v: q @ k @ v, verbose=False)
    assert not result
    assert "raised ValueError" in result.message and "(3, 4)" in result.message


def test_checker_refuses_non_callables():
    with pytest.raises(TypeError, match="expects a function"):
        ex.check_softmax(np.ones(3))


def test_checker_does_not_let_the_answer_modify_hidden_cases():
    def mutating_softmax(x):
        x -= x.max(-1, keepdims=True)
        np.exp(x, out=x)
        x /= x.sum(-1, keepdims=True)
        return x

    assert ex.check_softmax(mutating_softmax, verbose=False)


# ---- checkers for the chapter 5, 6 and 13 exercises --------------------------------------------

def window_by_indices(n, w):
    i, j = np.indices((n, n))
    return (j <= i) & (i - j < w)


def window_by_bands(n, w):
    return np.tril(np.ones((n, n), dtype=bool)) & ~np.tril(np.ones((n, n), dtype=bool), -w)


def window_loop(n, w):
    out = np.zeros((n, n), dtype=bool)
    for i in range(n):
        out[i, max(0, i - w + 1):i + 1] = True
    return out


def hf_convert_tril(attention_mask):
    n = attention_mask.shape[1]
    real = attention_mask.astype(bool)
    return real[:, None, :] & np.tril(np.ones((n, n), dtype=bool)), np.logical_not(real)


def hf_convert_package(attention_mask):
    from attention_course import causal_mask
    n = attention_mask.shape[1]
    keys = (attention_mask == 1)[:, None, :]  # works for left and right padding
    return keys & causal_mask(n), attention_mask == 0


def jacobian_einsum(s):
    eye = np.eye(s.shape[-1])
    return np.einsum("...i,ij->...ij", s, eye) - np.einsum("...i,...j->...ij", s, s)


def jacobian_finite_differences(s):
    # The softmax of log(s) is s, so differentiate the softmax at x = log(s) numerically.
    from attention_course import softmax
    with np.errstate(divide="ignore"):
        x = np.log(s)
    x = np.where(np.isneginf(x), -50.0, x)
    n, h = s.shape[-1], 1e-6
    cols = [(softmax(x + h * np.eye(n)[j]) - softmax(x - h * np.eye(n)[j])) / (2 * h) for j in range(n)]
    return np.stack(cols, axis=-1)


GOOD_MORE = [
    (ex.check_window_mask, window_by_indices),
    (ex.check_window_mask, window_by_bands),
    (ex.check_window_mask, window_loop),
    (ex.check_hf_mask_conversion, hf_convert_tril),
    (ex.check_hf_mask_conversion, hf_convert_package),
    (ex.check_mha_parameter_count, lambda d_model, num_heads, bias=True: 4 * d_model * (d_model + bias)),
    (ex.check_mha_parameter_count, lambda d_model, num_heads, bias=True: num_heads * 4 * d_model * (
        d_model // num_heads) + (4 * d_model if bias else 0)),
    (ex.check_softmax_jacobian, jacobian_einsum),
    (ex.check_softmax_jacobian, jacobian_finite_differences),
]

BAD_MORE = [
    (ex.check_window_mask, lambda n, w: ~window_loop(n, w), "polarity"),
    (ex.check_window_mask, lambda n, w: window_loop(n, w + 1), "off by one"),
    (ex.check_window_mask, lambda n, w: np.abs(np.subtract.outer(np.arange(n), np.arange(n))) < w, "causal"),
    (ex.check_window_mask, lambda n, w: window_loop(n, w).T, "below the diagonal"),
    (ex.check_hf_mask_conversion, lambda m: (hf_convert_tril(m)[0], m == 1), "key_padding_mask"),
    (ex.check_hf_mask_conversion, lambda m: ((m == 1)[:, None, :] & np.ones((1, 1, 1), dtype=bool), m == 0),
     "causal"),
    (ex.check_hf_mask_conversion, lambda m: (
        (m == 1)[:, :, None] & np.tril(np.ones((m.shape[1],) * 2, dtype=bool)), m == 0), "not queries"),
    (ex.check_mha_parameter_count, lambda d_model, num_heads, bias=True: 4 * d_model**2, "bias vectors"),
    (ex.check_mha_parameter_count, lambda d_model, num_heads, bias=True: 3 * d_model * (d_model + bias),
     "output projection"),
    (ex.check_mha_parameter_count, lambda d_model, num_heads, bias=True: num_heads * 4 * d_model * (
        d_model + bias), "full-size"),
    (ex.check_softmax_jacobian, lambda s: s[..., :, None] * np.eye(s.shape[-1]), "outer product"),
    (ex.check_softmax_jacobian, lambda s: -jacobian_einsum(s), "sign"),
    (ex.check_softmax_jacobian, lambda s: np.diag(s) - np.outer(s, s), None),
]


@pytest.mark.parametrize("checker, answer", GOOD_MORE)
def test_new_checkers_accept_correct_answers(checker, answer):
    result = checker(answer, verbose=False)
    assert result, result.message
    assert result.cases_run >= 4


@pytest.mark.parametrize("checker, answer, hint", BAD_MORE)
def test_new_checkers_reject_typical_mistakes_with_a_hint(checker, answer, hint):
    with np.errstate(all="ignore"):
        result = checker(answer, verbose=False)
    assert not result
    assert "✗" in result.message
    if hint:
        assert hint in result.message, result.message


def test_window_checker_catches_a_mistake_only_visible_in_an_edge_case():
    # Correct for w <= n but wrong once the window is longer than the sequence.
    result = ex.check_window_mask(lambda n, w: window_loop(n, w) if w <= n else np.eye(n, dtype=bool),
                                  verbose=False)
    assert not result and "w > n" in result.message


def test_hf_checker_catches_right_padding_only_answers():
    # padding_mask(lengths, n) assumes right padding: left-padded rows come out wrong.
    from attention_course import causal_mask, padding_mask

    def right_padding_only(m):
        return padding_mask(m.sum(axis=1), m.shape[1]) & causal_mask(m.shape[1]), m == 0

    result = ex.check_hf_mask_conversion(right_padding_only, verbose=False)
    assert not result and "left padding" in result.message


# =================================================================================================
# Checkers of chapters 2, 3, 4, 7, 8, 9 and 10 (issue 11): a separate block, append-only.
# =================================================================================================

def log_softmax_logsumexp(x):
    m = np.max(x, axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def log_softmax_loop(x):
    flat = np.asarray(x, dtype=float).reshape(-1, np.shape(x)[-1])
    rows = [row - (row.max() + math.log(sum(math.exp(v - row.max()) for v in row))) for row in flat]
    return np.array(rows).reshape(np.shape(x))


def cosine_attention_by_hand(q, k, v):
    cos = (q / np.linalg.norm(q, axis=-1, keepdims=True)) @ np.swapaxes(
        k / np.linalg.norm(k, axis=-1, keepdims=True), -1, -2)
    w = np.exp(cos - cos.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True) @ v


def cosine_attention_einsum(q, k, v):
    cos = np.einsum("...qd,...kd->...qk", q, k) / (
        np.linalg.norm(q, axis=-1)[..., :, None] * np.linalg.norm(k, axis=-1)[..., None, :])
    return np.einsum("...qk,...kv->...qv", np.exp(cos) / np.exp(cos).sum(-1, keepdims=True), v)


def one_query_loops(q, k, v):
    scores = [sum(q[c] * k[j, c] for c in range(len(q))) / math.sqrt(len(q)) for j in range(len(k))]
    e = [math.exp(s - max(scores)) for s in scores]
    weights = [x / sum(e) for x in e]
    return sum(weights[j] * v[j] for j in range(len(k)))


def one_query_vectorised(q, k, v):
    s = k @ q * len(q) ** -0.5
    w = np.exp(s - s.max())
    return (w / w.sum()) @ v


def rope_rotation_matrices(x, positions):
    d = x.shape[-1]
    out = np.empty_like(x)
    for t, p in enumerate(positions):
        for i in range(d // 2):
            a = p * 10000.0 ** (-2 * i / d)
            rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
            out[..., t, 2 * i:2 * i + 2] = x[..., t, 2 * i:2 * i + 2] @ rot.T
    return out


def rope_complex(x, positions):
    d = x.shape[-1]
    z = x[..., 0::2] + 1j * x[..., 1::2]
    z = z * np.exp(1j * np.outer(positions, 10000.0 ** (-np.arange(0, d, 2) / d)))
    return np.stack([z.real, z.imag], axis=-1).reshape(x.shape)


def rope_wrong_way(x, positions):
    return rope_complex(x, -np.asarray(positions))


def rope_half_split(x, positions):
    half = x.shape[-1] // 2
    angles = np.outer(positions, 10000.0 ** (-np.arange(0, 2 * half, 2) / (2 * half)))
    cos, sin = np.concatenate([np.cos(angles)] * 2, -1), np.concatenate([np.sin(angles)] * 2, -1)
    return x * cos + np.concatenate([-x[..., half:], x[..., :half]], -1) * sin


def block_parameters(d, d_ff, cross=False):
    attention = 4 * d * d + 4 * d
    return attention * (2 if cross else 1) + 2 * d * d_ff + d_ff + d + (3 if cross else 2) * 2 * d


def block_parameters_no_biases(d, d_ff, cross=False):
    return 4 * d * d * (2 if cross else 1) + 2 * d * d_ff + (3 if cross else 2) * 2 * d


def gelu_derivative_erf(x):
    return 0.5 * (1 + erf(x / math.sqrt(2))) + x * np.exp(-x**2 / 2) / math.sqrt(2 * math.pi)


def gelu_derivative_vectorize(x):
    cdf = np.vectorize(lambda t: 0.5 * math.erfc(-t / math.sqrt(2)))(x)
    return cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


GOOD_CH02_TO_10 = [
    (ex.check_log_softmax, log_softmax_logsumexp),
    (ex.check_log_softmax, log_softmax_loop),
    (ex.check_cosine_attention, cosine_attention_by_hand),
    (ex.check_cosine_attention, cosine_attention_einsum),
    (ex.check_attention_one_query, one_query_loops),
    (ex.check_attention_one_query, one_query_vectorised),
    (ex.check_score_scale, lambda d_k, sigma: 1 / (sigma**2 * math.sqrt(d_k))),
    (ex.check_score_scale, lambda d_k, sigma: (d_k * sigma**4) ** -0.5),
    (ex.check_permutation_matrix, lambda perm: np.eye(len(perm))[perm]),
    (ex.check_permutation_matrix, lambda perm: (np.asarray(perm)[:, None] == np.arange(len(perm))).astype(int)),
    (ex.check_rope, rope_rotation_matrices),
    (ex.check_rope, rope_complex),
    (ex.check_block_parameters, block_parameters),
    (ex.check_gelu_derivative, gelu_derivative_erf),
    (ex.check_gelu_derivative, gelu_derivative_vectorize),
]

BAD_CH02_TO_10 = [
    (ex.check_log_softmax, lambda x: np.log(np.exp(x - x.max(-1, keepdims=True))
                                            / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)),
     "underflowed"),
    (ex.check_log_softmax, lambda x: x - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)),
     "add m back"),
    (ex.check_log_softmax, lambda x: x - (x.max() + np.log(np.exp(x - x.max()).sum())), "axis=-1"),
    (ex.check_cosine_attention, attention_unscaled, "length 1"),
    (ex.check_cosine_attention, lambda q, k, v: attention_einsum(
        q / np.linalg.norm(q, axis=-1, keepdims=True), k / np.linalg.norm(k, axis=-1, keepdims=True), v),
     "scale=1.0"),
    (ex.check_cosine_attention, lambda q, k, v: attention_einsum(
        q * q.shape[-1] ** 0.5, k / np.linalg.norm(k, axis=-1, keepdims=True), v), "queries too"),
    (ex.check_attention_one_query, lambda q, k, v: one_query_vectorised(q * math.sqrt(len(q)), k, v), "sqrt(d_k)"),
    (ex.check_attention_one_query, lambda q, k, v: (k @ q / math.sqrt(len(q))) @ v, "softmax"),
    (ex.check_score_scale, lambda d_k, sigma: 1 / (sigma * math.sqrt(d_k)), "sigma^4"),
    (ex.check_score_scale, lambda d_k, sigma: 1 / math.sqrt(d_k), "assumes sigma = 1"),
    (ex.check_permutation_matrix, lambda perm: np.eye(len(perm))[:, perm], "transpose"),
    (ex.check_rope, rope_wrong_way, "wrong way"),
    (ex.check_rope, rope_half_split, "interleaved"),
    (ex.check_rope, lambda x, positions: rope_complex(x, np.arange(x.shape[-2])), "row index"),
    (ex.check_block_parameters, block_parameters_no_biases, "biases"),
    (ex.check_block_parameters, lambda d, d_ff, cross=False: block_parameters(d, d_ff) if not cross
     else block_parameters(d, d_ff, True) - 2 * d, "three layer norms"),
    (ex.check_block_parameters, lambda d, d_ff, cross=False: block_parameters(d, d_ff), "second set"),
    (ex.check_gelu_derivative, lambda x: 0.5 * (1 + erf(x / math.sqrt(2))), "product rule"),
    (ex.check_gelu_derivative, lambda x: np.exp(-x**2 / 2) / math.sqrt(2 * math.pi), "density"),
]


@pytest.mark.parametrize("checker, answer", GOOD_CH02_TO_10)
def test_chapter_2_to_10_checkers_accept_correct_answers(checker, answer, capsys):
    result = checker(answer)
    assert result, result.message
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("checker, answer, hint", BAD_CH02_TO_10)
def test_chapter_2_to_10_checkers_reject_typical_mistakes_with_a_hint(checker, answer, hint):
    with np.errstate(all="ignore"):
        result = checker(answer, verbose=False)
    assert not result
    assert "✗" in result.message
    assert hint in result.message, result.message


def test_block_parameter_cases_come_from_the_package():
    from attention_course import TransformerBlock

    assert block_parameters(768, 3072) == TransformerBlock(768, 12, 3072, np.random.default_rng(0)).num_parameters
