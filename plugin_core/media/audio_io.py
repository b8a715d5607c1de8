"""Audio files: read and write WAV/FLAC with soundfile, atomically; resample with soxr."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
import soxr

from plugin_core.atomic_files import write_atomic
from plugin_core.errors import InputError
from plugin_core.file_checks import (
    check_complete_riff,
    check_has_samples,
    input_file,
    write_failures,
)

Subtype = Literal["float32", "pcm24", "pcm16"]
_SUBTYPES = {"float32": "FLOAT", "pcm24": "PCM_24", "pcm16": "PCM_16"}
_FORMATS = {".wav": "WAV", ".flac": "FLAC"}


def write_audio(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    sample_rate: int,
    subtype: Subtype = "float32",
    comment: str | None = None,
) -> None:
    """Write audio [C, N] to WAV or FLAC (by extension), atomically.

    FLAC cannot hold float samples: float32 is written to FLAC as 24-bit.
    """
    target = Path(path)
    fmt = _FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise InputError(f"Cannot write {target.name}: use a .wav or .flac file name.")
    if audio.ndim != 2:
        raise ValueError(f"audio must be shaped [channels, samples], got {audio.shape}")
    sf_subtype = _SUBTYPES[subtype]
    if fmt == "FLAC" and sf_subtype == "FLOAT":
        sf_subtype = "PCM_24"
    data = np.ascontiguousarray(audio.T, dtype=np.float32)
    if not np.isfinite(data).all():
        raise InputError(
            f"Nothing was written to {target.name}: the audio holds samples that are not "
            "numbers (NaN or infinity); check the input it was made from."
        )
    if sf_subtype != "FLOAT":
        data = np.clip(data, -1.0, 1.0)

    def write(tmp: Path) -> None:
        with (
            write_failures(target),
            sf.SoundFile(
                tmp,
                "w",
                samplerate=sample_rate,
                channels=audio.shape[0],
                format=fmt,
                subtype=sf_subtype,
            ) as f,
        ):
            if comment:
                f.comment = comment
            f.write(data)

    write_atomic(target, write)


def read_audio(path: str | os.PathLike[str], channels: int | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 [C, N] and its sample rate; check the channel count."""
    p = input_file(path, "audio file")
    check_complete_riff(p)
    try:
        data, rate = sf.read(p, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise InputError(
            f"Cannot read {p.name} as audio ({exc}); give a WAV or FLAC file."
        ) from None
    check_has_samples(p, data.shape[0])
    if channels is not None and data.shape[1] != channels:
        raise InputError(
            f"{p.name} has {data.shape[1]} channel(s) but {channels} are needed"
            + ("; give a 4-channel first-order ambisonic file." if channels == 4 else ".")
        )
    if not np.isfinite(data).all():
        raise InputError(
            f"{p.name} holds samples that are not numbers (NaN or infinity); repair or "
            "re-export it."
        )
    return np.ascontiguousarray(data.T), int(rate)


def audio_channels(path: str | os.PathLike[str]) -> int:
    """How many channels an audio file has, read from its header alone."""
    p = input_file(path, "audio file")
    check_complete_riff(p)
    try:
        return int(sf.info(str(p)).channels)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise InputError(
            f"Cannot read {p.name} as audio ({exc}); give a WAV or FLAC file."
        ) from None


def read_foa(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a 4-channel FOA file as float32 [4, N] and its sample rate."""
    return read_audio(path, channels=4)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample audio [C, N] with soxr (very high quality); channels keep their alignment."""
    if rate_in == rate_out:
        return audio.copy()
    out = soxr.resample(np.ascontiguousarray(audio.T), rate_in, rate_out, quality="VHQ")
    return np.ascontiguousarray(out.T, dtype=audio.dtype)
