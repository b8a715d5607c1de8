"""The static ERP background: sky with sun and clouds above the horizon, textured ground below.

Every texture is a function of the pixel's direction on the sphere (clouds on a layer above,
ground on a plane below the camera), so the panorama is seamless across ±180° and at the poles.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from plugin_core.spatial.directions import az_el_to_vector, erp_pixel_directions
from plugin_core.synthsphere.scene import Backdrop

Float = NDArray[np.float64]
_ZENITH = np.array([40.0, 90.0, 190.0])
_SKY_HORIZON = np.array([175.0, 205.0, 235.0])
_SUN = np.array([255.0, 245.0, 210.0])
_CLOUD = np.array([240.0, 242.0, 246.0])
_GRASS = np.array([70.0, 110.0, 45.0])
_SAND = np.array([190.0, 165.0, 115.0])
_GROUND_HAZE = np.array([125.0, 135.0, 125.0])
_SUN_RADIUS_DEG = 2.5


def render_backdrop(backdrop: Backdrop, width: int, height: int) -> NDArray[np.uint8]:
    """The background panorama, RGB uint8 [height, width, 3]."""
    rng = np.random.default_rng(backdrop.texture_seed)
    az, el = erp_pixel_directions(width, height)
    dirs = az_el_to_vector(az, el)
    sky = _sky(dirs, el, backdrop, rng)
    ground = _ground(dirs, el, backdrop, rng)
    image = np.where((el > 0.0)[..., None], sky, ground)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _waves(
    x: Float, y: Float, count: int, freq: tuple[float, float], rng: np.random.Generator
) -> Float:
    """Random plane waves over plane coordinates, amplitude falling with frequency, std ≈ 1."""
    total = np.zeros_like(x)
    amps = 0.0
    for _ in range(count):
        f = rng.uniform(*freq)
        angle, phase = rng.uniform(0.0, np.pi), rng.uniform(0.0, 2 * np.pi)
        total += np.sin(2 * np.pi * f * (np.cos(angle) * x + np.sin(angle) * y) + phase) / f
        amps += 0.5 / f**2
    return total / np.sqrt(amps)


def _sky(dirs: Float, el: Float, backdrop: Backdrop, rng: np.random.Generator) -> Float:
    height_frac = np.sqrt(np.clip(el, 0.0, 90.0) / 90.0)[..., None]
    sky = _SKY_HORIZON + (_ZENITH - _SKY_HORIZON) * height_frac
    # Clouds live on a flat layer above the camera, so they flatten toward the horizon.
    z = np.maximum(dirs[..., 2], 0.02)
    noise = _waves(dirs[..., 0] / z, dirs[..., 1] / z, 24, (0.2, 1.2), rng)
    threshold = 1.4 - 2.8 * backdrop.cloud_cover
    cloud = np.clip((noise - threshold) / 0.8, 0.0, 1.0) * np.clip((z - 0.05) / 0.3, 0.0, 1.0)
    sky = sky + (_CLOUD - sky) * (0.85 * cloud)[..., None]
    sun = az_el_to_vector(backdrop.sun_az, backdrop.sun_el)
    angle = np.degrees(np.arccos(np.clip(dirs @ sun, -1.0, 1.0)))
    glow = np.where(angle < _SUN_RADIUS_DEG, 1.0, 0.6 * np.exp(-angle / 12.0))
    return sky + (_SUN - sky) * glow[..., None]


def _ground(dirs: Float, el: Float, backdrop: Backdrop, rng: np.random.Generator) -> Float:
    # Ground plane one unit below the camera; texture detail fades with distance.
    depth = np.maximum(-dirs[..., 2], 0.01)
    gx, gy = dirs[..., 0] / depth, dirs[..., 1] / depth
    distance = np.hypot(gx, gy)
    patches = _waves(gx, gy, 12, (0.05, 0.4), rng)
    detail = _waves(gx, gy, 12, (0.8, 3.0), rng) * np.exp(-distance / 6.0)
    base = _GRASS + (_SAND - _GRASS) * backdrop.ground_tone
    ground = base * (1.0 + 0.12 * patches + 0.1 * detail)[..., None]
    haze = np.exp(-np.maximum(-el, 0.0) / 5.0)[..., None]
    return ground + (_GROUND_HAZE - ground) * haze
