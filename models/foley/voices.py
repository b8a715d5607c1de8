"""An object's mono voice drawn from the sound bank: grains at its onsets, or loops while it
sounds.

Every draw comes from one seeded generator: which exemplar, a playback speed within ±6 %
(pitch and length together, so the same bank never repeats exactly), a level within ±1.5 dB
and, for loops, where in the exemplar to start. Loops join exemplars with equal-power
crossfades and open and close each stretch with short ramps, so nothing clicks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional

SPEED_SPREAD = 0.06
LEVEL_SPREAD_DB = 1.5
CROSSFADE_S = 0.25
RAMP_S = 0.05


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _choose(exemplars: Sequence[Tensor], generator: torch.Generator) -> Tensor:
    """One exemplar at a random speed and level, as float32."""
    index = int(torch.randint(len(exemplars), (), generator=generator))
    sound = exemplars[index].float()
    speed = 1.0 + _uniform(generator, -SPEED_SPREAD, SPEED_SPREAD)
    length = max(2, round(sound.numel() / speed))
    sound = functional.interpolate(sound[None, None], size=length, mode="linear")[0, 0]
    gain = 10.0 ** (_uniform(generator, -LEVEL_SPREAD_DB, LEVEL_SPREAD_DB) / 20.0)
    return sound * gain


def grain_voice(
    grains: Sequence[Tensor],
    onsets: Sequence[float],
    samples: int,
    rate: int,
    generator: torch.Generator,
) -> Tensor:
    """A voice [samples] with one grain starting at each onset (seconds)."""
    out = torch.zeros(samples)
    for onset in onsets:
        start = round(onset * rate)
        if start >= samples:
            continue
        grain = _choose(grains, generator)[: samples - start]
        out[start : start + grain.numel()] += grain
    return out


def _equal_power(length: int) -> tuple[Tensor, Tensor]:
    """Fade-out and fade-in curves of an equal-power crossfade."""
    phase = (torch.arange(length) + 0.5) / length * (math.pi / 2)
    return torch.cos(phase), torch.sin(phase)


def _continuous(loops: Sequence[Tensor], samples: int, rate: int, g: torch.Generator) -> Tensor:
    """Exemplars end to end, crossfaded, the first entered at a random point: [samples].
    An exemplar at least ``samples`` long is entered where it lasts the whole voice, so a
    window needs no join (a siren's sweep is never spliced)."""
    fade = round(CROSSFADE_S * rate)
    out_curve, in_curve = _equal_power(fade)
    first = _choose(loops, g)
    room = first.numel() - samples if first.numel() >= samples else first.numel() - 2 * fade
    offset = int(torch.randint(max(1, room), (), generator=g))
    sound = first[offset:]
    while sound.numel() < samples:
        nxt = _choose(loops, g)
        if nxt.numel() <= 2 * fade or sound.numel() <= fade:
            sound = torch.cat([sound, nxt])
            continue
        joint = sound[-fade:] * out_curve + nxt[:fade] * in_curve
        sound = torch.cat([sound[:-fade], joint, nxt[fade:]])
    return sound[:samples]


def loop_voice(
    loops: Sequence[Tensor],
    stretches: Sequence[tuple[float, float]],
    samples: int,
    rate: int,
    generator: torch.Generator,
) -> Tensor:
    """A voice [samples] that sounds during each (start, end) stretch (seconds)."""
    gate = torch.zeros(samples)
    ramp = max(1, round(RAMP_S * rate))
    for start, end in stretches:
        a, b = max(0, round(start * rate)), min(samples, round(end * rate))
        if b <= a:
            continue
        shape = torch.ones(b - a)
        n = min(ramp, (b - a) // 2)
        if n:
            shape[:n] = torch.linspace(0.0, 1.0, n)
            if b < samples:
                shape[-n:] = torch.linspace(1.0, 0.0, n)
        gate[a:b] = torch.maximum(gate[a:b], shape)
    if not bool(gate.any()):
        return gate
    return _continuous(loops, samples, rate, generator) * gate


def bed_voice(bed: Tensor, samples: int, rate: int, generator: torch.Generator) -> Tensor:
    """The diffuse bed [4, samples]: the bank's FOA bed looped from a random point."""
    fade = min(round(CROSSFADE_S * rate), bed.shape[1] // 4)
    out_curve, in_curve = _equal_power(fade)
    source = bed.float()
    offset = int(torch.randint(max(1, source.shape[1] - 2 * fade), (), generator=generator))
    sound = source[:, offset:]
    while sound.shape[1] < samples:
        joint = sound[:, -fade:] * out_curve + source[:, :fade] * in_curve
        sound = torch.cat([sound[:, :-fade], joint, source[:, fade:]], dim=1)
    return sound[:, :samples]
