"""Decoding a time range: video frames sampled at a given rate.

Frames are sampled by presentation time (so variable-frame-rate files work) exactly as
FFmpeg's ``fps`` filter samples them (the reference feature extractor's ``-vf fps=8``):
output frame ``k`` of a range starting at ``t0`` is the last source frame whose time, in
output frame periods from ``t0`` and rounded to the nearest (halves away from zero), is at
most ``k``; before the first source frame, the first one. Only the requested range is
decoded, and each frame is downscaled while it is converted to RGB, to one size or several.

H.264 pictures no other picture refers to (most B-frames) are not decoded unless a target
takes them: which frames the targets take is read from the packets' timestamps first, and
every frame handed out is checked against that plan (a file whose frames disagree with its
packets is decoded again in full, from the target it disagreed on). A seek that lands after
the first target (MPEG-TS seeks by byte position) is redone further back.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from plugin_core.errors import InputError
from plugin_core.media.video.h264_references import is_unreferenced_picture, length_prefix_size
from plugin_core.media.video.media_input import (
    decoded_frames,
    open_input,
    readable_path,
    stream_duration,
    stream_frame_rate,
    video_stream,
)
from plugin_core.media.video.time_range import (
    SEEK_MARGIN_S,
    check_positive,
    check_start,
    seek_before,
    start_offset,
    time_range,
)
from plugin_core.media.video.truncation import TIME_EPS, cut_short, promised_end

# H.264 reorders at most 16 pictures: once this many packets past the last target are read,
# every frame before it has been seen.
_REORDER_PACKETS = 16


@dataclass(frozen=True, eq=False)
class VideoFrame:
    """One sampled frame: the target time, the source frame's time and its RGB image."""

    time: float
    pts_time: float
    image: np.ndarray  # uint8 [H, W, 3] RGB


@dataclass(frozen=True, eq=False)
class DecodedRange:
    """Frames sampled over a time range, stacked, with their target and source times."""

    frames: np.ndarray  # uint8 [T, H, W, 3] RGB
    times: np.ndarray  # float64 [T], target times in seconds
    pts_times: np.ndarray  # float64 [T], times of the source frames used


def iter_frames(
    path: str | os.PathLike,
    start: float = 0.0,
    end: float | None = None,
    fps: float = 8.0,
    size: tuple[int, int] | int | None = None,
) -> Iterator[VideoFrame]:
    """Yield RGB frames sampled at start + k/fps (< end), decoding only that time range."""
    source = readable_path(path)
    check_positive("The frame rate", fps)
    _check_size(size)
    check_start(start, end)
    return _converted_frames(source, start, end, fps, size)


def _converted_frames(
    source: Path, start: float, end: float | None, fps: float, size: tuple[int, int] | int | None
) -> Iterator[VideoFrame]:
    """The sampled frames converted to RGB at ``size``; closing this closes the decoder."""
    with contextlib.closing(_sampled_frames(source, start, end, fps)) as frames:
        for target, when, frame in frames:
            yield VideoFrame(target, when, _to_rgb(frame, size))


def decode_range(
    path: str | os.PathLike,
    start: float = 0.0,
    end: float | None = None,
    fps: float = 8.0,
    size: tuple[int, int] | int | None = None,
) -> DecodedRange:
    """Decode [start, end) at fps into one uint8 [T, H, W, 3] array with its times."""
    return decode_range_sizes(path, start, end, fps, [size])[0]


