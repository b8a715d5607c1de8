"""The video frames of consecutive model windows, each decoded once.

Windows start a whole number of frame periods apart (:func:`aligned_hop`), so the frames two
neighbouring windows share are the same video frames: :func:`frame_spans` says which frames a
window takes over from the one before and which it decodes, and :class:`FramePrefetcher`
decodes the next window's new frames on a worker thread while the current window samples.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from plugin_core.generation.windowing import Window
from plugin_core.media.video.decode import decode_range_sizes

Size = tuple[int, int]  # (width, height) frames are decoded at


def aligned_hop(window: int, overlap: int, rate: int, fps: float, step: int = 1) -> int:
    """The hop (samples) nearest ``window - overlap`` that is a whole number of frame periods
    and a whole number of ``step`` samples; when no such hop keeps the overlap between half of
    ``overlap`` and half a window, the largest multiple of ``step`` not above
    ``window - overlap``."""
    period = Fraction(rate) / Fraction(fps).limit_denominator(1000)
    unit = period * period.denominator  # the shortest whole-sample run of whole frame periods
    unit = unit * step // math.gcd(int(unit), step) if unit.denominator == 1 else unit
    hop = round((window - overlap) / unit) * unit
    if hop.denominator == 1 and overlap / 2 <= window - hop <= window / 2 and hop > 0:
        return int(hop)
    return (window - overlap) // step * step


@dataclass(frozen=True)
class FrameSpan:
    """One window's frames: ``reused`` taken over from the previous window, then the frames at
    ``decode_from + k / fps`` before ``t1`` (seconds of the video); the previous window's
    frame ``shift + k`` is this window's frame ``k``."""

    t0: float
    t1: float
    reused: int
    decode_from: float
    shift: int = 0


def frame_spans(
    windows: list[Window], start: float, end: float, rate: int, fps: float, seconds: float
) -> list[FrameSpan]:
    """Frame spans of ``windows`` (samples from ``start``); each window's frames cover
    ``seconds`` from its start, cut at ``end``."""
    spans: list[FrameSpan] = []
    for w in windows:
        t0 = start + w.start / rate
        t1 = min(t0 + seconds, end)
        reused, shift = 0, 0
        if spans:
            frames_apart = Fraction(w.start - windows[w.index - 1].start) * Fraction(fps) / rate
            before = frame_count(spans[-1].t0, spans[-1].t1, fps)
            if frames_apart.denominator == 1:
                shift = int(frames_apart)
                reused = max(0, min(before - shift, frame_count(t0, t1, fps)))
        spans.append(FrameSpan(t0, t1, reused, t0 + reused / fps, shift))
    return spans


def frame_count(t0: float, t1: float, fps: float) -> int:
    """Frames at ``t0 + k / fps`` before ``t1`` (a hair of float error ignored)."""
    return max(0, math.ceil((t1 - t0) * fps - 1e-6))


def decode_span(
    video: Path, span: FrameSpan, fps: float, sizes: dict[str, Size]
) -> dict[str, np.ndarray]:
    """The new frames [n, H, W, 3] of ``span`` at each view's decode size, by view name (each
    size decoded once); none when every frame is taken over."""
    distinct = sorted(set(sizes.values()))
    if frame_count(span.decode_from, span.t1, fps) == 0:
        stacks = [np.zeros((0, h, w, 3), np.uint8) for w, h in distinct]
    else:
        decoded = decode_range_sizes(video, span.decode_from, span.t1, fps, distinct)
        if len(decoded[0].frames) == 0 and span.reused == 0:
            # a sliver too short to hold a frame takes the frame just before it
            t = max(0.0, span.t1 - 1.0 / fps)
            decoded = decode_range_sizes(video, t, span.t1, fps, distinct)
        stacks = [d.frames for d in decoded]
    by_size = dict(zip(distinct, stacks, strict=True))
    return {name: by_size[size] for name, size in sizes.items()}


class FramePrefetcher:
    """Decodes the spans in order, one ahead of the caller, on a worker thread."""

    def __init__(
        self, video: Path, spans: list[FrameSpan], fps: float, sizes: dict[str, Size]
    ) -> None:
        self._video, self._spans, self._fps, self._sizes = video, spans, fps, sizes
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="omnifoa-decode")
        self._next: Future[dict[str, np.ndarray]] | None = None
        self._index = 0

    def _submit(self, index: int) -> None:
        self._next = None
        if index < len(self._spans):
            span = self._spans[index]
            self._next = self._pool.submit(decode_span, self._video, span, self._fps, self._sizes)

    def take(self) -> dict[str, np.ndarray]:
        """The next span's new frames; starts decoding the one after."""
        if self._index == 0:
            self._submit(0)
        assert self._next is not None, "every span has been taken"
        frames = self._next.result()
        self._index += 1
        self._submit(self._index)
        return frames

    def close(self) -> None:
        """Stop decoding ahead (a span being decoded is finished and dropped)."""
        if self._next is not None:
            self._next.cancel()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> FramePrefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
