"""What a workbook needs at run time: the package's version of a function
until the reader has written theirs.

A workbook is a chapter notebook with the exercise solutions taken out
(scripts/make_workbooks.py writes them). Each solution becomes a stub that
raises NotImplementedError. Where a later cell needs the function, the
workbook wraps the stub with `until_written`, so the rest of the chapter
runs on the package's version, with a printed note, until the reader's own
version exists; from then on the reader's function is used.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ..blocks import gelu
from ..models.minilm import EncoderConfig, minilm_folder
from .capstone import _Variant

__all__ = ["PACKAGE_VERSIONS", "until_written"]


@functools.lru_cache(maxsize=1)
def _minilm_config() -> EncoderConfig:
    """The shape of the installed all-MiniLM-L6-v2 (read once)."""
    return EncoderConfig.from_json(minilm_folder() / "config.json")


def _variant(weights: Any, activation: Callable[..., Any]) -> _Variant:
    """The checkers' BERT forward pass on these weights, with `activation`."""
    variant = _Variant(weights, _minilm_config())
    variant.act = activation
    return variant


def capstone_embeddings(weights: Any, input_ids: np.ndarray,
                        token_type_ids: np.ndarray) -> np.ndarray:
    """Chapter 14's my_embeddings: (batch, n) ids, types -> (batch, n, d)."""
    return _variant(weights, gelu).embed(input_ids, token_type_ids)


def capstone_encoder_layer(weights: Any, i: int, x: np.ndarray,
                           mask: np.ndarray, activation: Callable[..., Any]
                           = gelu) -> tuple[np.ndarray, np.ndarray]:
    """Chapter 14's my_encoder_layer: x (batch, n, d), mask (batch, 1, 1, n)
    bool -> (output (batch, n, d), weights (batch, heads, n, n))."""
    real = np.broadcast_to(mask, (x.shape[0], 1, 1, x.shape[1]))[:, 0, 0]
    return _variant(weights, activation).layer(i, x, real)


def capstone_encoder(weights: Any, input_ids: np.ndarray,
                     attention_mask: np.ndarray,
                     token_type_ids: np.ndarray | None = None,
                     activation: Callable[..., Any] = gelu) -> dict[str, Any]:
    """Chapter 14's my_encoder: (batch, n) ids and mask -> dict of stages."""
    types = (np.zeros_like(input_ids) if token_type_ids is None
             else token_type_ids)
    variant = _variant(weights, activation)
    x = variant.embed(input_ids, types)
    hidden, attentions = [x], []
    for i in range(_minilm_config().num_layers):
        x, weights_i = variant.layer(i, x, attention_mask)
        hidden.append(x)
        attentions.append(weights_i)
    return {"hidden_states": hidden, "attentions": attentions,
            "sentence_embedding": variant.pool(x, attention_mask)}


# The package's version of each solution function that a later cell of a
# workbook calls, by the name the chapter gives it.
PACKAGE_VERSIONS: dict[str, Callable[..., Any]] = {
    "my_gelu": gelu,
    "my_embeddings": capstone_embeddings,
    "my_encoder_layer": capstone_encoder_layer,
    "my_encoder": capstone_encoder,
}


def until_written(yours: Callable[..., Any],
                  package: Callable[..., Any] | None = None
                  ) -> Callable[..., Any]:
    """yours, or the package's version while yours is a stub.

    A stub raises NotImplementedError or returns None or `...`; then the
    call goes to `package` (default: PACKAGE_VERSIONS[yours.__name__]) and a
    note says so, once per function.
    """
    if not callable(yours):
        raise TypeError(
            f"yours must be a function, got {type(yours).__name__}")
    name = getattr(yours, "__name__", "your function")
    fallback = PACKAGE_VERSIONS.get(name) if package is None else package
    if fallback is None:
        raise ValueError(f"no package version of {name!r} is known; pass "
                         f"package=..., or one of {sorted(PACKAGE_VERSIONS)}")
    noted: list[bool] = []

    @functools.wraps(yours)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            out = yours(*args, **kwargs)
        except NotImplementedError:
            out = None
        if out is not None and out is not Ellipsis:
            return out
        if not noted:
            noted.append(True)
            print(f"note: {name} is not written yet, so the package's "
                  "version stands in for it (and is what a check of its "
                  "results sees) until you write yours.")
        return fallback(*args, **kwargs)

    return call
