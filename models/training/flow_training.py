"""Training the dual-branch flow model with rectified flow, FoV-condition dropout and an EMA."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from models.omniaudio.dit import DualBranchFlowModel
from models.training.ema import ExponentialMovingAverage
from models.training.loop import (
    LogFn,
    LoopSettings,
    TrainingResult,
    next_batch,
    run_loop,
    trainer_generator,
)
from models.training.losses import rectified_flow_loss

TimeSampler = Literal["logit_normal", "uniform"]


@dataclass(frozen=True)
class FlowBatch:
    """Codec latents [B, C, L] with the features of the same windows, [B, T, D] each."""

    latents: Tensor
    global_features: Tensor
    fov_features: Tensor


def sample_times(
    batch: int, generator: torch.Generator, kind: TimeSampler = "logit_normal"
) -> Tensor:
    """Training times t [B] in (0, 1): sigmoid(N(0, 1)) (logit-normal) or uniform."""
    device = generator.device
    if kind == "logit_normal":
        return torch.randn(batch, generator=generator, device=device).sigmoid()
    if kind == "uniform":
        return torch.rand(batch, generator=generator, device=device)
    raise ValueError(f"unknown time sampler {kind!r}; use 'logit_normal' or 'uniform'")


def fov_dropout_scale(batch: int, p: float, generator: torch.Generator) -> Tensor:
    """``fov_scale`` [B]: 0 (the sampler's null condition) with probability p, else 1."""
    keep = torch.rand(batch, generator=generator, device=generator.device) >= p
    return keep.float()


def train_flow(
    model: DualBranchFlowModel,
    batches: Iterator[FlowBatch],
    steps: int,
    lr: float = 5e-4,
    ema_decay: float = 0.999,
    fov_dropout: float = 0.15,
    log: LogFn | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 500,
    seed: int = 0,
    *,
    time_sampler: TimeSampler = "logit_normal",
    warmup: int = 200,
    log_every: int = 50,
    mixed_precision: bool = True,
) -> TrainingResult:
    """Train ``model`` to ``steps`` steps in all (resuming from ``checkpoint_dir``) with the
    rectified-flow loss; returns the EMA weights in ``ema_state``.

    Each sample's FoV branch is switched off (fov_scale 0, the global branch kept) with
    probability ``fov_dropout``, which teaches the unconditional velocity that guidance uses.
    Times, noise and dropout come from a generator seeded with ``seed``; on CUDA the forward
    pass runs in bf16 autocast unless ``mixed_precision`` is off.
    """
    if not 0.0 <= fov_dropout < 1.0:
        raise ValueError(f"fov_dropout must be in [0, 1), got {fov_dropout}")
    generator = trainer_generator(model, seed)
    device = next(model.parameters()).device
    ema = ExponentialMovingAverage(model, ema_decay)

    def step_loss(step: int) -> tuple[Tensor, dict[str, Tensor]]:
        batch = next_batch(batches, step)
        x0 = batch.latents.to(device, non_blocking=True)
        g = batch.global_features.to(device, non_blocking=True)
        f = batch.fov_features.to(device, non_blocking=True)
        b = x0.shape[0]
        t = sample_times(b, generator, time_sampler)
        noise = torch.randn(x0.shape, generator=generator, device=device, dtype=x0.dtype)
        fov_scale = fov_dropout_scale(b, fov_dropout, generator)

        def velocity(x_t: Tensor, t_: Tensor) -> Tensor:
            return model(x_t, t_, g, f, fov_scale=fov_scale)

        loss = rectified_flow_loss(velocity, x0, noise, t)
        return loss, {}

    settings = LoopSettings(
        steps=steps,
        lr=lr,
        warmup=warmup,
        log_every=log_every,
        checkpoint_every=checkpoint_every,
        mixed_precision=mixed_precision,
    )
    return run_loop(model, step_loss, settings, generator, log, checkpoint_dir, ema)
