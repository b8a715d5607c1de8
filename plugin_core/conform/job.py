"""Conform: an existing mono or stereo stem → an AmbiX (or FuMa) stem along a direction path.

The stem is read whole, resampled to the delivery rate (soxr), fitted to the video span
(a longer stem is cut at the end, a shorter one padded with silence, both stated), encoded
block by block (:mod:`plugin_core.conform.encoding`) into a :class:`StemWriter` (temporary
file, renamed when complete) and described in a ``.json`` sidecar of the stem family.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from plugin_core.conform.encoding import (
    DISTANCE_MODEL,
    Conformer,
    DistanceCue,
    distance_curve,
    resolve_width,
)
from plugin_core.errors import InputError
from plugin_core.file_checks import output_file
from plugin_core.media.audio_io import Subtype, read_audio, resample
from plugin_core.media.stem_sidecar import (
    delivery_record,
    plain_record,
    sha256_of,
    sidecar_header,
    sidecar_path,
    write_sidecar,
)
from plugin_core.media.stem_writer import Delivery, StemWriter
from plugin_core.spatial.direction_path import DirectionPath
from plugin_core.spatial.foa import from_ambix

BLOCK = 1 << 16  # samples encoded and written at a time
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ConformRequest:
    """One conform job: which stem, where it goes, and how it is placed in the 360 scene.

    The stem starts at video time ``start`` and the output covers ``start`` to ``end``;
    ``width`` None is 60° for stereo and 0° (a point) for mono; ``source`` is free-form JSON
    data recorded in the sidecar (how the path was obtained, for instance).
    """

    stem: Path
    output: Path
    path: DirectionPath
    end: float
    start: float = 0.0
    width: float | None = None
    distance: DistanceCue | None = None
    sample_rate: int = 48000
    subtype: Subtype = "float32"
    convention: Delivery = "ambix"
    overwrite: bool = False
    source: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise InputError for values no conform job can use."""
        try:
            json.dumps(self.source)
        except (TypeError, ValueError):
            raise InputError(
                "The source record of a conform job must be plain JSON data."
            ) from None
        checks = [
            (
                math.isfinite(self.start) and self.start >= 0,
                f"The start time must be 0 s or later, not {self.start}.",
            ),
            (
                math.isfinite(self.end) and self.end > self.start,
                f"The span must end after it starts (asked for {self.start} to {self.end} s).",
            ),
            (self.sample_rate in (44100, 48000), "Deliver at 44100 or 48000 Hz."),
            (self.convention in ("ambix", "fuma"), "Deliver AmbiX or FuMa."),
            (
                self.subtype in ("float32", "pcm24", "pcm16"),
                "Write float32, pcm24 or pcm16 samples.",
            ),
            (self.output.suffix.lower() in (".wav", ".flac"), "Name the output *.wav or *.flac."),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        if self.width is not None:
            resolve_width(1, self.width)  # raises for a width out of range


@dataclass(frozen=True)
class ConformResult:
    """What a conform job wrote and what it had to change, in sentences."""

    path: Path
    sidecar: Path
    channels: int
    width: float
    span: tuple[float, float]
    notes: list[str]


def conform_stem(request: ConformRequest, progress: Progress | None = None) -> ConformResult:
    """Encode ``request.stem`` along its path into a delivery stem and its sidecar."""
    request.validate()
    inputs = [request.stem]
    output_file(request.output, request.overwrite, inputs)
    output_file(sidecar_path(request.output), request.overwrite, inputs)
    audio, stem_rate = read_audio(request.stem)
    channels = audio.shape[0]
    if channels > 2:
        raise InputError(
            f"{request.stem.name} has {channels} channels; conform takes mono or stereo stems "
            "— for an FOA file use `omnifoa convert`."
        )
    if audio.shape[1] == 0:
        raise InputError(f"{request.stem.name} holds no samples; give a stem with sound in it.")
    rate = request.sample_rate
    stem_seconds = audio.shape[1] / stem_rate
    audio, notes = _fit_span(resample(audio, stem_rate, rate), request)
    width = resolve_width(channels, request.width)
    conformer = Conformer(channels, rate, request.path, request.start, width, request.distance)
    total = audio.shape[1]
    blocks = -(-total // BLOCK)
    peak = 0.0
    label = "FuMa (W, X, Y, Z; W at -3 dB)" if request.convention == "fuma" else "AmbiX (ACN/SN3D)"
    with StemWriter(
        request.output,
        rate,
        rate,
        request.subtype,
        request.convention,
        f"{label} by omnifoa conform",
    ) as writer:
        for b in range(blocks):
            foa = conformer.process(audio[:, b * BLOCK : (b + 1) * BLOCK])
            peak = max(peak, float(np.max(np.abs(from_ambix(foa, request.convention)))))
            writer.write(foa)
            if progress is not None:
                progress(b + 1, blocks)
        writer.finish()
    integer = request.subtype != "float32" or request.output.suffix.lower() == ".flac"
    if peak > 1.0 and integer:
        notes.append(
            f"The loudest sample reached {20 * math.log10(peak):+.1f} dBFS and was clipped, as "
            "the file holds integer samples; write a float32 WAV or lower the stem's level."
        )
    document = _sidecar(request, channels, stem_rate, stem_seconds, width, notes)
    side = write_sidecar(request.output, document)
    return ConformResult(request.output, side, channels, width, (request.start, request.end), notes)


def _fit_span(audio: np.ndarray, request: ConformRequest) -> tuple[np.ndarray, list[str]]:
    """Cut or pad the resampled stem to the span's length; say what was done."""
    rate = request.sample_rate
    wanted = round((request.end - request.start) * rate)
    have = audio.shape[1]
    span = f"the span {request.start:.3f}–{request.end:.3f} s lasts {wanted / rate:.3f} s"
    if have > wanted:
        note = (
            f"The stem lasts {have / rate:.3f} s but {span}: its last "
            f"{(have - wanted) / rate:.3f} s ({have - wanted} samples) were cut."
        )
        return audio[:, :wanted], [note]
    if have < wanted:
        note = (
            f"The stem lasts {have / rate:.3f} s but {span}: it was padded with "
            f"{(wanted - have) / rate:.3f} s ({wanted - have} samples) of silence at the end."
        )
        return np.pad(audio, ((0, 0), (0, wanted - have))), [note]
    return audio, []


def _sidecar(
    request: ConformRequest,
    channels: int,
    stem_rate: int,
    stem_seconds: float,
    width: float,
    notes: list[str],
) -> dict[str, Any]:
    """The sidecar document of a finished conform job."""
    params = plain_record(request)
    layout = (
        f"L at +{width / 2:g}°, R at -{width / 2:g}° around the path, each at half level"
        if channels == 2
        else (f"spread over a {width:g}° arc around the path" if width else "a point on the path")
    )
    distance = None
    if request.distance is not None:
        _, r, reference = distance_curve(request.distance)
        distance = {
            "reference_size": reference,
            "relative_distance_range": [float(r.min()), float(r.max())],
            "model": DISTANCE_MODEL,
        }
    return {
        **sidecar_header(request.output, "conform"),
        "request": params,
        "source": {
            "stem": str(request.stem),
            "sha256": sha256_of(request.stem),
            "channels": channels,
            "sample_rate": stem_rate,
            "seconds": stem_seconds,
            "start": request.start,
            "end": request.end,
        },
        "delivery": delivery_record(request.convention, request.sample_rate, request.subtype),
        "conform": {"width": width, "layout": layout, "distance": distance, "notes": notes},
    }
