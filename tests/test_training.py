"""Tests of attention_course.training: gradient checks of every backward pass, Adam, toy tasks,
the tiny model's full backward, a short training run, and bad input."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_course import layer_norm, padding_mask, scaled_dot_product_attention, softmax
from attention_course.blocks import gelu
from attention_course.training import (
    IGNORE_INDEX,
    Adam,
    TinyAttentionModel,
    attention_backward,
    cross_entropy,
    cross_entropy_backward,
    embedding_backward,
    evaluate,
    gelu_backward,
    gradient_check,
    heldout_split,
    layer_norm_backward,
    linear_backward,
    log_softmax,
    numerical_gradient,
    retrieval_task,
    reversal_task,
    softmax_backward,
    softmax_jacobian,
    sorting_task,
    train,
)

TOL = 1e-6


def rng(seed=0):
    return np.random.default_rng(seed)


# ---- gradient_check itself ----------------------------------------------------------------

def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(numerical_gradient(lambda z: np.sum(z**3), x), 3 * x**2, rtol=1e-8)


def test_gradient_check_accepts_right_and_rejects_wrong_gradients():
    x = rng().normal(size=(3, 4))
    f = lambda z: float(np.sum(np.sin(z)))  # noqa: E731
    assert gradient_check(f, x, np.cos(x)) < TOL
    assert gradient_check(f, x, np.cos(x) * 1.01) > 1e-3
    assert gradient_check(f, x, np.cos(x), num_checks=5) < TOL
    assert gradient_check(lambda z: 0.0, x, np.zeros_like(x)) == 0.0


def test_gradient_check_does_not_modify_x():
    x = rng().normal(size=5)
    before = x.copy()
    gradient_check(lambda z: float(z @ z), x, 2 * x)
    np.testing.assert_array_equal(x, before)


def test_gradient_check_bad_input():
    with pytest.raises(TypeError, match=r"float64.*\(3,\)"):
        gradient_check(lambda z: 0.0, np.zeros(3, np.float32), np.zeros(3))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        gradient_check(lambda z: 0.0, np.zeros(3), np.zeros(2))


# ---- softmax ------------------------------------------------------------------------------

def test_softmax_jacobian_matches_finite_differences_and_formula():
    x = rng().normal(size=5)
    s = softmax(x)
    jac = softmax_jacobian(s)
    np.testing.assert_allclose(jac, np.diag(s) - np.outer(s, s))
    for j in range(5):  # row j of the Jacobian is the gradient of s_j
        assert gradient_check(lambda z, j=j: softmax(z)[j], x, jac[j]) < TOL
    np.testing.assert_allclose(jac.sum(axis=0), 0.0, atol=1e-15)  # shifting x changes nothing


def test_softmax_backward_equals_jacobian_product_and_finite_differences():
    x = rng(1).normal(size=(2, 3, 6))
    g = rng(2).normal(size=x.shape)
    s = softmax(x)
    cheap = softmax_backward(g, s)
    full = np.einsum("...ij,...i->...j", softmax_jacobian(s), g)
    np.testing.assert_allclose(cheap, full, atol=1e-15)
    assert gradient_check(lambda z: float(np.sum(softmax(z) * g)), x, cheap) < TOL


def test_softmax_backward_other_axis():
    x = rng(3).normal(size=(4, 3))
    g = rng(4).normal(size=x.shape)
    grad = softmax_backward(g, softmax(x, axis=0), axis=0)
    assert gradient_check(lambda z: float(np.sum(softmax(z, axis=0) * g)), x, grad) < TOL


def test_softmax_backward_bad_input():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        softmax_backward(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"axis 2.*\(2, 3\)"):
        softmax_backward(np.zeros((2, 3)), np.zeros((2, 3)), axis=2)


# ---- attention ----------------------------------------------------------------------------

def attention_case(shape_q=(2, 3, 4), n_k=5, d_v=3, seed=0):
    r = rng(seed)
    q = r.normal(size=shape_q)
    k = r.normal(size=shape_q[:-2] + (n_k, shape_q[-1]))
    v = r.normal(size=shape_q[:-2] + (n_k, d_v))
    g = r.normal(size=shape_q[:-1] + (d_v,))  # L = sum(out * g), so dL/dout = g
    return q, k, v, g


def check_attention_grads(q, k, v, g, **kw):
    out, weights = scaled_dot_product_attention(q, k, v, **kw)
    dq, dk, dv = attention_backward(g, q, k, v, weights, **kw)
    assert dq.shape == q.shape and dk.shape == k.shape and dv.shape == v.shape
    loss = lambda qq, kk, vv: float(np.sum(scaled_dot_product_attention(qq, kk, vv, **kw)[0] * g))  # noqa: E731
    assert gradient_check(lambda z: loss(z, k, v), q, dq) < TOL
    assert gradient_check(lambda z: loss(q, z, v), k, dk) < TOL
    assert gradient_check(lambda z: loss(q, k, z), v, dv) < TOL
    return dq, dk, dv


def test_attention_backward_plain():
    check_attention_grads(*attention_case())


def test_attention_backward_custom_scale_and_4d():
    check_attention_grads(*attention_case(shape_q=(2, 2, 3, 4), seed=1), scale=0.7)


def test_attention_backward_causal():
    q, k, v, g = attention_case(shape_q=(2, 5, 4), n_k=5, seed=2)
    dq, dk, dv = check_attention_grads(q, k, v, g, causal=True)
    # The last key is seen only by the last query: its value gradient is P[-1, -1] * g[-1].
    _, w = scaled_dot_product_attention(q, k, v, causal=True)
    np.testing.assert_allclose(dv[:, -1], w[:, -1, -1, None] * g[:, -1])


def test_attention_backward_causal_with_fewer_queries_than_keys():
    check_attention_grads(*attention_case(shape_q=(1, 2, 4), n_k=5, seed=3), causal=True)


def test_attention_backward_padding_mask_gives_padded_keys_zero_gradient():
    q, k, v, g = attention_case(shape_q=(3, 4, 4), n_k=6, seed=4)
    mask = padding_mask(np.array([6, 3, 1]), 6)
    dq, dk, dv = check_attention_grads(q, k, v, g, mask=mask)
    assert np.all(dk[1, 3:] == 0) and np.all(dv[1, 3:] == 0)
    assert np.all(dk[2, 1:] == 0) and np.all(dv[2, 1:] == 0)
    # One allowed key: the weights are constant (1), so the queries get no gradient.
    np.testing.assert_array_equal(dq[2], 0.0)


def test_attention_backward_padding_and_causal_together():
    q, k, v, g = attention_case(shape_q=(2, 4, 3), n_k=4, seed=5)
    check_attention_grads(q, k, v, g, mask=padding_mask(np.array([4, 2]), 4), causal=True)


def test_attention_backward_fully_masked_row_gives_zero_not_nan():
    q, k, v, g = attention_case(shape_q=(1, 2, 3), n_k=3, seed=6)
    mask = np.array([[[True, True, False], [False, False, False]]])
    dq, dk, dv = check_attention_grads(q, k, v, g, mask=mask)
    assert np.all(np.isfinite(dq)) and np.all(dq[0, 1] == 0)


def test_attention_backward_float32_in_float32_out():
    q, k, v, g = (a.astype(np.float32) for a in attention_case())
    _, w = scaled_dot_product_attention(q, k, v)
    assert all(a.dtype == np.float32 for a in attention_backward(g, q, k, v, w))


def test_attention_backward_matches_torch_autograd():
    torch = pytest.importorskip("torch", reason="torch is the oracle for attention gradients")
    q, k, v, g = attention_case(shape_q=(2, 5, 4), n_k=5, seed=7)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
    out.backward(torch.tensor(g))
    _, w = scaled_dot_product_attention(q, k, v, causal=True)
    for ours, theirs in zip(attention_backward(g, q, k, v, w, causal=True), (tq, tk, tv), strict=True):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(n_q=st.integers(1, 4), n_k=st.integers(1, 4), d=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_attention_backward_property_any_shape(n_q, n_k, d, seed):
    q, k, v, g = attention_case(shape_q=(2, n_q, d), n_k=n_k, d_v=d, seed=seed)
    check_attention_grads(q, k, v, g)


def test_attention_backward_bad_input():
    q, k, v, g = attention_case()
    _, w = scaled_dot_product_attention(q, k, v)
    with pytest.raises(ValueError, match=r"grad_out.*\(2, 3, 3\).*\(2, 3, 4\)"):
        attention_backward(np.zeros((2, 3, 4)), q, k, v, w)
    with pytest.raises(ValueError, match=r"weights.*\(2, 3, 5\).*\(2, 5, 3\)"):
        attention_backward(g, q, k, v, w.swapaxes(-1, -2))
    with pytest.raises(ValueError, match=r"q and k.*\(2, 3, 4\).*\(2, 5, 2\)"):
        attention_backward(g, q, k[..., :2], v, w)
    with pytest.raises(ValueError, match=r"weights with shape \(2, 3, 5\).*same mask"):
        attention_backward(g, q, k, v, w, causal=True)  # forward was not causal
    with pytest.raises(TypeError, match="boolean"):
        attention_backward(g, q, k, v, w, mask=np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        attention_backward(np.full_like(g, np.nan), q, k, v, w)


# ---- linear, layer norm, GELU, embedding --------------------------------------------------

def test_linear_backward():
    r = rng(8)
    x, w, b, g = r.normal(size=(2, 3, 4)), r.normal(size=(4, 5)), r.normal(size=5), r.normal(size=(2, 3, 5))
    dx, dw, db = linear_backward(g, x, w)
    f = lambda xx, ww, bb: float(np.sum((xx @ ww + bb) * g))  # noqa: E731
    assert gradient_check(lambda z: f(z, w, b), x, dx) < TOL
    assert gradient_check(lambda z: f(x, z, b), w, dw) < TOL
    assert gradient_check(lambda z: f(x, w, z), b, db) < TOL
    assert linear_backward(g, x, w, has_bias=False)[2] is None


def test_linear_backward_bad_input():
    with pytest.raises(ValueError, match=r"w must have shape \(d_in=4, d_out\).*\(3, 5\)"):
        linear_backward(np.zeros((2, 5)), np.zeros((2, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"grad_out must have shape \(2, 5\).*\(2, 6\)"):
        linear_backward(np.zeros((2, 6)), np.zeros((2, 4)), np.zeros((4, 5)))


def test_layer_norm_backward():
    r = rng(9)
    x, gamma, beta, g = r.normal(size=(2, 3, 6)), r.normal(size=6), r.normal(size=6), r.normal(size=(2, 3, 6))
    dx, dgamma, dbeta = layer_norm_backward(g, x, gamma)
    f = lambda xx, gg, bb: float(np.sum(layer_norm(xx, gg, bb) * g))  # noqa: E731
    assert gradient_check(lambda z: f(z, gamma, beta), x, dx) < TOL
    assert gradient_check(lambda z: f(x, z, beta), gamma, dgamma) < TOL
    assert gradient_check(lambda z: f(x, gamma, z), beta, dbeta) < TOL
    # Normalisation removes the mean: shifting every feature of a row changes nothing.
    np.testing.assert_allclose(dx.sum(axis=-1), 0.0, atol=1e-12)


def test_layer_norm_backward_bad_input():
    with pytest.raises(ValueError, match=r"gamma must have shape \(6,\).*\(2, 6\).*\(5,\)"):
        layer_norm_backward(np.zeros((2, 6)), np.zeros((2, 6)), np.ones(5))
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(2, 6\)"):
        layer_norm_backward(np.zeros((2, 5)), np.zeros((2, 6)), np.ones(6))


def test_gelu_backward():
    x = np.linspace(-4, 4, 17)
    g = rng(10).normal(size=x.shape)
    assert gradient_check(lambda z: float(np.sum(gelu(z) * g)), x, gelu_backward(g, x)) < TOL


def test_embedding_backward_adds_repeated_tokens():
    r = rng(11)
    table, ids, g = r.normal(size=(7, 3)), np.array([[1, 4, 1], [0, 1, 6]]), r.normal(size=(2, 3, 3))
    grad = embedding_backward(g, ids, 7)
    assert gradient_check(lambda t: float(np.sum(t[ids] * g)), table, grad) < TOL
    np.testing.assert_allclose(grad[1], g[0, 0] + g[0, 2] + g[1, 1])
    np.testing.assert_array_equal(grad[[2, 3, 5]], 0.0)


def test_embedding_backward_bad_input():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4, 5\)"):
        embedding_backward(np.zeros((2, 4, 5)), np.zeros((2, 3), int), 7)
    with pytest.raises(ValueError, match=r"\[0, 7\).*9"):
        embedding_backward(np.zeros((1, 5)), np.array([9]), 7)
    with pytest.raises(TypeError, match=r"float64.*\(3,\)"):
        embedding_backward(np.zeros((3, 2)), np.zeros(3), 7)


# ---- cross-entropy ------------------------------------------------------------------------

def test_cross_entropy_value_gradient_and_ignore_index():
    r = rng(12)
    logits, targets = r.normal(size=(2, 4, 5)), r.integers(0, 5, size=(2, 4))
    targets[0, 1] = IGNORE_INDEX
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    scored = targets != IGNORE_INDEX
    expected = -np.mean(np.log(p[scored, targets[scored]]))
    assert cross_entropy(logits, targets) == pytest.approx(expected, rel=1e-12)
    grad = cross_entropy_backward(logits, targets)
    assert gradient_check(lambda z: cross_entropy(z, targets), logits, grad) < TOL
    np.testing.assert_array_equal(grad[0, 1], 0.0)
    np.testing.assert_allclose(grad.sum(-1), 0.0, atol=1e-15)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4]])
    assert cross_entropy(logits, np.array([0])) == 0.0
    assert cross_entropy(logits, np.array([1])) == pytest.approx(1e4)
    assert np.all(np.isfinite(cross_entropy_backward(logits, np.array([2]))))
    np.testing.assert_allclose(log_softmax(np.array([1000.0, 1000.0])), np.log([0.5, 0.5]))


def test_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch", reason="torch is the oracle for cross-entropy")
    r = rng(13)
    logits, targets = r.normal(size=(6, 5)), r.integers(0, 5, size=6)
    targets[2] = IGNORE_INDEX
    t = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(t, torch.tensor(targets))
    loss.backward()
    assert cross_entropy(logits, targets) == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(cross_entropy_backward(logits, targets), t.grad.numpy(), atol=1e-15)


def test_cross_entropy_bad_input():
    with pytest.raises(ValueError, match=r"targets must have shape \(2, 5\).*\(2, 5, 3\).*got \(2, 4\)"):
        cross_entropy(np.zeros((2, 5, 3)), np.zeros((2, 4), int))
    with pytest.raises(ValueError, match=r"\[0, 3\).*7"):
        cross_entropy(np.zeros((2, 3)), np.array([0, 7]))
    with pytest.raises(TypeError, match=r"integer.*float64"):
        cross_entropy(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="no target is scored"):
        cross_entropy_backward(np.zeros((2, 3)), np.array([IGNORE_INDEX, IGNORE_INDEX]))


# ---- Adam ---------------------------------------------------------------------------------

def test_adam_first_step_has_size_lr_whatever_the_gradient_scale():
    # Bias correction makes the first step exactly lr * sign(g) (up to eps).
    params = {"a": np.array([1.0, 1.0]), "b": np.zeros(3)}
    opt = Adam(params, lr=0.1)
    opt.step({"a": np.array([1e-2, -1e4]), "b": np.array([2.0, -3.0, 0.0])})
    np.testing.assert_allclose(params["a"], [0.9, 1.1], rtol=1e-6)
    np.testing.assert_allclose(params["b"], [-0.1, 0.1, 0.0], rtol=1e-6)


def test_adam_minimises_a_quadratic():
    # f(x) = 0.5 sum(c * (x - target)^2) with badly scaled curvatures c.
    target, c = np.array([3.0, -2.0, 0.5]), np.array([100.0, 1.0, 0.01])
    params = {"x": np.zeros(3)}
    opt = Adam(params, lr=0.1)
    for _ in range(1500):
        opt.step({"x": c * (params["x"] - target)})
    np.testing.assert_allclose(params["x"], target, atol=1e-2)


def test_adam_weight_decay_is_decoupled_and_matches_torch_adamw():
    torch = pytest.importorskip("torch", reason="torch.optim.AdamW is the oracle for Adam")
    r = rng(14)
    x0, grads = r.normal(size=(3, 2)), r.normal(size=(5, 3, 2))
    params = {"w": x0.copy()}
    opt = Adam(params, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)
    tw = torch.tensor(x0.copy(), requires_grad=True)
    topt = torch.optim.AdamW([tw], lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)
    for g in grads:
        opt.step({"w": g})
        tw.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(params["w"], tw.detach().numpy(), rtol=1e-12)


def test_adam_zero_gradient_with_weight_decay_shrinks():
    params = {"w": np.array([2.0])}
    Adam(params, lr=0.1, weight_decay=0.5).step({"w": np.array([0.0])})
    np.testing.assert_allclose(params["w"], [2.0 * (1 - 0.05)])


def test_adam_bad_input():
    params = {"w": np.zeros((2, 3))}
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        Adam(params).step({"w": np.zeros((3, 2))})
    with pytest.raises(ValueError, match=r"missing \['w'\].*unexpected \['v'\]"):
        Adam(params).step({"v": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="betas"):
        Adam(params, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="float numpy array"):
        Adam({"w": [1.0]})
    with pytest.raises(ValueError, match=r"\(2, 3\).*NaN"):
        Adam(params).step({"w": np.full((2, 3), np.nan)})


# ---- tasks --------------------------------------------------------------------------------

@pytest.mark.parametrize("task", [reversal_task, sorting_task])
def test_sequence_tasks_shapes_determinism_and_range(task):
    x, y = task(50, 7, 10, seed=3)
    assert x.shape == y.shape == (50, 7) and x.dtype == y.dtype == np.int64
    assert x.min() >= 0 and x.max() < 10
    x2, y2 = task(50, 7, 10, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, task(50, 7, 10, seed=4)[0])


def test_reversal_and_sorting_targets():
    x, y = reversal_task(20, 6, 5, seed=0)
    for row, out in zip(x, y, strict=True):
        assert list(out) == list(reversed(row))
    x, y = sorting_task(20, 6, 5, seed=0)
    for row, out in zip(x, y, strict=True):
        assert list(out) == sorted(row)


def test_retrieval_task_targets_are_the_queried_values():
    x, y = retrieval_task(40, num_pairs=3, num_keys=5, num_values=4, seed=1)
    assert x.shape == y.shape == (40, 7)
    np.testing.assert_array_equal(y[:, :-1], IGNORE_INDEX)
    for row, out in zip(x, y, strict=True):
        keys, values, query = row[0:-1:2], row[1:-1:2], row[-1]
        assert len(set(keys)) == 3 and keys.max() < 5 and values.min() >= 5 and values.max() < 9
        assert out[-1] == dict(zip(keys, values, strict=True))[query]
    np.testing.assert_array_equal(x, retrieval_task(40, 3, 5, 4, seed=1)[0])


def test_heldout_split_is_disjoint():
    x, y = reversal_task(300, 3, 4, seed=0)  # at most 64 distinct sequences: many duplicates
    (tx, ty), (hx, hy) = heldout_split(x, y, 10)
    assert len(hx) == 10 and len(tx) + len(hx) == len(np.unique(x, axis=0)) < 300
    train_rows = {tuple(r) for r in tx}
    assert not any(tuple(r) in train_rows for r in hx)
    np.testing.assert_array_equal(hy, hx[:, ::-1])


def test_task_bad_input():
    with pytest.raises(ValueError, match="num_keys >= num_pairs"):
        retrieval_task(5, num_pairs=4, num_keys=3, num_values=2)
    with pytest.raises(ValueError, match="positive"):
        reversal_task(5, 0, 3)
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(5, 4\)"):
        heldout_split(np.zeros((5, 3), int), np.zeros((5, 4), int), 1)
    with pytest.raises(ValueError, match="distinct sequences"):
        heldout_split(np.zeros((5, 3), int), np.zeros((5, 3), int), 1)


# ---- the model ----------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [
    {},
    {"num_heads": 2, "num_layers": 2},
    {"residual": False, "causal": True},
    {"scale": 1.0},  # unscaled scores, chapter 4's training comparison
])
def test_model_backward_passes_gradient_checks(kw):
    model = TinyAttentionModel(vocab_size=5, seq_len=4, d_model=4, seed=1, **kw)
    ids = np.array([[0, 3, 3, 1], [4, 2, 0, 0]])
    targets = np.array([[1, 3, IGNORE_INDEX, 0], [4, 4, 2, 1]])
    _, grads, _ = model.loss_and_grads(ids, targets)
    assert set(grads) == set(model.params)
    for name, param in model.params.items():
        def loss(z, name=name, param=param):
            saved = param.copy()
            param[...] = z
            value = cross_entropy(model.forward(ids)[0], targets)
            param[...] = saved
            return value
        assert gradient_check(loss, param.copy(), grads[name]) < TOL, name


def test_model_shapes_and_bad_input():
    model = TinyAttentionModel(vocab_size=6, seq_len=5, d_model=8, num_heads=2, num_layers=2)
    logits, _ = model.forward(np.zeros((3, 4), int))
    assert logits.shape == (3, 4, 6)
    maps = model.attention_maps(np.zeros((3, 4), int))
    assert len(maps) == 2 and maps[0].shape == (3, 2, 4, 4)
    np.testing.assert_allclose(maps[1].sum(-1), 1.0)
    with pytest.raises(ValueError, match=r"seq_len=5.*\(3, 6\)"):
        model.forward(np.zeros((3, 6), int))
    with pytest.raises(ValueError, match=r"vocab_size=6.*6"):
        model.forward(np.full((1, 2), 6))
    with pytest.raises(TypeError, match=r"float64.*\(1, 2\)"):
        model.forward(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="num_heads=3 must divide d_model=8"):
        TinyAttentionModel(6, 5, d_model=8, num_heads=3)


def test_training_is_reproducible():
    x, y = reversal_task(200, 5, 6, seed=0)
    runs = []
    for _ in range(2):
        model = TinyAttentionModel(6, 5, d_model=8, seed=3)
        runs.append((train(model, x, y, steps=20, batch_size=16, seed=5).loss, model.params["w_out"].copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_reversal_trains_to_99_percent_heldout_quickly_with_an_antidiagonal():
    x, y = reversal_task(3000, 8, 10, seed=0)
    (tx, ty), (hx, hy) = heldout_split(x, y, 500)
    model = TinyAttentionModel(vocab_size=10, seq_len=8, d_model=32, seed=0)
    before = evaluate(model, hx, hy).token_accuracy
    start = time.perf_counter()
    history = train(model, tx, ty, steps=1000, lr=1e-2, seed=0, eval_data=(hx, hy), target_accuracy=0.99,
                    probe=hx[:4], snapshot_every=10)
    assert time.perf_counter() - start < 10.0
    result = evaluate(model, hx, hy)
    assert before < 0.2 and result.token_accuracy >= 0.99
    assert history.eval_accuracy[-1] == result.token_accuracy
    weights = model.attention_maps(hx)[0][:, 0]  # (500, 8, 8), the one head
    hits = weights.argmax(axis=-1) == np.arange(8)[::-1]
    assert hits.mean() >= 0.95
    assert history.snapshot_steps[0] == 0 and history.snapshot_steps[-1] == history.steps_run


def test_train_bad_input():
    model = TinyAttentionModel(6, 5, d_model=8)
    x, y = reversal_task(20, 5, 6)
    with pytest.raises(ValueError, match=r"\(20, 5\).*\(20, 4\)"):
        train(model, x, y[:, :4], steps=1)
    with pytest.raises(ValueError, match="needs eval_data"):
        train(model, x, y, steps=1, target_accuracy=0.9)
    with pytest.raises(ValueError, match="needs probe"):
        train(model, x, y, steps=1, snapshot_every=1)
    with pytest.raises(ValueError, match=r"length 7.*seq_len=5"):
        evaluate(model, *reversal_task(3, 7, 6))
