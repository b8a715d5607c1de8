"""Between the sequencer preview and the sphere: pure maths, no bpy (tested headless).

The preview shows the movie strip fitted to the render size, centred on the view origin, in
render pixels: ERP fraction (u, v) sits at x = (u - ½)·width, y = (½ - v)·height. The FoV
outline comes from the same projection maths the generator uses (``directions``, vendored
from omnifoa's core when the extension is built).
"""

from __future__ import annotations

from .directions import az_el_to_erp_uv, erp_uv_to_az_el, view_outline


def direction_to_preview(yaw: float, pitch: float, width: int, height: int) -> tuple[float, float]:
    """Preview coordinates of the direction (yaw, pitch) in degrees."""
    u, v = az_el_to_erp_uv(yaw, pitch)
    return (float(u) - 0.5) * width, (0.5 - float(v)) * height


def preview_to_direction(x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """(yaw, pitch) in degrees under preview point (x, y); pitch clamped to ±90°."""
    u = x / width + 0.5
    v = min(1.0, max(0.0, 0.5 - y / height))
    yaw, pitch = erp_uv_to_az_el(u, v)
    return float(yaw), float(pitch)


def outline_in_preview(
    yaw: float, pitch: float, fov: float, width: int, height: int
) -> list[list[tuple[float, float]]]:
    """The FoV view's border as polylines in preview coordinates (split at the seam)."""
    return [
        [((float(a) - 0.5) * width, (0.5 - float(b)) * height) for a, b in zip(u, v, strict=True)]
        for u, v in view_outline(yaw, pitch, fov)
    ]
