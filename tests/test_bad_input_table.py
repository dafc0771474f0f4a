"""Bad input of every class for every argument of every public callable.

The list of public callables is generated from `__all__` of the package and its
subpackages (and the public methods of their classes), so a new function is
covered as soon as it is exported. Each callable needs one VALID call (keyword
arguments); the test then replaces one argument at a time with a bad value of
each class that fits it (None, a string, NaN, inf, a 0-d array, a float where
ints are expected, a bool, a negative or huge size, an array where a flag is
expected...) and asserts a ValueError or TypeError whose message names the
argument.

Added a public function and this test fails? Add a row to VALID below with a
small valid call; if a class of bad value is legitimately valid for one
argument (e.g. any integer is a valid seed), add (name, argument, class) to
SKIP with the reason.
"""

from __future__ import annotations

import inspect
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
from test_exercises import TINY, tiny_tensors

import attention_course as ac
import attention_course.exercises as ex
import attention_course.models as md
import attention_course.training as tr

SUBPACKAGES = (ac, tr, md, ex)
RNG = np.random.default_rng(0)


def _x(*shape):
    return np.random.default_rng(1).normal(size=shape)


def _ids(*shape, high=5):
    return np.random.default_rng(2).integers(0, high, size=shape)


def _tokenizer():
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        "the",
        "cat",
        "sat",
        "##s",
        "a",
    ]
    return md.WordPieceTokenizer(vocab)


def _minilm():
    return md.MiniLM(TINY, tiny_tensors(), _tokenizer())


def _tiny_model():
    return tr.TinyAttentionModel(5, 4, d_model=8, num_heads=2)


def _safetensors_file():
    path = Path(tempfile.mkdtemp()) / "w.safetensors"
    md.write_safetensors(path, {"w": np.ones(3, np.float32)})
    return path


