"""Adam: gradient descent with a per-parameter step size, as in Kingma & Ba (2015).

Parameters and gradients are dicts of named numpy arrays, {"w_q": array, ...}; `step` updates
the parameter arrays in place, so a model holding the same dict sees the new values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..checks import (
    _short,
    check_array,
    check_finite,
    check_positive_int,
    check_scalar,
)

__all__ = ["Adam", "warmup_cosine", "clip_grad_norm", "grad_norm"]


class Adam:
    """Adam with bias correction and optional decoupled weight decay (AdamW style).

    For every parameter p with gradient g, at step t = 1, 2, ...:
        m = beta1 m + (1 - beta1) g          (running mean of gradients)
        v = beta2 v + (1 - beta2) g^2        (running mean of squared gradients)
        p -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
    The divisions by (1 - beta^t) undo the bias of m and v towards their zero start, which
    would otherwise make the first steps tiny. With weight_decay > 0, p also shrinks by
    lr * weight_decay * p each step, *decoupled* from the gradient (Loshchilov & Hutter's AdamW),
    not added to g (which Adam's scaling would undo for parameters with large gradients).
    """

    def __init__(self, params: dict[str, np.ndarray], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        """Keep references to params (a dict of float arrays) and zero moment estimates for each."""
        if not isinstance(params, dict) or not params:
            raise TypeError(f"params must be a non-empty dict of named numpy arrays, got {type(params).__name__}")
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"param {name!r} must be a float numpy array (updated in place), got "
                                f"{type(p).__name__} {getattr(p, 'dtype', '')}")
        self.lr = check_scalar(lr, "lr", positive=True)
        b1, b2 = (check_scalar(b, name) for b, name in zip(betas, ("betas[0]", "betas[1]"), strict=True))
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        self.betas = (b1, b2)
        self.eps = check_scalar(eps, "eps", positive=True)
        self.weight_decay = check_scalar(weight_decay, "weight_decay")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.params = params
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.t = 0

    def step(self, grads: dict[str, Any]) -> None:
        """Apply one update from grads, a dict with the same names and shapes as params."""
        if not isinstance(grads, dict):
            raise TypeError(f"grads must be a dict with the names of params, "
                            f"got {type(grads).__name__}")
        if set(grads) != set(self.params):
            missing, extra = set(self.params) - set(grads), set(grads) - set(self.params)
            raise ValueError(f"grads must have the same names as params: missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)}")
        for name, p in self.params.items():
            g = np.asarray(grads[name])
            if g.shape != p.shape:
                raise ValueError(f"gradient {name!r} has shape {g.shape} but the parameter has shape {p.shape}")
            check_finite(g, f"gradient {name!r}")
        self.t += 1
        b1, b2 = self.betas
        # Python floats keep float32 parameters float32.
        step_size = self.lr / (1.0 - b1 ** self.t)
        v_correction = 1.0 / math.sqrt(1.0 - b2 ** self.t)
        for name, p in self.params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            if self.weight_decay:
                p -= (self.lr * self.weight_decay) * p
            p -= step_size * m / (np.sqrt(v) * v_correction + self.eps)


def warmup_cosine(step: int, total_steps: int, peak_lr: float,
                  warmup_steps: int = 0, min_lr: float = 0.0) -> float:
    """Learning rate at step (1-based): linear warm-up, then cosine decay.

    Steps 1..warmup_steps climb linearly to peak_lr (Adam's first moments
    are noisy, and big early steps can throw a fresh model far off); the
    rest follow half a cosine from peak_lr down to min_lr at total_steps.
    """
    step = check_positive_int(step, "step")
    total_steps = check_positive_int(total_steps, "total_steps")
    warmup_steps = check_positive_int(warmup_steps, "warmup_steps",
                                      allow_zero=True)
    peak_lr = check_scalar(peak_lr, "peak_lr", positive=True)
    min_lr = check_scalar(min_lr, "min_lr")
    if not 0.0 <= min_lr <= peak_lr:
        raise ValueError(f"min_lr must lie in [0, peak_lr={peak_lr}], "
                         f"got {min_lr}")
    if warmup_steps >= total_steps:
        raise ValueError(f"warmup_steps={warmup_steps} must be smaller than "
                         f"total_steps={total_steps}")
    if step <= warmup_steps:
        return peak_lr * step / warmup_steps
    done = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    return min_lr + 0.5 * (peak_lr - min_lr) * (1.0 + math.cos(math.pi * done))


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Scale all grads in place so their joint L2 norm is <= max_norm.

    Returns the norm before clipping. One rare huge gradient (a batch the
    model finds very surprising) then moves the weights by a bounded step.
    """
    max_norm = check_scalar(max_norm, "max_norm", positive=True)
    total = grad_norm(grads)
    for name, g in grads.items():  # scaled in place: must be float arrays
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
            raise TypeError(
                f"grads[{name!r}] must be a float numpy array (it is "
                f"scaled in place), got {type(g).__name__} {_short(g)}"
            )
    if total > max_norm:
        factor = max_norm / total
        for g in grads.values():
            g *= factor
    return total


def grad_norm(grads: dict[str, np.ndarray]) -> float:
    """The L2 norm of all gradients together, as if one long vector."""
    if not isinstance(grads, dict) or not grads:
        raise TypeError("grads must be a non-empty dict of named arrays, "
                        f"got {type(grads).__name__} {grads!r:.40}")
    arrays = [check_array(g, f"grads[{k!r}]") for k, g in grads.items()]
    total = math.sqrt(sum(float(np.sum(g * g)) for g in arrays))
    if math.isfinite(total):
        return total
    # g * g overflowed (|g| > 1e154 in float64, 1e19 in float32): divide
    # by the largest |g| first, in float64, and multiply back at the end.
    top = max(float(np.max(np.abs(g), initial=0.0)) for g in arrays)
    scaled = sum(
        float(np.sum(np.square(g.astype(np.float64) / top))) for g in arrays
    )
    total = top * math.sqrt(scaled)
    if not math.isfinite(total):
        raise ValueError(
            f"grads are too large: their norm exceeds the largest float64 "
            f"(the largest |value| is {top:.3g})"
        )
    return total
