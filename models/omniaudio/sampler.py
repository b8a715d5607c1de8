"""Rectified-flow sampling: Euler (as released) or Heun, with classifier-free guidance.

Convention of the model: x_t = (1 − t)·x0 + t·ε, the network predicts v = ε − x0, t = 1 is
pure noise. Sampling walks t from 1 to 0: x ← x + (t_next − t)·v(x, t).
Guidance: v = v_u + s·(v_c − v_u), where the unconditional pass zeros the FoV branch only;
both passes run as one batch.
Inpainting: where latents of known audio are given, the known frames are replaced after every
step by those latents noised to the step's time, (1 − t)·x0 + t·ε with the run's own ε, so
the sampled frames are made to fit them and the known frames end as x0 exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from models.family import SamplingCancelled
from models.omniaudio.config import SAMPLER_METHODS, SamplerConfig

# velocity(x [B, C, L], t [B], fov_mask [B]) -> v [B, C, L]; fov_mask 1 = FoV branch on.
VelocityField = Callable[[Tensor, Tensor, Tensor], Tensor]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Inpainting:
    """Latents [1 or B, C, L] of known audio and which of their frames are known ([L], bool)."""

    latents: Tensor
    frames: Tensor

    def kept(self, x: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """``x`` with the known frames set to the known latents noised to time ``t``."""
        latents = self.latents.to(device=x.device, dtype=x.dtype)
        noised = (1 - t) * latents + t * noise
        return torch.where(self.frames.to(x.device), noised, x)


def timesteps(steps: int, device: torch.device | str = "cpu") -> Tensor:
    """The time grid t = linspace(1, 0, steps + 1)."""
    return torch.linspace(1.0, 0.0, steps + 1, device=device, dtype=torch.float32)


def initial_noise(
    shape: tuple[int, ...], generator: torch.Generator, device: torch.device | str = "cpu"
) -> Tensor:
    """Gaussian noise drawn from ``generator`` (on the generator's device), then moved."""
    noise = torch.randn(shape, generator=generator, device=generator.device)
    return noise.to(device)


def guided(velocity: VelocityField, cfg_scale: float) -> Callable[[Tensor, Tensor], Tensor]:
    """v(x, t) with classifier-free guidance; scale 1 runs only the conditional pass."""

    def conditional(x: Tensor, t: Tensor) -> Tensor:
        return velocity(x, t, torch.ones(x.shape[0], device=x.device, dtype=x.dtype))

    def with_guidance(x: Tensor, t: Tensor) -> Tensor:
        b = x.shape[0]
        mask = torch.cat([torch.ones(b), torch.zeros(b)]).to(device=x.device, dtype=x.dtype)
        v_cond, v_uncond = velocity(torch.cat([x, x]), torch.cat([t, t]), mask).chunk(2)
        return v_uncond + cfg_scale * (v_cond - v_uncond)

    return conditional if cfg_scale == 1.0 else with_guidance


def sample(
    velocity: VelocityField,
    noise: Tensor,
    config: SamplerConfig,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    known: Inpainting | None = None,
) -> Tensor:
    """Integrate the flow from ``noise`` (t = 1) to data (t = 0), keeping ``known`` frames.

    ``progress(step, steps)`` is called after every step; ``cancel()`` is asked before every
    step and raises SamplingCancelled when it returns True.
    """
    if config.method not in SAMPLER_METHODS:
        raise ValueError(f"unknown sampler method {config.method!r}; use one of {SAMPLER_METHODS}")
    v = guided(velocity, config.cfg_scale)
    grid = timesteps(config.steps, noise.device)
    x = noise
    batch = x.shape[0]
    for i in range(config.steps):
        if cancel is not None and cancel():
            raise SamplingCancelled(f"sampling cancelled after {i} of {config.steps} steps")
        t, t_next = grid[i], grid[i + 1]
        dt = (t_next - t).to(x.dtype)
        v_here = v(x, t.expand(batch).to(x.dtype))
        if config.method == "euler":
            x = x + dt * v_here
        else:
            x_next = x + dt * v_here
            v_next = v(x_next, t_next.expand(batch).to(x.dtype))
            x = x + dt * 0.5 * (v_here + v_next)
        if known is not None:
            x = known.kept(x, noise, t_next.to(x.dtype))
        if progress is not None:
            progress(i + 1, config.steps)
    return x
