"""Turning a whole scene about the vertical: the sound field and the panorama together (the
training data's rotation augmentation, as ViSAGe does, and the evaluation's steering test).

A scene yaw of α degrees moves a source at azimuth ``az`` to ``az + α`` (counter-clockwise,
toward the left). On the ERP image a source at ``az`` sits at column ``u = 0.5 - az/360``, so
the picture moves with it when every frame is rolled by ``-α/360 · W`` columns. Rolling is
exact only for whole columns, so α must be a multiple of ``360/W`` degrees:
:func:`random_azimuths` draws such angles.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from plugin_core.spatial.directions import wrap_az
from plugin_core.spatial.foa import rotate

# Stream id mixed into a clip's seed so its rotations do not correlate with its scene.
_ROTATION_STREAM = 0x5A7


def rotate_foa(foa: NDArray[np.floating], azimuth: float) -> NDArray[np.floating]:
    """AmbiX FOA [4, N] with the scene turned by ``azimuth``° (sources move to az + α)."""
    return rotate(foa, azimuth, 0.0, 0.0, frame="scene")


def rotate_frames(frames: NDArray[np.uint8], azimuth: float) -> NDArray[np.uint8]:
    """ERP frames [T, H, W, 3] with the scene turned by ``azimuth``°, a whole number of columns."""
    width = frames.shape[2]
    columns = azimuth * width / 360.0
    whole = round(columns)
    if abs(columns - whole) > 1e-6:
        raise ValueError(
            f"a rotation of {azimuth}° is not a whole number of columns of a {width}-pixel-wide "
            f"panorama; use a multiple of {360.0 / width:g}°"
        )
    return np.roll(frames, -whole, axis=2)


def random_azimuths(seed: int, count: int, width: int) -> NDArray[np.float64]:
    """``count`` scene yaws for clip ``seed``: 0 first, then random whole-column angles."""
    rng = np.random.default_rng([seed, _ROTATION_STREAM])
    columns = rng.integers(0, width, size=max(0, count - 1))
    return np.concatenate([[0.0], wrap_az(columns * (360.0 / width))])[:count]
