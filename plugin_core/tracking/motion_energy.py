"""Motion energy of ERP video on a coarse, equal-area-weighted direction grid."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from plugin_core.media.video import VideoFrame
from plugin_core.spatial.directions import az_el_to_vector, erp_pixel_directions
from plugin_core.tracking.gnomonic import Frame

Float = NDArray[np.float64]
CELL_PX = 8  # grid cells are CELL_PX × CELL_PX pixels of the decoded frames
BLUR_DEG = 2.0  # low-pass of the frame differences (Gaussian sigma, degrees)


@dataclass(frozen=True, eq=False)
class EnergyGrid:
    """Motion energy [T-1, rows, cols] between consecutive frames, at mid-frame times."""

    energy: Float
    times: Float  # seconds, midway between the two frames of each difference
    vectors: Float  # unit vectors [rows, cols, 3] of the cell centres


def motion_energy(frames: Iterable[VideoFrame]) -> EnergyGrid:
    """Blurred absolute frame differences, pooled per cell and weighted by cos(elevation).

    The weight makes the energy equal-area: ERP rows near the poles hold more pixels per
    solid angle. Columns wrap across the ±180° seam before blurring. Each difference loses
    its median cell value (codec noise on a still background). Frames are read one at a time.
    """
    energy: list[Float] = []
    times: list[float] = []
    previous: VideoFrame | None = None
    for frame in frames:
        if previous is not None:
            energy.append(_difference(previous.image, frame.image))
            times.append((previous.time + frame.time) / 2.0)
        previous = frame
    if previous is None:
        raise ValueError("motion energy needs at least one frame")
    height, width = previous.image.shape[:2]
    az, el = erp_pixel_directions(width // CELL_PX, height // CELL_PX)
    grid = np.stack(energy) if energy else np.zeros((0, height // CELL_PX, width // CELL_PX))
    return EnergyGrid(grid, np.array(times), az_el_to_vector(az, el))


def _difference(before: Frame, after: Frame) -> Float:
    """Equal-area motion energy [rows, cols] between two ERP frames."""
    height, width = after.shape[:2]
    rows, cols = height // CELL_PX, width // CELL_PX
    sigma = BLUR_DEG * width / 360.0
    pad = math.ceil(3 * sigma)
    diff = np.abs(after.astype(np.float32) - before.astype(np.float32)).sum(axis=-1)
    wrapped = np.concatenate([diff[:, -pad:], diff, diff[:, :pad]], axis=1)
    blurred = cv2.GaussianBlur(wrapped, (0, 0), sigma)[:, pad : pad + width]
    cells = blurred[: rows * CELL_PX, : cols * CELL_PX].reshape(rows, CELL_PX, cols, CELL_PX)
    pooled = cells.mean(axis=(1, 3))
    _, el = erp_pixel_directions(cols, rows)
    return np.maximum(pooled - np.median(pooled), 0.0) * np.cos(np.radians(el))
