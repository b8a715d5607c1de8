"""Video and embedded-audio I/O: probe, time-range decoding at the model frame rate, encoding.

Times are seconds from the start of the file (the stream's own start offset removed).
Decoding reads only the requested range, samples frames by presentation time (so
variable-frame-rate files work) and downscales while converting, so a full-size 4K/8K RGB
image is never held. Every failure a user can cause surfaces as one ``InputError`` sentence.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np
from av.container import InputContainer
from av.sidedata.sidedata import Type as SideDataType

from plugin_core.atomic_files import atomic_output
from plugin_core.errors import InputError

__all__ = [
    "DecodedRange",
    "NotEquirectangularWarning",
    "VideoFrame",
    "VideoInfo",
    "aspect_warning",
    "decode_range",
    "iter_frames",
    "probe",
    "read_audio_stream",
    "write_video",
]

# Container format per file extension (what write_video can produce and probe expects).
_CONTAINER_FORMATS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
}
# Channel layouts for writing audio ("quad" is the 4-channel layout aac, opus, flac and pcm all
# take); other counts get an unspecified-order layout.
_AUDIO_LAYOUTS = {1: "mono", 2: "stereo", 4: "quad"}
# A frame counts as "at" a target time when its timestamp is within this many seconds.
_TIME_EPS = 1e-4
# Decoding starts this much before the requested start, so B-frame reordering after a
# keyframe seek cannot leave the first target without the frame that precedes it.
_SEEK_MARGIN_S = 0.25
# Spherical Video V1 (Google) puts its XML in a trak-level uuid box with this id.
_SPHERICAL_V1_UUID = bytes.fromhex("ffcc8263f8554a938814587a02521fdd")
_MP4_PARENT_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
_MP4_TOP_LEVEL_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}
_MAX_BOXES = 4096  # bound on the metadata scan, whatever the file holds
_MAX_BOX_READ = 1 << 20


class NotEquirectangularWarning(UserWarning):
    """The video is not 2:1, so it is probably not (or a stretched) equirectangular frame."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds: picture, timing, codecs, embedded audio and 360 hints."""

    path: str
    width: int
    height: int
    fps: float  # average frame rate; 0.0 when the file does not say
    duration: float  # seconds
    video_codec: str
    pixel_format: str | None
    frame_count: int | None  # from the container, else duration x fps; None if unknown
    audio_channels: int  # 0 when there is no audio stream
    audio_sample_rate: int  # 0 when there is no audio stream
    audio_codec: str | None
    rotation: int  # display rotation, degrees counter-clockwise (ffprobe's sign), 0 if none
    spherical: str | None  # spherical-video metadata found, e.g. "equirectangular (sv3d)"

    @property
    def is_equirectangular_shape(self) -> bool:
        """True when the frame is 2:1 within 1%, the shape of an equirectangular panorama."""
        return abs(self.width - 2 * self.height) <= 0.01 * 2 * self.height


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


