"""Where a conformed stem's source is: a direction-path file, an object marked once and
tracked, or the strongest visual action; with the source's apparent size for distance cues.

The CLI (``omnifoa conform``) and the preview app both call :func:`locate_source`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from plugin_core.conform.encoding import DistanceCue
from plugin_core.errors import InputError
from plugin_core.spatial.direction_path import DirectionPath, load_path
from plugin_core.tracking import Track, propose_paths, track_object

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SourceQuery:
    """How to find the source: exactly one of a path file, a mark (``at`` + ``time``) or
    ``auto``; ``distance`` asks for level and air-absorption cues from apparent size."""

    path_file: Path | None = None
    at: tuple[float, float] | None = None  # (az, el) degrees
    time: float | None = None  # video seconds of the mark
    auto: bool = False
    distance: bool = False

    def check(self) -> None:
        """InputError unless the query names exactly one way to find the source."""
        if (self.at is None) != (self.time is None):
            raise InputError("A mark needs both a direction and a time: give --at AZ,EL --time T.")
        ways = [self.path_file is not None, self.at is not None, self.auto]
        if sum(ways) != 1:
            raise InputError(
                "Say where the sound is in one way: --path P.json, --at AZ,EL --time T, or --auto."
            )
        if self.distance and self.path_file is not None:
            raise InputError(
                "Distance cues come from the tracked object's size; use --at or --auto with them."
            )


@dataclass(frozen=True)
class LocatedSource:
    """The source's direction path, its distance cue (when asked for and seen), what the
    sidecar records about how it was found, and sentences for the user."""

    path: DirectionPath
    distance: DistanceCue | None
    record: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    track: Track | None = None


def locate_source(
    video: Path,
    query: SourceQuery,
    start: float = 0.0,
    end: float | None = None,
    progress: Progress | None = None,
) -> LocatedSource:
    """Find the source over [start, end) of ``video`` the way ``query`` says."""
    query.check()
    if query.path_file is not None:
        path = load_path(query.path_file)
        return LocatedSource(path, None, {"direction": "path file", "file": str(query.path_file)})
    if query.at is not None and query.time is not None:
        az, el = query.at
        track = track_object(video, az, el, query.time, start=start, end=end, progress=progress)
        mark = {"az": az, "el": el, "time": query.time}
        record: dict[str, Any] = {"direction": "tracked", "mark": mark}
        reference = _size_at(track, query.time)
    else:
        paths = propose_paths(video, k=1, progress=progress)
        if not paths:
            raise InputError(
                f"Nothing moves in {video.name}, so no source can be found automatically; "
                "mark it with --at AZ,EL --time T."
            )
        track = paths[0].track
        record = {"direction": "strongest visual action", "motion_share": paths[0].strength}
        reference = None
    lost = track.lost_spans()
    record |= {
        "mean_confidence": float(np.mean(track.confidence)),
        "lost": [[a, b] for a, b in lost],
    }
    notes = [
        f"The object was lost from {a:.2f} to {b:.2f} s; the direction is interpolated there."
        for a, b in lost
    ]
    distance = _distance_cue(track, reference) if query.distance else None
    if query.distance and distance is None:
        notes.append("The source's apparent size is unknown, so no distance cues were applied.")
    return LocatedSource(track.to_direction_path(), distance, record, notes, track)


def _size_at(track: Track, time: float) -> float | None:
    """The apparent size at the frame nearest ``time`` (None when it is unknown)."""
    size = float(track.size_deg[int(np.argmin(np.abs(track.times - time)))])
    return size if math.isfinite(size) and size > 0 else None


def _distance_cue(track: Track, reference: float | None) -> DistanceCue | None:
    """Sizes of the frames where the object was seen; None when there are none."""
    keep = ~track.lost & np.isfinite(track.size_deg) & (track.size_deg > 0)
    if not keep.any():
        return None
    times = tuple(float(t) for t in track.times[keep])
    return DistanceCue(times, tuple(float(s) for s in track.size_deg[keep]), reference)
