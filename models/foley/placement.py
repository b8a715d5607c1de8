"""A mono voice placed in the field: a plane wave along a direction path, in AmbiX.

The one place this family encodes FOA (ACN W, Y, Z, X; SN3D): a plane wave ``s`` from unit
vector (x, y, z) is ``W = s, Y = s·y, Z = s·z, X = s·x``. The path is given per video frame and
followed sample by sample (vectors interpolated, then normalised).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional


def path_per_sample(vectors: Tensor, samples: int, frame_rate: float, rate: int) -> Tensor:
    """Unit vectors [samples, 3] along frame vectors [T, 3] (frame k at k / frame_rate s)."""
    frames = vectors.shape[0]
    position = torch.arange(samples, dtype=torch.float64) / rate * frame_rate
    position = position.clamp(0.0, frames - 1.0)
    low = position.floor().long()
    high = (low + 1).clamp(max=frames - 1)
    frac = (position - low)[:, None].to(vectors.dtype)
    mixed = vectors[low] * (1.0 - frac) + vectors[high] * frac
    return functional.normalize(mixed, dim=1)


def place(voice: Tensor, path: Tensor) -> Tensor:
    """AmbiX [4, N] of a mono ``voice`` [N] arriving from ``path`` [N, 3] (unit x, y, z)."""
    x, y, z = path.to(voice.dtype).unbind(dim=1)
    return torch.stack([voice, voice * y, voice * z, voice * x])
