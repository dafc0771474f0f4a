"""Training loop and evaluation for `TinyAttentionModel`: mini-batches, Adam, a history to plot."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..checks import check_positive_int, check_scalar, check_work
from .grad import IGNORE_INDEX, cross_entropy
from .model import TinyAttentionModel
from .optim import Adam

__all__ = ["Evaluation", "History", "evaluate", "train"]


@dataclass
class Evaluation:
    """Loss and accuracies of a model on a fixed set of sequences."""

    loss: float
    token_accuracy: float  # fraction of scored positions predicted right
    sequence_accuracy: float  # fraction of sequences with every scored position right


@dataclass
class History:
    """What happened during `train`: per-step loss and batch accuracy, evaluations, snapshots."""

    loss: list[float] = field(default_factory=list)
    batch_accuracy: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)  # held-out token accuracy
    snapshot_steps: list[int] = field(default_factory=list)
    snapshots: list[list[np.ndarray]] = field(default_factory=list)  # attention maps of the probe
    seconds: float = 0.0
    steps_run: int = 0


def _check_data(model: TinyAttentionModel, inputs: Any, targets: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate inputs, targets: (num_sequences, n) integer arrays of the same shape."""
    if not isinstance(model, TinyAttentionModel):
        raise TypeError(f"model must be a TinyAttentionModel, got "
                        f"{type(model).__name__}")
    x, y = np.asarray(inputs), np.asarray(targets)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"{name} inputs and targets must be 2-D with the same shape (num_sequences, n), "
                         f"got {x.shape} and {y.shape}")
    if not (np.issubdtype(x.dtype, np.integer) and np.issubdtype(y.dtype, np.integer)):
        raise TypeError(f"{name} inputs and targets must hold integers, got {x.dtype} and {y.dtype}")
    if x.shape[1] > model.seq_len:
        raise ValueError(f"{name} sequences of length {x.shape[1]} exceed the model's seq_len={model.seq_len}")
    return x, y


def _blas_threads(threads: int | None) -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to `threads` threads inside the block (no-op if None or threadpoolctl is missing)."""
    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: training is still correct, only slower on a busy machine
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def evaluate(model: TinyAttentionModel, inputs: Any, targets: Any) -> Evaluation:
    """Loss, token and sequence accuracy on inputs, targets: (num_sequences, n); IGNORE_INDEX not scored."""
    x, y = _check_data(model, inputs, targets, "evaluation")
    logits, _ = model.forward(x)
    scored = y != IGNORE_INDEX
    right = (logits.argmax(axis=-1) == y) | ~scored
    return Evaluation(
        loss=cross_entropy(logits, y),
        token_accuracy=float(right[scored].mean()),
        sequence_accuracy=float(right.all(axis=1).mean()),
    )


def train(
    model: TinyAttentionModel,
    inputs: Any,
    targets: Any,
    *,
    steps: int = 500,
    batch_size: int = 64,
    lr: float = 1e-2,
    weight_decay: float = 0.0,
    seed: int = 0,
    eval_data: tuple[Any, Any] | None = None,
    eval_every: int = 25,
    target_accuracy: float | None = None,
    probe: Any = None,
    snapshot_every: int | None = None,
    blas_threads: int | None = 1,
) -> History:
    """Train model in place with Adam on mini-batches drawn (seeded) from inputs, targets: (N, n).

    eval_data: held-out (inputs, targets), evaluated every `eval_every` steps and at the end.
    target_accuracy: stop as soon as the held-out token accuracy reaches it.
    probe: (m, n) ids whose attention maps are stored every `snapshot_every` steps (and at
    steps 0 and the last), to watch the pattern form.
    blas_threads: BLAS threads while training (None: leave as is). The default 1 is faster here:
    on matrices this small, waking and syncing threads costs more than it saves (up to 10x slower
    measured on a busy 2-core machine).
    """
    x, y = _check_data(model, inputs, targets, "training")
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    eval_every = check_positive_int(eval_every, "eval_every")
    # forward + backward cost about 6 multiply-adds per parameter per token
    check_work(
        6 * steps * batch_size * x.shape[1] * model.num_parameters,
        "steps or batch_size",
        f"{steps} steps of {batch_size} sequences",
    )
    if eval_data is not None:
        eval_x, eval_y = _check_data(model, *eval_data, "eval_data")
    if target_accuracy is not None:
        target_accuracy = check_scalar(target_accuracy, "target_accuracy")
        if eval_data is None:
            raise ValueError("target_accuracy needs eval_data (held-out inputs, targets) to measure it")
    if snapshot_every is not None:
        snapshot_every = check_positive_int(snapshot_every, "snapshot_every")
        if probe is None:
            raise ValueError("snapshot_every needs probe ids (m, n) whose attention maps to store")
    if blas_threads is not None:
        blas_threads = check_positive_int(blas_threads, "blas_threads")
    rng = np.random.default_rng(seed)
    optimiser = Adam(model.params, lr=lr, weight_decay=weight_decay)
    history = History()

    def snapshot(step: int) -> None:
        history.snapshot_steps.append(step)
        history.snapshots.append(model.attention_maps(probe))

    def run_eval(step: int) -> float:
        acc = evaluate(model, eval_x, eval_y).token_accuracy
        history.eval_steps.append(step)
        history.eval_accuracy.append(acc)
        return acc

    start = time.perf_counter()
    with _blas_threads(blas_threads):
        if snapshot_every is not None:
            snapshot(0)
        step = 0
        for step in range(1, steps + 1):
            batch = rng.integers(0, x.shape[0], size=batch_size)
            loss, grads, logits = model.loss_and_grads(x[batch], y[batch])
            optimiser.step(grads)
            scored = y[batch] != IGNORE_INDEX
            history.loss.append(loss)
            history.batch_accuracy.append(float((logits.argmax(-1) == y[batch])[scored].mean()))
            if snapshot_every is not None and step % snapshot_every == 0:
                snapshot(step)
            if eval_data is not None and (step % eval_every == 0 or step == steps):
                acc = run_eval(step)
                if target_accuracy is not None and acc >= target_accuracy:
                    break
        if snapshot_every is not None and history.snapshot_steps[-1] != step:
            snapshot(step)
    history.seconds = time.perf_counter() - start
    history.steps_run = step
    return history
