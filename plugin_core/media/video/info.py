"""What a video file holds (``probe`` -> ``VideoInfo``) and the warning for non-2:1 frames."""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import av
from av.container import InputContainer

from plugin_core.errors import InputError
from plugin_core.media.video.media_input import (
    decoded_frames,
    open_input,
    readable_path,
    stream_duration,
    stream_frame_rate,
    video_stream,
)
from plugin_core.media.video.spherical import (
    spatial_audio_from_boxes,
    spherical_from_boxes,
    spherical_from_frame,
    spherical_from_metadata,
)
from plugin_core.media.video.truncation import check_whole


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
    spatial_audio: str | None = None  # e.g. "ambisonic order 1, 4 channels, ACN/SN3D (SA3D)"

    @property
    def is_equirectangular_shape(self) -> bool:
        """True when the frame is 2:1 within 1%, the shape of an equirectangular panorama."""
        return abs(self.width - 2 * self.height) <= 0.01 * 2 * self.height

    @property
    def is_panorama(self) -> bool:
        """True when the file says it is equirectangular 360 video (whatever the frame's
        shape: a 16:9-encoded picture with that metadata is a full panorama), or, when it
        says nothing, when the frame is 2:1."""
        if self.spherical is not None:
            return "equirectangular" in self.spherical
        return self.is_equirectangular_shape


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe a video file; warns (NotEquirectangularWarning) when the frame is not 2:1.
    A file whose video stops well before what it promises (cut short) is refused."""
    source = readable_path(path)
    with open_input(source) as container:
        stream = video_stream(container, source)
        first = _first_frame(container, stream, source)
        width = stream.codec_context.width or first.width
        height = stream.codec_context.height or first.height
        fps = stream_frame_rate(stream)
        duration = stream_duration(stream, container)
        frame_count = stream.frames or (round(duration * fps) if duration > 0 and fps > 0 else None)
        audio = container.streams.audio[0] if container.streams.audio else None
        audio_context = audio.codec_context if audio is not None else None
        layout = getattr(audio_context, "layout", None)
        layout_name = str(getattr(layout, "name", "") or "")
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
            spherical=spherical_from_frame(first) or spherical_from_metadata(stream),
        )
    check_whole(source)
    if info.spherical is None:
        info = replace(info, spherical=spherical_from_boxes(source))
    spatial = spatial_audio_from_boxes(source)
    if spatial is None and "ambisonic" in layout_name:
        spatial = f"{layout_name} channel layout"
    info = replace(info, spatial_audio=spatial)
    message = aspect_warning(info)
    if message is not None:
        warnings.warn(message, NotEquirectangularWarning, stacklevel=2)
    return info


def aspect_warning(info: VideoInfo) -> str | None:
    """The sentence to show a user when the video may not be an equirectangular 360 video."""
    name = Path(info.path).name
    if info.spherical is not None and not info.is_panorama:
        return (
            f"{name} carries {info.spherical} metadata, not equirectangular; omnifoa reads "
            "frames as equirectangular panoramas, so export an equirectangular version"
        )
    if info.is_panorama or info.height <= 0:
        return None
    return (
        f"{name} is {info.width}x{info.height} ({info.width / info.height:.2f}:1) without 360 "
        "metadata, not the 2:1 shape of an equirectangular 360 video: if it is a flat video, "
        "generated directions mean little; if it is a stretched panorama, export it at 2:1"
    )


def _first_frame(container: InputContainer, stream: Any, source: Path) -> av.VideoFrame:
    """Decode the first video frame (proves the codec works; carries rotation and 360 data)."""
    for frame in decoded_frames(container, stream, source):
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
