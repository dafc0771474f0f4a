"""The decoder-only language model of chapter 15: gradients, causality, schedule, data, induction."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from attention_course.training import (
    Adam,
    CharVocab,
    DecoderLM,
    bigram_bpc,
    clip_grad_norm,
    grad_norm,
    gradient_check,
    heldout_bpc,
    induction_score,
    load_text,
    previous_token_score,
    random_windows,
    repeat_task,
    split_text,
    train_lm,
    unigram_bpc,
    warmup_cosine,
)
from attention_course.training.grad import cross_entropy


def _small(**kw) -> DecoderLM:
    args = dict(vocab_size=7, seq_len=6, d_model=8, num_heads=2,
                num_layers=2, d_ff=12, seed=0)
    args.update(kw)
    return DecoderLM(**args)  # type: ignore[arg-type]


def _data(rng: np.random.Generator, n: int = 6) -> tuple[np.ndarray, ...]:
    return rng.integers(0, 7, (3, n)), rng.integers(0, 7, (3, n))


def _model_errors(model: DecoderLM, ablate=None) -> dict[str, float]:
    """Relative error of every parameter's gradient against finite differences."""
    x, y = _data(np.random.default_rng(1))
    y[0, 2] = -100  # an ignored target
    _, grads = model.loss_and_grads(x, y, ablate=ablate)
    errors = {}
    for name, p in model.params.items():
        def loss(z, name=name):
            saved = model.params[name].copy()
            model.params[name][...] = z
            value = cross_entropy(model.forward(x, ablate)[0], y)
            model.params[name][...] = saved
            return value
        errors[name] = gradient_check(loss, p.copy(), grads[name])
    return errors


@pytest.mark.parametrize("kw", [
    {}, {"d_ff": 0}, {"causal": False},
    {"causal": False, "flip_mask": True}, {"num_layers": 1, "num_heads": 1}])
def test_whole_model_gradient_check(kw):
    errors = _model_errors(_small(**kw))
    assert max(errors.values()) < 1e-6, errors


def test_gradient_check_with_an_ablated_head():
    model = _small()
    errors = _model_errors(model, ablate=[(1, 0)])
    assert max(errors.values()) < 1e-6, errors
    # the silenced head's query and key weights get no gradient at all
    x, y = _data(np.random.default_rng(1))
    _, grads = model.loss_and_grads(x, y, ablate=[(1, 0)])
    assert np.all(grads["1.w_q"][:, :4] == 0.0)


def test_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent
                           / "benchmarks"))
    from _torch_lm import torch_loss, torch_params

    for kw in ({}, {"d_ff": 0}, {"causal": False}):
        model = _small(**kw)
        x, y = _data(np.random.default_rng(2))
        loss, grads = model.loss_and_grads(x, y)
        p = torch_params(model.params)
        t_loss = torch_loss(model, p, x, y)
        t_loss.backward()
        assert math.isclose(loss, t_loss.item(), rel_tol=1e-12)
        for name, g in grads.items():
            np.testing.assert_allclose(g, p[name].grad.numpy(),
                                       rtol=1e-9, atol=1e-12)
    del torch


def test_causal_model_never_reads_the_future():
    model = _small()
    x, _ = _data(np.random.default_rng(3))
    changed = x.copy()
    changed[:, 4:] = (changed[:, 4:] + 1) % 7
    before, after = model.forward(x)[0], model.forward(changed)[0]
    np.testing.assert_allclose(before[:, :4], after[:, :4], atol=1e-12)
    for leaky in (_small(causal=False), _small(causal=False, flip_mask=True)):
        assert not np.allclose(leaky.forward(x)[0][:, :4],
                               leaky.forward(changed)[0][:, :4])
    flipped = _small(causal=False, flip_mask=True).attention_maps(x)[0]
    assert np.all(np.tril(flipped[0, 0]) == 0.0)  # only later positions