def decode_range_sizes(
    path: str | os.PathLike,
    start: float,
    end: float | None,
    fps: float,
    sizes: Sequence[tuple[int, int] | int | None],
) -> list[DecodedRange]:
    """Decode [start, end) at fps once, converting each frame to every size in ``sizes``:
    one DecodedRange per size, in order."""
    source, start, end = _checked_range(path, start, end, fps, sizes)
    count = len(_target_times(start, end, fps))
    stacks: list[np.ndarray | None] = [None] * len(sizes)
    times = np.zeros(count)
    pts_times = np.zeros(count)
    filled = 0
    for chunk in _range_chunks(source, start, end, fps, sizes, 8):
        n = len(chunk[0].times)
        for s, part in enumerate(chunk):
            if stacks[s] is None:
                stacks[s] = np.empty((count, *part.frames.shape[1:]), np.uint8)
            stacks[s][filled : filled + n] = part.frames
        times[filled : filled + n] = chunk[0].times
        pts_times[filled : filled + n] = chunk[0].pts_times
        filled += n
    return [
        DecodedRange(
            np.zeros((0, 0, 0, 3), np.uint8) if stack is None else stack[:filled],
            times[:filled],
            pts_times[:filled],
        )
        for stack in stacks
    ]


def iter_range_chunks(
    path: str | os.PathLike,
    start: float,
    end: float | None,
    fps: float,
    sizes: Sequence[tuple[int, int] | int | None],
    chunk: int,
    stop: Callable[[], bool] | None = None,
) -> Iterator[list[DecodedRange]]:
    """Decode [start, end) at fps as :func:`decode_range_sizes` does, ``chunk`` frames at a
    time: each item holds the next frames at every size in ``sizes``, in order. ``stop()``
    is asked after every frame; when it says so, the frames end there."""
    if chunk < 1:
        raise ValueError(f"chunks hold at least one frame, got {chunk}")
    source, start, end = _checked_range(path, start, end, fps, sizes)
    return _range_chunks(source, start, end, fps, sizes, chunk, stop)


def _checked_range(
    path: str | os.PathLike,
    start: float,
    end: float | None,
    fps: float,
    sizes: Sequence[tuple[int, int] | int | None],
) -> tuple[Path, float, float]:
    """The readable source and [start, end) clipped to its video, after checking the rate
    and sizes (InputError or ValueError, one sentence)."""
    source = readable_path(path)
    check_positive("The frame rate", fps)
    check_start(start, end)
    for size in sizes:
        _check_size(size)
    with open_input(source) as container:
        stream = video_stream(container, source)
        start, end = time_range(start, end, stream_duration(stream, container), source)
    return source, start, end


def _range_chunks(
    source: Path,
    start: float,
    end: float,
    fps: float,
    sizes: Sequence[tuple[int, int] | int | None],
    chunk: int,
    stop: Callable[[], bool] | None = None,
) -> Iterator[list[DecodedRange]]:
    pending: list[tuple[float, float, list[np.ndarray]]] = []

    def stacked() -> list[DecodedRange]:
        times = np.array([p[0] for p in pending])
        pts_times = np.array([p[1] for p in pending])
        return [
            DecodedRange(np.stack([p[2][s] for p in pending]), times, pts_times)
            for s in range(len(sizes))
        ]

    with contextlib.closing(_sampled_frames(source, start, end, fps)) as frames:
        for target, when, frame in frames:
            pending.append((target, when, [_to_rgb(frame, size) for size in sizes]))
            if stop is not None and stop():
                return
            if len(pending) == chunk:
                yield stacked()
                pending = []
    if pending:
        yield stacked()


def _sampled_frames(
    source: Path, start: float, end: float | None, fps: float
) -> Iterator[tuple[float, float, av.VideoFrame]]:
    """(target time, source frame time, source frame) at start + k/fps, chosen as the fps
    filter chooses; seeks, decodes forward and stops once every target has its frame."""
    handed, plan_skips, margin = 0, True, SEEK_MARGIN_S
    while True:
        try:
            frames = _sampled(source, start, end, fps, plan_skips, margin)
            with contextlib.closing(frames):
                for item in itertools.islice(frames, handed, None):
                    yield item
                    handed += 1
            return
        except _PlanMissed:
            plan_skips = False
        except _SeekedPast:  # nothing was handed out: seek further back
            margin *= 4


class _PlanMissed(Exception):
    """A decoded frame is not the one the packets' timestamps said a target takes."""


