"""Resumable training checkpoints that load without running code.

A checkpoint is a folder ``step-NNNNNNNN`` inside the run's checkpoint folder holding
``model.safetensors`` (the weights), ``ema.safetensors`` (the averaged weights, when the run
keeps an average) and ``trainer.pt``: the step, the optimizer state, the trainer's random
generator state and the EMA counters — tensors, numbers, strings and plain containers only, so
``torch.load(weights_only=True)`` reads it. Each checkpoint is written under a temporary name
and renamed when complete; older checkpoints are removed after the new one is in place.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from models.checkpoint_files import save_safetensors
from models.training.ema import ExponentialMovingAverage

MODEL_FILE = "model.safetensors"
EMA_FILE = "ema.safetensors"
TRAINER_FILE = "trainer.pt"
_STEP_FOLDER = re.compile(r"^step-(\d{8})$")


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The newest complete checkpoint folder in ``directory``, or None."""
    folder = Path(directory)
    if not folder.is_dir():
        return None
    found = [p for p in folder.iterdir() if p.is_dir() and _STEP_FOLDER.match(p.name)]
    return max(found, key=lambda p: int(p.name[5:]), default=None)


def checkpoint_step(directory: str | os.PathLike[str]) -> int:
    """Steps done by the newest checkpoint in ``directory``; 0 when there is none.

    A resumed run continues after this step and takes its next batch from ``batches``, so a
    data pipeline that should continue exactly where it stopped can start from here.
    """
    latest = latest_checkpoint(directory)
    return int(latest.name[5:]) if latest is not None else 0


def save_checkpoint(
    directory: str | os.PathLike[str],
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    ema: ExponentialMovingAverage | None = None,
) -> Path:
    """Write the checkpoint of ``step`` and remove the older ones; returns its folder."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".step-", suffix=".partial", dir=folder))
    try:
        save_safetensors(model.state_dict(), staging / MODEL_FILE)
        trainer: dict[str, object] = {
            "step": step,
            "optimizer": optimizer.state_dict(),
            "generator": generator.get_state(),
        }
        if ema is not None:
            save_safetensors(ema.shadow, staging / EMA_FILE)
            trainer["ema"] = {"decay": ema.decay, "updates": ema.updates}
        torch.save(trainer, staging / TRAINER_FILE)
        final = folder / f"step-{step:08d}"
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    for old in folder.iterdir():
        if old != final and old.is_dir() and _STEP_FOLDER.match(old.name):
            shutil.rmtree(old)
    return final


def load_checkpoint(
    directory: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    ema: ExponentialMovingAverage | None = None,
) -> int:
    """Restore the newest checkpoint in ``directory`` into the given objects; its step, or 0."""
    latest = latest_checkpoint(directory)
    if latest is None:
        return 0
    device = next(model.parameters()).device
    model.load_state_dict(load_file(str(latest / MODEL_FILE), device=str(device)))
    trainer = torch.load(latest / TRAINER_FILE, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(trainer["optimizer"])
    generator.set_state(trainer["generator"])
    if ema is not None:
        if "ema" not in trainer:
            raise ValueError(f"{latest} holds no EMA weights but this run keeps an average")
        shadow = load_file(str(latest / EMA_FILE), device=str(device))
        ema.load_state_dict({**trainer["ema"], "shadow": shadow})
    return int(trainer["step"])