# name -> () -> (the callable, valid keyword arguments). Methods are
# "Class.method".
VALID = {
    "softmax": lambda: (
        ac.softmax,
        dict(x=_x(3, 4), axis=-1, temperature=1.0),
    ),
    "scaled_dot_product_attention": lambda: (
        ac.scaled_dot_product_attention,
        dict(
            q=_x(3, 4),
            k=_x(5, 4),
            v=_x(5, 2),
            mask=np.ones((3, 5), bool),
            causal=False,
            scale=0.5,
            need_weights=True,
        ),
    ),
    "causal_mask": lambda: (ac.causal_mask, dict(n_q=3, n_k=4)),
    "padding_mask": lambda: (
        ac.padding_mask,
        dict(lengths=np.array([1, 3]), n=3),
    ),
    "flash_attention": lambda: (
        ac.flash_attention,
        dict(
            q=_x(3, 4),
            k=_x(5, 4),
            v=_x(5, 2),
            block_size=2,
            causal=False,
            mask=np.ones((3, 5), bool),
            scale=0.5,
        ),
    ),
    "online_softmax": lambda: (
        ac.online_softmax,
        dict(x=_x(2, 5), block_size=2),
    ),
    "online_softmax_trace": lambda: (ac.online_softmax_trace, dict(x=_x(5))),
    "attention_tiles": lambda: (
        ac.attention_tiles,
        dict(n_q=4, n_k=4, block_size=2, causal=True),
    ),
    "split_heads": lambda: (ac.split_heads, dict(x=_x(3, 8), num_heads=2)),
    "merge_heads": lambda: (ac.merge_heads, dict(x=_x(2, 3, 4))),
    "multi_head_attention": lambda: (
        ac.multi_head_attention,
        dict(
            x_q=_x(3, 8),
            x_kv=_x(4, 8),
            w_q=_x(8, 8),
            w_k=_x(8, 8),
            w_v=_x(8, 8),
            w_o=_x(8, 8),
            num_heads=2,
            b_q=_x(8),
            b_k=_x(8),
            b_v=_x(8),
            b_o=_x(8),
            mask=np.ones((3, 4), bool),
            causal=False,
        ),
    ),
    "grouped_query_attention": lambda: (
        ac.grouped_query_attention,
        dict(
            q=_x(4, 3, 8),
            k=_x(2, 3, 8),
            v=_x(2, 3, 8),
            mask=np.ones((3, 3), bool),
            causal=True,
            scale=0.5,
            need_weights=True,
        ),
    ),
    "MultiHeadAttention": lambda: (
        ac.MultiHeadAttention,
        dict(d_model=8, num_heads=2, rng=RNG, bias=True, dtype=np.float32),
    ),
    "MultiHeadAttention.__call__": lambda: (
        ac.MultiHeadAttention(8, 2, RNG),
        dict(
            x_q=_x(3, 8),
            x_kv=_x(4, 8),
            mask=np.ones((3, 4), bool),
            causal=False,
        ),
    ),
    "layer_norm": lambda: (
        ac.layer_norm,
        dict(x=_x(2, 4), gamma=_x(4), beta=_x(4), eps=1e-5),
    ),
    "gelu": lambda: (ac.gelu, dict(x=_x(3))),
    "feed_forward": lambda: (
        ac.feed_forward,
        dict(x=_x(3, 4), w_1=_x(4, 6), b_1=_x(6), w_2=_x(6, 4), b_2=_x(4)),
    ),
    "TransformerBlock": lambda: (
        ac.TransformerBlock,
        dict(
            d_model=8,
            num_heads=2,
            d_ff=16,
            rng=RNG,
            causal=True,
            cross_attention=False,
            norm_first=True,
            eps=1e-5,
            dtype=np.float64,
        ),
    ),
    "TransformerBlock.__call__": lambda: (
        ac.TransformerBlock(8, 2, 16, RNG, cross_attention=True),
        dict(
            x=_x(3, 8),
            memory=_x(4, 8),
            mask=np.ones((3, 3), bool),
            memory_mask=np.ones((3, 4), bool),
        ),
    ),
    "sinusoidal_positional_encoding": lambda: (
        ac.sinusoidal_positional_encoding,
        dict(n=4, d=6, base=100.0),
    ),
    "sinusoidal_frequencies": lambda: (
        ac.sinusoidal_frequencies,
        dict(d=6, base=100.0),
    ),
    "sinusoidal_shift_matrix": lambda: (
        ac.sinusoidal_shift_matrix,
        dict(k=2, d=6, base=100.0),
    ),
    "apply_rope": lambda: (
        ac.apply_rope,
        dict(x=_x(4, 6), positions=np.arange(4), base=100.0),
    ),
    "rope_angles": lambda: (
        ac.rope_angles,
        dict(positions=np.arange(4), d=6, base=100.0),
    ),
    "dot_product_variance": lambda: (
        ac.dot_product_variance,
        dict(d_k=4, n_samples=10, rng=RNG, scaled=True),
    ),
    "random_dot_products": lambda: (
        ac.random_dot_products,
        dict(d_k=4, n_samples=10, rng=RNG, scaled=True),
    ),
    "random_scores": lambda: (
        ac.random_scores,
        dict(d_k=4, n_queries=2, n_keys=3, rng=RNG, scaled=True, n_batch=2),
    ),
    "saturation_stats": lambda: (
        ac.saturation_stats,
        dict(d_k=4, scaled=True, rng=RNG, n_batch=2, n_queries=2, n_keys=3),
    ),
    "softmax_jacobian": lambda: (
        ac.softmax_jacobian,
        dict(s=np.array([0.2, 0.3, 0.5])),
    ),
    "entropy": lambda: (ac.entropy, dict(weights=np.array([[0.2, 0.3, 0.5]]))),
    "KVCache": lambda: (
        ac.KVCache,
        dict(num_kv_heads=2, head_dim=4, capacity=8, dtype=np.float32),
    ),
    "KVCache.append": lambda: (
        ac.KVCache(2, 4).append,
        dict(k=_x(2, 3, 4), v=_x(2, 3, 4)),
    ),
    "kv_cache_bytes": lambda: (
        ac.kv_cache_bytes,
        dict(
            num_layers=2,
            num_kv_heads=2,
            head_dim=4,
            seq_len=8,
            batch=1,
            itemsize=4,
        ),
    ),
    "ToyDecoder": lambda: (
        ac.ToyDecoder,
        dict(
            vocab_size=5,
            d_model=8,
            num_heads=2,
            num_kv_heads=1,
            max_len=16,
            seed=0,
        ),
    ),
    "ToyDecoder.new_cache": lambda: (
        ac.ToyDecoder(5, 8, 2, max_len=16).new_cache,
        dict(capacity=4),
    ),
    "ToyDecoder.forward": lambda: (
        ac.ToyDecoder(5, 8, 2, max_len=16).forward,
        dict(tokens=_ids(3)),
    ),
    "ToyDecoder.generate": lambda: (
        ac.ToyDecoder(5, 8, 2, max_len=16).generate,
        dict(prompt=_ids(3), max_new_tokens=2, use_cache=True),
    ),
    "plot_attention": lambda: (
        ac.plot_attention,
        dict(
            weights=np.full((2, 2), 0.5),
            query_labels=["a", "b"],
            key_labels=["c", "d"],
        ),
    ),
    "attention_table": lambda: (
        ac.attention_table,
        dict(
            weights=np.full((2, 2), 0.5),
            query_labels=["a", "b"],
            key_labels=["c", "d"],
            top=1,
        ),
    ),
    # training
    "softmax_backward": lambda: (
        tr.softmax_backward,
        dict(grad_out=_x(2, 3), s=np.full((2, 3), 1 / 3), axis=-1),
    ),
    "attention_backward": lambda: (
        tr.attention_backward,
        dict(
            grad_out=_x(3, 2),
            q=_x(3, 4),
            k=_x(3, 4),
            v=_x(3, 2),
            weights=np.full((3, 3), 1 / 3),
            scale=0.5,
            mask=np.ones((3, 3), bool),
            causal=False,
        ),
    ),
    "linear_backward": lambda: (
        tr.linear_backward,
        dict(grad_out=_x(3, 4), x=_x(3, 5), w=_x(5, 4), has_bias=True),
    ),
    "layer_norm_backward": lambda: (
        tr.layer_norm_backward,
        dict(grad_out=_x(2, 4), x=_x(2, 4), gamma=_x(4), eps=1e-5),
    ),
    "gelu_backward": lambda: (
        tr.gelu_backward,
        dict(grad_out=_x(2, 3), x=_x(2, 3)),
    ),
    "log_softmax": lambda: (tr.log_softmax, dict(logits=_x(2, 3))),
    "cross_entropy": lambda: (
        tr.cross_entropy,
        dict(logits=_x(2, 5), targets=_ids(2)),
    ),
    "cross_entropy_backward": lambda: (
        tr.cross_entropy_backward,
        dict(logits=_x(2, 5), targets=_ids(2)),
    ),
    "embedding_backward": lambda: (
        tr.embedding_backward,
        dict(grad_out=_x(2, 3, 4), ids=_ids(2, 3), vocab_size=5),
    ),
    "numerical_gradient": lambda: (
        tr.numerical_gradient,
        dict(f=lambda x: float(x.sum()), x=_x(3), eps=1e-6),
    ),
    "gradient_check": lambda: (
        tr.gradient_check,
        dict(
            f=lambda x: float(x.sum()),
            x=_x(3),
            grad=np.ones(3),
            eps=1e-6,
            num_checks=2,
            seed=0,
        ),
    ),
    "Adam": lambda: (
        tr.Adam,
        dict(params={"w": _x(3)}, lr=1e-3, eps=1e-8, weight_decay=0.0),
    ),
    "Adam.step": lambda: (
        tr.Adam({"w": _x(3)}).step,
        dict(grads={"w": _x(3)}),
    ),
    "reversal_task": lambda: (
        tr.reversal_task,
        dict(num_sequences=4, length=3, vocab_size=5, seed=0),
    ),
    "sorting_task": lambda: (
        tr.sorting_task,
        dict(num_sequences=4, length=3, vocab_size=5, seed=0),
    ),
    "retrieval_task": lambda: (
        tr.retrieval_task,
        dict(num_sequences=4, num_pairs=2, num_keys=3, num_values=3, seed=0),
    ),
    "heldout_split": lambda: (
        tr.heldout_split,
        dict(
            inputs=np.arange(12).reshape(4, 3),
            targets=np.arange(12).reshape(4, 3),
            num_test=1,
        ),
    ),
    "TinyAttentionModel": lambda: (
        tr.TinyAttentionModel,
        dict(
            vocab_size=5,
            seq_len=4,
            d_model=8,
            num_heads=2,
            num_layers=1,
            residual=True,
            causal=False,
            seed=0,
            dtype=np.float64,
        ),
    ),
    "TinyAttentionModel.forward": lambda: (
        _tiny_model().forward,
        dict(ids=_ids(2, 4)),
    ),
    "TinyAttentionModel.loss_and_grads": lambda: (
        _tiny_model().loss_and_grads,
        dict(ids=_ids(2, 4), targets=_ids(2, 4)),
    ),
    "TinyAttentionModel.attention_maps": lambda: (
        _tiny_model().attention_maps,
        dict(ids=_ids(2, 4)),
    ),
    "TinyAttentionModel.predict": lambda: (
        _tiny_model().predict,
        dict(ids=_ids(2, 4)),
    ),
    "evaluate": lambda: (
        tr.evaluate,
        dict(model=_tiny_model(), inputs=_ids(2, 4), targets=_ids(2, 4)),
    ),
    "train": lambda: (
        tr.train,
        dict(
            model=_tiny_model(),
            inputs=_ids(4, 4),
            targets=_ids(4, 4),
            steps=2,
            batch_size=2,
            lr=1e-2,
            weight_decay=0.0,
            eval_every=1,
        ),
    ),
    # real models
    "EncoderConfig": lambda: (
        md.EncoderConfig,
        dict(
            vocab_size=50,
            hidden_size=16,
            num_layers=2,
            num_heads=4,
            intermediate_size=24,
            max_position_embeddings=12,
            type_vocab_size=2,
            layer_norm_eps=1e-12,
            hidden_act="gelu",
        ),
    ),
    "MiniLM": lambda: (
        md.MiniLM,
        dict(
            config=TINY,
            tensors=tiny_tensors(),
            tokenizer=_tokenizer(),
            max_seq_length=8,
            fast=False,
        ),
    ),
    "MiniLM.forward": lambda: (
        _minilm().forward,
        dict(
            input_ids=_ids(2, 4),
            attention_mask=np.ones((2, 4), bool),
            token_type_ids=_ids(2, 4, high=2),
        ),
    ),
    "MiniLM.__call__": lambda: (
        _minilm(),
        dict(texts=["the cat", "a cat sat"]),
    ),
    "MiniLM.encode": lambda: (
        _minilm().encode,
        dict(texts=["the cat", "a cat sat"]),
    ),
    "MiniLM.embed": lambda: (
        _minilm().embed,
        dict(input_ids=_ids(2, 4), token_type_ids=_ids(2, 4, high=2)),
    ),
    "MiniLM.layer": lambda: (
        _minilm().layer,
        dict(i=0, x=_x(2, 4, 16), mask=np.ones((2, 1, 1, 4), bool)),
    ),
    "mean_pool": lambda: (
        md.mean_pool,
        dict(hidden=_x(2, 3, 4), attention_mask=np.ones((2, 3), bool)),
    ),
    "WordPieceTokenizer": lambda: (
        md.WordPieceTokenizer,
        dict(
            vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"],
            lowercase=True,
            tokenize_cjk=True,
            max_input_chars_per_word=100,
            model_max_length=512,
        ),
    ),
    "WordPieceTokenizer.normalize": lambda: (
        _tokenizer().normalize,
        dict(text="The cat"),
    ),
    "WordPieceTokenizer.basic_tokenize": lambda: (
        _tokenizer().basic_tokenize,
        dict(text="The cat"),
    ),
    "WordPieceTokenizer.wordpiece": lambda: (
        _tokenizer().wordpiece,
        dict(word="cats"),
    ),
    "WordPieceTokenizer.tokenize": lambda: (
        _tokenizer().tokenize,
        dict(text="The cats"),
    ),
    "WordPieceTokenizer.encode": lambda: (
        _tokenizer().encode,
        dict(text="The cats", max_length=8),
    ),
    "WordPieceTokenizer.encode_batch": lambda: (
        _tokenizer().encode_batch,
        dict(texts=["the cat", "a"], max_length=8),
    ),
    "WordPieceTokenizer.convert_ids_to_tokens": lambda: (
        _tokenizer().convert_ids_to_tokens,
        dict(ids=_ids(3)),
    ),
    "write_safetensors": lambda: (
        md.write_safetensors,
        dict(
            path=Path(tempfile.mkdtemp()) / "w.safetensors",
            tensors={"w": _x(3)},
            metadata={"a": "b"},
        ),
    ),
    "read_safetensors": lambda: (
        md.read_safetensors,
        dict(path=_safetensors_file(), mmap=True),
    ),
    "read_safetensors_header": lambda: (
        md.read_safetensors_header,
        dict(path=_safetensors_file()),
    ),
}


