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
