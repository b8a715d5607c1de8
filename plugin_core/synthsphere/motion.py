"""Smooth direction paths for scene objects, sampled at keyframe times."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from plugin_core.spatial.directions import wrap_az

Float = NDArray[np.float64]
# Elevations are kept inside this bound so an object never sits exactly on a pole.
MAX_ELEVATION = 80.0


def ease(x: Float) -> Float:
    """Smooth 0 → 1 ramp (raised cosine) over x in [0, 1]."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def seam_start_az(rng: np.random.Generator) -> float:
    """A start azimuth from which a pass behind the camera crosses the seam soon."""
    return float(rng.choice([-1.0, 1.0]) * rng.uniform(110.0, 160.0))


def path(
    motion: str, times: Float, az0: float, el0: float, rng: np.random.Generator
) -> tuple[Float, Float]:
    """Azimuth and elevation (degrees) at ``times`` of a ``motion`` starting at (az0, el0)."""
    x = times / max(float(times[-1]), 1e-9)
    if motion == "static":
        az = np.full_like(times, az0)
        el = np.full_like(times, el0)
    elif motion == "pan":
        rate = rng.choice([-1.0, 1.0]) * rng.uniform(8.0, 30.0)  # degrees per second
        wobble, period, phase = rng.uniform(0.0, 5.0), rng.uniform(3.0, 8.0), rng.uniform(0, 6.3)
        az = az0 + rate * times
        el = el0 + wobble * (np.sin(2 * np.pi * times / period + phase) - np.sin(phase))
    elif motion == "seam":
        # Head for the back the short way, cross ±180° and carry on 30–70° beyond it.
        side = 1.0 if az0 >= 0 else -1.0
        span = 180.0 - abs(az0) + rng.uniform(30.0, 70.0)
        az = az0 + side * span * ease(x)
        el = el0 + rng.uniform(-10.0, 10.0) * ease(x)
    elif motion == "climb":
        el1 = rng.uniform(55.0, MAX_ELEVATION) if el0 < 35.0 else rng.uniform(-10.0, 20.0)
        az = az0 + rng.uniform(-30.0, 30.0) * ease(x)
        el = el0 + (el1 - el0) * ease(x)
    else:
        raise ValueError(f"unknown motion {motion!r}")
    return wrap_az(az), np.clip(el, -MAX_ELEVATION, MAX_ELEVATION)
