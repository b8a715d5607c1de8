"""Analysis of an FOA stem: direction over time, energy heatmap over the ERP frame."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw

from plugin_core.atomic_files import write_atomic
from plugin_core.spatial.directions import az_el_to_erp_uv, erp_pixel_directions
from plugin_core.spatial.foa import DirectionTrack
from plugin_core.spatial.metrics import energy_maps

# Windows quieter than this (dB below the loudest) carry no direction worth printing.
QUIET_DB = -40.0


def direction_table(track: DirectionTrack) -> str:
    """A plain-text table of direction, level and diffuseness per window."""
    level = 10 * np.log10(np.maximum(track.energy, 1e-20))
    rows = ["  time s   az deg   el deg   level dB   diffuse"]
    for t, az, el, lv, psi in zip(
        track.times, track.az, track.el, level - level.max(), track.diffuseness, strict=False
    ):
        if lv < QUIET_DB:
            rows.append(f"{t:8.2f}        —        —   {lv:8.1f}         —")
        else:
            rows.append(f"{t:8.2f} {az:8.1f} {el:8.1f}   {lv:8.1f}   {psi:7.2f}")
    return "\n".join(rows)


@dataclass(frozen=True)
class HeatmapStyle:
    """How the energy heatmap is drawn over the panorama."""

    width: int = 512
    dynamic_range_db: float = 20.0
    opacity: float = 0.6
    colormap: str = "inferno"


def heat_overlay(
    energy: np.ndarray, background: np.ndarray | None, style: HeatmapStyle
) -> Image.Image:
    """An energy map [H, W] (linear, on the ERP grid) coloured in dB over ``background``."""
    height, width = energy.shape
    db = 10 * np.log10(np.maximum(energy, 1e-20))
    floor = max(db.min(), db.max() - style.dynamic_range_db)
    norm = np.clip((db - floor) / max(db.max() - floor, 1e-9), 0.0, 1.0)
    rgb = colormaps[style.colormap](norm)[..., :3] * 255
    if background is not None:
        # Quiet directions stay see-through, so the picture shows where nothing sounds.
        base = np.asarray(Image.fromarray(background).convert("RGB").resize((width, height)))
        alpha = (style.opacity * norm)[..., None]
        rgb = base * (1 - alpha) + rgb * alpha
    return Image.fromarray(rgb.astype(np.uint8))


def energy_heatmap(
    foa: np.ndarray,
    sample_rate: float,
    background: np.ndarray | None = None,
    track: DirectionTrack | None = None,
    style: HeatmapStyle | None = None,
) -> Image.Image:
    """Whole-clip beam energy on the ERP grid, over ``background`` (an ERP frame) if given.

    Direction estimates of ``track`` are marked as small circles (louder windows only).
    """
    style = style or HeatmapStyle()
    width, height = style.width, style.width // 2
    az, el = erp_pixel_directions(width, height)
    heat = heat_overlay(energy_maps(foa, sample_rate, None, az, el)[0], background, style)
    if track is not None:
        draw = ImageDraw.Draw(heat)
        level = 10 * np.log10(np.maximum(track.energy, 1e-20))
        loud = level - level.max() > QUIET_DB
        u, v = az_el_to_erp_uv(track.az[loud], track.el[loud])
        for x, y in zip(u * width, v * height, strict=False):
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], outline=(0, 255, 255), width=1)
    return heat


def save_png(image: Image.Image, path: str | os.PathLike[str]) -> None:
    """Write a PNG atomically."""
    write_atomic(path, lambda tmp: image.save(tmp, format="PNG"))