# --------------------------------------------------------------------------- writing


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    audio: np.ndarray | None = None,
    audio_rate: int = 48000,
    audio_codec: str = "aac",
) -> None:
    """Encode uint8 RGB frames (and optional [C, N] float audio) to a file, atomically."""
    target = Path(path)
    container_format = _container_format(target)
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(
            f"The frame rate must be a positive number of frames per second, not {fps}."
        )
    _require_encoder(codec)
    samples = None
    if audio is not None:
        _require_encoder(audio_codec)
        samples = _check_audio(audio, audio_codec, audio_rate)
    try:
        with atomic_output(target) as partial:
            container = av.open(str(partial), mode="w", format=container_format)
            try:
                _encode(
                    container,
                    frames,
                    fps,
                    codec,
                    pix_fmt,
                    options,
                    samples,
                    audio_rate,
                    audio_codec,
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    container.close()
                raise
            container.close()
    except av.FFmpegError as error:
        raise InputError(
            f"Could not write {target.name} with {codec}"
            f"{f' and {audio_codec}' if audio is not None else ''} ({_reason(error)})."
        ) from error


def _encode(
    container: Any,
    frames: Iterable[np.ndarray],
    fps: float,
    codec: str,
    pix_fmt: str,
    options: dict[str, str] | None,
    samples: np.ndarray | None,
    audio_rate: int,
    audio_codec: str,
) -> None:
    """Add the streams and encode every frame, interleaving audio at each frame boundary."""
    rate = Fraction(fps).limit_denominator(10000)
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise InputError("There are no frames to write; give write_video at least one frame.")
    first = _check_frame(first, 0, None)
    height, width = first.shape[:2]
    _check_pixel_format(codec, pix_fmt, width, height)
    video = _add_stream(container, codec, rate=rate, options=options)
    video.width, video.height, video.pix_fmt = width, height, pix_fmt
    audio = None
    if samples is not None:
        channels = samples.shape[0]
        layout = _AUDIO_LAYOUTS.get(channels, f"{channels} channels")
        audio = _add_stream(container, audio_codec, rate=audio_rate, layout=layout)
    written = 0  # audio samples already encoded

    def encode_audio_until(stop: int) -> None:
        nonlocal written
        if audio is None or samples is None:
            return
        stop = min(stop, samples.shape[1])
        while written < stop:
            chunk = samples[:, written : min(stop, written + 4096)]
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(chunk), format="fltp", layout=audio.layout
            )
            frame.sample_rate = audio_rate
            frame.pts = written
            frame.time_base = Fraction(1, audio_rate)
            container.mux(audio.encode(frame))
            written += chunk.shape[1]

    index = 0
    image: np.ndarray | None = first
    while image is not None:
        picture = av.VideoFrame.from_ndarray(image, format="rgb24")
        picture.pts = index
        picture.time_base = 1 / rate
        container.mux(video.encode(picture))
        index += 1
        encode_audio_until(round(index / rate * audio_rate))
        image = next(iterator, None)
        if image is not None:
            image = _check_frame(image, index, (height, width))
    container.mux(video.encode(None))
    if audio is not None and samples is not None:
        encode_audio_until(samples.shape[1])
        container.mux(audio.encode(None))


def _add_stream(container: Any, codec: str, **kwargs: Any) -> Any:
    """Add an output stream, turning "this container cannot hold that codec" into a sentence."""
    try:
        return container.add_stream(codec, **kwargs)
    except ValueError as error:
        raise InputError(
            f"The {container.format.name} container cannot hold {codec} ({error}); "
            "pick another file extension or codec."
        ) from error


