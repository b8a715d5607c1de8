"""ERP video frames of a scene: the backdrop with every object drawn on the sphere.

An object is the set of directions within its angular radius of its centre (computed from
unit vectors), so it stays round near the poles and wraps across the ±180° seam. Its pattern
lives in its own tangent plane. Only a window of rows (and of columns, unless the object
covers a pole) around the object is touched per frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from plugin_core.errors import InputError
from plugin_core.media.video import fps_filter_picks
from plugin_core.spatial.directions import az_el_to_vector, erp_pixel_directions, vector_to_az_el
from plugin_core.spatial.foa import direction_per_sample
from plugin_core.synthsphere.backdrop import render_backdrop
from plugin_core.synthsphere.scene import Look, Scene

Float = NDArray[np.float64]
Columns = slice | NDArray[np.int64]
SHADOW = 0.55  # brightness of the dark parts of a pattern
FLASH = 0.7  # how far a flash moves the colour toward white
PULSE = 0.35  # how much a pulse grows the radius
HOP_DEG = 6.0  # how high a bounce lifts the object


def frame_count(duration: float, fps: float) -> int:
    """Number of video frames of a scene of ``duration`` seconds."""
    return max(1, round(duration * fps))


def event_envelopes(onsets: tuple[float, ...], event_s: float, times: Float) -> Float:
    """Visual event strength per time: 1 at an onset, falling linearly to 0 after ``event_s``."""
    if not onsets:
        return np.zeros_like(times)
    elapsed = times[:, None] - np.asarray(onsets)[None, :]
    strength = np.where((elapsed >= 0.0) & (elapsed < event_s), 1.0 - elapsed / event_s, 0.0)
    return strength.max(axis=1)


def render_frames(
    scene: Scene, width: int | None = None, height: int | None = None, fps: float | None = None
) -> Iterator[NDArray[np.uint8]]:
    """The scene's ERP frames, RGB uint8 [height, width, 3], at ``fps`` (default: scene.video)."""
    w = scene.video.width if width is None else width
    h = scene.video.height if height is None else height
    rate = scene.video.fps if fps is None else fps
    if w < 8 or h < 4 or not rate > 0:
        raise InputError(f"Cannot render {w}×{h} frames at {rate} fps; give a larger size.")
    count = frame_count(scene.duration, rate)
    times = np.arange(count) / rate
    background = render_backdrop(scene.backdrop, w, h)
    dirs = az_el_to_vector(*erp_pixel_directions(w, h)).astype(np.float32)
    tracks = [
        (
            obj.look,
            direction_per_sample(
                count, obj.trajectory.az, obj.trajectory.el, obj.trajectory.times, rate
            ),
            event_envelopes(obj.onsets, obj.look.event_s, times),
        )
        for obj in scene.objects
    ]
    for k in range(count):
        frame = background.copy()
        for look, centres, envelope in tracks:
            draw_object(frame, dirs, centres[k], look, float(envelope[k]))
        yield frame


def sampled_frames(scene: Scene, fps: float) -> tuple[NDArray[np.uint8], Float]:
    """The ERP frames [T, H, W, 3] the pipeline takes at ``fps`` from a video of the scene
    (rendered at the scene's own frame rate, picked as decoding picks them), and the time
    (s) each one shows."""
    source = scene.video.fps
    count = frame_count(scene.duration, fps)
    picks = fps_filter_picks(np.arange(frame_count(scene.duration, source)) / source, fps, count)
    wanted = set(picks.tolist())
    frames = {k: f for k, f in enumerate(render_frames(scene)) if k in wanted}
    return np.stack([frames[k] for k in picks.tolist()]), picks / source


@dataclass(frozen=True)
class _Placement:
    centre: Float  # unit vector
    east: Float  # tangent-plane axes at the centre
    north: Float
    radius_deg: float


def _place(centre: Float, look: Look, event: float) -> _Placement:
    """Where and how large the object is drawn, its visual event applied."""
    east, north = _tangent_axes(centre)
    radius = look.radius_deg
    if look.event == "pulse":
        radius *= 1.0 + PULSE * event
    elif look.event == "bounce" and event > 0.0:
        _, el = vector_to_az_el(centre)
        hop = math.radians(min(HOP_DEG * event, max(0.0, 88.0 - float(el))))
        centre = math.cos(hop) * centre + math.sin(hop) * north
        east, north = _tangent_axes(centre)
    return _Placement(centre, east, north, radius)


