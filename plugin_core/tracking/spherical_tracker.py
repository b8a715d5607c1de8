"""Follow a marked object through a 360 video, forward and backward in time from the mark.

Every frame is looked at through a gnomonic view re-centred on the object's predicted
direction, so ERP stretching near the poles and the ±180° seam never reach the matcher. In that
view the object is found by normalised cross-correlation with a disc-masked template cut at the
mark and refreshed slowly while matches are good; the match is turned back into (az, el).
Only matches within a plausible reach of the prediction count, and a frame whose best match
scores low is lost. Frames are decoded as they are needed (forward as a stream, backward a chunk
at a time), so a long shot never sits in memory whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from plugin_core.errors import InputError
from plugin_core.media.video import VideoFrame, iter_frames, probe
from plugin_core.tracking.follower import Follower, Frame, Located, plan_views
from plugin_core.tracking.gnomonic import pixels_per_degree, sample_view
from plugin_core.tracking.object_size import find_outline
from plugin_core.tracking.track import Track, fill_lost

Progress = Callable[[int, int], None]
DECODE_WIDTH = 1024  # frames are decoded at most this wide (2:1 ERP: 1024 × 512)
MIN_SIZE_DEG, MAX_SIZE_DEG = 2.0, 80.0
OUTLINE_FOV, OUTLINE_PX = 110.0, 257  # the view in which the outline around a mark is found
COAST_SECONDS = 2.0  # a lost object is searched along its last motion for this long
CHUNK_FRAMES = 80  # frames decoded at once for the backward pass (about 120 MB at 1024 × 512)


def track_object(
    video: Path,
    az: float,
    el: float,
    time: float,
    *,
    size_deg: float | None = None,
    fps: float = 8.0,
    start: float | None = None,
    end: float | None = None,
    progress: Progress | None = None,
) -> Track:
    """Track the object marked at (az, el) degrees at ``time`` s over [start, end) at ``fps``.

    ``size_deg`` is the object's angular diameter; without it the outline around the mark is
    found and the mark moved to its centre. Frames where the object is lost take directions
    slerped between the good frames on both sides (or held from the nearest good one).
    """
    _check_mark(az, el, size_deg, fps)
    info = probe(video)
    first, last = _time_range(info.duration, start, end)
    if not (math.isfinite(time) and first <= time < last):
        raise InputError(
            f"The mark at {time} s lies outside the tracked time range "
            f"{first:.2f}–{last:.2f} s of {Path(video).name}; mark the object inside it."
        )
    width = min(DECODE_WIDTH, info.width)
    size = (width, max(2, width // 2))
    count = math.ceil((last - first) * fps - 1e-9)  # frames first + k/fps before last
    mark = min(count - 1, round((time - first) * fps))
    forward = iter_frames(video, first + mark / fps, last, fps, size)
    marked = next(forward)
    az0, el0, diameter = _refine_mark(marked.image, float(az), float(el), size_deg)
    plan = plan_views(diameter, width)
    mark_view = sample_view(marked.image, az0, el0, plan.fov, plan.size)
    coast = max(1, round(COAST_SECONDS * fps))
    found = {mark: (marked.time, Located(az0, el0, 1.0, False, diameter))}
    backward = _backward(video, first, mark, fps, size)
    for frames in (enumerate(forward, mark + 1), backward):
        follower = Follower(mark_view, az0, el0, diameter, plan, coast)
        for k, frame in frames:
            found[k] = (frame.time, follower.follow(frame.image))
            if progress is not None:
                progress(len(found), count)
    return _track([found[k] for k in sorted(found)])


def _backward(
    video: Path, first: float, mark: int, fps: float, size: tuple[int, int]
) -> Iterator[tuple[int, VideoFrame]]:
    """Frames mark-1, mark-2, ... 0 of the grid first + k/fps, decoded a chunk at a time."""
    for stop in range(mark, 0, -CHUNK_FRAMES):
        low = max(0, stop - CHUNK_FRAMES)
        chunk = list(iter_frames(video, first + low / fps, first + stop / fps, fps, size))
        yield from reversed(list(enumerate(chunk, low)))


def _track(found: list[tuple[float, Located]]) -> Track:
    """The Track of per-frame answers in time order, lost frames filled from the good ones."""
    times = np.array([t for t, _ in found])
    located = [x for _, x in found]
    lost = np.array([x.lost for x in located])
    az, el = fill_lost(np.array([x.az for x in located]), np.array([x.el for x in located]), lost)
    score = np.array([x.score for x in located])
    size = np.array([x.size_deg for x in located])
    return Track(times, az, el, score, lost, size)


def _refine_mark(
    frame: Frame, az: float, el: float, size_deg: float | None
) -> tuple[float, float, float]:
    """The point followed and the object's diameter: the mark itself (the user put it on the
    part that sounds; the outline's centre is not moved onto), and ``size_deg`` or the
    diameter of the outline around the mark."""
    if size_deg is not None:
        return az, el, float(size_deg)
    view = sample_view(frame, az, el, OUTLINE_FOV, OUTLINE_PX)
    focal = pixels_per_degree(OUTLINE_FOV, OUTLINE_PX) * 180.0 / math.pi
    outline = find_outline(view, focal, MAX_SIZE_DEG / 2.0)
    return az, el, float(np.clip(outline.diameter_deg, MIN_SIZE_DEG, MAX_SIZE_DEG))


def _check_mark(az: float, el: float, size_deg: float | None, fps: float) -> None:
    """Raise InputError unless the mark's direction and size and the frame rate are usable."""
    if not (math.isfinite(fps) and fps > 0.0):
        raise InputError(f"The tracking frame rate must be a positive number, not {fps}.")
    if not (math.isfinite(az) and -180.0 <= az <= 180.0):
        raise InputError(f"The mark's azimuth must be between -180 and 180 degrees, not {az}.")
    if not (math.isfinite(el) and -90.0 <= el <= 90.0):
        raise InputError(f"The mark's elevation must be between -90 and 90 degrees, not {el}.")
    if size_deg is not None and not (
        math.isfinite(size_deg) and MIN_SIZE_DEG <= size_deg <= MAX_SIZE_DEG
    ):
        raise InputError(
            f"The object size must be {MIN_SIZE_DEG:g} to {MAX_SIZE_DEG:g} degrees across, "
            f"not {size_deg}."
        )


def _time_range(duration: float, start: float | None, end: float | None) -> tuple[float, float]:
    """The [first, last) seconds to track, inside the video."""
    first = 0.0 if start is None else float(start)
    last = duration if end is None else min(float(end), duration)
    if not (math.isfinite(first) and 0.0 <= first < last):
        raise InputError(
            f"The tracked range must lie inside the video (0.00–{duration:.2f} s) and end after "
            f"it starts; got {first}–{last} s."
        )
    return first, last