def _check_frame(image: Any, index: int, shape: tuple[int, int] | None) -> np.ndarray:
    """Return the frame as a contiguous uint8 [H, W, 3] array, or explain what is wrong."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3:
        raise InputError(
            f"Frame {index} has shape {array.shape}; write_video needs RGB frames shaped [H, W, 3]."
        )
    if array.dtype != np.uint8:
        raise InputError(
            f"Frame {index} has dtype {array.dtype}; write_video needs uint8 RGB frames (0-255)."
        )
    if shape is not None and array.shape[:2] != shape:
        raise InputError(
            f"Frame {index} is {array.shape[1]}x{array.shape[0]} but the first frame is "
            f"{shape[1]}x{shape[0]}; all frames of a video must have the same size."
        )
    return np.ascontiguousarray(array)


def _check_audio(audio: np.ndarray, audio_codec: str, audio_rate: int) -> np.ndarray:
    """Return the audio as contiguous float32 [C, N], or explain what is wrong."""
    samples = np.asarray(audio)
    if samples.ndim != 2 or samples.shape[0] < 1 or samples.shape[0] > 64:
        raise InputError(
            f"The audio has shape {samples.shape}; write_video needs it shaped [channels, samples]."
        )
    if not np.issubdtype(samples.dtype, np.floating):
        raise InputError(f"The audio has dtype {samples.dtype}; give float samples in [-1, 1].")
    rates = av.Codec(audio_codec, "w").audio_rates
    if audio_rate <= 0 or (rates and audio_rate not in rates):
        raise InputError(
            f"The {audio_codec} encoder cannot write {audio_rate} Hz audio; "
            f"resample to one of {', '.join(map(str, rates or [48000]))} Hz first."
        )
    return np.ascontiguousarray(samples, dtype=np.float32)


def _check_pixel_format(codec: str, pix_fmt: str, width: int, height: int) -> None:
    """Check the codec takes this pixel format and the frame size suits its chroma subsampling."""
    try:
        supported = [f.name for f in (av.Codec(codec, "w").video_formats or [])]
        probe_format = av.VideoFormat(pix_fmt, 64, 64)
    except (ValueError, av.FFmpegError) as error:
        raise InputError(f"Unknown pixel format {pix_fmt!r} ({error}).") from error
    if supported and pix_fmt not in supported:
        raise InputError(
            f"The {codec} encoder cannot take pixel format {pix_fmt}; "
            f"use one of {', '.join(supported)}."
        )
    chroma = [c for c in probe_format.components if c.is_chroma]
    step_x = 64 // min((c.width for c in chroma), default=64)
    step_y = 64 // min((c.height for c in chroma), default=64)
    if width % step_x or height % step_y:
        raise InputError(
            f"The frames are {width}x{height} but {pix_fmt} needs a width divisible by {step_x} "
            f"and a height divisible by {step_y}; crop or pad the frames, or use yuv444p."
        )


def _require_encoder(codec: str) -> None:
    """Raise InputError when this PyAV/FFmpeg build has no encoder of that name."""
    try:
        av.Codec(codec, "w")
    except (ValueError, av.FFmpegError) as error:
        raise InputError(
            f"This FFmpeg build has no {codec!r} encoder; choose another codec "
            "(for example libx264 for video or aac for audio)."
        ) from error


def _container_format(path: Path) -> str:
    """The FFmpeg muxer name for a file extension, or InputError for one we do not write."""
    try:
        return _CONTAINER_FORMATS[path.suffix.lower()]
    except KeyError:
        raise InputError(
            f"Cannot tell the video format of {path.name}; "
            f"name it with one of {', '.join(sorted(_CONTAINER_FORMATS))}."
        ) from None


def _reason(error: BaseException) -> str:
    """A short, single-line reason from an FFmpeg/OS error (no trailing full stop)."""
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return " ".join(str(text).split()).rstrip(".")


# --------------------------------------------------------------------------- probing


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe a video file; warns (NotEquirectangularWarning) when the frame is not 2:1."""
    source = _readable(path)
    with _open_input(source) as container:
        stream = _video_stream(container, source)
        first = _first_frame(container, stream, source)
        width = stream.codec_context.width or first.width
        height = stream.codec_context.height or first.height
        fps = _frame_rate(stream)
        duration = _duration(stream, container)
        frame_count = stream.frames or (round(duration * fps) if duration > 0 and fps > 0 else None)
        audio = container.streams.audio[0] if container.streams.audio else None
        audio_context = audio.codec_context if audio is not None else None
        info = VideoInfo(
            path=str(source),
            width=width,
            height=height,
            fps=fps,
            duration=duration,
            video_codec=stream.codec_context.name,
            pixel_format=stream.codec_context.pix_fmt,
            frame_count=frame_count,
            audio_channels=audio_context.channels if audio_context is not None else 0,
            audio_sample_rate=audio_context.sample_rate if audio_context is not None else 0,
            audio_codec=audio_context.name if audio_context is not None else None,
            rotation=_rotation(first, stream),
            spherical=_spherical_from_frame(first) or _spherical_from_metadata(stream),
        )
    if info.spherical is None:
        info = replace(info, spherical=_spherical_from_boxes(source))
    message = aspect_warning(info)
    if message is not None:
        warnings.warn(message, NotEquirectangularWarning, stacklevel=2)
    return info