def _learner(*args, **kwargs):
    """A learner's function not written yet: a valid fn for every checker."""
    return None


def _stages_reference():
    return _minilm().forward(_ids(1, 4), np.ones((1, 4), bool))


# Every checker takes the learner's function as fn
# (tests/test_checkers_bad_learner.py checks that), so their rows are
# generated; the two capstone checkers take more.
VALID.update(
    {
        name: (
            lambda name=name: (
                getattr(ex, name),
                dict(fn=_learner, verbose=False),
            )
        )
        for name in ex.__all__
        if name.startswith("check_")
    }
)
VALID["check_minilm_encoder"] = lambda: (
    ex.check_minilm_encoder,
    dict(
        fn=_learner,
        tensors=tiny_tensors(),
        config=TINY,
        atol=1e-4,
        verbose=False,
    ),
)
VALID["check_encoder_stages"] = lambda: (
    ex.check_encoder_stages,
    dict(yours={}, reference=_stages_reference(), atol=1e-4, verbose=False),
)



def _lm():
    return tr.DecoderLM(5, 4, d_model=8, num_heads=2, num_layers=1, d_ff=8)


def _lm_backward():
    model = _lm()
    _, cache = model.forward(_ids(2, 4))
    return model.backward, dict(grad_logits=_x(2, 4, 5), cache=cache)


