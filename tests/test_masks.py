"""Unit tests of the boolean masks (True = may attend)."""

import numpy as np
import pytest

from attention_course import (
    causal_mask,
    flash_attention,
    grouped_query_attention,
    multi_head_attention,
    padding_mask,
    scaled_dot_product_attention,
)
from attention_course.training.grad import attention_backward


def test_causal_mask_square_is_lower_triangular():
    np.testing.assert_array_equal(causal_mask(4), np.tril(np.ones((4, 4), dtype=bool)))
    assert causal_mask(4).dtype == np.bool_


def test_causal_mask_rectangular_aligns_queries_to_the_end():
    # One new query (decoding step 5) sees all five keys so far.
    np.testing.assert_array_equal(causal_mask(1, 5), np.ones((1, 5), dtype=bool))
    m = causal_mask(2, 4)
    np.testing.assert_array_equal(m, [[True, True, True, False], [True, True, True, True]])


def test_padding_mask_shape_and_values():
    m = padding_mask([1, 3, 0], 3)
    assert m.shape == (3, 1, 3) and m.dtype == np.bool_
    np.testing.assert_array_equal(m[:, 0], [[1, 0, 0], [1, 1, 1], [0, 0, 0]])


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: causal_mask(-1), ValueError, ["n_q", "-1"]),
        (lambda: causal_mask(2.5), TypeError, ["n_q"]),
        (lambda: causal_mask(3, -2), ValueError, ["n_k"]),
        (lambda: padding_mask([[1, 2]], 3), ValueError, ["(1, 2)"]),
        (lambda: padding_mask([1, 4], 3), ValueError, ["n=3"]),
        (lambda: padding_mask([1.5], 3), TypeError, ["float64"]),
        (lambda: padding_mask([1], -3), ValueError, ["n"]),
        (lambda: padding_mask([1], 3, heads=1), TypeError, ["heads", "int"]),
    ],
)
def test_mask_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


# ---- masks once there are heads ------------------------------------------------------------

def _heads_case(batch=2, heads=2, n=4, seed=0):
    """q, k, v: (batch, heads, n, 3) and lengths that differ between the sentences."""
    rng = np.random.default_rng(seed)
    q, k, v = (rng.normal(size=(batch, heads, n, 3)) for _ in range(3))
    return q, k, v, np.array([2, n] + [n] * (batch - 2))


def test_the_trap_numpy_puts_the_batch_axis_on_the_heads_axis():
    # Why the package refuses: plain broadcasting of a (batch, 1, n) mask on
    # (batch, heads, n, n) scores with batch == heads gives head h sentence h's mask.
    mask = padding_mask([2, 4], 4)  # sentence 0 has 2 real tokens
    wrong = np.broadcast_to(mask, (2, 2, 4, 4))
    assert wrong[0, 1, 0].tolist() == [True] * 4  # sentence 0, head 1: sees its padding
    assert wrong[1, 0, 0].tolist() == [True, True, False, False]  # sentence 1: loses keys
    right = np.broadcast_to(padding_mask([2, 4], 4, heads=True), (2, 2, 4, 4))
    assert right[0, :, :, 2:].sum() == 0 and right[1].all()


def test_heads_padding_mask_equals_attention_per_sentence():
    q, k, v, lengths = _heads_case()
    mask = padding_mask(lengths, 4, heads=True)
    assert mask.shape == (2, 1, 1, 4)
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    for b, length in enumerate(lengths):  # each sentence alone, without its padding
        alone, _ = scaled_dot_product_attention(q[b], k[b, :, :length], v[b, :, :length])
        np.testing.assert_allclose(out[b], alone, atol=1e-12)
        np.testing.assert_array_equal(w[b, :, :, length:], 0.0)


@pytest.mark.parametrize("batch", [2, 3])  # batch == heads (silent before) and batch != heads
def test_every_attention_path_refuses_a_mask_without_the_heads_axis(batch):
    q, k, v, lengths = _heads_case(batch=batch)
    mask = padding_mask(lengths, 4)  # (batch, 1, 4): no heads axis
    _, w = scaled_dot_product_attention(q, k, v)
    calls = [
        lambda: scaled_dot_product_attention(q, k, v, mask=mask),
        lambda: flash_attention(q, k, v, block_size=2, mask=mask),
        lambda: grouped_query_attention(q, k[:, :1], v[:, :1], mask=mask),
        lambda: attention_backward(np.ones_like(v), q, k, v, w, mask=mask),
    ]
    for call in calls:
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        for word in [str(mask.shape), str(q.shape[:-1] + (4,)), "heads=True",
                     "mask[:, None]"]:
            assert word in message


def test_unambiguous_masks_still_broadcast():
    q, k, v, _ = _heads_case()
    tri = causal_mask(4)
    expected, _ = scaled_dot_product_attention(q, k, v, causal=True)
    for mask in (tri, tri[None], tri[None, None], np.broadcast_to(tri, (2, 2, 4, 4))):
        out, _ = scaled_dot_product_attention(q, k, v, mask=mask)
        np.testing.assert_allclose(out, expected, atol=1e-12)


def test_multi_head_attention_takes_the_mask_with_or_without_heads():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 8))  # batch 2 and 2 heads: the ambiguous case
    w = {f"w_{c}": rng.normal(size=(8, 8)) for c in "qkvo"}
    lengths = np.array([2, 4])
    shared, ws = multi_head_attention(x, x, num_heads=2, mask=padding_mask(lengths, 4), **w)
    headed, wh = multi_head_attention(
        x, x, num_heads=2, mask=padding_mask(lengths, 4, heads=True), **w)
    np.testing.assert_array_equal(shared, headed)
    np.testing.assert_array_equal(ws, wh)
    np.testing.assert_array_equal(ws[0, :, :, 2:], 0.0)
    alone, _ = multi_head_attention(x[:1, :2], x[:1, :2], num_heads=2, **w)
    np.testing.assert_allclose(shared[:1, :2], alone, atol=1e-12)
