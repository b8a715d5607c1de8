"""The video frames of consecutive model windows, each decoded once.

Windows start a whole number of frame periods apart (:func:`aligned_hop`), so the frames two
neighbouring windows share are the same video frames: :func:`frame_spans` says which frames a
window takes over from the one before and which it decodes, and :class:`FramePrefetcher`
decodes each window's new frames on a worker thread, ``CHUNK_FRAMES`` at a time: the
caller encodes the frames already decoded while the rest decode, and the next window's
frames decode while the current window samples.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from models.family import Cancel, SamplingCancelled
from plugin_core.generation.windowing import Window
from plugin_core.media.video.decode import iter_range_chunks

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


# Frames decoded (and handed over) together: half a second at the model's 8 fps; a cancel
# is heard after each chunk is encoded (about 0.15 s of 4K work on 2 cores).
CHUNK_FRAMES = 4
# How often a caller waiting for frames asks whether it was cancelled, seconds.
_CANCEL_POLL_S = 0.05

Frames = dict[str, np.ndarray]  # frames [n, H, W, 3] by view name


def span_chunks(
    video: Path,
    span: FrameSpan,
    fps: float,
    sizes: dict[str, Size],
    chunk: int = CHUNK_FRAMES,
    stop: Cancel | None = None,
) -> Iterator[Frames]:
    """The new frames of ``span`` at each view's decode size, by view name (each size decoded
    once), ``chunk`` frames at a time; nothing when every frame is taken over. ``stop()`` is
    asked after every frame decoded; when it says so, the frames end there."""
    distinct = sorted(set(sizes.values()))

    def by_view(parts: list) -> Frames:
        by_size = {size: part.frames for size, part in zip(distinct, parts, strict=True)}
        return {name: by_size[size] for name, size in sizes.items()}

    if frame_count(span.decode_from, span.t1, fps) == 0:
        return
    decoded = 0
    for parts in iter_range_chunks(video, span.decode_from, span.t1, fps, distinct, chunk, stop):
        decoded += len(parts[0].frames)
        yield by_view(parts)
    if decoded == 0 and span.reused == 0 and not (stop is not None and stop()):
        # a sliver too short to hold a frame takes the frame just before it
        t = max(0.0, span.t1 - 1.0 / fps)
        sliver = iter_range_chunks(video, t, span.t1, fps, distinct, chunk, stop)
        yield from (by_view(parts) for parts in sliver)


def continuous(spans: list[FrameSpan], fps: float) -> bool:
    """Whether the spans' new frames lie on one grid, one span's frames right after the last
    one's (windows a whole number of frames apart), so one pass can decode them all."""
    if not spans or frame_count(spans[-1].decode_from, spans[-1].t1, fps) == 0:
        return False  # a last sliver takes the frame before it: decoded on its own
    at = spans[0].decode_from
    for span in spans:
        if abs(span.decode_from - at) > 1e-6:
            return False
        at += frame_count(span.decode_from, span.t1, fps) / fps
    return True


class FramePrefetcher:
    """Decodes the spans in order on a worker thread, one span ahead of the caller, each as
    chunks the caller can use while the rest of the span decodes. Spans on one frame grid
    are decoded in one pass (a seek per window would decode again the frames from the
    keyframe before it: up to 8 s of 4K per window with x264's default keyframe interval)."""

    def __init__(
        self, video: Path, spans: list[FrameSpan], fps: float, sizes: dict[str, Size]
    ) -> None:
        self._video, self._spans, self._fps, self._sizes = video, spans, fps, sizes
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="omnifoa-decode")
        self._queues = [queue.SimpleQueue() for _ in spans]
        self._stop = threading.Event()
        self._index = 0  # spans taken
        self._ahead = threading.Condition()
        self.busy_seconds = 0.0  # the worker's time decoding (read once it is closed)
        self.wait_seconds = 0.0  # the caller's time waiting for frames
        self._one_pass = continuous(spans, fps)
        if self._one_pass:
            self._pool.submit(self._decode_all)

    def _may_start(self, index: int) -> bool:
        """Wait until span ``index`` may be decoded (at most one span ahead of the caller);
        False when decoding stops instead."""
        with self._ahead:
            self._ahead.wait_for(lambda: index <= self._index or self._stop.is_set())
        return not self._stop.is_set()

    def _decode_all(self) -> None:
        """Every span's chunks from one pass over the video, each span's queue ended by None
        (or by the error that ended the pass)."""
        distinct = sorted(set(self._sizes.values()))
        first, last = self._spans[0], self._spans[-1]
        index = 0
        try:
            began = time.perf_counter()
            frames = iter_range_chunks(
                self._video, first.decode_from, last.t1, self._fps, distinct, 1, self._stop.is_set
            )
            for index, span in enumerate(self._spans):
                self.busy_seconds += time.perf_counter() - began
                if not self._may_start(index):
                    return
                began = time.perf_counter()
                wanted = frame_count(span.decode_from, span.t1, self._fps)
                while wanted > 0:
                    parts = [next(frames) for _ in range(min(CHUNK_FRAMES, wanted))]
                    wanted -= len(parts)
                    stacked = {
                        size: np.concatenate([p[s].frames for p in parts])
                        for s, size in enumerate(distinct)
                    }
                    self.busy_seconds += time.perf_counter() - began
                    self._queues[index].put({n: stacked[z] for n, z in self._sizes.items()})
                    began = time.perf_counter()
                self._queues[index].put(None)
            self.busy_seconds += time.perf_counter() - began
        except StopIteration:  # stopped by close(): nobody waits for the rest
            self._queues[index].put(None)
        except Exception as exc:  # handed to the caller, who raises it as its own
            self._queues[index].put(exc)

    def _decode(self, index: int) -> None:
        """Put span ``index``'s chunks on its queue, then None (or the error that ended it)."""
        out = self._queues[index]
        try:
            span = self._spans[index]
            stop = self._stop.is_set
            began = time.perf_counter()
            for frames in span_chunks(
                self._video, span, self._fps, self._sizes, CHUNK_FRAMES, stop
            ):
                self.busy_seconds += time.perf_counter() - began
                out.put(frames)
                began = time.perf_counter()
            self.busy_seconds += time.perf_counter() - began
        except Exception as exc:  # handed to the caller, who raises it as its own
            out.put(exc)
            return
        out.put(None)

    def take(self, cancel: Cancel | None = None) -> Iterator[Frames]:
        """The next span's new frames, chunk by chunk as they are decoded; starts decoding the
        span after it. While waiting it asks ``cancel()`` every 50 ms and raises
        SamplingCancelled when it says so."""
        assert self._index < len(self._spans), "every span has been taken"
        index = self._index
        if not self._one_pass and index == 0:
            self._pool.submit(self._decode, 0)
        with self._ahead:
            self._index += 1
            self._ahead.notify_all()
        if not self._one_pass and self._index < len(self._spans):
            self._pool.submit(self._decode, self._index)
        return self._drain(self._queues[index], cancel)

    def _drain(self, chunks: queue.SimpleQueue, cancel: Cancel | None) -> Iterator[Frames]:
        while True:
            began = time.perf_counter()
            try:
                item = chunks.get(timeout=_CANCEL_POLL_S)
            except queue.Empty:
                self.wait_seconds += time.perf_counter() - began
                if cancel is not None and cancel():
                    raise SamplingCancelled from None
                continue
            self.wait_seconds += time.perf_counter() - began
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self) -> None:
        """Stop decoding ahead: the worker stops once the frame it is on is decoded."""
        with self._ahead:
            self._stop.set()
            self._ahead.notify_all()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> FramePrefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