def test_generate_greedy_and_seeded_sampling():
    model = _small()
    prompt = np.array([[1, 2, 3]])
    greedy = model.generate(prompt, 8)
    assert greedy.shape == (1, 11)
    np.testing.assert_array_equal(greedy[:, :3], prompt)
    # greedy = the argmax of the model's own last-position logits
    nxt = model.forward(greedy[:, -6 - 1: -1])[0][:, -1].argmax(-1)
    assert nxt[0] == greedy[0, -1]
    a = model.generate(prompt, 8, temperature=1.0,
                       rng=np.random.default_rng(5))
    b = model.generate(prompt, 8, temperature=1.0,
                       rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="rng"):
        model.generate(prompt, 2, temperature=1.0)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(prompt, 2, temperature=-1.0)


def test_sampling_follows_the_softmax():
    model = DecoderLM(3, 4, d_model=4, num_heads=1, num_layers=1, seed=0)
    model.params["w_out"][...] = 0.0
    model.params["b_out"][...] = np.log([0.2, 0.3, 0.5])
    out = model.generate(np.zeros((4000, 1), dtype=np.int64), 1,
                         temperature=1.0, rng=np.random.default_rng(0))
    freq = np.bincount(out[:, 1], minlength=3) / 4000
    np.testing.assert_allclose(freq, [0.2, 0.3, 0.5], atol=0.03)


def test_bad_inputs_name_the_argument():
    model = _small()
    with pytest.raises(ValueError, match="ids"):
        model.forward(np.zeros((2, 7), dtype=np.int64))  # longer than seq_len
    with pytest.raises(TypeError, match="ids"):
        model.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="ablate"):
        model.forward(np.zeros((2, 3), dtype=np.int64), ablate=[(2, 0)])
    with pytest.raises(ValueError, match="num_heads"):
        DecoderLM(5, 4, d_model=6, num_heads=4)
    with pytest.raises(ValueError, match="flip_mask"):
        DecoderLM(5, 4, d_model=8, flip_mask=True)


def test_warmup_cosine_schedule():
    lrs = [warmup_cosine(s, 100, 1.0, 10, 0.1) for s in range(1, 101)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1)
    assert lrs[54] == pytest.approx(0.55)  # halfway down the cosine
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    with pytest.raises(ValueError, match="warmup_steps"):
        warmup_cosine(1, 10, 1.0, 10)
    with pytest.raises(ValueError, match="min_lr"):
        warmup_cosine(1, 10, 1.0, 2, 2.0)


def test_clip_grad_norm():
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]])}
    assert clip_grad_norm(grads, 1.0) == pytest.approx(5.0)
    assert grad_norm(grads) == pytest.approx(1.0)
    np.testing.assert_allclose(grads["a"], [0.6])
    small = {"a": np.array([0.3])}
    clip_grad_norm(small, 1.0)
    np.testing.assert_allclose(small["a"], [0.3])  # below the limit: unchanged


def test_shipped_text_vocab_and_baselines():
    text = load_text()
    assert len(text) == 103_427 and text.startswith("MACBETH")
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    assert len(vocab) == 67 and vocab.decode(ids[:40]) == text[:40]
    train, test = split_text(ids, 0.1)
    assert len(test) == 10_343 and len(train) + len(test) == len(ids)
    uni = unigram_bpc(train, test, len(vocab))
    bi = bigram_bpc(train, test, len(vocab))
    assert bi < uni < math.log2(len(vocab))
    with pytest.raises(ValueError, match="vocabulary"):
        vocab.encode("é")
    with pytest.raises(ValueError, match="name"):
        load_text("hamlet")


def test_bigram_baseline_by_hand():
    train, test = np.array([0, 1, 0, 1, 0]), np.array([0, 1])
    # counts 0->1: 2, 1->0: 2; add-1: P(1 | 0) = 3 / 4
    assert bigram_bpc(train, test, 2) == pytest.approx(-math.log2(0.75))
    assert unigram_bpc(train, test, 2) == pytest.approx(
        -(math.log2(4 / 7) + math.log2(3 / 7)) / 2)