def aspect_warning(info: VideoInfo) -> str | None:
    """The sentence to show a user when the video is not 2:1 equirectangular, else None."""
    if info.is_equirectangular_shape or info.height <= 0:
        return None
    return (
        f"{Path(info.path).name} is {info.width}x{info.height} ({info.width / info.height:.2f}:1), "
        "not the 2:1 shape of an equirectangular 360 video, so it will be read as a stretched "
        "panorama and directions may be off; export the 360 video at 2:1 for accurate directions."
    )


def _first_frame(container: InputContainer, stream: Any, source: Path) -> av.VideoFrame:
    """Decode the first video frame (proves the codec works; carries rotation and 360 data)."""
    for frame in _decoded(container, stream, source):
        return frame
    raise InputError(
        f"No frame of the video in {source.name} could be decoded; "
        "the file is probably truncated or damaged, so re-export or re-download it."
    )


def _rotation(frame: av.VideoFrame, stream: Any) -> int:
    """Display rotation in degrees counter-clockwise, from the display matrix or 'rotate' tag."""
    degrees = float(frame.rotation or 0)
    if not degrees:
        with contextlib.suppress(ValueError):
            degrees = -float(stream.metadata.get("rotate", 0))  # the old tag is clockwise
    degrees = -((-degrees + 180.0) % 360.0 - 180.0)  # into (-180, 180]
    return round(degrees)


# AVSphericalProjection values, in FFmpeg's order.
_PROJECTIONS = (
    "equirectangular",
    "cubemap",
    "equirectangular tile",
    "half equirectangular",
    "rectilinear",
    "fisheye",
    "parametric immersive",
)


def _spherical_from_frame(frame: av.VideoFrame) -> str | None:
    """The projection named by FFmpeg's spherical side data on a decoded frame, if any."""
    for side in frame.side_data:
        if side.type == SideDataType.SPHERICAL:
            raw = bytes(side)
            code = int.from_bytes(raw[:4], sys.byteorder) if len(raw) >= 4 else -1
            name = _PROJECTIONS[code] if 0 <= code < len(_PROJECTIONS) else "spherical"
            return f"{name} (spherical side data)"
    return None


def _spherical_from_metadata(stream: Any) -> str | None:
    """A spherical/projection tag in the stream metadata, if any."""
    for key, value in stream.metadata.items():
        if "spherical" in key.lower() or "projection" in key.lower():
            return f"{key}={value} (metadata)"
    return None


def _spherical_from_boxes(source: Path) -> str | None:
    """Look for sv3d/st3d or the Spherical Video V1 uuid box in an MP4/MOV's video sample boxes."""
    try:
        with source.open("rb") as file:
            head = file.read(8)
            if len(head) < 8 or head[4:8] not in _MP4_TOP_LEVEL_BOXES:
                return None
            return _scan_boxes(file, 0, os.fstat(file.fileno()).st_size, [_MAX_BOXES])
    except OSError:
        return None


def _scan_boxes(file: BinaryIO, start: int, end: int, budget: list[int]) -> str | None:
    """Walk boxes in [start, end), descending moov/trak/.../stbl; reads headers, not media."""
    pos = start
    while pos + 8 <= end and budget[0] > 0:
        budget[0] -= 1
        file.seek(pos)
        header = file.read(16)
        if len(header) < 8:
            return None
        size, kind = struct.unpack(">I4s", header[:8])
        body = pos + 8
        if size == 1 and len(header) == 16:
            size, body = struct.unpack(">Q", header[8:])[0], pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:
            return None
        found = None
        if kind in _MP4_PARENT_BOXES:
            found = _scan_boxes(file, body, pos + size, budget)
        elif kind in (b"stsd", b"uuid"):
            file.seek(body)
            payload = file.read(min(pos + size - body, _MAX_BOX_READ))
            found = _spherical_in_sample_entries(payload) if kind == b"stsd" else _v1(payload)
        if found:
            return found
        pos += size
    return None


