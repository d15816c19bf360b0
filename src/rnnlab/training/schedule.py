"""The learning-rate schedule: linear warm-up, then constant or cosine decay over the budget.

    lr(step, progress) = lr * step / warmup_steps                         while step < warmup_steps
                       = lr                                               constant
                       = lr * (r + (1 - r) * (1 + cos(pi * p)) / 2)       cosine, p in [0, 1]

where ``step`` counts optimizer steps from 1, r = ``min_lr_ratio``, and p is the fraction of the
budget used: ``step / steps`` for a step budget, ``training seconds / (60 minutes)`` for a time budget
(the larger of the two when both are set), measured after the warm-up.  Under a time budget the
schedule depends on the clock, so only step-budget runs are bit-for-bit reproducible.
"""

from __future__ import annotations

import math

from .config import TrainConfig


def budget_progress(config: TrainConfig, step: int, seconds: float) -> float:
    """How much of the budget is used, in [0, 1]."""
    parts = []
    if config.steps is not None:
        parts.append(step / config.steps)
    if config.minutes is not None:
        parts.append(seconds / (60.0 * config.minutes))
    return min(1.0, max(parts))


def learning_rate(config: TrainConfig, step: int, progress: float) -> float:
    if step <= config.warmup_steps:
        return config.lr * step / config.warmup_steps
    if config.schedule == "constant":
        return config.lr
    if config.steps is not None and config.minutes is None:  # measure the decay after the warm-up
        span = max(1, config.steps - config.warmup_steps)
        progress = (step - config.warmup_steps) / span
    r = config.min_lr_ratio
    return config.lr * (r + (1.0 - r) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))
