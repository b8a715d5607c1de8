"""Opening a media file for reading, and the stream facts both probing and decoding need.

Each helper turns what a user can get wrong (a missing path, an unreadable or video-less
file, a still image, a codec FFmpeg cannot decode, a damaged stream) into one ``InputError``
sentence.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
from av.container import InputContainer

from plugin_core.errors import InputError
from plugin_core.file_checks import input_file
from plugin_core.media.video.ffmpeg_errors import ffmpeg_reason


def readable_path(path: str | os.PathLike) -> Path:
    """The path as a Path, or InputError when it is not a regular, readable file (a FIFO is
    refused at once instead of waited on)."""
    return input_file(path, "video")


@contextlib.contextmanager
def open_input(source: Path) -> Iterator[InputContainer]:
    """Open a media file for reading, with one-sentence errors; always closes it."""
    try:
        container = av.open(str(source), mode="r", metadata_errors="replace")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(
            f"Cannot read {source.name} as a video ({ffmpeg_reason(error)}); "
            "check that it is a complete, playable video file."
        ) from error
    try:
        yield container
    finally:
        container.close()


def video_stream(container: InputContainer, source: Path) -> Any:
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
    if _is_image_format(container.format.name):
        raise InputError(
            f"{source.name} is a still image ({stream.codec_context.name.upper()}), not a video; "
            "give the video file itself."
        )
    return stream


def _is_image_format(name: str) -> bool:
    """Whether FFmpeg read the file with one of its still-image readers (whatever its name
    says): ``image2``, ``image2pipe`` or ``<codec>_pipe`` (png_pipe, jpeg_pipe, ...)."""
    return name.startswith("image2") or name.endswith("_pipe")


def decoded_frames(
    container: InputContainer,
    stream: Any,
    source: Path,
    keep: Callable[[av.Packet], bool] | None = None,
) -> Iterator[Any]:
    """Decode a stream's frames (only the packets ``keep`` keeps, when given), turning FFmpeg
    errors into one InputError sentence."""
    try:
        for packet in container.demux(stream):
            if keep is None or keep(packet):
                yield from packet.decode()
    except av.FFmpegError as error:
        raise InputError(
            f"Decoding {source.name} failed ({ffmpeg_reason(error)}); "
            "the file is probably truncated or damaged, so re-export or re-download it."
        ) from error


def stream_frame_rate(stream: Any) -> float:
    """Average frame rate, else FFmpeg's guess, else 0.0."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return 0.0


def stream_duration(stream: Any, container: InputContainer) -> float:
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