def _repeat_source():
    return tr.repeat_task(np.random.default_rng(0), 2, 10, 5, 2).source


# Chapter 15's language model and its text, chapter 13's convention probes.
VALID.update(
    {
        "CharVocab": lambda: (tr.CharVocab, dict(chars="abc")),
        "CharVocab.from_text": lambda: (
            tr.CharVocab.from_text,
            dict(text="a cab"),
        ),
        "CharVocab.encode": lambda: (
            tr.CharVocab("abc").encode,
            dict(text="cab"),
        ),
        "CharVocab.decode": lambda: (
            tr.CharVocab("abc").decode,
            dict(ids=np.array([2, 0, 1])),
        ),
        "load_text": lambda: (tr.load_text, dict(name="macbeth")),
        "split_text": lambda: (
            tr.split_text,
            dict(ids=_ids(20), heldout_fraction=0.2),
        ),
        "unigram_bpc": lambda: (
            tr.unigram_bpc,
            dict(train=_ids(20), test=_ids(6), vocab_size=5, alpha=1.0),
        ),
        "bigram_bpc": lambda: (
            tr.bigram_bpc,
            dict(train=_ids(20), test=_ids(6), vocab_size=5, alpha=1.0),
        ),
        "random_windows": lambda: (
            tr.random_windows,
            dict(ids=_ids(20), length=4),
        ),
        "repeat_task": lambda: (
            tr.repeat_task,
            dict(rng=RNG, batch=2, length=10, vocab_size=5, min_segment=2),
        ),
        "induction_score": lambda: (
            tr.induction_score,
            dict(
                weights=np.full((2, 2, 9, 9), 1 / 9),
                source=_repeat_source(),
            ),
        ),
        "previous_token_score": lambda: (
            tr.previous_token_score,
            dict(weights=np.full((2, 2, 4, 4), 0.25)),
        ),
        "warmup_cosine": lambda: (
            tr.warmup_cosine,
            dict(
                step=3,
                total_steps=10,
                peak_lr=1e-2,
                warmup_steps=2,
                min_lr=1e-3,
            ),
        ),
        "clip_grad_norm": lambda: (
            tr.clip_grad_norm,
            dict(grads={"w": _x(3)}, max_norm=1.0),
        ),
        "grad_norm": lambda: (tr.grad_norm, dict(grads={"w": _x(3)})),
        "DecoderLM": lambda: (
            tr.DecoderLM,
            dict(
                vocab_size=5,
                seq_len=4,
                d_model=8,
                num_heads=2,
                num_layers=1,
                d_ff=8,
                causal=True,
                flip_mask=False,
                seed=0,
                dtype=np.float64,
            ),
        ),
        "DecoderLM.forward": lambda: (
            _lm().forward,
            dict(ids=_ids(2, 4), ablate=[(0, 1)]),
        ),
        "DecoderLM.backward": _lm_backward,
        "DecoderLM.loss_and_grads": lambda: (
            _lm().loss_and_grads,
            dict(ids=_ids(2, 4), targets=_ids(2, 4)),
        ),
        "DecoderLM.attention_maps": lambda: (
            _lm().attention_maps,
            dict(ids=_ids(2, 4)),
        ),
        "DecoderLM.generate": lambda: (
            _lm().generate,
            dict(
                ids=_ids(1, 2),
                max_new_tokens=2,
                temperature=0.5,
                rng=np.random.default_rng(0),
            ),
        ),
        "LMHistory.eval_series": lambda: (
            tr.LMHistory(eval_steps=[0], evals=[{"bpc": 1.0}]).eval_series,
            dict(key="bpc"),
        ),
        "heldout_bpc": lambda: (
            tr.heldout_bpc,
            dict(model=_lm(), ids=_ids(20), length=4, last_only=False),
        ),
        "train_lm": lambda: (
            tr.train_lm,
            dict(
                model=_lm(),
                batches=tr.random_windows(_ids(40), 4),
                steps=2,
                batch_size=2,
                lr=1e-2,
                warmup_steps=1,
                min_lr=1e-3,
                max_grad_norm=1.0,
                weight_decay=0.0,
                seed=0,
                evaluate=lambda m: {"bpc": 1.0},
                eval_every=1,
                checkpoint_steps=(0, 2),
                blas_threads=1,
            ),
        ),
        "diagnose_attention": lambda: (
            ac.diagnose_attention,
            dict(fn=ac.scaled_dot_product_attention, name="sdpa"),
        ),
        "diagnose_gqa": lambda: (
            ac.diagnose_gqa,
            dict(fn=ac.grouped_query_attention, name="gqa"),
        ),
        "diagnose_rope": lambda: (
            ac.diagnose_rope,
            dict(fn=ac.apply_rope, name="rope", base=10000.0),
        ),
        "diagnose_split_heads": lambda: (
            ac.diagnose_split_heads,
            dict(fn=ac.split_heads, name="split"),
        ),
    }
)

