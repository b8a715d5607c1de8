"""The movie strip a job reads: where its file is, its size and timing, where stems can go."""

from __future__ import annotations

import os
from dataclasses import dataclass

import bpy

ERP_TOLERANCE = 0.02  # width / height within 2 % of 2:1


@dataclass(frozen=True)
class SourceInfo:
    """What the panel shows and the job needs about a movie strip."""

    name: str
    path: str  # absolute
    width: int
    height: int
    fps: float
    channel: int
    frame_start: int  # where the movie's first frame sits on the timeline
    final_start: int  # first frame shown (trims applied)
    final_end: int  # one past the last frame shown

    @property
    def start_seconds(self) -> float:
        """Video time of the first frame shown."""
        return (self.final_start - self.frame_start) / self.fps

    @property
    def end_seconds(self) -> float:
        return (self.final_end - self.frame_start) / self.fps

    @property
    def warning(self) -> str | None:
        """Why this strip may not be an equirectangular panorama, if it may not."""
        if not self.width or not self.height:
            return "The strip's size is unknown; is its file missing?"
        ratio = self.width / self.height
        if abs(ratio - 2.0) > 2.0 * ERP_TOLERANCE:
            size = f"{self.width}x{self.height}"
            return f"{size} is not 2:1; this may not be an equirectangular 360 video"
        return None


def strips_of(scene: bpy.types.Scene) -> list:
    editor = scene.sequence_editor
    return list(editor.strips_all) if editor is not None else []


def movie_strips(scene: bpy.types.Scene) -> list:
    return [s for s in strips_of(scene) if s.type == "MOVIE"]


def source_strip(scene: bpy.types.Scene):
    """The chosen movie strip: the one named in the settings, else the active one."""
    chosen = scene.omnifoa.source
    strips = movie_strips(scene)
    for strip in strips:
        if strip.name == chosen:
            return strip
    active = scene.sequence_editor.active_strip if scene.sequence_editor else None
    if active is not None and active.type == "MOVIE":
        return active
    return None


def source_info(strip) -> SourceInfo:
    element = strip.elements[0] if len(strip.elements) else None
    width = element.orig_width if element else 0
    height = element.orig_height if element else 0
    return SourceInfo(
        name=strip.name,
        path=os.path.normpath(bpy.path.abspath(strip.filepath)),
        width=width,
        height=height,
        fps=float(strip.fps) or 1.0,
        channel=strip.channel,
        frame_start=round(strip.frame_start),
        final_start=strip.frame_final_start,
        final_end=strip.frame_final_end,
    )


def free_channel(scene: bpy.types.Scene, start: int, end: int, above: int) -> int:
    """The lowest channel above ``above`` with nothing between frames ``start`` and ``end``."""
    busy = {
        s.channel
        for s in strips_of(scene)
        if s.frame_final_start < end and s.frame_final_end > start
    }
    channel = above + 1
    while channel in busy:
        channel += 1
    return channel
