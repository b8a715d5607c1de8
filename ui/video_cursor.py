"""Frames of a video for the preview, decoded as playback reaches them.

Playback moves forward, so one PyAV frame iterator is kept and advanced; a seek backwards or
a jump of more than a second starts a new one. Memory holds one frame, whatever the length.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from plugin_core.media.video import VideoFrame, iter_frames

PREVIEW_FPS = 12.0
PREVIEW_SIZE = (1024, 512)


class VideoCursor:
    """The frame showing at a given time, decoded at the preview rate and size."""

    def __init__(self, path: Path, duration: float) -> None:
        self.path = path
        self.duration = duration
        self._frames: Iterator[VideoFrame] | None = None
        self._current: VideoFrame | None = None
        self._next: VideoFrame | None = None

    def _restart(self, seconds: float) -> None:
        start = max(0.0, min(seconds, max(0.0, self.duration - 1.0 / PREVIEW_FPS)))
        self._frames = iter_frames(self.path, start, None, PREVIEW_FPS, PREVIEW_SIZE)
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
