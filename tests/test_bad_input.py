"""One table of bad input for every public function and class: each raises ValueError/TypeError naming the shapes.

`test_every_public_callable_has_a_row` keeps the table complete: a new public function without a
bad-input row fails the suite.
"""

import inspect
import os
import tempfile

import numpy as np
import pytest

import attention_course as ac
import attention_course.models as md
import attention_course.training as tr

Z = np.zeros
RNG = np.random.default_rng(0)
TINY_CONFIG = md.DecoderConfig(vocab_size=64, hidden_size=16, num_layers=2, num_heads=4, num_kv_heads=2,
                               ffn_size=24, rope_base=1e4, rms_eps=1e-5, context_length=32, bos_id=1, eos_id=2)


def tiny_decoder():
    return md.SmolLM2.random(TINY_CONFIG)

NAN = np.array([[0.0, np.nan], [0.0, 0.0]])

# (public name, call, expected error, words the message must contain)
TABLE = [
    # attention and masks
    ("softmax", lambda: ac.softmax(NAN), ValueError, ["NaN", "(2, 2)"]),
    ("softmax", lambda: ac.softmax(Z((2, 3)), axis=2), ValueError, ["axis 2", "(2, 3)"]),
    ("diagnose_attention", lambda: ac.diagnose_attention(3), TypeError, ["fn", "int"]),
    ("diagnose_gqa", lambda: ac.diagnose_gqa(None), TypeError, ["fn", "NoneType"]),
    ("diagnose_rope", lambda: ac.diagnose_rope("apply_rope"), TypeError, ["fn", "str"]),
    ("diagnose_split_heads", lambda: ac.diagnose_split_heads(2), TypeError, ["fn", "int"]),
    ("Diagnosis", lambda: ac.Diagnosis("f")["scale"], KeyError, ["no axis 'scale'"]),
    ("scaled_dot_product_attention", lambda: ac.scaled_dot_product_attention(Z((4, 8)), Z((6, 7)), Z((6, 5))),
     ValueError, ["(4, 8)", "(6, 7)"]),
    ("scaled_dot_product_attention", lambda: ac.scaled_dot_product_attention(Z((4, 8)), Z((6, 8)), Z((5, 5))),
     ValueError, ["(6, 8)", "(5, 5)"]),
    ("scaled_dot_product_attention", lambda: ac.scaled_dot_product_attention(Z((2, 2)), Z((2, 2)), Z((2, 2)),
                                                                          mask=Z((2, 2))), TypeError, ["boolean"]),
    ("scaled_dot_product_attention", lambda: ac.scaled_dot_product_attention(Z((2, 2)), Z((2, 2)), NAN),
     ValueError, ["NaN", "(2, 2)"]),
    ("causal_mask", lambda: ac.causal_mask(-2), ValueError, ["n_q", "-2"]),
    ("padding_mask", lambda: ac.padding_mask([[1, 2]], 3), ValueError, ["(1, 2)"]),
    ("flash_attention", lambda: ac.flash_attention(Z((4, 8)), Z((6, 7)), Z((6, 5))), ValueError, ["(4, 8)", "(6, 7)"]),
    ("flash_attention", lambda: ac.flash_attention(Z((2, 2)), Z((2, 2)), Z((2, 2)), mask=np.ones((3, 2), bool)),
     ValueError, ["(3, 2)"]),
    ("online_softmax", lambda: ac.online_softmax(NAN), ValueError, ["NaN", "(2, 2)"]),
    ("online_softmax_trace", lambda: ac.online_softmax_trace(Z((2, 3))), ValueError, ["(2, 3)"]),
    ("attention_tiles", lambda: ac.attention_tiles(8, 8, 0), ValueError, ["block_size"]),
    # heads
    ("split_heads", lambda: ac.split_heads(Z((3, 10)), 4), ValueError, ["d_model=10", "(3, 10)"]),
    ("merge_heads", lambda: ac.merge_heads(Z((3, 8))), ValueError, ["(3, 8)"]),
    ("multi_head_attention", lambda: ac.multi_head_attention(Z((3, 8)), Z((3, 8)), Z((8, 4)), *[Z((8, 8))] * 3,
                                                             num_heads=2), ValueError, ["w_q", "(8, 4)"]),
    ("grouped_query_attention", lambda: ac.grouped_query_attention(Z((6, 4, 8)), Z((4, 4, 8)), Z((4, 4, 8))),
     ValueError, ["(6, 4, 8)", "(4, 4, 8)"]),
    ("MultiHeadAttention", lambda: ac.MultiHeadAttention(10, 4, RNG), ValueError, ["num_heads=4", "d_model=10"]),
    ("MultiHeadAttention", lambda: ac.MultiHeadAttention(8, 2, RNG)(Z((3, 6))), ValueError, ["(3, 6)"]),
    # blocks and positions
    ("layer_norm", lambda: ac.layer_norm(Z((2, 4)), np.ones(3), Z(4)), ValueError, ["(3,)", "(2, 4)"]),
    ("gelu", lambda: ac.gelu(np.array([np.inf])), ValueError, ["inf", "(1,)"]),
    ("feed_forward", lambda: ac.feed_forward(Z((2, 4)), Z((5, 8)), Z(8), Z((8, 4)), Z(4)), ValueError,
     ["(5, 8)", "(2, 4)"]),
    ("TransformerBlock", lambda: ac.TransformerBlock(10, 4, 16, RNG), ValueError, ["4", "10"]),
    ("TransformerBlock", lambda: ac.TransformerBlock(8, 2, 16, RNG)(Z((3, 6))), ValueError, ["(3, 6)"]),
    ("sinusoidal_positional_encoding", lambda: ac.sinusoidal_positional_encoding(4, 5), ValueError, ["d", "5"]),
    ("sinusoidal_frequencies", lambda: ac.sinusoidal_frequencies(5), ValueError, ["5"]),
    ("sinusoidal_shift_matrix", lambda: ac.sinusoidal_shift_matrix(1, 3), ValueError, ["3"]),
    ("apply_rope", lambda: ac.apply_rope(Z((4, 6)), np.arange(5)), ValueError, ["(5,)", "(4, 6)"]),
    ("rope_angles", lambda: ac.rope_angles(np.arange(4), 5), ValueError, ["5"]),
    ("rms_norm", lambda: ac.rms_norm(Z((2, 4)), np.ones(3)), ValueError, ["(3,)", "(2, 4)"]),
    ("silu", lambda: ac.silu(np.array([np.nan])), ValueError, ["NaN", "(1,)"]),
    ("swiglu", lambda: ac.swiglu(Z((2, 4)), Z((4, 8)), Z((4, 8)), Z((8, 5))), ValueError,
     ["w_down", "(8, 5)"]),
    # scaling experiment
    ("dot_product_variance", lambda: ac.dot_product_variance(0, 10, RNG), ValueError, ["d_k"]),
    ("random_dot_products", lambda: ac.random_dot_products(4, 0, RNG), ValueError, ["n_samples"]),
    ("random_scores", lambda: ac.random_scores(4, 2, 2, rng=0, scaled=True), TypeError, ["Generator"]),
    ("saturation_stats", lambda: ac.saturation_stats(0, scaled=True, rng=RNG), ValueError, ["d_k"]),
    ("softmax_jacobian", lambda: ac.softmax_jacobian(np.array([0.5, 0.6])), ValueError, ["(2,)"]),
    ("entropy", lambda: ac.entropy(np.array([[0.5, -0.5]])), ValueError, ["(1, 2)"]),
    # KV cache
    ("KVCache", lambda: ac.KVCache(0, 8), ValueError, ["num_kv_heads"]),
    ("KVCache", lambda: ac.KVCache(2, 8).append(Z((2, 1, 4)), Z((2, 1, 4))), ValueError, ["(2, 1, 4)"]),
    ("kv_cache_bytes", lambda: ac.kv_cache_bytes(0, 2, 8, 16), ValueError, ["num_layers"]),
    ("ToyDecoder", lambda: ac.ToyDecoder(d_model=10, num_heads=4), ValueError, ["10", "4"]),
    # plotting
    ("plot_attention", lambda: ac.plot_attention(Z((2, 3)), ["a", "b"], ["x"]), ValueError, ["(2, 3)"]),
    ("attention_table", lambda: ac.attention_table(Z((2, 3)), ["a"]), ValueError, ["(2, 3)"]),
    # training
    ("softmax_backward", lambda: tr.softmax_backward(Z((2, 3)), Z((2, 4))), ValueError, ["(2, 3)", "(2, 4)"]),
    ("attention_backward", lambda: tr.attention_backward(Z((4, 5)), Z((4, 8)), Z((6, 8)), Z((6, 5)), Z((4, 5))),
     ValueError, ["(4, 5)", "(4, 6)"]),
    ("linear_backward", lambda: tr.linear_backward(Z((3, 5)), Z((3, 4)), Z((4, 6))), ValueError, ["(3, 5)", "(4, 6)"]),
    ("layer_norm_backward", lambda: tr.layer_norm_backward(Z((2, 4)), Z((2, 5)), np.ones(4)), ValueError,
     ["(2, 4)", "(2, 5)"]),
    ("gelu_backward", lambda: tr.gelu_backward(Z((2, 3)), Z((3, 2))), ValueError, ["(2, 3)", "(3, 2)"]),
    ("cross_entropy", lambda: tr.cross_entropy(Z((2, 3, 5)), np.zeros((2, 4), int)), ValueError,
     ["(2, 3, 5)", "(2, 4)"]),
    ("cross_entropy_backward", lambda: tr.cross_entropy_backward(Z((2, 5)), np.array([0, 7])), ValueError, ["7"]),
    ("log_softmax", lambda: tr.log_softmax(NAN), ValueError, ["NaN", "(2, 2)"]),
    ("embedding_backward", lambda: tr.embedding_backward(Z((2, 3, 4)), np.zeros((2, 2), int), 5), ValueError,
     ["(2, 3, 4)", "(2, 2)"]),
    ("gradient_check", lambda: tr.gradient_check(lambda x: float(x.sum()), Z(3), Z(4)), ValueError, ["(3,)", "(4,)"]),
    ("numerical_gradient", lambda: tr.numerical_gradient(lambda x: float(x.sum()), Z(3, np.float32)), TypeError,
     ["float32"]),
    ("Adam", lambda: ac.training.Adam({"w": Z(3)}, lr=-1.0), ValueError, ["lr"]),
    ("Adam", lambda: tr.Adam({"w": Z(3)}).step({"w": Z(4)}), ValueError, ["(3,)", "(4,)"]),
    ("reversal_task", lambda: tr.reversal_task(4, 0, 5), ValueError, ["length"]),
    ("sorting_task", lambda: tr.sorting_task(4, 3, 0), ValueError, ["vocab_size"]),
    ("retrieval_task", lambda: tr.retrieval_task(4, 5, 3, 4), ValueError, ["num_pairs", "num_keys"]),
    ("heldout_split", lambda: tr.heldout_split(np.zeros((4, 3), int), np.zeros((5, 3), int), 1), ValueError,
     ["(4, 3)", "(5, 3)"]),
    ("TinyAttentionModel", lambda: tr.TinyAttentionModel(5, 4, d_model=10, num_heads=4), ValueError, ["10", "4"]),
    ("evaluate", lambda: tr.evaluate(tr.TinyAttentionModel(5, 4), np.zeros((2, 4), int), np.zeros((2, 3), int)),
     ValueError, ["(2, 4)", "(2, 3)"]),
    ("train", lambda: tr.train(tr.TinyAttentionModel(5, 4), np.zeros((2, 4), int), np.zeros((3, 4), int)),
     ValueError, ["(2, 4)", "(3, 4)"]),
    # chapter 15: the language model
    ("DecoderLM", lambda: tr.DecoderLM(5, 4, d_model=10, num_heads=4), ValueError, ["num_heads=4", "d_model=10"]),
    ("train_lm", lambda: tr.train_lm(tr.DecoderLM(5, 4, d_model=8), lambda r, b: None, steps=0), ValueError,
     ["steps", "0"]),
    ("heldout_bpc", lambda: tr.heldout_bpc(tr.DecoderLM(5, 4, d_model=8), np.zeros(3, int)), ValueError,
     ["length=4", "(3,)"]),
    ("warmup_cosine", lambda: tr.warmup_cosine(1, 10, 1.0, 10), ValueError, ["warmup_steps=10", "total_steps=10"]),
    ("clip_grad_norm", lambda: tr.clip_grad_norm({"w": Z(2)}, -1.0), ValueError, ["max_norm"]),
    ("grad_norm", lambda: tr.grad_norm({}), TypeError, ["grads", "dict"]),
    ("CharVocab", lambda: tr.CharVocab("ab").encode("abc"), ValueError, ["vocabulary", "'c'"]),
    ("load_text", lambda: tr.load_text("hamlet"), ValueError, ["hamlet", "macbeth"]),
    ("split_text", lambda: tr.split_text(np.zeros((2, 3), int)), ValueError, ["(2, 3)"]),
    ("unigram_bpc", lambda: tr.unigram_bpc(np.array([0, 5]), np.array([0, 1]), 3), ValueError,
     ["train", "vocab_size=3", "5"]),
    ("bigram_bpc", lambda: tr.bigram_bpc(np.array([0, 1]), np.zeros((2, 2), int), 3), ValueError, ["test", "(2, 2)"]),
    ("random_windows", lambda: tr.random_windows(np.arange(5), 5), ValueError, ["length=5", "(5,)"]),
    ("repeat_task", lambda: tr.repeat_task(RNG, 4, 6, 5, min_segment=4), ValueError, ["length=6", "min_segment=4"]),
    ("induction_score", lambda: tr.induction_score(Z((2, 1, 3, 3)), np.zeros((2, 4), int)), ValueError,
     ["(2, 1, 3, 3)", "(2, 4)"]),
    ("previous_token_score", lambda: tr.previous_token_score(Z((3, 3))), ValueError, ["(3, 3)"]),
    # real models (MiniLM): the loaders and readers
    ("EncoderConfig", lambda: md.EncoderConfig(hidden_size=10, num_heads=4), ValueError, ["num_heads=4", "10"]),
    ("WordPieceTokenizer", lambda: md.WordPieceTokenizer([]), ValueError, ["[UNK]", "0 tokens"]),
    ("load_tokenizer", lambda: md.load_tokenizer("/nonexistent-folder"), FileNotFoundError, ["vocab.txt"]),
    ("load_minilm", lambda: md.load_minilm("/nonexistent-folder"), FileNotFoundError, ["config.json"]),
    ("MiniLM", lambda: md.MiniLM(md.EncoderConfig(), {}, md.WordPieceTokenizer(["[UNK]", "[CLS]", "[SEP]", "[PAD]",
                                                                               "[MASK]"])), KeyError,
     ["embeddings.word_embeddings.weight", "0 tensors"]),
    ("mean_pool", lambda: md.mean_pool(Z((2, 3, 4)), np.ones((2, 5), bool)), ValueError, ["(2, 3, 4)", "(2, 5)"]),
    ("encode_sentences", lambda: md.encode_sentences("one string"), TypeError, ["list of str"]),
    ("read_safetensors", lambda: md.read_safetensors(__file__), ValueError, ["header"]),
    ("read_safetensors_header", lambda: md.read_safetensors_header(__file__), ValueError, ["header"]),
    ("write_safetensors", lambda: md.write_safetensors(os.path.join(tempfile.gettempdir(), "bad.safetensors"),
                                                       {"a": np.array(["x"])}), TypeError,
     ["(1,)"]),
    # the decoder (chapter 16), on a tiny random model of the same architecture
    ("DecoderConfig", lambda: md.DecoderConfig.from_fields({"general.architecture": "bert"}), ValueError,
     ["llama", "bert"]),
    ("SmolLM2", lambda: md.SmolLM2(TINY_CONFIG, {}), KeyError, ["token_embd.weight"]),
    ("SmolLM2", lambda: tiny_decoder().forward([1, 64]), ValueError, ["[0, 64)", "[64]"]),
    ("SmolLM2", lambda: tiny_decoder().forward(np.zeros(40, int)), ValueError, ["40", "context length 32"]),
    ("load_smollm2", lambda: md.load_smollm2("/nonexistent.gguf"), FileNotFoundError, ["/nonexistent.gguf"]),
    ("filter_top_k", lambda: md.filter_top_k([0.5, 0.5], 0), ValueError, ["top_k", "0"]),
    ("filter_top_p", lambda: md.filter_top_p([0.5, 0.5], 1.5), ValueError, ["top_p", "(0, 1]", "1.5"]),
    ("next_token_probabilities", lambda: md.next_token_probabilities([1.0, 2.0], temperature=0.0), ValueError,
     ["temperature", "> 0"]),
    ("generate", lambda: md.generate(tiny_decoder(), [1, 2], -1), ValueError, ["max_new_tokens", "-1"]),
    ("generate", lambda: md.generate(tiny_decoder(), [1, 2], 3, sample=True, temperature=-1.0,
                                     rng=RNG), ValueError, ["temperature", "-1.0"]),
    ("generate", lambda: md.generate(tiny_decoder(), [1, 2], 3, sample=True, top_p=0.0, rng=RNG), ValueError,
     ["top_p", "(0, 1]"]),
    ("generate", lambda: md.generate(tiny_decoder(), [1, 2], 3, sample=True), TypeError, ["rng", "Generator"]),
    ("generate_stream", lambda: md.generate_stream(tiny_decoder(), [1, 99], 3), ValueError, ["[0, 64)", "[99]"]),
    ("generate_stream", lambda: md.generate_stream(tiny_decoder(), [1.5], 3), TypeError, ["integer", "float64"]),
    # the byte-level BPE tokenizer (chapter 16)
    ("BPETokenizer", lambda: md.BPETokenizer(["a", "b"], ["a b"]), ValueError,
     ["merges[0]", "'ab'", "not in the vocabulary"]),
]

