"""The camera direction ViSAGe is conditioned on, from omnifoa's (azimuth, elevation).

ViSAGe's vector is in a camera-style frame: x right, y down, z front (the panorama's centre),
with its yaw positive to the right. For omnifoa's azimuth θ (0 front, positive to the left)
and elevation ε (positive up) that is d = (−cos ε·sin θ, −sin ε, cos ε·cos θ), a unit vector.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def direction_vector(azimuth: Tensor, elevation: Tensor) -> Tensor:
    """Unit vectors [..., 3] (float32) of directions in degrees."""
    theta = torch.deg2rad(azimuth.double())
    epsilon = torch.deg2rad(elevation.double())
    vector = torch.stack(
        [
            -torch.cos(epsilon) * torch.sin(theta),
            -torch.sin(epsilon),
            torch.cos(epsilon) * torch.cos(theta),
        ],
        dim=-1,
    )
    return vector.float()


def mean_direction(directions: Tensor) -> Tensor:
    """The window's camera direction [3]: the mean of its frames' unit vectors, renormalised
    (so a path across the ±180° seam averages the right way)."""
    vectors = direction_vector(directions[:, 0], directions[:, 1]).double()
    mean = vectors.mean(dim=0)
    norm = float(mean.norm())
    if norm < 1e-9 or not math.isfinite(norm):  # the frames look every way: take the middle one
        mean = vectors[len(vectors) // 2]
        norm = float(mean.norm())
    return (mean / norm).float()
