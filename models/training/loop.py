"""The optimisation loop both trainers share: AdamW, warm-up + cosine schedule, clipping,
EMA, periodic logging and resumable checkpoints."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import Tensor, nn

from models.training.checkpointing import load_checkpoint, save_checkpoint
from models.training.ema import ExponentialMovingAverage

LogFn = Callable[[int, dict[str, float]], None]
# The loss of training step n: the scalar to minimise and detached terms to log.
StepLoss = Callable[[int], tuple[Tensor, dict[str, Tensor]]]
FINAL_LR_FRACTION = 0.1  # the cosine schedule ends at this fraction of the peak rate
BatchT = TypeVar("BatchT")


@dataclass(frozen=True)
class LoopSettings:
    """Optimisation and bookkeeping settings of one training run."""

    steps: int
    lr: float
    warmup: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    log_every: int = 50
    checkpoint_every: int = 500
    mixed_precision: bool = False  # bf16 autocast on CUDA GPUs that support it


@dataclass(frozen=True)
class TrainingResult:
    """Where a run ended: total steps, mean loss terms of its last logging interval, and the
    averaged weights when it kept an EMA."""

    step: int
    losses: dict[str, float]
    ema_state: dict[str, Tensor] | None = None


def learning_rate(step: int, settings: LoopSettings) -> float:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then a cosine decay to 10 % of it."""
    if step <= settings.warmup:
        return settings.lr * step / max(settings.warmup, 1)
    span = max(settings.steps - settings.warmup, 1)
    progress = min((step - settings.warmup) / span, 1.0)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return settings.lr * (FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * cosine)


def trainer_generator(model: nn.Module, seed: int) -> torch.Generator:
    """The seeded generator, on the model's device, that draws all of a trainer's randomness."""
    device = next(model.parameters()).device
    return torch.Generator(device=device).manual_seed(seed)


def next_batch(batches: Iterator[BatchT], step: int) -> BatchT:
    """The next batch, with a clear error when the iterator runs dry before the last step."""
    try:
        return next(batches)
    except StopIteration:
        raise ValueError(f"the batch iterator ended before step {step}") from None


def _autocast(model: nn.Module, enabled: bool) -> contextlib.AbstractContextManager[object]:
    device = next(model.parameters()).device
    if enabled and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def run_loop(
    model: nn.Module,
    step_loss: StepLoss,
    settings: LoopSettings,
    generator: torch.Generator,
    log: LogFn | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    ema: ExponentialMovingAverage | None = None,
) -> TrainingResult:
    """Train ``model`` for ``settings.steps`` steps in all, resuming from ``checkpoint_dir``.

    ``log(step, terms)`` receives the mean of every loss term over the last ``log_every``
    steps, plus ``lr`` and ``grad_norm`` (of the logged step, before clipping).
    """
    model.train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    start = 0
    if checkpoint_dir is not None:
        start = load_checkpoint(checkpoint_dir, model, optimizer, generator, ema)
    sums: dict[str, Tensor] = {}
    count = 0
    last: dict[str, float] = {}
    for step in range(start + 1, settings.steps + 1):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, settings)
        with _autocast(model, settings.mixed_precision):
            loss, terms = step_loss(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        if ema is not None:
            ema.update(model)
        for key, value in {"loss": loss.detach(), **terms}.items():
            sums[key] = value.float() + sums[key] if key in sums else value.float()
        count += 1
        if step % settings.log_every == 0 or step == settings.steps:
            last = {k: float(v) / count for k, v in sums.items()}
            if log is not None:
                extra = {"lr": learning_rate(step, settings), "grad_norm": float(grad_norm)}
                log(step, {**last, **extra})
            sums, count = {}, 0
        if checkpoint_dir is not None and (
            step % settings.checkpoint_every == 0 or step == settings.steps
        ):
            save_checkpoint(checkpoint_dir, step, model, optimizer, generator, ema)
    model.eval()
    ema_state = ema.state_for(model) if ema is not None else None
    return TrainingResult(max(start, settings.steps), last, ema_state)
