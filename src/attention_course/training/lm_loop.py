"""Training a `DecoderLM` (Adam, warm-up, cosine decay, clipping), and bpc."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..checks import (
    _short,
    check_callable,
    check_flag,
    check_int_array,
    check_positive_int,
    check_scalar,
    check_work,
)
from .grad import cross_entropy
from .lm import DecoderLM
from .loop import _blas_threads
from .optim import Adam, clip_grad_norm, grad_norm, warmup_cosine

__all__ = ["LMHistory", "train_lm", "heldout_bpc"]

Batches = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]


@dataclass
class LMHistory:
    """Per-step loss, lr and gradient norm; evaluations; parameter copies."""

    loss: list[float] = field(default_factory=list)  # nats, training batch
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)  # before clipping
    eval_steps: list[int] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    checkpoints: dict[int, dict[str, np.ndarray]] = field(
        default_factory=dict
    )  # step -> copy of model.params
    seconds: float = 0.0

    def eval_series(self, key: str) -> np.ndarray:
        """The values of one evaluation key over eval_steps: (num_evals,)."""
        if not isinstance(key, str):
            raise TypeError(
                f"key must be a str, got {type(key).__name__} {_short(key)}"
            )
        missing = [i for i, e in enumerate(self.evals) if key not in e]
        if missing:
            known = sorted(self.evals[missing[0]])
            raise ValueError(
                f"key {key!r} is not among the keys of evaluation "
                f"{missing[0]}: {known}"
            )
        return np.array([e[key] for e in self.evals])


def heldout_bpc(
    model: DecoderLM,
    ids: Any,
    length: int | None = None,
    last_only: bool = False,
) -> float:
    """Bits per character of model on ids: (n,), cut into windows.

    Non-overlapping windows of `length` (default model.seq_len) characters
    each predict their next characters. last_only scores only each window's
    last position, the one with no future: what generation sees.
    """
    _check_model(model)
    ids = check_int_array(ids, "ids")
    length = (
        model.seq_len
        if length is None
        else check_positive_int(length, "length")
    )
    if length > model.seq_len:
        raise ValueError(
            f"length={length} must be at most the model's "
            f"seq_len={model.seq_len}"
        )
    last_only = check_flag(last_only, "last_only")
    count = (len(ids) - 1) // length if ids.ndim == 1 else 0
    if ids.ndim != 1 or count < 1:
        raise ValueError(
            f"ids must be 1-D with more than length={length} "
            f"tokens, got shape {ids.shape}"
        )
    if last_only:  # windows ending at every position we can score
        starts = np.arange(0, len(ids) - length, max(1, length // 4))
    else:
        starts = np.arange(count) * length
    rows = starts[:, None] + np.arange(length)
    x, y = ids[rows], ids[rows + 1]
    total, scored = 0.0, 0
    for lo in range(0, len(x), 256):  # bounded memory
        logits, _ = model.forward(x[lo : lo + 256])
        part = y[lo : lo + 256]
        if last_only:
            logits, part = logits[:, -1:], part[:, -1:]
        total += cross_entropy(logits, part) * part.size
        scored += part.size
    return total / scored / math.log(2.0)


def train_lm(
    model: DecoderLM,
    batches: Batches,
    *,
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-3,
    warmup_steps: int = 0,
    min_lr: float = 0.0,
    max_grad_norm: float | None = 1.0,
    weight_decay: float = 0.0,
    seed: int = 0,
    evaluate: Callable[[DecoderLM], dict[str, float]] | None = None,
    eval_every: int = 50,
    checkpoint_steps: Any = (),
    blas_threads: int | None = 1,
) -> LMHistory:
    """Train model in place on batches(rng, batch_size) -> (inputs, targets).

    The learning rate follows `warmup_cosine` (peak lr); gradients are
    clipped to max_grad_norm (None: never). evaluate(model) -> dict runs at
    step 0, every eval_every steps and at the end. checkpoint_steps: steps
    (0 = before training) at which a copy of model.params is kept.
    """
    _check_model(model)
    check_callable(batches, "batches")
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    # forward + backward cost about 6 multiply-adds per parameter per token
    check_work(
        6 * steps * batch_size * model.seq_len * model.num_parameters,
        "steps or batch_size",
        f"{steps} steps of {batch_size} sequences",
    )
    eval_every = check_positive_int(eval_every, "eval_every")
    warmup_steps = check_positive_int(
        warmup_steps, "warmup_steps", allow_zero=True
    )
    lr = check_scalar(lr, "lr", positive=True)
    min_lr = check_scalar(min_lr, "min_lr")
    warmup_cosine(1, steps, lr, warmup_steps, min_lr)  # their ranges
    if max_grad_norm is not None:
        max_grad_norm = check_scalar(
            max_grad_norm, "max_grad_norm", positive=True
        )
    check_positive_int(seed, "seed", allow_zero=True)
    if evaluate is not None:
        check_callable(evaluate, "evaluate")
    if blas_threads is not None:
        blas_threads = check_positive_int(blas_threads, "blas_threads")
    keep = _step_set(checkpoint_steps, "checkpoint_steps")
    if any(not 0 <= s <= steps for s in keep):
        raise ValueError(
            f"checkpoint_steps must lie in [0, steps={steps}], "
            f"got {sorted(keep)}"
        )
    rng = np.random.default_rng(seed)
    optimiser = Adam(model.params, lr=lr, weight_decay=weight_decay)
    history = LMHistory()

    def after(step: int) -> None:
        if step in keep:
            history.checkpoints[step] = {
                k: v.copy() for k, v in model.params.items()
            }
        if evaluate is not None and (step % eval_every == 0 or step == steps):
            history.eval_steps.append(step)
            history.evals.append(evaluate(model))

    start = time.perf_counter()
    with _blas_threads(blas_threads):
        after(0)
        for step in range(1, steps + 1):
            x, y = batches(rng, batch_size)
            loss, grads = model.loss_and_grads(x, y)
            norm = (
                grad_norm(grads)
                if max_grad_norm is None
                else clip_grad_norm(grads, max_grad_norm)
            )
            optimiser.lr = warmup_cosine(step, steps, lr, warmup_steps, min_lr)
            optimiser.step(grads)
            history.loss.append(loss)
            history.lr.append(optimiser.lr)
            history.grad_norm.append(norm)
            after(step)
    history.seconds = time.perf_counter() - start
    return history


def _check_model(model: Any) -> None:
    """Raise TypeError unless model is a DecoderLM."""
    if not isinstance(model, DecoderLM):
        raise TypeError(
            f"model must be a DecoderLM, got {type(model).__name__} "
            f"{_short(model)}"
        )


def _step_set(values: Any, name: str) -> set[int]:
    """values: an iterable of integer step numbers -> a set of ints."""
    try:
        items = list(values)
    except TypeError as err:
        raise TypeError(
            f"{name} must be a list of step numbers, got "
            f"{type(values).__name__} {_short(values)}"
        ) from err
    if isinstance(values, str) or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool)
        for s in items
    ):
        raise TypeError(
            f"{name} must hold integer step numbers, got {_short(values)}"
        )
    return {int(s) for s in items}