class _SeekedPast(Exception):
    """The seek landed after the first target, although the file has frames before it
    (MPEG-TS seeks by byte position, and can land a keyframe or more too late)."""


@dataclass(frozen=True)
class _SkipPlan:
    """The pts of the frame each target takes, and the pts of packets left undecoded."""

    chosen: list[int]
    skipped: frozenset[int]


def _skip_plan(
    source: Path, offset: float, start: float, limits: np.ndarray, margin: float
) -> _SkipPlan | None:
    """Which unreferenced H.264 pictures no target takes, from the packets alone (a second
    reader, so the decoding one is untouched); None when nothing can be left out or the
    packets do not say (another codec, a packet without a timestamp, a damaged file)."""
    with open_input(source) as container:
        stream = video_stream(container, source)
        if stream.codec_context.name != "h264":
            return None
        prefix = length_prefix_size(stream.codec_context.extradata)
        seek_before(container, stream, offset, start, margin)
        stamps: list[int] = []
        unreferenced: set[int] = set()
        past = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.pts is None:
                    return None
                stamps.append(packet.pts)
                if is_unreferenced_picture(memoryview(packet), prefix):
                    unreferenced.add(packet.pts)
                if float(packet.pts * stream.time_base) - offset >= limits[-1] - TIME_EPS:
                    past += 1
                    if past >= _REORDER_PACKETS:
                        break
        except av.FFmpegError:
            return None  # the decoding pass says what is wrong with the file
        chosen = _chosen_stamps(sorted(stamps), float(stream.time_base), offset, limits)
    if chosen is None or not unreferenced - set(chosen):
        return None
    return _SkipPlan(chosen, frozenset(unreferenced - set(chosen)))


def _chosen_stamps(
    stamps: list[int], time_base: float, offset: float, limits: np.ndarray
) -> list[int] | None:
    """The pts each target takes from frames at ``stamps`` (sorted), by the rule
    :func:`_sampled` applies to decoded frames; None without frames."""
    chosen: list[int] = []
    held: int | None = None
    for stamp in stamps:
        when = stamp * time_base - offset
        while len(chosen) < len(limits) and when >= limits[len(chosen)] - TIME_EPS:
            chosen.append(stamp if held is None else held)
        if len(chosen) == len(limits):
            return chosen
        held = stamp
    return None if held is None else chosen + [held] * (len(limits) - len(chosen))


def _sampled(
    source: Path,
    start: float,
    end: float | None,
    fps: float,
    plan_skips: bool,
    margin: float = SEEK_MARGIN_S,
) -> Iterator[tuple[float, float, av.VideoFrame]]:
    """:func:`_sampled_frames` after a seek ``margin`` seconds before ``start``, leaving out
    the H.264 pictures no target takes when ``plan_skips`` (raising _PlanMissed before handing
    out a frame the plan did not expect, and _SeekedPast when the seek landed after the first
    target while the file has earlier frames)."""
    with open_input(source) as container:
        stream = video_stream(container, source)
        stream.thread_type = "AUTO"
        start, end = time_range(start, end, stream_duration(stream, container), source)
        targets = _target_times(start, end, fps)
        # A frame belongs to the first target it does not round below: (t - t0)·fps rounds
        # half away from zero, so frames strictly before target + half a period count.
        limits = targets + 0.5 / fps
        offset = start_offset(stream)
        plan = (
            _skip_plan(source, offset, start, limits, margin)
            if plan_skips and len(targets)
            else None
        )
        seek_before(container, stream, offset, start, margin)
        seeked = start - margin > 0  # as seek_before decides: the first frames were skipped
        step = 1.0 / (stream_frame_rate(stream) or 30.0)
        k = 0
        held: tuple[float, av.VideoFrame] | None = None  # the latest frame before limits[k]

        def checked(k: int, frame: av.VideoFrame) -> av.VideoFrame:
            if plan is not None and frame.pts != plan.chosen[k]:
                raise _PlanMissed
            return frame

        keep = None if plan is None else lambda packet: packet.pts not in plan.skipped
        for frame in decoded_frames(container, stream, source, keep):
            when = frame.time - offset if frame.time is not None else _next_time(held, step)
            while k < len(targets) and when >= limits[k] - TIME_EPS:
                if held is None:  # the first decoded frame is already past the first target
                    if seeked:
                        raise _SeekedPast
                    held = (when, frame)
                yield float(targets[k]), held[0], checked(k, held[1])
                k += 1
            if k >= len(targets):
                return
            held = (when, frame)
        if k < len(targets):
            _check_not_truncated(held, stream, offset, end, source)
            assert held is not None
            for target in targets[k:]:
                yield float(target), held[0], checked(k, held[1])
                k += 1


