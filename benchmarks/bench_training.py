"""Training step times of a recipe on this machine, with the real trainers on random data.

Run: ``.venv/bin/python benchmarks/bench_training.py [--recipe cpu|gpu] [--steps 20]``.
Rows: one codec step and one flow step at the recipe's batch and crop sizes, and the flow step
again in plain fp32 as the reference for the bf16 autocast the flow trainer uses on CUDA (on
CPU both rows run fp32, so their ratio is about 1). The last lines project the recipe's stage
minutes from the measured step times; ``--json`` writes the numbers too.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from models.omniaudio.codec import SpatialVAE
from models.omniaudio.dit import DualBranchFlowModel
from models.training.codec_training import train_codec
from models.training.flow_training import FlowBatch, train_flow
from models.training.recipe import RECIPES, TrainingRecipe


def _seconds_per_step(run: Callable[[int], object], steps: int, device: torch.device) -> float:
    """Wall time per step of ``run(steps)`` after a 3-step warm-up run, device synchronised."""
    run(3)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    run(steps)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def _codec_batches(recipe: TrainingRecipe, device: torch.device) -> Iterator[torch.Tensor]:
    shape = (recipe.codec_batch, 4, recipe.codec_crop_samples())
    return itertools.repeat(0.03 * torch.randn(shape, device=device))


def _flow_batches(recipe: TrainingRecipe, device: torch.device) -> Iterator[FlowBatch]:
    cfg = recipe.config
    b, frames = recipe.flow_batch, cfg.frames_per_window
    dim = cfg.conditioner.feature_dim
    batch = FlowBatch(
        torch.randn(b, cfg.dit.io_channels, recipe.flow_latent_frames(), device=device),
        torch.randn(b, frames, dim, device=device),
        torch.randn(b, frames, dim, device=device),
    )
    return itertools.repeat(batch)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="cpu", choices=sorted(RECIPES))
    parser.add_argument("--steps", type=int, default=20, help="timed steps per row")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    recipe = RECIPES[args.recipe]
    if recipe.device == "cuda" and not torch.cuda.is_available():
        print("the gpu recipe needs a CUDA GPU; run with --recipe cpu here", file=sys.stderr)
        return 1
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    device = torch.device(recipe.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    cfg = recipe.config

    def codec_run(steps: int) -> object:
        model = SpatialVAE(cfg.codec).to(device)
        batches = _codec_batches(recipe, device)
        return train_codec(model, batches, steps, direction_weight=recipe.direction_weight)

    def flow_run(steps: int, mixed_precision: bool = True) -> object:
        model = DualBranchFlowModel(cfg).to(device)
        batches = _flow_batches(recipe, device)
        return train_flow(model, batches, steps, mixed_precision=mixed_precision)

    codec = _seconds_per_step(codec_run, args.steps, device)
    flow = _seconds_per_step(flow_run, args.steps, device)
    flow_ref = _seconds_per_step(lambda n: flow_run(n, False), args.steps, device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"{recipe.threads} threads"
    print(f"recipe {recipe.name} on {device} ({name}); {args.steps} timed steps per row")
    print(f"{'step':<52} {'ms':>9} {'ref ms':>9} {'ratio':>7}")
    codec_row = f"codec, batch {recipe.codec_batch} × {recipe.codec_crop_seconds:g} s"
    print(f"{codec_row:<52} {codec * 1e3:9.1f}")
    flow_row = f"flow, batch {recipe.flow_batch} × {recipe.flow_latent_frames()} latents"
    print(f"{flow_row:<52} {flow * 1e3:9.1f} {flow_ref * 1e3:9.1f} {flow_ref / flow:6.2f}x")
    codec_min = codec * recipe.codec_steps / 60
    flow_min = flow * recipe.flow_steps / 60
    print(
        f"projected: codec {recipe.codec_steps} steps {codec_min:.1f} min (recipe says "
        f"{recipe.codec_minutes:g}), flow {recipe.flow_steps} steps {flow_min:.1f} min "
        f"(recipe says {recipe.flow_minutes:g})"
    )
    if args.json:
        numbers = {
            "recipe": recipe.name,
            "device": name,
            "codec_step_s": codec,
            "flow_step_s": flow,
            "flow_step_fp32_s": flow_ref,
            "codec_minutes": codec_min,
            "flow_minutes": flow_min,
        }
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