def _spherical_in_sample_entries(payload: bytes) -> str | None:
    """Name what an sv3d (projection) or st3d (stereo) box inside stsd says, if present."""

    def box_at(tag: bytes) -> int:
        index = payload.find(tag)
        while index >= 4:
            size = struct.unpack(">I", payload[index - 4 : index])[0]
            if 8 <= size <= len(payload) - index + 4:
                return index
            index = payload.find(tag, index + 1)
        return -1

    sv3d = box_at(b"sv3d")
    if sv3d >= 0:
        inner = payload[sv3d:]
        for tag, name in ((b"equi", "equirectangular"), (b"cbmp", "cubemap"), (b"mshp", "mesh")):
            if tag in inner:
                return f"{name} (sv3d)"
        return "spherical (sv3d)"
    if box_at(b"st3d") >= 0:
        return "stereoscopic, projection not stated (st3d)"
    return None


def _v1(payload: bytes) -> str | None:
    """Spherical Video V1: a uuid box with Google's id and GSpherical XML."""
    if not payload.startswith(_SPHERICAL_V1_UUID) or b"Spherical" not in payload:
        return None
    if b"equirectangular" in payload.lower():
        return "equirectangular (spherical-v1)"
    return "spherical (spherical-v1)"


# --------------------------------------------------------------------------- decoding


def iter_frames(
    path: str | os.PathLike,
    start: float = 0.0,
    end: float | None = None,
    fps: float = 8.0,
    size: tuple[int, int] | int | None = None,
) -> Iterator[VideoFrame]:
    """Yield RGB frames sampled at start + k/fps (< end), decoding only that time range."""
    source = _readable(path)
    _check_positive("The frame rate", fps)
    _check_size(size)
    _check_start(start, end)
    return _sampled_frames(source, start, end, fps, size)


def decode_range(
    path: str | os.PathLike,
    start: float = 0.0,
    end: float | None = None,
    fps: float = 8.0,
    size: tuple[int, int] | int | None = None,
) -> DecodedRange:
    """Decode [start, end) at fps into one uint8 [T, H, W, 3] array with its times."""
    source = _readable(path)
    _check_start(start, end)
    with _open_input(source) as container:
        stream = _video_stream(container, source)
        start, end = _time_range(start, end, _duration(stream, container), source)
    count = len(_target_times(start, end, fps))
    frames: np.ndarray | None = None
    times = np.zeros(count)
    pts_times = np.zeros(count)
    filled = 0
    for index, frame in enumerate(iter_frames(source, start, end, fps, size)):
        if frames is None:
            frames = np.empty((count, *frame.image.shape), np.uint8)
        frames[index], times[index], pts_times[index] = frame.image, frame.time, frame.pts_time
        filled = index + 1
    if frames is None:
        frames = np.zeros((0, 0, 0, 3), np.uint8)
    return DecodedRange(frames[:filled], times[:filled], pts_times[:filled])


def _sampled_frames(
    source: Path,
    start: float,
    end: float | None,
    fps: float,
    size: tuple[int, int] | int | None,
) -> Iterator[VideoFrame]:
    """The generator behind iter_frames: seek, decode forward, sample-and-hold, stop past end."""
    with _open_input(source) as container:
        stream = _video_stream(container, source)
        stream.thread_type = "AUTO"
        start, end = _time_range(start, end, _duration(stream, container), source)
        targets = _target_times(start, end, fps)
        offset = _start_offset(stream)
        if start > 0:
            _seek(container, stream, offset + max(0.0, start - _SEEK_MARGIN_S))
        step = 1.0 / (_frame_rate(stream) or 30.0)
        k = 0
        held: tuple[float, av.VideoFrame] | None = None  # latest frame at or before targets[k]
        for frame in _decoded(container, stream, source):
            when = frame.time - offset if frame.time is not None else _next_time(held, step)
            while k < len(targets) and targets[k] < when - _TIME_EPS:
                if held is None:  # the first decoded frame is already past the first target
                    held = (when, frame)
                yield VideoFrame(float(targets[k]), held[0], _to_rgb(held[1], size))
                k += 1
            if k >= len(targets):
                return
            held = (when, frame)
        if k < len(targets):
            _check_not_truncated(held, stream, offset, end, step, source)
            assert held is not None
            for target in targets[k:]:
                yield VideoFrame(float(target), held[0], _to_rgb(held[1], size))