def _tangent_axes(centre: Float) -> tuple[Float, Float]:
    """East and north unit vectors of the tangent plane at ``centre``."""
    east = np.array([-centre[1], centre[0], 0.0])
    norm = np.linalg.norm(east)
    east = east / norm if norm > 1e-9 else np.array([0.0, 1.0, 0.0])
    return east, np.cross(centre, east)


def _window(place: _Placement, width: int, height: int) -> tuple[int, int, Columns]:
    """Rows [r0, r1) and columns that cover the object's cap on the ERP image."""
    reach = place.radius_deg + 2.0 * 180.0 / height
    az, el = (float(a) for a in vector_to_az_el(place.centre))
    r0 = max(0, math.floor((0.5 - min(el + reach, 90.0) / 180.0) * height))
    r1 = min(height, math.ceil((0.5 - max(el - reach, -90.0) / 180.0) * height))
    if abs(el) + reach >= 89.9:
        return r0, r1, slice(None)
    half = math.degrees(math.asin(math.sin(math.radians(reach)) / math.cos(math.radians(el))))
    u = (0.5 - az / 360.0) * width
    c0 = math.floor(u - half / 360.0 * width) - 1
    c1 = math.ceil(u + half / 360.0 * width) + 1
    if c1 - c0 >= width:
        return r0, r1, slice(None)
    return r0, r1, np.arange(c0, c1) % width


def _pattern(look: Look, x: Float, y: Float, d: Float) -> Float:
    """Pattern mask in {0, 1}; x, y are tangent-plane coordinates and d the distance, in radii."""
    s = look.pattern_scale
    a = math.radians(look.pattern_angle)
    x, y = math.cos(a) * x + math.sin(a) * y, -math.sin(a) * x + math.cos(a) * y
    if look.pattern == "stripes":
        return np.sin(2 * np.pi * 2.0 * s * y) > 0.0
    if look.pattern == "spots":
        fx, fy = np.mod(1.5 * s * x, 1.0) - 0.5, np.mod(1.5 * s * y, 1.0) - 0.5
        return fx * fx + fy * fy < 0.09
    if look.pattern == "rings":
        return np.sin(2 * np.pi * 2.5 * s * d) > 0.0
    if look.pattern == "checker":
        return (np.floor(2.0 * s * x) + np.floor(2.0 * s * y)) % 2 == 0
    return np.sin(2 * np.pi * (2.0 * s * y + 0.3 * np.sin(2 * np.pi * 1.2 * s * x))) > 0.0


def draw_object(
    frame: NDArray[np.uint8], dirs: NDArray[np.float32], centre: Float, look: Look, event: float
) -> None:
    """Draw one object in place on ``frame``; ``dirs`` are the pixels' unit vectors [H, W, 3]."""
    height, width = frame.shape[:2]
    place = _place(np.asarray(centre, dtype=np.float64), look, event)
    r0, r1, cols = _window(place, width, height)
    pixels = dirs[r0:r1, cols]
    cos_d = pixels @ place.centre.astype(np.float32)
    inside = cos_d > math.cos(math.radians(place.radius_deg + 2.0 * 180.0 / height))
    if not inside.any():
        return
    p, cos_in = pixels[inside], cos_d[inside]
    d_deg = np.degrees(np.arccos(np.clip(cos_in, -1.0, 1.0)))
    alpha = np.clip((place.radius_deg - d_deg) * height / 180.0 + 0.5, 0.0, 1.0)[:, None]
    unit = math.tan(math.radians(place.radius_deg))
    x = (p @ place.east.astype(np.float32)) / cos_in / unit
    y = (p @ place.north.astype(np.float32)) / cos_in / unit
    shade = np.where(_pattern(look, x, y, d_deg / place.radius_deg), 1.0, SHADOW)
    rgb = np.asarray(look.color, dtype=np.float32) * shade[:, None].astype(np.float32)
    if look.event == "flash":
        rgb += (255.0 - rgb) * (FLASH * event)
    region = frame[r0:r1, cols]
    region[inside] = np.round(region[inside] * (1.0 - alpha) + rgb * alpha).astype(np.uint8)
    frame[r0:r1, cols] = region