# Chapter 16's decoder: its blocks, sampling filters and cache.
_PROBS = np.array([0.1, 0.2, 0.3, 0.4])
VALID.update(
    {
        "rms_norm": lambda: (
            ac.rms_norm,
            dict(x=_x(2, 4), weight=_x(4), eps=1e-5),
        ),
        "silu": lambda: (ac.silu, dict(x=_x(3))),
        "swiglu": lambda: (
            ac.swiglu,
            dict(x=_x(3, 4), w_gate=_x(4, 6), w_up=_x(4, 6), w_down=_x(6, 4)),
        ),
        "filter_top_k": lambda: (
            md.filter_top_k,
            dict(probs=_PROBS.copy(), top_k=2),
        ),
        "filter_top_p": lambda: (
            md.filter_top_p,
            dict(probs=_PROBS.copy(), top_p=0.5),
        ),
        "next_token_probabilities": lambda: (
            md.next_token_probabilities,
            dict(logits=_x(5), temperature=0.8, top_k=3, top_p=0.9),
        ),
        "KVCache.layer_keys": lambda: (
            ac.KVCache(2, 4, num_layers=2).layer_keys,
            dict(layer=1),
        ),
        "KVCache.layer_values": lambda: (
            ac.KVCache(2, 4, num_layers=2).layer_values,
            dict(layer=1),
        ),
    }
)

_DECODER = dict(
    vocab_size=10,
    hidden_size=8,
    num_layers=1,
    num_heads=2,
    num_kv_heads=1,
    ffn_size=12,
    rope_base=10000.0,
    rms_eps=1e-5,
    context_length=16,
    bos_id=1,
    eos_id=2,
)


def _smollm2():
    return md.SmolLM2.random(md.DecoderConfig(**_DECODER))


def _generate_kwargs():
    return dict(
        model=_smollm2(),
        prompt=_ids(3),
        max_new_tokens=2,
        sample=True,
        temperature=0.8,
        top_k=3,
        top_p=0.9,
        rng=np.random.default_rng(0),
        use_cache=True,
        stop_at_eos=False,
    )


VALID.update(
    {
        "DecoderConfig": lambda: (md.DecoderConfig, dict(_DECODER)),
        "SmolLM2": lambda: (
            md.SmolLM2,
            dict(
                config=md.DecoderConfig(**_DECODER),
                tensors=_smollm2().tensors,
            ),
        ),
        "SmolLM2.check_ids": lambda: (
            _smollm2().check_ids,
            dict(ids=_ids(3), start=2),
        ),
        "SmolLM2.new_cache": lambda: (
            _smollm2().new_cache,
            dict(capacity=8),
        ),
        "SmolLM2.forward": lambda: (_smollm2().forward, dict(ids=_ids(3))),
        "SmolLM2.run": lambda: (
            _smollm2().run,
            dict(ids=_ids(3), need_weights=True, last_only=False),
        ),
        "generate": lambda: (md.generate, _generate_kwargs()),
        "generate_stream": lambda: (md.generate_stream, _generate_kwargs()),
    }
)

