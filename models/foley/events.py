"""When an object sounds: its visual events read from its measures, frame by frame.

An object that makes a sound flashes, swells or hops for a moment. Against the object's own
running median (7 frames, so its motion and a slow climb cancel) each frame gives three
changes: of its size (log share), its brightness (towards white) and its elevation. A small
learnt reader turns these, for the frame and the one before, into the event's strength in the
frame (1 at the onset, fading to 0 over ``event_seconds``). A run of strong frames is one
event; its onset lies ``(1 − strength) · event_seconds`` before the run's first frame.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

CHANGES = 3  # size, brightness, elevation
CONTEXT = 2  # frames the reader sees: this one and the one before
HIDDEN = 16
_MEDIAN_FRAMES = 7
_HOP_DEG = 6.0  # elevation changes are read in units of this
_SHORTEST_S = 0.25  # the shortest stretch a continuous object sounds for


class EventReader(nn.Module):
    """Event strength in [0, 1] per frame [T] from changes [T, CHANGES · CONTEXT]."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(CHANGES * CONTEXT, HIDDEN)
        self.out = nn.Linear(HIDDEN, 1)

    def forward(self, changes: Tensor) -> Tensor:
        return torch.sigmoid(self.out(torch.tanh(self.hidden(changes))))[..., 0]


def _running_median(x: Tensor) -> Tensor:
    """Median over ``_MEDIAN_FRAMES`` frames centred on each frame [T] (edges repeated)."""
    half = _MEDIAN_FRAMES // 2
    padded = functional.pad(x[None, None], (half, half), mode="replicate")[0, 0]
    return padded.unfold(0, _MEDIAN_FRAMES, 1).median(dim=-1).values


def object_changes(measures: Tensor) -> Tensor:
    """Reader inputs [T, CHANGES · CONTEXT] of one object's panorama measures [T, 5] (share,
    x, y, z, brightness)."""
    share = measures[:, 0].clamp(min=1e-6).log()
    elevation = torch.rad2deg(torch.asin(measures[:, 3].clamp(-1.0, 1.0)))
    brightness = measures[:, 4]
    base = _running_median(brightness)
    changes = torch.stack(
        [
            share - _running_median(share),
            (brightness - base) / (1.05 - base).clamp(min=0.05),
            (elevation - _running_median(elevation)) / _HOP_DEG,
        ],
        dim=1,
    )
    before = torch.cat([torch.zeros_like(changes[:1]), changes[:-1]])
    return torch.cat([changes, before], dim=1)


def onsets_from_strength(
    strength: Tensor, frame_rate: float, threshold: float, event_seconds: float, lag: float
) -> list[float]:
    """Onset times (seconds from the window's start) of the runs of frames above
    ``threshold``; frame ``k`` shows the time ``k / frame_rate + lag``."""
    above = (strength > threshold).tolist()
    onsets = []
    for k, on in enumerate(above):
        if on and (k == 0 or not above[k - 1]):
            lead = (1.0 - float(strength[k])) * event_seconds
            onsets.append(max(0.0, k / frame_rate + lag - lead))
    return onsets


def sounding_stretches(
    onsets: list[float], seconds: float, gap_seconds: float
) -> list[tuple[float, float]]:
    """(start, end) seconds a continuous object sounds in a window of ``seconds``.

    From each onset until ``gap_seconds`` before the next (or the window's end). Before the
    first onset it is silent, unless that onset comes later than a gap into the window (it
    was then sounding already); with no onset at all it sounds throughout.
    """
    if not onsets:
        return [(0.0, seconds)]
    stretches = []
    if onsets[0] > gap_seconds + _SHORTEST_S:
        stretches.append((0.0, onsets[0] - gap_seconds))
    for i, start in enumerate(onsets):
        end = onsets[i + 1] - gap_seconds if i + 1 < len(onsets) else seconds
        stretches.append((start, min(seconds, max(end, start + _SHORTEST_S))))
    return stretches


def strength_target(elapsed: Tensor, event_seconds: float) -> Tensor:
    """The strength of an event ``elapsed`` seconds after its onset (the reader's target)."""
    inside = (elapsed >= 0.0) & (elapsed < event_seconds)
    return torch.where(inside, 1.0 - elapsed / event_seconds, torch.zeros_like(elapsed))
