"""Analysis of an FOA stem: direction over time, energy heatmap over the ERP frame."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image

from plugin_core.atomic_files import write_atomic
from plugin_core.spatial.directions import erp_pixel_directions
from plugin_core.spatial.foa import DirectionTrack
from plugin_core.spatial.metrics import energy_maps

# Windows quieter than this (dB below the loudest) carry no direction worth printing.
QUIET_DB = -40.0


@dataclass(frozen=True)
class OverallDirection:
    """Where a stem's sound comes from as a whole: the energy-weighted mean direction of its
    louder windows, and how far (energy-weighted mean angle) the windows stray from it."""

    az: float
    el: float
    spread: float  # degrees
    diffuseness: float  # energy-weighted mean of the windows'


def overall_direction(track: DirectionTrack) -> OverallDirection | None:
    """The whole stem's direction and spread; None when every window is silent."""
    level = 10 * np.log10(np.maximum(track.energy, 1e-20))
    loud = (level - level.max() > QUIET_DB) & (track.energy > 0)
    if not loud.any():
        return None
    az, el = np.radians(track.az[loud]), np.radians(track.el[loud])
    unit = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=1)
    weight = track.energy[loud] / track.energy[loud].sum()
    mean = weight @ unit
    mean /= max(float(np.linalg.norm(mean)), 1e-12)
    angles = np.degrees(np.arccos(np.clip(unit @ mean, -1.0, 1.0)))
    return OverallDirection(
        az=float(np.degrees(np.arctan2(mean[1], mean[0]))),
        el=float(np.degrees(np.arcsin(np.clip(mean[2], -1.0, 1.0)))),
        spread=float(weight @ angles),
        diffuseness=float(weight @ track.diffuseness[loud]),
    )


def overall_line(track: DirectionTrack) -> str:
    """One line a user reads before the per-window table."""
    found = overall_direction(track)
    if found is None:
        return "overall: silent (no window within 40 dB of the loudest)"
    return (
        f"overall: az {found.az:.1f} deg, el {found.el:.1f} deg, spread {found.spread:.1f} deg, "
        f"diffuseness {found.diffuseness:.2f} (energy-weighted over the louder windows)"
    )


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


# Where the panorama sits in the annotated figure: (left, bottom, width, height), fractions.
PANORAMA_AXES = (0.09, 0.16, 0.74, 0.74)
_FIGURE_INCHES, _DPI = (8.0, 4.0), 100


def energy_heatmap(
    foa: np.ndarray,
    sample_rate: float,
    background: np.ndarray | None = None,
    track: DirectionTrack | None = None,
    style: HeatmapStyle | None = None,
) -> Image.Image:
    """Whole-clip beam energy on the ERP grid over ``background`` (an ERP frame) if given, as
    a figure: azimuth and elevation axes in degrees, a colour bar in dB below the loudest
    direction, and the louder windows' directions marked (with a legend)."""
    style = style or HeatmapStyle()
    width, height = style.width, style.width // 2
    az, el = erp_pixel_directions(width, height)
    heat = heat_overlay(energy_maps(foa, sample_rate, None, az, el)[0], background, style)
    figure = Figure(figsize=_FIGURE_INCHES, dpi=_DPI)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_axes(PANORAMA_AXES)
    axes.imshow(np.asarray(heat), extent=(180, -180, -90, 90), aspect="auto")
    axes.set_xticks(
        [180, 90, 0, -90, -180], ["180 back", "90 left", "0 front", "-90 right", "-180"]
    )
    axes.set_yticks([-90, -45, 0, 45, 90])
    axes.set_xlabel("azimuth, degrees (left positive)")
    axes.set_ylabel("elevation, degrees")
    bar = figure.add_axes((0.86, 0.16, 0.02, 0.74))
    scale = ScalarMappable(Normalize(-style.dynamic_range_db, 0.0), colormaps[style.colormap])
    figure.colorbar(scale, cax=bar, label="energy, dB below the loudest direction")
    if track is not None:
        level = 10 * np.log10(np.maximum(track.energy, 1e-20))
        loud = level - level.max() > QUIET_DB
        axes.scatter(
            track.az[loud], track.el[loud], s=14, facecolors="none", edgecolors="cyan",
            linewidths=0.8, label="direction per window",
        )  # fmt: skip
        axes.legend(loc="lower left", fontsize=7, framealpha=0.6)
    axes.set_xlim(180, -180)
    axes.set_ylim(-90, 90)
    canvas.draw()
    return Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy())


def panorama_pixel(az: float, el: float, image: Image.Image) -> tuple[int, int]:
    """The (x, y) pixel of direction (az, el) in a figure from :func:`energy_heatmap`."""
    left, bottom, w, h = PANORAMA_AXES
    x = (left + (0.5 - az / 360.0) * w) * image.width
    y = (1.0 - bottom - h + (90.0 - el) / 180.0 * h) * image.height
    return round(x), round(y)


def save_png(image: Image.Image, path: str | os.PathLike[str]) -> None:
    """Write a PNG atomically."""
    write_atomic(path, lambda tmp: image.save(tmp, format="PNG"))