def _bpe_fields():
    """A byte-level vocabulary (256 byte symbols) with three merges."""
    tokens = [*md.bytes_to_unicode().values(), "Ġt", "he", "Ġthe", "<|e|>"]
    return dict(tokens=tokens, merges=["Ġ t", "h e", "Ġt he"])


def _bpe():
    return md.BPETokenizer(**_bpe_fields(), special_tokens=["<|e|>"])


VALID.update(
    {
        "BPETokenizer": lambda: (
            md.BPETokenizer,
            dict(
                **_bpe_fields(),
                special_tokens=["<|e|>"],
                bos_id=259,
                eos_id=259,
                add_bos=False,
                add_eos=False,
                pre_tokenizer="smollm",
            ),
        ),
        "BPETokenizer.bpe": lambda: (
            _bpe().bpe,
            dict(piece=" the", errors="strict"),
        ),
        "BPETokenizer.merge": lambda: (
            _bpe().merge,
            dict(symbols=["Ġ", "t", "h", "e"], steps=[]),
        ),
        "BPETokenizer.merge_steps": lambda: (
            _bpe().merge_steps,
            dict(piece=" the"),
        ),
        "BPETokenizer.pre_tokenize": lambda: (
            _bpe().pre_tokenize,
            dict(text="the cat 42"),
        ),
        "BPETokenizer.encode": lambda: (
            _bpe().encode,
            dict(text="the cat<|e|>", add_special=False, errors="strict"),
        ),
        "BPETokenizer.tokenize": lambda: (
            _bpe().tokenize,
            dict(text="the cat"),
        ),
        **{
            f"BPETokenizer.{name}": (
                lambda name=name: (
                    getattr(_bpe(), name),
                    dict(ids=_ids(3, high=260), skip_special=True),
                )
            )
            for name in ("decode", "decode_bytes", "decode_stream")
        },
        "BPETokenizer.id_to_token": lambda: (
            _bpe().id_to_token,
            dict(token_id=258),
        ),
        "BPETokenizer.token_bytes": lambda: (
            _bpe().token_bytes,
            dict(token_id=258),
        ),
        "BPETokenizer.token_to_id": lambda: (
            _bpe().token_to_id,
            dict(token="Ġthe"),
        ),
    }
)

# Public names that take no input to be wrong about, or only take something
# else's output.
NO_INPUT = {
    "SaturationStats": "a record of results, built by saturation_stats",
    "Evaluation": "a record of results, built by evaluate",
    "History": "a record of results, built by train",
    "EncoderOutput": "a record of results, built by MiniLM.forward",
    "SafetensorsError": "an exception type",
    "CheckResult": "a verdict record, built by the checkers",
    "IGNORE_INDEX": "a constant",
    "minilm_folder": "takes no argument",
    "MiniLM.parameter_counts": "takes no argument",
    "MiniLM.summary": "takes no argument",
    "TinyAttentionModel.backward": "takes the cache of its own forward pass "
    "(internal plumbing); the "
    "gradient it is given is checked by linear_backward",
    "encode_sentences": "loads the real model (slow); its one argument is "
    "in tests/test_bad_input.py",
    "load_minilm": "takes a folder: a bad one is FileNotFoundError, tested "
    "in tests/test_bad_input.py",
    "load_tokenizer": "takes a folder: a bad one is FileNotFoundError, "
    "tested in tests/test_bad_input.py",
    "TEXTS": "a constant: the names load_text accepts",
    "RepeatBatch": "a record of a batch, built by repeat_task",
    "LMHistory": "a record of results, built by train_lm",
    "Diagnosis": "a verdict record, built by the diagnose_* functions",
    "DecoderOutput": "a record of results, built by SmolLM2.run",
    "weights_cache_dir": "takes no argument",
    "smollm2_gguf_path": "takes no argument",
    "bytes_to_unicode": "takes no argument",
    "SmolLM2.summary": "takes no argument",
    "BPETokenizer.clear_cache": "takes no argument",
    "load_smollm2": "loads the real model (slow); a missing path is "
    "FileNotFoundError, as load_minilm",
}

