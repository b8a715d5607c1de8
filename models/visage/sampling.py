"""ViSAGe's sampler: KV-cached autoregressive decoding over the interleaved code steps, with
classifier-free guidance against the learned null conditions and top-k sampling.

Each step runs the decoder once for every guidance branch and variation, as one batch, each
with its KV cache. Joint guidance (the release's default) mixes the conditional logits
``l_c`` with those of the all-null branch: ``l_c + s·(l_c − l_u)``; dual guidance adds a
branch with the direction nulled and one with the picture nulled:
``l_c + s_v·(l_sem − l_u) + s_d·(l_spa − l_u)``. Logits below the k-th largest are dropped
(ties kept), then one code per stream is drawn from the softmax, streams in ascending order.
A prefix of codes (the previous window's end) can be forced: those slots are not sampled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from models.family import SamplingCancelled
from models.visage.interleave import CodeLayout
from models.visage.network import VisageNetwork

Guidance = Literal["joint", "dual"]
GUIDANCE_VARIANTS: tuple[str, ...] = ("joint", "dual")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Conditions:
    """One window's conditioning: CLIP frames [N, C], energy maps [N, 49], direction [3]."""

    clip: Tensor
    energy: Tensor
    direction: Tensor


@dataclass(frozen=True)
class SamplingSettings:
    """How codes are drawn: guidance variant and scales, top-k, temperature."""

    guidance: Guidance = "joint"
    scale: float = 2.5
    spatial_scale: float = 2.5
    top_k: int = 256
    temperature: float = 1.0


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Logits with everything below the k-th largest of each row set to -inf (ties kept)."""
    if k >= logits.shape[-1]:
        return logits
    threshold = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < threshold, float("-inf"))


def guide(branches: Tensor, settings: SamplingSettings) -> Tensor:
    """Guided logits from the branches' logits [branches, ...] (cond, null, [sem, spa])."""
    cond, null = branches[0], branches[1]
    if settings.guidance == "joint":
        return cond + settings.scale * (cond - null)
    semantic, spatial = branches[2], branches[3]
    return cond + settings.scale * (semantic - null) + settings.spatial_scale * (spatial - null)


def _branches(network: VisageNetwork, conditions: Conditions, guidance: Guidance) -> list:
    """(clip, energy, direction) of each guidance branch, batch of one."""
    clip, energy = conditions.clip[None], conditions.energy[None]
    direction = conditions.direction[None]
    null_clip, null_energy, null_direction = network.null_condition(1, clip.shape[1])
    branches = [(clip, energy, direction), (null_clip, null_energy, null_direction)]
    if guidance == "dual":
        branches += [(clip, energy, null_direction), (null_clip, null_energy, direction)]
    return branches


def generate_codes(
    network: VisageNetwork,
    conditions: Conditions,
    generator: torch.Generator,
    variations: int = 1,
    settings: SamplingSettings | None = None,
    prefix: Tensor | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Tensor:
    """Generated codes [variations, S, streams] (S = the window's frames, 430 as released).

    ``prefix`` [variations, P, streams] forces the first P frames (P < S).
    """
    settings = settings or SamplingSettings()
    config = network.config
    layout = CodeLayout(config.num_rvq, config.dac_pad_token_id)
    device = network.null_embedding.device
    frames = int(conditions.clip.shape[0] / config.clip_frame_rate * config.dac_frame_rate)
    total = 2 * frames + 1
    forced = torch.full((variations, total, layout.streams), -1, dtype=torch.long, device=device)
    if prefix is not None:
        fixed = layout.interleave(prefix.to(device))
        steps = fixed.shape[1] - 1  # the last interleaved step is only half the prefix's
        forced[:, :steps] = fixed[:, :steps]
        last = layout.spatial_residual  # the prefix's last spatial residuals, due next step
        forced[:, steps, last] = fixed[:, steps, last]
    states = [
        network.encode(*branch) for branch in _branches(network, conditions, settings.guidance)
    ]
    n_branches = len(states)
    encoder_states = torch.cat([s.expand(variations, -1, -1) for s in states])  # branch-major
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    decoder = network.model.decoder
    generated = torch.full_like(forced, layout.pad)
    free_steps = (forced == -1).any(dim=2).any(dim=0).nonzero()
    first_free = int(free_steps[0]) if len(free_steps) else total
    if first_free > 0:  # the wholly forced steps in one pass: BOS and all of them but the last
        generated[:, :first_free] = forced[:, :first_free]
        history = generated[:, : first_free - 1].repeat(n_branches, 1, 1)
        decoder(decoder.inputs(history, with_bos=True), 0, encoder_states, cache)
    for step in range(first_free, total):
        if cancel is not None and cancel():
            raise SamplingCancelled(f"sampling cancelled after {step} of {total} steps")
        if step == 0:
            inputs = decoder.inputs(generated[:, :0].repeat(n_branches, 1, 1), with_bos=True)
        else:
            inputs = decoder.inputs(generated[:, step - 1 : step].repeat(n_branches, 1, 1), False)
        hidden = decoder(inputs, step, encoder_states, cache)[:, -1:]
        heads = layout.streams_at(step, total)
        logits = network.logits(hidden, heads)[:, 0].float()  # [branches·V, heads, vocab]
        logits = guide(logits.view(n_branches, variations, *logits.shape[1:]), settings)
        for slot, stream in enumerate(heads):
            fixed_codes = forced[:, step, stream]
            if bool((fixed_codes >= 0).all()):
                generated[:, step, stream] = fixed_codes
                continue
            row = top_k_filter(logits[:, slot] / settings.temperature, settings.top_k)
            drawn = torch.multinomial(torch.softmax(row, dim=-1), 1, generator=generator)
            generated[:, step, stream] = torch.where(fixed_codes >= 0, fixed_codes, drawn[:, 0])
        if progress is not None:
            progress(step + 1, total)
    return layout.deinterleave(generated)


def repeat_last_frame(codes: Tensor, frames: int) -> Tensor:
    """Codes [B, S, streams] filled to ``frames`` by repeating the last frame (431 for 430)."""
    missing = frames - codes.shape[1]
    if missing <= 0:
        return codes[:, :frames]
    return torch.cat([codes, codes[:, -1:].expand(-1, missing, -1)], dim=1)