def _to_rgb(frame: av.VideoFrame, size: tuple[int, int] | int | None) -> np.ndarray:
    """The frame as uint8 RGB [H, W, 3], scaled by swscale in the same pass (never full-size)."""
    width, height = _output_size(frame.width, frame.height, size)
    if (width, height) == (frame.width, frame.height):
        converted = frame.reformat(format="rgb24")
    elif frame.format.name == "yuv420p" and width <= frame.width and height <= frame.height:
        # shrinking in YUV first, then converting the small picture, is twice as fast as
        # swscale's combined scale-and-convert path (4K → 1632 px: 3.5 ms against 6.5 ms)
        small = frame.reformat(width=width, height=height, interpolation="AREA")
        converted = small.reformat(format="rgb24")
    else:
        converted = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
    return np.ascontiguousarray(converted.to_ndarray())


def _next_time(held: tuple[float, av.VideoFrame] | None, step: float) -> float:
    """A time for a frame without a timestamp: one frame after the previous one."""
    return 0.0 if held is None else held[0] + step


def _check_not_truncated(
    held: tuple[float, av.VideoFrame] | None,
    stream: Any,
    offset: float,
    end: float,
    source: Path,
) -> None:
    """Raise when decoding stopped well before the frames the file's index or header promise."""
    if held is None:
        raise InputError(
            f"No video frame of {source.name} could be decoded in the requested range; "
            "the file is probably truncated or damaged, so re-export or re-download it."
        )
    promised, tolerance = promised_end(stream, offset, end)
    if held[0] < promised - tolerance:
        raise cut_short(source, held[0], promised)


def _output_size(width: int, height: int, size: tuple[int, int] | int | None) -> tuple[int, int]:
    """(width, height) to convert to: native, a given pair, or a width keeping the aspect."""
    if size is None:
        return width, height
    if isinstance(size, int | np.integer):
        return int(size), max(1, round(int(size) * height / width))
    return int(size[0]), int(size[1])


def fps_filter_picks(source_times: np.ndarray, fps: float, count: int) -> np.ndarray:
    """Index into ``source_times`` (sorted seconds from the range's start) of the source
    frame each of ``count`` output frames takes, by the rule decoding follows: the last frame
    strictly before its target plus half a period; the first frame before that."""
    limits = np.arange(count) / fps + 0.5 / fps
    picks = np.searchsorted(np.asarray(source_times, dtype=np.float64), limits, side="left") - 1
    return np.maximum(picks, 0)


def _target_times(start: float, end: float, fps: float) -> np.ndarray:
    """start + k/fps for k = 0, 1, ... while < end."""
    count = max(0, math.ceil((end - start) * fps - 1e-9))
    return start + np.arange(count) / fps


def _check_size(size: tuple[int, int] | int | None) -> None:
    """size is None, a positive width, or a (width, height) pair of positive integers."""
    if size is None:
        return
    if isinstance(size, int | np.integer):
        values = [size]
    elif isinstance(size, tuple | list) and len(size) == 2:
        values = list(size)
    else:
        values = []
    if not values or not all(isinstance(v, int | np.integer) and v > 0 for v in values):
        raise InputError(f"The frame size must be a width or a (width, height) pair, not {size!r}.")
