"""Unit tests of layer norm, GELU and the feed-forward network."""

import math

import numpy as np
import pytest

from attention_course import feed_forward, gelu, layer_norm, rms_norm, silu, swiglu


def test_layer_norm_normalises_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 5.0, size=(4, 16))
    out = layer_norm(x, np.ones(16), np.zeros(16))
    np.testing.assert_allclose(out.mean(-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(-1), 1.0, rtol=1e-4)
    gamma, beta = rng.normal(size=16), rng.normal(size=16)
    np.testing.assert_allclose(layer_norm(x, gamma, beta), out * gamma + beta, atol=1e-12)


def test_gelu_matches_definition():
    xs = np.linspace(-4, 4, 9)
    expected = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in xs]
    np.testing.assert_allclose(gelu(xs), expected, rtol=1e-14, atol=1e-15)
    assert gelu(np.float32([1.0])).dtype == np.float32


def test_feed_forward_is_position_wise():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 8))
    params = rng.normal(size=(8, 32)), rng.normal(size=32), rng.normal(size=(32, 8)), rng.normal(size=8)
    out = feed_forward(x, *params)
    assert out.shape == (5, 8)
    np.testing.assert_allclose(out[2], feed_forward(x[2:3], *params)[0], atol=1e-12)


def test_torch_oracle_layer_norm_and_gelu():
    torch = pytest.importorskip("torch", reason="torch (dev requirements) is the oracle for these checks")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 10))
    gamma, beta = rng.normal(size=10), rng.normal(size=10)
    ref = torch.nn.functional.layer_norm(torch.tensor(x), (10,), torch.tensor(gamma), torch.tensor(beta), 1e-5)
    np.testing.assert_allclose(layer_norm(x, gamma, beta), ref.numpy(), atol=1e-12)
    np.testing.assert_allclose(gelu(x), torch.nn.functional.gelu(torch.tensor(x)).numpy(), atol=1e-14)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: layer_norm(np.zeros((2, 4)), np.ones(3), np.zeros(4)), ValueError, ["gamma", "(3,)", "(2, 4)"]),
        (lambda: layer_norm(np.zeros((2, 4)), np.ones(4), np.zeros(4), eps=0), ValueError, ["eps"]),
        (lambda: layer_norm(np.full((2, 4), np.nan), np.ones(4), np.zeros(4)), ValueError, ["NaN", "(2, 4)"]),
        (lambda: gelu(np.array([np.inf])), ValueError, ["inf"]),
        (lambda: feed_forward(np.zeros((2, 4)), np.zeros((5, 8)), np.zeros(8), np.zeros((8, 4)), np.zeros(4)),
         ValueError, ["w_1", "(5, 8)", "(2, 4)"]),
        (lambda: feed_forward(np.zeros((2, 4)), np.zeros((4, 8)), np.zeros(8), np.zeros((8, 5)), np.zeros(4)),
         ValueError, ["w_2", "(8, 5)"]),
    ],
)
def test_blocks_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_rms_norm_rescales_rows_to_root_mean_square_one():
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 4.0, size=(3, 5, 16))
    out = rms_norm(x, np.ones(16), eps=1e-12)
    np.testing.assert_allclose(np.sqrt((out * out).mean(-1)), 1.0, rtol=1e-10)
    weight = rng.normal(size=16)
    np.testing.assert_allclose(rms_norm(x, weight, eps=1e-12), out * weight, atol=1e-12)
    # unlike layer norm, the mean is kept: a constant row stays constant, not zero
    np.testing.assert_allclose(rms_norm(np.full((1, 4), 3.0), np.ones(4)), 1.0, rtol=1e-6)
    assert rms_norm(np.float32([[1.0, 2.0]]), np.ones(2)).dtype == np.float32


def test_swiglu_is_a_gated_feed_forward():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 8))
    w_gate, w_up, w_down = rng.normal(size=(8, 12)), rng.normal(size=(8, 12)), rng.normal(size=(12, 8))
    a = x @ w_gate
    expected = (a / (1 + np.exp(-a)) * (x @ w_up)) @ w_down
    np.testing.assert_allclose(swiglu(x, w_gate, w_up, w_down), expected, atol=1e-12)
    # position-wise, like feed_forward: each row alone gives the same row
    np.testing.assert_allclose(swiglu(x[2:3], w_gate, w_up, w_down), expected[2:3], atol=1e-12)
    np.testing.assert_allclose(silu(np.array([-800.0, 0.0, 800.0])), [0.0, 0.0, 800.0])


def test_torch_oracle_rms_norm_and_swiglu():
    torch = pytest.importorskip("torch", reason="torch (dev requirements) is the oracle for these checks")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 6, 10)).astype(np.float32)
    weight = rng.normal(size=10).astype(np.float32)
    ref = torch.nn.functional.rms_norm(torch.tensor(x), (10,), torch.tensor(weight), 1e-5)
    np.testing.assert_allclose(rms_norm(x, weight, 1e-5), ref.numpy(), rtol=1e-5, atol=1e-6)
    w_gate, w_up = rng.normal(size=(10, 16)), rng.normal(size=(10, 16))
    w_down = rng.normal(size=(16, 10))
    t = torch.tensor(x.astype(np.float64))
    ref = (torch.nn.functional.silu(t @ torch.tensor(w_gate)) * (t @ torch.tensor(w_up))) @ torch.tensor(w_down)
    np.testing.assert_allclose(swiglu(x.astype(np.float64), w_gate, w_up, w_down), ref.numpy(), atol=1e-10)
