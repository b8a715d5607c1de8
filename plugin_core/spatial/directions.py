"""Direction conventions: azimuth/elevation, unit vectors, ERP pixels, camera views.

Azimuth ``az`` in degrees, 0 = front (+X), positive counter-clockwise toward the left (+Y),
range (-180, 180]. Elevation ``el`` in degrees, positive up (+Z).
ERP column fraction ``u = 0.5 - az/360``, row fraction ``v = 0.5 - el/180``; pixel ``i`` of a
row of ``W`` pixels has its centre at ``u = (i + 0.5) / W``.

Every function accepts scalars or numpy arrays (numpy only, so Blender can share it).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Float = NDArray[np.float64]


def wrap_az(az: ArrayLike) -> Float:
    """Wrap azimuths in degrees into (-180, 180]."""
    wrapped = np.mod(np.asarray(az, dtype=np.float64), 360.0)
    return np.where(wrapped > 180.0, wrapped - 360.0, wrapped)


def az_el_to_vector(az: ArrayLike, el: ArrayLike) -> Float:
    """Unit vectors [..., 3] (x front, y left, z up) for directions in degrees."""
    a = np.radians(np.asarray(az, dtype=np.float64))
    e = np.radians(np.asarray(el, dtype=np.float64))
    a, e = np.broadcast_arrays(a, e)
    return np.stack([np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), np.sin(e)], axis=-1)


def vector_to_az_el(vec: ArrayLike) -> tuple[Float, Float]:
    """Azimuth and elevation in degrees of vectors [..., 3] (need not be unit length)."""
    v = np.asarray(vec, dtype=np.float64)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    az = wrap_az(np.degrees(np.arctan2(y, x)))
    el = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return az, el


def az_el_to_erp_uv(az: ArrayLike, el: ArrayLike) -> tuple[Float, Float]:
    """ERP fractions (u across, v down), both in [0, 1]; u wraps at the back seam."""
    u = np.mod(0.5 - np.asarray(az, dtype=np.float64) / 360.0, 1.0)
    v = 0.5 - np.asarray(el, dtype=np.float64) / 180.0
    return u, v


def erp_uv_to_az_el(u: ArrayLike, v: ArrayLike) -> tuple[Float, Float]:
    """Directions in degrees of ERP fractions (u across, v down)."""
    az = wrap_az((0.5 - np.asarray(u, dtype=np.float64)) * 360.0)
    el = (0.5 - np.asarray(v, dtype=np.float64)) * 180.0
    return az, el


def erp_pixel_directions(width: int, height: int) -> tuple[Float, Float]:
    """Azimuth and elevation [height, width] of the pixel centres of an ERP image."""
    u = (np.arange(width) + 0.5) / width
    v = (np.arange(height) + 0.5) / height
    az, el = erp_uv_to_az_el(u[None, :], v[:, None])
    shape = (height, width)
    return np.broadcast_to(az, shape).copy(), np.broadcast_to(el, shape).copy()


def great_circle_deg(az1: ArrayLike, el1: ArrayLike, az2: ArrayLike, el2: ArrayLike) -> Float:
    """Angle in degrees between two directions along the sphere."""
    a = az_el_to_vector(az1, el1)
    b = az_el_to_vector(az2, el2)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.degrees(np.arctan2(cross, np.sum(a * b, axis=-1)))


def camera_basis(yaw: float, pitch: float) -> Float:
    """World-from-camera matrix [3, 3] of a view aimed at (yaw, pitch) degrees.

    Columns are the camera's right, down and forward axes in world coordinates, so a camera
    ray (x right, y down, z forward) maps to ``basis @ ray``. The horizon stays level (no roll).
    """
    forward = az_el_to_vector(yaw, pitch)
    y = np.radians(yaw)
    right = np.array([np.sin(y), -np.cos(y), 0.0])
    up = np.cross(right, forward)
    return np.stack([right, -up, forward], axis=1)


def view_plane_extent(fov: float, width: int, height: int) -> tuple[float, float, float]:
    """Half-extents (x, y) of the image plane and its distance z for a horizontal ``fov``.

    Pixel centres span x in [-1, 1] across the width, as the reference extractor does;
    the vertical span keeps square pixels.
    """
    if not 0.0 < fov < 180.0:
        raise ValueError(f"field of view must be between 0 and 180 degrees, got {fov}")
    half_y = (height - 1) / (width - 1) if width > 1 else 1.0
    return 1.0, half_y, 1.0 / np.tan(np.radians(fov) / 2.0)


def view_rays(fov: float, width: int, height: int, x: ArrayLike, y: ArrayLike) -> Float:
    """Camera rays [..., 3] (right, down, forward; not unit length) through view pixel
    (``x``, ``y``) of a ``width`` × ``height`` view with horizontal field of view ``fov``.

    Pixel ``x`` counts from the left and ``y`` from the top, each a pixel centre; fractional
    pixels are allowed. The one geometry of every perspective view: the encoders' crops, the
    tracker's views and the outline drawn on the panorama.
    """
    half_x, half_y, z = view_plane_extent(fov, width, height)
    px = np.asarray(x, dtype=np.float64) * (2.0 / max(width - 1, 1)) * half_x - half_x
    py = np.asarray(y, dtype=np.float64) * (2.0 * half_y / max(height - 1, 1)) - half_y
    px, py = np.broadcast_arrays(px, py)
    return np.stack([px, py, np.full_like(px, z)], axis=-1)


def ray_view_pixels(rays: ArrayLike, fov: float, width: int, height: int) -> tuple[Float, Float]:
    """View pixel (x, y) where camera rays [..., 3] land: the inverse of :func:`view_rays`;
    NaN for rays that point behind the camera."""
    r = np.asarray(rays, dtype=np.float64)
    half_x, half_y, z = view_plane_extent(fov, width, height)
    depth = np.where(r[..., 2] > 1e-9, r[..., 2], np.nan)
    x = (r[..., 0] * z / depth + half_x) / (2.0 / max(width - 1, 1) * half_x)
    y = (r[..., 1] * z / depth + half_y) / (2.0 * half_y / max(height - 1, 1))
    return x, y


def view_outline(
    yaw: float,
    pitch: float,
    fov: float,
    aspect: float = 1.0,
    points_per_side: int = 32,
) -> list[tuple[Float, Float]]:
    """Outline of a perspective view on the ERP image, as (u, v) polylines.

    ``aspect`` is width / height of the view. The outline is split where it crosses the
    ±180° seam, so each polyline can be drawn without a line across the whole image.
    """
    width = 1001  # a fine pixel grid standing in for the view's edges
    height = max(2, round((width - 1) / aspect) + 1)
    t = np.linspace(0.0, 1.0, points_per_side, endpoint=False)
    right, bottom = width - 1.0, height - 1.0
    edge, zero = np.ones_like(t), np.zeros_like(t)
    xs = np.concatenate([t * right, edge * right, (1 - t) * right, zero, [0]])
    ys = np.concatenate([zero, t * bottom, edge * bottom, (1 - t) * bottom, [0]])
    world = view_rays(fov, width, height, xs, ys) @ camera_basis(yaw, pitch).T
    az, el = vector_to_az_el(world)
    u, v = az_el_to_erp_uv(az, el)
    breaks = np.nonzero(np.abs(np.diff(u)) > 0.5)[0] + 1
    return [
        (pu, pv)
        for pu, pv in zip(np.split(u, breaks), np.split(v, breaks), strict=False)
        if len(pu) > 1
    ]
