"""Square gnomonic views of ERP frames: pixel <-> direction, and sampling one view.

A view is aimed at (yaw, pitch) degrees with a horizontal field of view ``fov`` and
``size`` × ``size`` pixels, laid out exactly as
:func:`plugin_core.spatial.projection.erp_to_perspective` lays it out: pixel column ``x`` (0 on
the left) and row ``y`` (0 at the top) are pixel centres.
A pixel right of the centre of a front view looks to the right, i.e. at a negative azimuth.

The tracker samples one small view per frame; ``sample_view`` does that with OpenCV on the
uint8 frame, because a torch call per frame costs more than the whole match (tens of ms).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from plugin_core.spatial.directions import (
    az_el_to_erp_uv,
    az_el_to_vector,
    camera_basis,
    ray_view_pixels,
    vector_to_az_el,
    view_plane_extent,
    view_rays,
)

Float = NDArray[np.float64]
Frame = NDArray[np.uint8]  # an ERP frame [H, W, 3]
Image = NDArray[np.float32]  # a grey view or template [h, w]
_SEAM_PAD = 2  # columns copied round the seam so bilinear sampling wraps


def view_pixel_to_direction(
    x: ArrayLike, y: ArrayLike, yaw: float, pitch: float, fov: float, size: int
) -> tuple[Float, Float]:
    """Azimuth and elevation (degrees) seen by view pixel (x, y), fractional pixels allowed."""
    return vector_to_az_el(view_rays(fov, size, size, x, y) @ camera_basis(yaw, pitch).T)


def direction_to_view_pixel(
    az: ArrayLike, el: ArrayLike, yaw: float, pitch: float, fov: float, size: int
) -> tuple[Float, Float]:
    """View pixel (x, y) where direction (az, el) lands; NaN for directions behind the view."""
    return ray_view_pixels(az_el_to_vector(az, el) @ camera_basis(yaw, pitch), fov, size, size)


def pixels_per_degree(fov: float, size: int) -> float:
    """View pixels per degree at the centre of a view."""
    _, _, z = view_plane_extent(fov, size, size)
    return (size - 1) / 2.0 * z * math.pi / 180.0


def sample_view(erp: NDArray[np.uint8], yaw: float, pitch: float, fov: float, size: int) -> Image:
    """The view of an ERP frame [H, W, 3] uint8 as float32 [size, size, 3] in [0, 1] (bilinear)."""
    height, width = erp.shape[:2]
    grid = np.arange(size, dtype=np.float64)
    az, el = view_pixel_to_direction(grid[None, :], grid[:, None], yaw, pitch, fov, size)
    u, v = az_el_to_erp_uv(az, el)
    padded = np.concatenate([erp[:, -_SEAM_PAD:], erp, erp[:, :_SEAM_PAD]], axis=1)
    map_x = (u * width - 0.5 + _SEAM_PAD).astype(np.float32)
    map_y = (v * height - 0.5).astype(np.float32)
    view = cv2.remap(padded, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return view.astype(np.float32) / np.float32(255.0)
