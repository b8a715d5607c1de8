"""Frames of a video for the preview, decoded as playback reaches them.

Playback moves forward, so one PyAV frame iterator is kept and advanced; a seek backwards or
a jump of more than a second starts a new one. Memory holds one frame, whatever the length.
Frames are decoded at the size the window's pictures need (``picture_width``), never larger
than the source, so a 4K panorama is scaled once, by the decoder.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from plugin_core.media.video import VideoFrame, iter_frames

PREVIEW_FPS = 12.0


def picture_width(overview_px: int, view_px: int, view_fov: float) -> int:
    """ERP width that shows a ``view_px``-wide perspective view of ``view_fov``° pixel for
    pixel at its centre and fills a ``overview_px``-wide overview (even, for the decoder).

    The view's centre has (view_px / 2) / tan(fov / 2) pixels per radian; a full turn of the
    ERP needs 2π times that.
    """
    focal = view_px / 2.0 / math.tan(math.radians(view_fov) / 2.0)
    needed = max(overview_px, math.ceil(2.0 * math.pi * focal))
    return needed + needed % 2


class VideoCursor:
    """The frame showing at a given time, decoded at the preview rate and at ``size``
    (width, height), or at the source's size when that is smaller."""

    def __init__(self, path: Path, duration: float, source_size: tuple[int, int]) -> None:
        self.path = path
        self.duration = duration
        self.source_size = source_size
        self.size = source_size
        self._frames: Iterator[VideoFrame] | None = None
        self._current: VideoFrame | None = None
        self._next: VideoFrame | None = None

    def resize(self, width: int) -> None:
        """Decode 2:1 frames ``width`` wide from now on (at most the source's width)."""
        width = min(width, self.source_size[0] - self.source_size[0] % 2)
        size = (width, width // 2)
        if size != self.size:
            self.size = size
            self._current = self._next = None  # the next frame_at starts a decoder at it

    def _restart(self, seconds: float) -> None:
        start = max(0.0, min(seconds, max(0.0, self.duration - 1.0 / PREVIEW_FPS)))
        self._frames = iter_frames(self.path, start, None, PREVIEW_FPS, self.size)
        self._current = next(self._frames, None)
        self._next = next(self._frames, None)

    def frame_at(self, seconds: float) -> np.ndarray | None:
        """RGB [H, W, 3] of the frame on screen at ``seconds`` (None past the end)."""
        current = self._current
        if current is None or seconds < current.time or seconds > current.time + 1.0:
            self._restart(seconds)
        while self._next is not None and self._next.time <= seconds:
            self._current, self._next = self._next, next(self._frames, None)
        return None if self._current is None else self._current.image