def test_random_windows_shift_by_one():
    ids = np.arange(100)
    x, y = random_windows(ids, 10)(np.random.default_rng(0), 4)
    assert x.shape == y.shape == (4, 10)
    np.testing.assert_array_equal(y, x + 1)


def test_training_lowers_heldout_bpc_and_schedule_is_followed():
    ids = np.tile(np.arange(5), 60)  # a perfectly predictable cycle
    model = DecoderLM(5, 8, d_model=16, num_heads=2, num_layers=1,
                      seed=0, dtype=np.float32)
    history = train_lm(model, random_windows(ids[:250], 8), steps=60,
                       batch_size=16, lr=1e-2, warmup_steps=5,
                       evaluate=lambda m: {"bpc": heldout_bpc(m, ids[250:])},
                       eval_every=20, checkpoint_steps=[0, 60])
    bpc = history.eval_series("bpc")
    assert history.eval_steps == [0, 20, 40, 60]
    assert bpc[-1] < 0.1 < 1.0 < bpc[0]
    assert history.lr[4] == pytest.approx(1e-2)
    assert set(history.checkpoints) == {0, 60}
    assert not np.allclose(history.checkpoints[0]["w_out"],
                           model.params["w_out"])


def test_adam_still_matches_its_equations_under_a_schedule():
    params = {"w": np.array([1.0, -2.0])}
    opt = Adam(params, lr=0.5)
    opt.lr = warmup_cosine(1, 10, 0.5, 2)  # 0.25 on the first step
    opt.step({"w": np.array([4.0, -0.1])})
    np.testing.assert_allclose(params["w"], [0.75, -1.75], rtol=1e-6)


def test_repeat_task_structure():
    batch = repeat_task(np.random.default_rng(0), 50, 24, 16)
    x, y, src = batch.inputs, batch.targets, batch.source
    assert x.shape == y.shape == src.shape == (50, 23)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    b, i = np.nonzero(batch.repeat)
    # the induction source holds the token that comes next
    np.testing.assert_array_equal(x[b, src[b, i]], y[b, i])
    assert np.all(src[b, i] < i)
    assert 0.2 < batch.repeat.mean() < 0.5


def test_scores_of_perfect_heads():
    batch = repeat_task(np.random.default_rng(1), 8, 16, 10)
    n = batch.inputs.shape[1]
    ideal = np.zeros((8, 2, n, n))
    b, i = np.nonzero(batch.repeat)
    ideal[b, 0, i, batch.source[b, i]] = 1.0  # head 0: induction
    ideal[:, 1, np.arange(1, n), np.arange(n - 1)] = 1.0  # head 1: previous
    ind = induction_score(ideal, batch.source)
    prev = previous_token_score(ideal)
    assert ind[0] == 1.0 and prev[1] == 1.0 and prev[0] < 0.5
    with pytest.raises(ValueError, match="source"):
        induction_score(ideal, batch.source[:, 1:])


def _adam_step(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_no_correction(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                        eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return p - lr * m / (np.sqrt(v) + eps), m, v


def _adam_uphill(*args, **kwargs):
    p, m, v = _adam_step(*args, **kwargs)
    return 2 * args[0] - p, m, v


def test_adam_checker(capsys):
    from attention_course.exercises import check_adam_step

    assert check_adam_step(_adam_step)
    for wrong, hint in ((_adam_no_correction, "bias correction"),
                        (_adam_uphill, "against the gradient")):
        result = check_adam_step(wrong, verbose=False)
        assert not result and hint in result.message
    none = check_adam_step(lambda *a, **k: None, verbose=False)
    assert not none and "returned None" in none.message
    assert "forget to `return`" in none.message
    crash = check_adam_step(lambda *a, **k: 1 / 0, verbose=False)
    assert not crash and "ZeroDivisionError" in crash.message
    shape = check_adam_step(lambda p, *a, **k: (p[:1], p, p), verbose=False)
    assert not shape and "shape" in shape.message
    with pytest.raises(TypeError, match="function"):
        check_adam_step(None)
    capsys.readouterr()