# (callable, argument, class of bad value): the bad value is valid there, with
# the reason.
SKIP = {
    ("*", "seed", "huge"): "any non-negative integer is a valid seed",
    ("*", "axis", "negative"): "negative axes count from the end",
    ("*", "dtype", "None"): "numpy reads dtype=None as float64",
    ("gelu", "x", "0-d"): "elementwise: a 0-d array is valid input",
    ("silu", "x", "0-d"): "elementwise: a 0-d array is valid input",
    **{
        (name, "top_k", "huge"): "valid: keeps every token"
        for name in ("generate", "generate_stream")
    },
    **{
        (
            name,
            "max_new_tokens",
            "huge",
        ): "valid: generation stops when the context is full"
        for name in ("generate", "generate_stream")
    },
    (
        "generate",
        "top_k",
        "None",
    ): "None means no top-k filter (generate passes its options on)",
    **{
        (
            "DecoderConfig",
            arg,
            "huge",
        ): "a description that allocates nothing"
        for arg in (
            "vocab_size",
            "hidden_size",
            "num_layers",
            "ffn_size",
            "context_length",
        )
    },
    (
        "filter_top_k",
        "top_k",
        "huge",
    ): "valid: keeps every token",
    (
        "next_token_probabilities",
        "top_k",
        "huge",
    ): "valid: keeps every token",
    (
        "numerical_gradient",
        "x",
        "0-d",
    ): "a 0-d x is a valid point to differentiate at",
    (
        "split_heads",
        "x",
        "NaN",
    ): "a reshape: NaN passes through unchanged, and the next step "
    "(attention) refuses it",
    ("split_heads", "x", "inf"): "a reshape, as above",
    ("merge_heads", "x", "NaN"): "a reshape, as above",
    ("merge_heads", "x", "inf"): "a reshape, as above",
    (
        "sinusoidal_shift_matrix",
        "k",
        "negative",
    ): "a shift backwards is a valid offset",
    (
        "saturation_stats",
        "n_batch",
        "None",
    ): "None means no batch axis, as in random_scores",
    (
        "MiniLM.layer",
        "mask",
        "None",
    ): "None means no mask, as in scaled_dot_product_attention",
    (
        "train",
        "eval_every",
        "huge",
    ): "valid: evaluation then happens at the end only",
    ("gradient_check", "num_checks", "huge"): "valid: capped at x.size",
    (
        "attention_tiles",
        "block_size",
        "huge",
    ): "valid: one tile holds everything",
    (
        "flash_attention",
        "block_size",
        "huge",
    ): "valid: one tile holds everything",
    (
        "online_softmax",
        "block_size",
        "huge",
    ): "valid: one block holds the whole row",
    (
        "WordPieceTokenizer",
        "max_input_chars_per_word",
        "huge",
    ): "a limit, not a size: valid",
    (
        "WordPieceTokenizer",
        "model_max_length",
        "huge",
    ): "a limit, not a size: valid",
    (
        "reversal_task",
        "vocab_size",
        "huge",
    ): "ids drawn from a large vocabulary cost nothing",
    (
        "sorting_task",
        "vocab_size",
        "huge",
    ): "ids drawn from a large vocabulary cost nothing",
    (
        "retrieval_task",
        "num_values",
        "huge",
    ): "ids drawn from a large vocabulary cost nothing",
    ("attention_table", "top", "huge"): "valid: capped at the number of keys",
    (
        "sinusoidal_shift_matrix",
        "k",
        "huge",
    ): "an offset, not a size: angles k * omega stay finite",
    **{
        (
            "check_encoder_stages",
            "yours",
            cls,
        ): "the learner's result: any value gets a verdict "
        "(tests/test_checkers_bad_learner.py)"
        for cls in ("None", "int")
    },
    (
        "check_minilm_encoder",
        "tensors",
        "None",
    ): "None means the installed model's weights",
    (
        "check_minilm_encoder",
        "config",
        "None",
    ): "None means the installed model's config",
    **{
        (
            "kv_cache_bytes",
            arg,
            "huge",
        ): "computes a number of bytes and allocates nothing"
        for arg in (
            "num_layers",
            "num_kv_heads",
            "head_dim",
            "seq_len",
            "batch",
            "itemsize",
        )
    },
    (
        "repeat_task",
        "vocab_size",
        "huge",
    ): "ids drawn from a large vocabulary cost nothing",
    (
        "train_lm",
        "max_grad_norm",
        "None",
    ): "None means never clip",
    (
        "train_lm",
        "eval_every",
        "huge",
    ): "valid: evaluation then happens at step 0 and at the end only",
    (
        "train_lm",
        "blas_threads",
        "None",
    ): "None leaves the BLAS threads as they are, as in train",
    (
        "train_lm",
        "blas_threads",
        "huge",
    ): "a limit, not a size: OpenBLAS clamps it to its thread count",
    (
        "warmup_cosine",
        "step",
        "huge",
    ): "valid: after total_steps the rate stays at min_lr",
    (
        "warmup_cosine",
        "total_steps",
        "huge",
    ): "a schedule's length: one number computed, nothing allocated",
    **{
        (
            "EncoderConfig",
            arg,
            "huge",
        ): "a description that allocates nothing; MiniLM checks "
        "the tensors it is given against it"
        for arg in (
            "vocab_size",
            "hidden_size",
            "num_layers",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        )
    },
}

ERRORS = (ValueError, TypeError)


def public_callables() -> list[str]:
    """Public functions and classes of the package and their public methods."""
    names: set[str] = set()
    for module in SUBPACKAGES:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue
            names.add(name)
            if inspect.isclass(obj):
                names |= {
                    f"{name}.{m}"
                    for m, v in vars(obj).items()
                    if callable(v)
                    and (not m.startswith("_") or m == "__call__")
                }
    return sorted(names)