# Public names that take no input to be wrong about (types that only hold results, modules, constants).
NOT_CALLED_WITH_INPUT = {"SaturationStats", "Evaluation", "History", "IGNORE_INDEX", "exercises", "training",
                         "EncoderOutput", "SafetensorsError", "minilm_folder", "DecoderOutput",
                         "bytes_to_unicode", "smollm2_gguf_path", "weights_cache_dir"}
NOT_CALLED_WITH_INPUT |= {"LMHistory", "RepeatBatch", "TEXTS"}  # chapter 15: results, text names


def public_callables():
    names = {n for n in ac.__all__ if not inspect.ismodule(getattr(ac, n))}
    names |= set(tr.__all__) | set(md.__all__)
    return sorted(names - NOT_CALLED_WITH_INPUT)


def test_every_public_callable_has_a_row():
    covered = {row[0] for row in TABLE}
    missing = [name for name in public_callables() if name not in covered]
    assert not missing, f"public functions without a bad-input row in tests/test_bad_input.py: {missing}"


@pytest.mark.parametrize("name, call, error, words", TABLE, ids=[f"{row[0]}-{i}" for i, row in enumerate(TABLE)])
def test_bad_input_raises_a_clear_error(name, call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{name}: {word!r} not in the message {str(info.value)!r}"


# ---- issue 19: the classes of silent garbage, each refused or made exact
# ------------------------

W8 = RNG.normal(size=(8, 8))


def _nan_at(shape, index=0):
    a = np.ones(shape)
    a.flat[index] = np.nan
    return a


@pytest.mark.parametrize(
    "call, name",
    [
        (
            lambda: ac.multi_head_attention(
                Z((3, 8)), Z((3, 8)), W8, W8, W8, _nan_at((8, 8)), num_heads=2
            ),
            "w_o",
        ),
        (
            lambda: ac.multi_head_attention(
                Z((3, 8)),
                Z((3, 8)),
                W8,
                W8,
                W8,
                W8,
                num_heads=2,
                b_o=_nan_at(8),
            ),
            "b_o",
        ),
        (lambda: ac.layer_norm(Z((2, 4)), _nan_at(4), Z(4)), "gamma"),
        (lambda: ac.layer_norm(Z((2, 4)), np.ones(4), _nan_at(4)), "beta"),
        (
            lambda: ac.feed_forward(
                Z((2, 4)), _nan_at((4, 8)), Z(8), Z((8, 4)), Z(4)
            ),
            "w_1",
        ),
        (
            lambda: ac.feed_forward(
                Z((2, 4)), Z((4, 8)), Z(8), Z((8, 4)), _nan_at(4)
            ),
            "b_2",
        ),
        (
            lambda: md.mean_pool(_nan_at((1, 2, 3)), np.ones((1, 2), bool)),
            "hidden",
        ),
        (
            lambda: tr.linear_backward(_nan_at((3, 4)), Z((3, 5)), Z((5, 4))),
            "grad_out",
        ),
        (
            lambda: tr.layer_norm_backward(Z((2, 4)), Z((2, 4)), _nan_at(4)),
            "gamma",
        ),
        (lambda: tr.gelu_backward(Z((2, 3)), _nan_at((2, 3))), "x"),
        (
            lambda: tr.softmax_backward(
                _nan_at((2, 3)), np.full((2, 3), 1 / 3)
            ),
            "grad_out",
        ),
        (
            lambda: ac.KVCache(1, 2).append(_nan_at((1, 1, 2)), Z((1, 1, 2))),
            "k",
        ),
    ],
)
def test_nan_in_weights_and_parameters_is_refused(call, name):
    with pytest.raises(ValueError, match="NaN") as info:
        call()
    assert str(info.value).startswith(name), str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ac.MultiHeadAttention(8, 2, RNG, dtype=np.int64),
        lambda: ac.TransformerBlock(8, 2, 16, RNG, dtype=np.int64),
        lambda: tr.TinyAttentionModel(5, 4, dtype=np.int32),
        lambda: ac.KVCache(2, 4, dtype=np.int64),
        lambda: ac.KVCache(2, 4, dtype=bool),
        lambda: ac.MultiHeadAttention(8, 2, RNG, dtype="not a dtype"),
    ],
)
def test_integer_dtypes_are_refused(make):
    with pytest.raises(TypeError, match="dtype"):
        make()