def _to_rgb(frame: av.VideoFrame, size: tuple[int, int] | int | None) -> np.ndarray:
    """The frame as uint8 RGB [H, W, 3], scaled by swscale in the same pass (never full-size)."""
    width, height = _output_size(frame.width, frame.height, size)
    if (width, height) == (frame.width, frame.height):
        converted = frame.reformat(format="rgb24")
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
    step: float,
    source: Path,
) -> None:
    """Raise when decoding stopped well before the frames the file's index or header promise."""
    if held is None:
        raise InputError(
            f"No video frame of {source.name} could be decoded in the requested range; "
            "the file is probably truncated or damaged, so re-export or re-download it."
        )
    entries = stream.index_entries
    if len(entries):  # the last indexed sample's decode time is a lower bound on the last frame
        promised = min(end, float(entries[len(entries) - 1].timestamp * stream.time_base) - offset)
        tolerance = 2 * step + _TIME_EPS
    else:
        promised, tolerance = end, max(1.0, 5 * step)
    if held[0] < promised - tolerance:
        raise InputError(
            f"The video in {source.name} stops at {held[0]:.2f} s although the file says it "
            f"runs to {promised:.2f} s; it is probably truncated, so re-export or re-download it."
        )


def _output_size(width: int, height: int, size: tuple[int, int] | int | None) -> tuple[int, int]:
    """(width, height) to convert to: native, a given pair, or a width keeping the aspect."""
    if size is None:
        return width, height
    if isinstance(size, int | np.integer):
        return int(size), max(1, round(int(size) * height / width))
    return int(size[0]), int(size[1])


def _target_times(start: float, end: float, fps: float) -> np.ndarray:
    """start + k/fps for k = 0, 1, ... while < end."""
    count = max(0, math.ceil((end - start) * fps - 1e-9))
    return start + np.arange(count) / fps


# --------------------------------------------------------------------------- audio


def read_audio_stream(
    path: str | os.PathLike,
    start: float = 0.0,
    end: float | None = None,
    sample_rate: int | None = None,
) -> tuple[np.ndarray, int]:
    """Decode the first audio stream over [start, end) as float32 [C, N], channels as stored."""
    source = _readable(path)
    _check_start(start, end)
    if sample_rate is not None:
        _check_positive("The sample rate", sample_rate)
    with _open_input(source) as container:
        if not container.streams.audio:
            raise InputError(
                f"{source.name} has no audio stream; pick a file with embedded audio "
                "or leave out the option that reads it."
            )
        stream = container.streams.audio[0]
        context = stream.codec_context
        if context is None:
            raise InputError(
                f"The audio codec of {source.name} cannot be decoded by this FFmpeg build; "
                "convert the audio to PCM, FLAC or AAC first."
            )
        channels = context.channels
        rate = int(sample_rate or context.sample_rate)
        start, end = _time_range(start, end, _duration(stream, container), source)
        offset = _start_offset(stream)
        if start > 0:
            _seek(container, stream, offset + max(0.0, start - _SEEK_MARGIN_S))
        resampler = av.AudioResampler(format="fltp", layout=context.layout, rate=rate)
        chunks: list[np.ndarray] = []
        first: float | None = None
        got = 0
        for frame in _decoded(container, stream, source):
            when = frame.time - offset if frame.time is not None else None
            if first is None:
                first = when if when is not None else start
            if when is not None and when >= end:
                break
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
                got += out.samples
            if first + got / rate >= end:
                break
        chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    data = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    if data.shape[0] != channels:
        raise InputError(
            f"The audio of {source.name} has {channels} channels but decoded to {data.shape[0]}; "
            "convert it to PCM or FLAC with an explicit channel layout first."
        )
    lead = round(((first if first is not None else start) - start) * rate)
    if lead > 0:  # audio starts after the range start: keep alignment with silence
        data = np.concatenate([np.zeros((channels, lead), data.dtype), data], axis=1)
    else:
        data = data[:, -lead:]
    wanted = round((end - start) * rate)
    return np.ascontiguousarray(data[:, :wanted], dtype=np.float32), rate