def test_every_public_callable_has_a_valid_call_or_a_reason():
    missing = [
        n for n in public_callables() if n not in VALID and n not in NO_INPUT
    ]
    assert not missing, (
        "public callables without a row in tests/test_bad_input_table.py: "
        f"{missing}. Add to VALID name -> lambda: (callable, dict of small "
        "valid keyword arguments), or to NO_INPUT with the reason"
    )


def _bad_values(value: object, default: object) -> list[tuple[str, object]]:
    """(class, bad value) pairs for an argument whose valid value is value."""
    out: list[tuple[str, object]] = []
    if default is not None:
        out.append(("None", None))
    if isinstance(value, (bool, np.bool_)):
        return [
            *out,
            ("array as flag", np.ones(2, bool)),
            ("string as flag", "yes"),
        ]
    if isinstance(value, (int, np.integer)):
        return [
            *out,
            ("string", "3"),
            ("float", 2.5),
            ("bool", True),
            ("negative", -1),
            ("huge", 10**12),
        ]
    if isinstance(value, float):
        return [
            *out,
            ("string", "0.5"),
            ("NaN", float("nan")),
            ("inf", float("inf")),
        ]
    if isinstance(value, np.ndarray):
        bad = [*out, ("string", "text")]
        if value.dtype == np.bool_:
            return [*bad, ("float mask", value.astype(float))]
        if np.issubdtype(value.dtype, np.integer):
            return [
                *bad,
                ("float ids", value + 0.5),
                ("bool ids", value > 0),
                ("0-d", np.int64(1)),
            ]
        bad += [
            ("NaN", np.full(value.shape, np.nan)),
            ("inf", np.full(value.shape, np.inf)),
            ("complex", value + 1j),
        ]
        return [*bad, ("0-d", np.float64(0.5))] if value.ndim else bad
    if isinstance(value, np.random.Generator):
        return [*out, ("int instead of Generator", 0)]
    if isinstance(value, str):
        return [*out, ("int instead of str", 5)]
    if isinstance(value, list) and value and isinstance(value[0], str):
        return [
            *out,
            ("a str instead of a list", "one text"),
            ("list of ints", [1, 2]),
        ]
    if isinstance(value, (dict, Path)) or callable(value):
        return [*out, ("int", 5)]
    return out


def _rows():
    for name in sorted(VALID):
        target, kwargs = VALID[name]()
        params = inspect.signature(target).parameters
        for arg, value in kwargs.items():
            default = (
                params[arg].default
                if arg in params
                else inspect.Parameter.empty
            )
            for cls, bad in _bad_values(value, default):
                if cls == "None" and default is None:
                    continue
                reason = SKIP.get((name, arg, cls)) or SKIP.get(
                    ("*", arg, cls)
                )
                yield pytest.param(
                    name,
                    arg,
                    cls,
                    bad,
                    id=f"{name}-{arg}-{cls}",
                    marks=[pytest.mark.skip(reason=reason)] if reason else [],
                )


@pytest.mark.parametrize("name", sorted(VALID))
def test_the_valid_call_works(name):
    target, kwargs = VALID[name]()
    target(**kwargs)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout(
        "no answer within 10 s: an unbounded size is not refused up front"
    )


@pytest.mark.parametrize("name, arg, cls, bad", list(_rows()))
def test_bad_argument_raises_an_error_naming_it(name, arg, cls, bad):
    target, kwargs = VALID[name]()
    kwargs[arg] = bad
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(10)
    try:
        with pytest.raises(ERRORS) as info:
            target(**kwargs)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert arg in str(info.value), (
        f"{name}({arg}=<{cls}>) raised {type(info.value).__name__} "
        f"without naming {arg!r}: {info.value}"
    )


def _finite(out: object, depth: int = 0) -> bool:
    """True if every float in out (arrays, tuples, lists, dicts) is finite."""
    if depth > 3:
        return True
    if isinstance(out, np.ndarray) and np.issubdtype(out.dtype, np.floating):
        return bool(np.all(np.isfinite(out)))
    if isinstance(out, float):
        return bool(np.isfinite(out))
    if isinstance(out, (tuple, list)):
        return all(_finite(o, depth + 1) for o in out)
    if isinstance(out, dict):
        return all(_finite(o, depth + 1) for o in out.values())
    return True


def _huge_rows():
    for name in sorted(VALID):
        _, kwargs = VALID[name]()
        for arg, value in kwargs.items():
            if isinstance(value, np.ndarray) and np.issubdtype(
                value.dtype, np.floating
            ):
                for dtype, big in (
                    (np.float64, 1e150),
                    (np.float64, 1e300),
                    (np.float32, 1e30),
                ):
                    yield pytest.param(
                        name,
                        arg,
                        dtype,
                        big,
                        id=f"{name}-{arg}-{np.dtype(dtype)}-{big:g}",
                    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name, arg, dtype, big", list(_huge_rows()))
def test_huge_finite_input_gives_finite_output_or_a_clear_error(
    name, arg, dtype, big
):
    """Finite input never gives NaN or inf: exact, or an error saying why."""
    target, kwargs = VALID[name]()
    kwargs[arg] = (kwargs[arg] * big).astype(dtype)
    try:
        out = target(**kwargs)
    except ERRORS:
        return  # refused clearly (the message is checked by the table above)
    assert _finite(out), (
        f"{name}({arg}={big:g} in {np.dtype(dtype)}) returned NaN or inf"
    )
