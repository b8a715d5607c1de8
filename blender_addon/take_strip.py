"""The sound strip of a generated stem: which stem it is and which of its takes it plays.

Playing another take points the strip at a sound datablock of that take's file; the strip
keeps its place and settings, and no file on disk changes (the stem file plays the chosen
take; choosing one is the CLI's ``omnifoa takes STEM --choose K``).
"""

from __future__ import annotations

from pathlib import Path

import bpy

from .stem_takes import Take, stem_takes


def stem_strip(scene: bpy.types.Scene):
    """The active strip when it is the sound strip of an omnifoa stem, else None."""
    editor = scene.sequence_editor
    strip = editor.active_strip if editor is not None else None
    if strip is None or strip.type != "SOUND" or not strip.omnifoa_stem:
        return None
    return strip


def strip_takes(strip) -> tuple[list[Take], int]:
    """The stem's takes and the number of the one ``strip`` plays (0 when none are listed)."""
    takes, chosen = stem_takes(Path(strip.omnifoa_stem))
    return takes, strip.omnifoa_take or chosen


def use_take(strip, number: int) -> None:
    """Make ``strip`` play take ``number`` of its stem; ValueError (one sentence) when the
    take is not listed or its file is missing, the strip then unchanged."""
    stem = Path(strip.omnifoa_stem)
    take = next((t for t in stem_takes(stem)[0] if t.number == number), None)
    if take is None:
        raise ValueError(f"{stem.name} has no take {number}.")
    if not take.path.is_file():
        raise ValueError(
            f"Take {number} of {stem.name} cannot be played: its file {take.path} is missing."
        )
    strip.sound = bpy.data.sounds.load(str(take.path), check_existing=True)
    strip.omnifoa_take = number


def range_seconds(scene: bpy.types.Scene, strip) -> tuple[float, float]:
    """The range to regenerate, in seconds into the stem ``strip`` plays: the timeline's
    preview range, else its first two markers; ValueError (one sentence) when neither is set
    or the range is not inside the strip."""
    if scene.use_preview_range:
        first, last = scene.frame_preview_start, scene.frame_preview_end + 1
    else:
        frames = sorted(m.frame for m in scene.timeline_markers)
        if len(frames) < 2:
            raise ValueError(
                "Set a preview range (or two markers) over the part of the stem to regenerate."
            )
        first, last = frames[0], frames[1]
    if not strip.frame_final_start <= first < last <= strip.frame_final_end:
        raise ValueError(
            f"The range (frames {first}-{last}) must lie within {strip.name} "
            f"(frames {strip.frame_final_start}-{strip.frame_final_end})."
        )
    fps = scene.render.fps / scene.render.fps_base
    return (first - strip.frame_start) / fps, (last - strip.frame_start) / fps
