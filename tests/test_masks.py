"""Unit tests of the boolean masks (True = may attend)."""

import numpy as np
import pytest

from attention_course import causal_mask, padding_mask


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
    ],
)
def test_mask_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)
