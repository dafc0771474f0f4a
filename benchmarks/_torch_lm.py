"""The package's `DecoderLM` rewritten in PyTorch, for the oracle test and the speed benchmark.

Same parameters (copied from a numpy model), same maths: pre-norm blocks of causal multi-head
attention (no biases) and an optional exact-GELU MLP, final norm, read-out. torch autograd
supplies the gradients that the numpy model computes by hand.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def torch_params(params: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Leaf tensors (requires_grad) holding copies of the numpy params."""
    return {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}


def torch_loss(model: Any, p: dict[str, torch.Tensor], ids: np.ndarray,
               targets: np.ndarray) -> torch.Tensor:
    """Mean cross-entropy of the torch twin of `model` (a DecoderLM)."""
    x_ids = torch.from_numpy(ids)
    batch, n = ids.shape
    h, d = model.num_heads, model.d_model
    x = p["tok_emb"][x_ids] + p["pos_emb"][:n]

    def norm(z: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(z, (d,), p[name + "_g"], p[name + "_b"], 1e-5)

    def heads(z: torch.Tensor) -> torch.Tensor:
        return z.view(batch, n, h, d // h).transpose(1, 2)

    for i in range(model.num_layers):
        a = norm(x, f"{i}.ln1")
        q, k, v = (heads(a @ p[f"{i}.w_{c}"]) for c in "qkv")
        o = F.scaled_dot_product_attention(q, k, v, is_causal=model.causal)
        x = x + o.transpose(1, 2).reshape(batch, n, d) @ p[f"{i}.w_o"]
        if model.d_ff:
            b = norm(x, f"{i}.ln2")
            act = F.gelu(b @ p[f"{i}.w_1"] + p[f"{i}.b_1"])
            x = x + act @ p[f"{i}.w_2"] + p[f"{i}.b_2"]
    logits = norm(x, "lnf") @ p["w_out"] + p["b_out"]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                           torch.from_numpy(targets).reshape(-1),
                           ignore_index=-100)