# --------------------------------------------------------------------------- input helpers


def _readable(path: str | os.PathLike) -> Path:
    """The path as a Path, or InputError when it is missing or a folder."""
    source = Path(path)
    if not source.exists():
        raise InputError(f"The file {source} does not exist; check the path.")
    if source.is_dir():
        raise InputError(f"{source} is a folder; give the path of a video file instead.")
    return source


@contextlib.contextmanager
def _open_input(source: Path) -> Iterator[InputContainer]:
    """Open a media file for reading, with one-sentence errors; always closes it."""
    try:
        container = av.open(str(source), mode="r", metadata_errors="replace")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(
            f"Cannot read {source.name} as a video ({_reason(error)}); "
            "check that it is a complete, playable video file."
        ) from error
    try:
        yield container
    finally:
        container.close()


def _video_stream(container: InputContainer, source: Path) -> Any:
    """The first real video stream (not cover art), or InputError."""
    streams = [
        s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
    ]
    if not streams:
        raise InputError(
            f"{source.name} has no video stream; give a video file, not an audio-only file."
        )
    stream = streams[0]
    if stream.codec_context is None:
        raise InputError(
            f"The video codec of {source.name} cannot be decoded by this FFmpeg build; "
            "convert the video to H.264, HEVC, VP9 or ProRes first."
        )
    return stream


def _decoded(container: InputContainer, stream: Any, source: Path) -> Iterator[Any]:
    """Decode a stream's frames, turning FFmpeg errors into one InputError sentence."""
    try:
        yield from container.decode(stream)
    except av.FFmpegError as error:
        raise InputError(
            f"Decoding {source.name} failed ({_reason(error)}); "
            "the file is probably truncated or damaged, so re-export or re-download it."
        ) from error


def _seek(container: InputContainer, stream: Any, seconds: float) -> None:
    """Seek the stream to the keyframe at or before ``seconds`` (file time)."""
    timestamp = math.floor(seconds / stream.time_base)
    try:
        container.seek(timestamp, stream=stream, backward=True, any_frame=False)
    except av.FFmpegError:
        container.seek(0, stream=stream, backward=True)  # unseekable: decode from the start


def _frame_rate(stream: Any) -> float:
    """Average frame rate, else FFmpeg's guess, else 0.0."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return 0.0


def _duration(stream: Any, container: InputContainer) -> float:
    """Stream duration in seconds: from the stream, its DURATION tag (mkv) or the container."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        with contextlib.suppress(ValueError):
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _start_offset(stream: Any) -> float:
    """The stream's first timestamp in seconds (subtracted so file time starts at 0)."""
    if stream.start_time is None or not stream.time_base:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _time_range(
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


def _check_start(start: float, end: float | None) -> None:
    """Start must be a finite time >= 0 and end, if given, after it."""
    if not (math.isfinite(start) and start >= 0):
        raise InputError(f"The start time must be 0 s or later, not {start} s.")
    if end is not None and not (math.isfinite(end) and end > start):
        raise InputError(f"The end time {end} s must be after the start time {start} s.")


def _check_positive(what: str, value: float) -> None:
    """Raise InputError unless value is a finite number above zero."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(f"{what} must be a positive number, not {value}.")


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