@pytest.mark.parametrize(
    "dtype, big",
    [(np.float64, 1e200), (np.float64, 1e307), (np.float32, 1e30)],
)
def test_layer_norm_of_huge_finite_rows_is_exact(dtype, big):
    x = np.array([[1.0, -2.0, 0.5, 3.0]], dtype=dtype)
    out = ac.layer_norm(x * dtype(big), np.ones(4), np.zeros(4), eps=1e-5)
    expected = ac.layer_norm(x, np.ones(4), np.zeros(4), eps=0.0 + 1e-30)
    assert out.dtype == dtype and np.all(np.isfinite(out))
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_layer_norm_is_unchanged_for_ordinary_rows():
    x = RNG.normal(size=(5, 16)) * 3 + 1
    mu = x.mean(-1, keepdims=True)
    expected = (x - mu) / np.sqrt(
        ((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5
    )
    np.testing.assert_array_equal(
        ac.layer_norm(x, np.ones(16), np.zeros(16)), expected
    )


def test_softmax_with_a_denormal_temperature_is_the_exact_limit():
    out = ac.softmax(np.array([1.0, 3.0, 2.0, -np.inf]), temperature=5e-324)
    np.testing.assert_array_equal(out, [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(
        ac.softmax(np.array([1.0, 2.0]), temperature=2.0),
        ac.softmax(np.array([0.5, 1.0])),
        rtol=1e-15,
    )


@pytest.mark.parametrize(
    "fn", [ac.scaled_dot_product_attention, ac.flash_attention]
)
def test_attention_with_scores_that_would_overflow_is_refused(fn):
    q = np.full((2, 4), 1e160)
    with pytest.raises(ValueError, match="overflow"):
        fn(q, q, np.ones((2, 3)))
    q32 = np.full((2, 4), 1e19, dtype=np.float32)
    with pytest.raises(ValueError, match="float32"):
        fn(q32, q32, np.ones((2, 3), np.float32))


def test_zero_d_boolean_mask_works_in_the_multi_head_paths():
    x = RNG.normal(size=(3, 8))
    mha = ac.MultiHeadAttention(8, 2, np.random.default_rng(0))
    np.testing.assert_allclose(mha(x, mask=np.array(True))[0], mha(x)[0])
    q = RNG.normal(size=(4, 3, 8))
    np.testing.assert_allclose(
        ac.grouped_query_attention(q, q[:2], q[:2], mask=np.array(True))[0],
        ac.grouped_query_attention(q, q[:2], q[:2])[0],
    )


@pytest.mark.parametrize(
    "call, name",
    [
        (
            lambda: ac.scaled_dot_product_attention(
                Z((2, 2)), Z((2, 2)), Z((2, 2)), causal=np.ones(2, bool)
            ),
            "causal",
        ),
        (
            lambda: ac.flash_attention(
                Z((2, 2)), Z((2, 2)), Z((2, 2)), causal="yes"
            ),
            "causal",
        ),
        (
            lambda: ac.multi_head_attention(
                Z((3, 8)), Z((3, 8)), *[W8] * 4, num_heads=2, causal=np.ones(3)
            ),
            "causal",
        ),
        (
            lambda: ac.grouped_query_attention(
                Z((2, 2, 2)), Z((2, 2, 2)), Z((2, 2, 2)), need_weights=[1]
            ),
            "need_weights",
        ),
        (lambda: ac.MultiHeadAttention(8, 2, RNG, bias=np.ones(2)), "bias"),
        (
            lambda: ac.TransformerBlock(
                8, 2, 16, RNG, norm_first=np.array([True, False])
            ),
            "norm_first",
        ),
        (lambda: tr.TinyAttentionModel(5, 4, causal=np.zeros(3)), "causal"),
        (
            lambda: tr.linear_backward(
                Z((3, 4)), Z((3, 5)), Z((5, 4)), has_bias=np.ones(2)
            ),
            "has_bias",
        ),
        (lambda: ac.attention_tiles(4, 4, 2, causal=np.ones(2)), "causal"),
    ],
)
def test_arrays_passed_as_flags_are_refused(call, name):
    with pytest.raises(TypeError, match=f"^{name} must be True or False"):
        call()


@pytest.mark.parametrize(
    "call, words",
    [
        (
            lambda: tr.TinyAttentionModel(5, 4, num_layers=10**12),
            ["num_layers", "GiB"],
        ),
        (
            lambda: tr.train(
                tr.TinyAttentionModel(5, 4),
                np.zeros((2, 4), int),
                np.zeros((2, 4), int),
                steps=10**12,
            ),
            ["steps", "operations"],
        ),
        (lambda: ac.KVCache(8, 128, capacity=10**12), ["capacity", "PiB"]),
        (lambda: ac.ToyDecoder(max_len=10**12), ["max_len", "memory"]),
        (
            lambda: ac.ToyDecoder(
                vocab_size=5, d_model=8, num_heads=2, max_len=16
            ).generate([1], 10**12),
            ["max_new_tokens", "max_len=16"],
        ),
        (
            lambda: tr.reversal_task(10**7, 10**7, 5),
            ["num_sequences * length", "memory"],
        ),
        (lambda: ac.attention_tiles(10**9, 10**9, 1), ["n_q * n_k", "memory"]),
    ],
)
def test_unbounded_sizes_are_refused_up_front(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (
            lambda: md.EncoderConfig(layer_norm_eps="1e-12"),
            TypeError,
            ["layer_norm_eps", "str"],
        ),
        (
            lambda: md.EncoderConfig(layer_norm_eps=-1.0),
            ValueError,
            ["layer_norm_eps", "positive"],
        ),
        (
            lambda: md.EncoderConfig(layer_norm_eps=float("nan")),
            ValueError,
            ["layer_norm_eps", "finite"],
        ),
        (
            lambda: md.MiniLM(
                md.EncoderConfig(max_position_embeddings=8),
                {},
                None,
                max_seq_length=16,
            ),
            ValueError,
            ["max_seq_length=16", "max_position_embeddings=8"],
        ),
        (
            lambda: md.MiniLM(md.EncoderConfig(), {}, None, max_seq_length=0),
            ValueError,
            ["max_seq_length"],
        ),
        (
            lambda: tr.heldout_split(np.zeros((4, 3)), np.zeros((4, 3)), 1),
            TypeError,
            ["inputs", "float64"],
        ),
        (
            lambda: tr.heldout_split(
                np.zeros((4, 3), int), np.zeros((4, 3), bool), 1
            ),
            TypeError,
            ["targets", "bool"],
        ),
        (
            lambda: tr.heldout_split(np.array([["a"]]), np.array([["a"]]), 1),
            TypeError,
            ["inputs"],
        ),
    ],
)
def test_configuration_is_checked_at_construction(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), str(info.value)


def test_backward_helpers_refuse_weights_that_are_not_probabilities():
    with pytest.raises(ValueError, match="^s with shape"):
        tr.softmax_backward(np.ones((2, 3)), np.full((2, 3), 1e300))
    with pytest.raises(ValueError, match="^weights with shape"):
        tr.attention_backward(
            Z((3, 2)), Z((3, 4)), Z((3, 4)), Z((3, 2)), np.full((3, 3), -0.5)
        )


def test_gradient_check_of_huge_gradients_is_exact():
    x = RNG.normal(size=4)
    assert (
        tr.gradient_check(
            lambda a: float(1e300 * a.sum()), x, np.full(4, 1e300)
        )
        < 1e-6
    )
    assert tr.gradient_check(lambda a: 0.0, x, np.zeros(4)) == 0.0
