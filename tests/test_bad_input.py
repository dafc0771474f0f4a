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
NAN = np.array([[0.0, np.nan], [0.0, 0.0]])

# (public name, call, expected error, words the message must contain)
TABLE = [
    # attention and masks
    ("softmax", lambda: ac.softmax(NAN), ValueError, ["NaN", "(2, 2)"]),
    ("softmax", lambda: ac.softmax(Z((2, 3)), axis=2), ValueError, ["axis 2", "(2, 3)"]),
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
     ["(1,)"]),    # real models (SmolLM2): the byte-level BPE tokenizer
    ("BPETokenizer", lambda: md.BPETokenizer(["a", "b"], ["a b"]), ValueError,
     ["merges[0]", "'ab'", "not in the vocabulary"]),
]

# Public names that take no input to be wrong about (types that only hold results, modules, constants).
NOT_CALLED_WITH_INPUT = {"SaturationStats", "Evaluation", "History", "IGNORE_INDEX", "exercises", "training",
                         "EncoderOutput", "SafetensorsError", "minilm_folder",
                         "bytes_to_unicode", "smollm2_gguf_path"}


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
