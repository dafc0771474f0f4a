"""Tests of the Transformer block: shapes, symmetry, causality, pre/post norm, PyTorch oracle."""

import numpy as np
import pytest

from attention_course import MultiHeadAttention, TransformerBlock, causal_mask, feed_forward, layer_norm


def make_block(seed=0, **kwargs):
    return TransformerBlock(16, 4, 32, np.random.default_rng(seed), **kwargs)


def test_output_shapes_and_weights():
    x = np.random.default_rng(1).normal(size=(2, 5, 16))
    out, w = make_block()(x)
    assert out.shape == (2, 5, 16) and w["self"].shape == (2, 4, 5, 5) and set(w) == {"self"}
    memory = np.random.default_rng(2).normal(size=(2, 7, 16))
    out, w = make_block(causal=True, cross_attention=True)(x, memory)
    assert out.shape == (2, 5, 16) and w["cross"].shape == (2, 4, 5, 7)
    np.testing.assert_allclose(w["cross"].sum(-1), 1.0)
    assert np.all(np.triu(w["self"], 1) == 0)  # causal self-attention


def test_same_seed_same_block_and_parameter_count():
    x = np.random.default_rng(1).normal(size=(5, 16))
    np.testing.assert_array_equal(make_block(3)(x)[0], make_block(3)(x)[0])
    assert not np.allclose(make_block(3)(x)[0], make_block(4)(x)[0])
    d, f = 16, 32
    assert make_block().num_parameters == 4 * d * d + 4 * d + 2 * d * f + f + d + 2 * 2 * d
    expected = 8 * d * d + 8 * d + 2 * d * f + f + d + 3 * 2 * d
    assert make_block(cross_attention=True).num_parameters == expected


def test_float32_stays_float32():
    block = TransformerBlock(8, 2, 16, np.random.default_rng(0), dtype=np.float32)
    out, w = block(np.ones((3, 8), dtype=np.float32))
    assert out.dtype == np.float32 and w["self"].dtype == np.float32


def test_self_attention_is_permutation_equivariant():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 16))
    perm = rng.permutation(6)
    mha = MultiHeadAttention(16, 4, rng)
    out, w = mha(x)
    out_p, w_p = mha(x[perm])
    np.testing.assert_allclose(out_p, out[perm], atol=1e-12)
    np.testing.assert_allclose(w_p, w[:, perm][:, :, perm], atol=1e-12)


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_block_is_permutation_equivariant(norm_first):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(7, 16))
    perm = rng.permutation(7)
    block = make_block(norm_first=norm_first)
    np.testing.assert_allclose(block(x[perm])[0], block(x)[0][perm], atol=1e-12)


def test_causal_block_ignores_the_future():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(8, 16))
    block = make_block(causal=True)
    out = block(x)[0]
    for t in range(8):
        changed = x.copy()
        changed[t + 1:] = rng.normal(size=changed[t + 1:].shape)
        np.testing.assert_allclose(block(changed)[0][: t + 1], out[: t + 1], atol=1e-12)
    # ... and is therefore not permutation-equivariant.
    perm = np.roll(np.arange(8), 1)
    assert not np.allclose(block(x[perm])[0], out[perm])


