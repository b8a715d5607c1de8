"""Model timings on this machine, each against a reference measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_models.py [--preset omniaudio-mini] [--threads N]``.
Rows: one guided sampling step (conditional + unconditional pass in one batch) with fused
SDPA attention against plain matmul-softmax attention, and one codec decode of a whole
window with weight norm folded against torch's weight-norm parametrisation recomputed on
every call. Random weights: timings do not depend on training.
"""

from __future__ import annotations

import copy
import sys
from unittest import mock

import torch
from timing import Table, cpu_benchmark_args, median_of
from torch import nn
from torch.nn import functional
from torch.nn.utils import parametrizations

from models.omniaudio.config import preset
from models.omniaudio.dit import count_parameters
from models.omniaudio.generator import FoaGenerator
from models.omniaudio.sampler import guided


def naive_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d) v with explicit matrices."""
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    return scores.softmax(dim=-1) @ v


def with_weight_norm(codec: nn.Module) -> nn.Module:
    """A copy of the codec whose convolutions recompute weight norm on every call."""
    unfolded = copy.deepcopy(codec)
    for module in unfolded.modules():
        if isinstance(module, nn.Conv1d | nn.ConvTranspose1d):
            parametrizations.weight_norm(module, dim=0)
    return unfolded


def main() -> int:
    args = cpu_benchmark_args(__doc__.splitlines()[0], "--preset", "omniaudio-mini")
    torch.manual_seed(0)
    model = FoaGenerator(preset(args.preset)).eval()
    cfg = model.config
    frames, dim = cfg.frames_per_window, cfg.conditioner.feature_dim
    g, f = torch.randn(1, frames, dim), torch.randn(1, frames, dim)
    x = torch.randn(1, cfg.dit.io_channels, model.latent_frames)
    t = torch.tensor([0.5])

    def velocity(x_: torch.Tensor, t_: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return model.flow(x_, t_, g, f, fov_scale=mask)

    step = guided(velocity, cfg.sampler.cfg_scale)
    seconds = model.output_samples / cfg.sample_rate
    table = Table(
        f"preset {cfg.name}: flow {count_parameters(model.flow) / 1e6:.1f} M params, codec "
        f"{count_parameters(model.codec) / 1e6:.1f} M; window {seconds:.2f} s, "
        f"{model.latent_frames} latents; {cfg.sampler.steps} steps; {args.threads} threads",
        "attention as explicit matmul-softmax; the codec recomputing weight norm every call",
    )
    with torch.inference_mode():
        ours = median_of(lambda: step(x, t), args.repeats)
        with mock.patch.object(functional, "scaled_dot_product_attention", naive_attention):
            ref = median_of(lambda: step(x, t), args.repeats)
        table.add("guided sampling step (batch 2), SDPA", ours, ref)
        ours_dec = median_of(lambda: model.codec.decode(x), args.repeats)
        unfolded = with_weight_norm(model.codec)
        ref_dec = median_of(lambda: unfolded.decode(x), args.repeats)
        table.add("codec decode of one window, folded weight norm", ours_dec, ref_dec)
    total = cfg.sampler.steps * ours + ours_dec
    table.notes.append(
        f"one window end to end ({cfg.sampler.steps} steps + decode): {total:.2f} s "
        f"= {seconds / total:.1f}x real time"
    )
    table.print()
    table.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
