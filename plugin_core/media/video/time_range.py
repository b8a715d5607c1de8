"""Time ranges of a media stream: checking them, clamping them to the file, seeking to them.

Times are seconds from the start of the file (the stream's own start offset removed).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import av
from av.container import InputContainer

from plugin_core.errors import InputError

# Decoding starts this much before the requested start, so B-frame reordering after a
# keyframe seek cannot leave the first target without the frame that precedes it.
SEEK_MARGIN_S = 0.25


def seek_before(
    container: InputContainer,
    stream: Any,
    offset: float,
    start: float,
    margin: float = SEEK_MARGIN_S,
) -> None:
    """Seek to the keyframe ``margin`` seconds before ``start`` (seconds from the file's start);
    no seek when that is the file's start (decoding from there is exact, and an MPEG-TS seek
    to it can land a keyframe late)."""
    if start - margin > 0:
        seconds = offset + start - margin
        timestamp = math.floor(seconds / stream.time_base)
        try:
            container.seek(timestamp, stream=stream, backward=True, any_frame=False)
        except av.FFmpegError:
            container.seek(0, stream=stream, backward=True)  # unseekable: decode from the start


def start_offset(stream: Any) -> float:
    """The stream's first timestamp in seconds (subtracted so file time starts at 0)."""
    if stream.start_time is None or not stream.time_base:
        return 0.0
    return float(stream.start_time * stream.time_base)


def time_range(
    start: float, end: float | None, duration: float, source: Path
) -> tuple[float, float]:
    """Clamp [start, end) to the file, or explain why the range is empty."""
    if duration > 0:
        if start >= duration:
            raise InputError(
                f"The start time {start:.2f} s is at or past the end of {source.name} "
                f"({duration:.2f} s); choose an earlier start."
            )
        end = duration if end is None else min(end, duration)
    elif end is None:
        raise InputError(f"{source.name} does not say how long it is; give an explicit end time.")
    if end <= start:
        raise InputError(f"The end time {end:.2f} s must be after the start time {start:.2f} s.")
    return start, end


def check_start(start: float, end: float | None) -> None:
    """Start must be a finite time >= 0 and end, if given, after it."""
    if not (math.isfinite(start) and start >= 0):
        raise InputError(f"The start time must be 0 s or later, not {start} s.")
    if end is not None and not (math.isfinite(end) and end > start):
        raise InputError(f"The end time {end} s must be after the start time {start} s.")


def check_positive(what: str, value: float) -> None:
    """Raise InputError unless value is a finite number above zero."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(f"{what} must be a positive number, not {value}.")
