"""Tests of the KV cache and the toy decoder: identical tokens with and without the cache,
memory formula, growth, grouped-query memory savings, bad input. No timed tests."""

import numpy as np
import pytest

from attention_course import KVCache, ToyDecoder, kv_cache_bytes


def test_cache_appends_and_grows():
    rng = np.random.default_rng(0)
    cache = KVCache(num_kv_heads=2, head_dim=3, capacity=2)
    ks, vs = [], []
    for t in (1, 2, 1, 4):
        k, v = rng.normal(size=(2, t, 3)), rng.normal(size=(2, t, 3))
        cache.append(k, v)
        ks.append(k)
        vs.append(v)
    np.testing.assert_array_equal(cache.keys, np.concatenate(ks, axis=1))
    np.testing.assert_array_equal(cache.values, np.concatenate(vs, axis=1))
    assert cache.length == 8 and cache.capacity >= 8
    assert cache.nbytes == 2 * 2 * 8 * 3 * 8 == kv_cache_bytes(1, 2, 3, 8, itemsize=8)
    assert cache.allocated_nbytes >= cache.nbytes
    with pytest.raises(ValueError):
        cache.keys[0, 0, 0] = 1.0  # the views are read-only


def test_cache_grows_by_doubling():
    cache = KVCache(1, 1, capacity=1)
    capacities = set()
    for _ in range(100):
        cache.append(np.zeros((1, 1, 1)), np.zeros((1, 1, 1)))
        capacities.add(cache.capacity)
    assert sorted(capacities) == [1, 2, 4, 8, 16, 32, 64, 128]


def test_kv_cache_bytes_formula():
    # A 7B-class model: 32 layers, 32 kv heads of 128, 4096 tokens, float16 -> 2 GiB per sequence.
    assert kv_cache_bytes(32, 32, 128, 4096, itemsize=2) == 2 * 2**30
    assert kv_cache_bytes(32, 8, 128, 4096, itemsize=2) == 2**29  # GQA with 8 kv heads: 4x less


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: KVCache(2, 3).append(np.zeros((3, 1, 3)), np.zeros((3, 1, 3))), ValueError, ["(3, 1, 3)"]),
        (
            lambda: KVCache(2, 3).append(np.zeros((2, 1, 3)), np.zeros((2, 2, 3))),
            ValueError,
            ["(2, 1, 3)", "(2, 2, 3)"],
        ),
        (lambda: KVCache(0, 3), ValueError, ["num_kv_heads"]),
        (lambda: kv_cache_bytes(1, 1, 1, -1), ValueError, ["seq_len"]),
    ],
)
def test_cache_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("num_kv_heads", [4, 2, 1])
def test_generate_with_and_without_cache_gives_identical_tokens(num_kv_heads):
    model = ToyDecoder(vocab_size=50, d_model=64, num_heads=4, num_kv_heads=num_kv_heads, seed=1)
    prompt = np.random.default_rng(2).integers(0, 50, size=5)
    cached = model.generate(prompt, 24, use_cache=True)
    uncached = model.generate(prompt, 24, use_cache=False)
    np.testing.assert_array_equal(cached, uncached)
    assert len(set(cached.tolist())) > 3  # the toy model does not just repeat one token


def test_cached_logits_equal_full_forward():
    model = ToyDecoder(vocab_size=30, d_model=32, num_heads=4, seed=3)
    tokens = np.random.default_rng(4).integers(0, 30, size=12)
    full = model.forward(tokens)
    cache = model.new_cache(capacity=2)
    steps = [model.forward(tokens[:5], cache)] + [
        model.forward(tokens[i : i + 1], cache) for i in range(5, 12)
    ]
    np.testing.assert_allclose(np.concatenate(steps), full, rtol=1e-10, atol=1e-10)
    assert cache.length == 12


def test_default_toy_decoder_sizes():
    model = ToyDecoder()
    assert (model.d_model, model.num_heads, model.head_dim) == (256, 4, 64)
    out = model.generate(np.array([1, 2, 3]), 3)
    assert out.shape == (3,) and out.dtype == np.int64


def test_gqa_cache_memory_shrinks_by_the_group_size():
    prompt = np.arange(6)
    sizes = {}
    for num_kv_heads in (4, 2, 1):
        model = ToyDecoder(vocab_size=16, d_model=32, num_heads=4, num_kv_heads=num_kv_heads, seed=0)
        cache = model.new_cache()
        model.forward(prompt, cache)
        sizes[num_kv_heads] = cache.nbytes
    assert sizes[4] == 2 * sizes[2] == 4 * sizes[1]
    assert sizes[1] == kv_cache_bytes(1, 1, 8, 6, itemsize=8)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: ToyDecoder(d_model=30, num_heads=4), ValueError, ["num_heads=4", "d_model=30"]),
        (lambda: ToyDecoder(num_heads=4, num_kv_heads=3), ValueError, ["num_kv_heads=3", "num_heads=4"]),
        (
            lambda: ToyDecoder(vocab_size=8, d_model=8, num_heads=2).forward(np.array([9])),
            ValueError,
            ["[0, 8)"],
        ),
        (
            lambda: ToyDecoder(vocab_size=8, d_model=8, num_heads=2).forward(np.array([0.5])),
            ValueError,
            ["integer", "(1,)"],
        ),
        (
            lambda: ToyDecoder(d_model=8, num_heads=2, max_len=4).generate(np.arange(3), 3),
            ValueError,
            ["max_len=4"],
        ),
        (
            lambda: ToyDecoder(d_model=8, num_heads=2).generate(np.zeros((2, 2), dtype=int), 3),
            ValueError,
            ["(2, 2)"],
        ),
    ],
)
def test_decoder_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_cache_with_layers_keeps_each_layer_apart():
    rng = np.random.default_rng(7)
    cache = KVCache(num_kv_heads=3, head_dim=4, capacity=1, dtype=np.float32, num_layers=2)
    kept = {0: [], 1: []}
    for t in (2, 1, 3):
        for layer in (0, 1):
            k = rng.normal(size=(3, t, 4)).astype(np.float32)
            cache.append(k, -k, layer=layer)
            kept[layer].append(k)
            # length counts tokens every layer has seen: the last layer's
            assert cache.length == sum(a.shape[1] for a in kept[1])
    for layer in (0, 1):
        np.testing.assert_array_equal(cache.layer_keys(layer), np.concatenate(kept[layer], axis=1))
        np.testing.assert_array_equal(cache.layer_values(layer), -np.concatenate(kept[layer], axis=1))
    assert cache.keys.dtype == np.float32 and cache.length == 6
    assert cache.nbytes == kv_cache_bytes(2, 3, 4, 6)
    with pytest.raises(ValueError, match=r"layer must lie in \[0, 2\), got 2"):
        cache.append(np.zeros((3, 1, 4)), np.zeros((3, 1, 4)), layer=2)
    with pytest.raises(TypeError, match="layer"):
        cache.layer_keys(1.0)  # type: ignore[arg-type]
