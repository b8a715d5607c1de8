"""Encoding uint8 RGB frames, and optional float audio, to a video file (``write_video``)."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from plugin_core.atomic_files import atomic_output
from plugin_core.errors import InputError
from plugin_core.media.video.ffmpeg_errors import ffmpeg_reason

# Container format per file extension (what write_video can produce and probe expects).
_CONTAINER_FORMATS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
}
VIDEO_SUFFIXES = tuple(_CONTAINER_FORMATS)  # the video files omnifoa names as such
# Channel layouts for writing audio ("quad" is the 4-channel layout aac, opus, flac and pcm all
# take); other counts get an unspecified-order layout.
_AUDIO_LAYOUTS = {1: "mono", 2: "stereo", 4: "quad"}


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
            f"{f' and {audio_codec}' if audio is not None else ''} ({ffmpeg_reason(error)})."
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