def test_pre_and_post_norm_differ_and_match_their_formulas():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(5, 16)) * 3 + 1
    pre, post = make_block(norm_first=True), make_block(norm_first=False)
    out_pre, out_post = pre(x)[0], post(x)[0]
    assert not np.allclose(out_pre, out_post)
    # Post-norm ends in a layer norm: every row has mean 0, variance 1. Pre-norm does not.
    np.testing.assert_allclose(out_post.mean(-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(out_post.var(-1), 1.0, rtol=1e-3)
    assert np.abs(out_pre.mean(-1)).max() > 0.1
    # Pre-norm by hand.
    p = pre.params
    h = x + pre.self_attn(layer_norm(x, p["ln1_gamma"], p["ln1_beta"]))[0]
    g = layer_norm(h, p["ln2_gamma"], p["ln2_beta"])
    by_hand = h + feed_forward(g, p["w_1"], p["b_1"], p["w_2"], p["b_2"])
    np.testing.assert_allclose(out_pre, by_hand, atol=1e-12)


def test_mask_is_combined_with_causal_mask():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(5, 16))
    block = make_block(causal=True)
    keep = np.ones((5, 5), dtype=bool)
    keep[:, 0] = False
    keep[0, 0] = True  # query 0 still needs something to attend to
    w = block(x, mask=keep)[1]["self"]
    assert np.all(w[:, 1:, 0] == 0) and np.all(w[..., ~causal_mask(5)] == 0)


def _copy_attention(mha, torch_mha):
    d = mha.d_model
    w_in = torch_mha.in_proj_weight.detach().numpy()
    b_in = torch_mha.in_proj_bias.detach().numpy()
    for i, name in enumerate("qkv"):
        mha.params[f"w_{name}"] = w_in[i * d:(i + 1) * d].T.copy()
        mha.params[f"b_{name}"] = b_in[i * d:(i + 1) * d].copy()
    mha.params["w_o"] = torch_mha.out_proj.weight.detach().numpy().T.copy()
    mha.params["b_o"] = torch_mha.out_proj.bias.detach().numpy().copy()


def _copy_rest(block, layer, norms):
    for i, norm in enumerate(norms, start=1):
        block.params[f"ln{i}_gamma"] = norm.weight.detach().numpy().copy()
        block.params[f"ln{i}_beta"] = norm.bias.detach().numpy().copy()
    block.params["w_1"] = layer.linear1.weight.detach().numpy().T.copy()
    block.params["b_1"] = layer.linear1.bias.detach().numpy().copy()
    block.params["w_2"] = layer.linear2.weight.detach().numpy().T.copy()
    block.params["b_2"] = layer.linear2.bias.detach().numpy().copy()


@pytest.mark.parametrize("norm_first", [True, False])
def test_torch_oracle_encoder_layer(norm_first):
    torch = pytest.importorskip("torch", reason="torch (dev requirements) is the oracle for these checks")
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation="gelu", batch_first=True,
                                             norm_first=norm_first, dtype=torch.float64).eval()
    with torch.no_grad():  # non-trivial layer norms and biases, so every parameter is checked
        for prm in layer.parameters():
            prm.add_(0.1 * torch.randn_like(prm))
    block = make_block(norm_first=norm_first)
    _copy_attention(block.self_attn, layer.self_attn)
    _copy_rest(block, layer, [layer.norm1, layer.norm2])
    x = np.random.default_rng(10).normal(size=(2, 6, 16))
    with torch.no_grad():
        ref = layer(torch.tensor(x)).numpy()
    np.testing.assert_allclose(block(x)[0], ref, atol=1e-10)


def test_torch_oracle_decoder_layer():
    torch = pytest.importorskip("torch", reason="torch (dev requirements) is the oracle for these checks")
    torch.manual_seed(1)
    layer = torch.nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, activation="gelu", batch_first=True,
                                             norm_first=True, dtype=torch.float64).eval()
    with torch.no_grad():
        for prm in layer.parameters():
            prm.add_(0.1 * torch.randn_like(prm))
    block = make_block(causal=True, cross_attention=True)
    _copy_attention(block.self_attn, layer.self_attn)
    _copy_attention(block.cross_attn, layer.multihead_attn)
    _copy_rest(block, layer, [layer.norm1, layer.norm2, layer.norm3])
    rng = np.random.default_rng(11)
    x, memory = rng.normal(size=(2, 5, 16)), rng.normal(size=(2, 7, 16))
    # torch's float mask is additive (-inf = blocked); ours is boolean, True = may attend.
    tgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    with torch.no_grad():
        ref = layer(torch.tensor(x), torch.tensor(memory), tgt_mask=tgt_mask, tgt_is_causal=True).numpy()
    np.testing.assert_allclose(block(x, memory)[0], ref, atol=1e-10)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: make_block()(np.zeros((3, 12))), ValueError, ["d_model=16", "(3, 12)"]),
        (lambda: make_block()(np.zeros(16)), ValueError, ["(16,)"]),
        (lambda: make_block()(np.zeros((3, 16)), memory=np.zeros((3, 16))), ValueError,
         ["cross_attention", "(3, 16)"]),
        (lambda: make_block(cross_attention=True)(np.zeros((3, 16))), ValueError, ["memory", "(3, 16)"]),
        (lambda: make_block(cross_attention=True)(np.zeros((2, 3, 16)), np.zeros((4, 16))), ValueError,
         ["(2, 3, 16)", "(4, 16)"]),
        (lambda: make_block()(np.zeros((3, 16)), mask=np.ones((3, 4), dtype=bool)), ValueError,
         ["(3, 4)", "(3, 3)"]),
        (lambda: make_block()(np.full((3, 16), np.inf)), ValueError, ["inf", "(3, 16)"]),
        (lambda: TransformerBlock(16, 5, 32, np.random.default_rng(0)), ValueError,
         ["num_heads=5", "d_model=16"]),
        (lambda: TransformerBlock(16, 4, 32, 0), TypeError, ["Generator"]),
    ],
)
def test_block_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)
