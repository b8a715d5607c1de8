"""``omnifoa export-video``: the original picture plus the FOA track, ready for YouTube.

The video stream is copied packet by packet (never re-encoded); the FOA becomes a 4-channel
48 kHz track (24-bit PCM in .mov, AAC in .mp4, the two forms YouTube's spatial-audio
pipeline takes), interleaved with the picture; then the 360 and spatial-audio metadata are
written into the file (:mod:`plugin_core.media.video.spatial_boxes`). FuMa input (as labelled by
omnifoa, or declared) is converted to AmbiX first, since SA3D describes AmbiX.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import soundfile as sf

from plugin_core.atomic_files import atomic_output
from plugin_core.errors import InputError
from plugin_core.file_checks import output_file
from plugin_core.media.audio_io import read_foa, resample
from plugin_core.media.video import aspect_warning, probe
from plugin_core.media.video.spatial_boxes import inject_spatial_metadata
from plugin_core.notices import warn_once
from plugin_core.spatial.foa import to_ambix

DELIVERY_RATE = 48000
MAX_LENGTH_MISMATCH = 0.5  # seconds of FOA longer or shorter than the video that is accepted
_AUDIO = {".mov": ("mov", "pcm_s24le"), ".mp4": ("mp4", "aac")}
_NOT_IN_MOV = frozenset({"vp8", "vp9", "av1"})  # picture codecs a QuickTime file cannot carry
_TRUNCATION_SLACK_S = 0.5  # picture this much shorter than the header says: truncated
_AAC_BIT_RATE = 512_000  # 128 kb/s per channel


@dataclass(frozen=True)
class ExportResult:
    """What was written: the file, its audio codec, and the metadata added."""

    path: Path
    audio_codec: str
    converted_from_fuma: bool
    metadata: dict[str, bool]


def _convention(foa_path: Path, declared: str | None) -> str:
    """The FOA file's convention: as declared, else FuMa when its comment says so."""
    if declared is not None:
        return declared
    try:
        comment = sf.SoundFile(foa_path).comment or ""
    except (sf.LibsndfileError, RuntimeError):
        comment = ""
    return "fuma" if comment.lower().startswith("fuma") else "ambix"


def _fit(foa: np.ndarray, duration: float, name: str) -> np.ndarray:
    """FOA at the delivery rate trimmed or padded with silence to the video's length."""
    have = foa.shape[1] / DELIVERY_RATE
    if abs(have - duration) > MAX_LENGTH_MISMATCH:
        raise InputError(
            f"{name} lasts {have:.2f} s but the video {duration:.2f} s; generate FOA for the "
            "whole video (or trim one to the other) before exporting."
        )
    want = round(duration * DELIVERY_RATE)
    if foa.shape[1] >= want:
        return foa[:, :want]
    return np.pad(foa, ((0, 0), (0, want - foa.shape[1])))


def export_video(
    video: Path,
    foa_path: Path,
    output: Path,
    convention: str | None = None,
    overwrite: bool = False,
    assume_360: bool = False,
) -> ExportResult:
    """Mux ``video``'s picture with the FOA of ``foa_path`` into ``output`` (.mov or .mp4);
    a video that does not look like a 360 panorama is refused unless ``assume_360``."""
    suffix = output.suffix.lower()
    if suffix not in _AUDIO:
        raise InputError(f"Name the output *.mov or *.mp4, not {output.name}.")
    output_file(output, overwrite, [video, foa_path])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = probe(video)
    if not info.is_panorama and not assume_360:
        raise InputError(
            f"{Path(video).name} does not look like a 360 panorama ({aspect_warning(info)}); "
            "360 metadata on it would make players wrap a flat picture around the viewer. "
            "Pass --assume-360 if it really is one."
        )
    if suffix == ".mov" and info.video_codec in _NOT_IN_MOV:
        raise InputError(
            f"A .mov file cannot carry {info.video_codec.upper()} video; name the output "
            f"{output.with_suffix('.mp4').name} instead."
        )
    if info.rotation:
        warn_once(
            f"{Path(video).name} is marked as rotated by {info.rotation:g}°: the picture is "
            "copied with that mark, and 360 players may or may not honour it"
        )
    foa, rate = read_foa(foa_path)
    source = _convention(foa_path, convention)
    ambix = to_ambix(foa, source) if source != "ambix" else foa
    ambix = _fit(resample(ambix, rate, DELIVERY_RATE), info.duration, foa_path.name)
    container_format, codec = _AUDIO[suffix]
    with atomic_output(output) as tmp:
        last = _mux(Path(video), ambix, tmp, container_format, codec)
        if last < info.duration - _TRUNCATION_SLACK_S:
            raise InputError(
                f"The picture of {Path(video).name} stops at {last:.2f} s although the file says "
                f"it runs to {info.duration:.2f} s; it is probably truncated, so re-export or "
                "re-download it."
            )
        added = inject_spatial_metadata(tmp, info.width, info.height)
    return ExportResult(output, codec, source == "fuma", added)


def _mux(video: Path, ambix: np.ndarray, out_path: Path, fmt: str, codec: str) -> float:
    """Copy the picture and encode the FOA beside it; the time the last picture packet ends."""
    last = 0.0
    try:
        with av.open(str(video)) as src, av.open(str(out_path), "w", format=fmt) as out:
            in_video = src.streams.video[0]
            out_video = out.add_stream_from_template(in_video)
            audio = out.add_stream(codec, rate=DELIVERY_RATE, layout="4.0")
            if codec == "aac":
                audio.bit_rate = _AAC_BIT_RATE
            writer = _AudioWriter(out, audio, ambix)
            start = in_video.start_time or 0
            for packet in src.demux(in_video):
                if packet.dts is None:
                    continue
                if packet.pts is not None:
                    seconds = float((packet.pts - start) * in_video.time_base)
                    writer.until(round((seconds + 0.5) * DELIVERY_RATE))
                    length = float((packet.duration or 0) * in_video.time_base)
                    last = max(last, seconds + length)
                packet.stream = out_video
                out.mux(packet)
            writer.until(ambix.shape[1])
            out.mux(audio.encode(None))
    except av.FFmpegError as exc:
        raise InputError(f"Cannot copy the picture of {video.name} ({exc}).") from None
    return last


class _AudioWriter:
    """Encodes the FOA a block at a time, as far as the picture has got."""

    def __init__(self, out: Any, stream: Any, ambix: np.ndarray) -> None:
        self._out, self._stream = out, stream
        self._audio = np.ascontiguousarray(ambix, dtype=np.float32)
        self._written = 0

    def until(self, stop: int) -> None:
        stop = min(stop, self._audio.shape[1])
        while self._written < stop:
            chunk = self._audio[:, self._written : min(stop, self._written + 4096)]
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(chunk), format="fltp", layout="4.0"
            )
            frame.sample_rate = DELIVERY_RATE
            frame.pts = self._written
            frame.time_base = Fraction(1, DELIVERY_RATE)
            self._out.mux(self._stream.encode(frame))
            self._written += chunk.shape[1]
