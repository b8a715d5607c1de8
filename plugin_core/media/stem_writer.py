"""Streaming stem output: FOA blocks at the model's rate in, a delivery file out, atomically.

Blocks are converted to the delivery convention (AmbiX, or FuMa on request), resampled with a
streaming soxr resampler (so a long span is never held whole) and appended to a temporary
file beside the target, which replaces the target only when :meth:`StemWriter.finish` is
called; an error or an unfinished writer leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np
import soundfile as sf
import soxr

from plugin_core.atomic_files import atomic_output
from plugin_core.errors import InputError
from plugin_core.media.audio_io import Subtype
from plugin_core.spatial.foa import from_ambix

Delivery = Literal["ambix", "fuma"]
_SF_SUBTYPES = {"float32": "FLOAT", "pcm24": "PCM_24", "pcm16": "PCM_16"}
_FORMATS = {".wav": "WAV", ".flac": "FLAC"}


class StemWriter:
    """Write one 4-channel stem block by block; use as a context manager."""

    def __init__(
        self,
        path: Path,
        model_rate: int,
        sample_rate: int,
        subtype: Subtype = "float32",
        convention: Delivery = "ambix",
        comment: str = "",
    ) -> None:
        fmt = _FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise InputError(f"Cannot write {path.name}: use a .wav or .flac file name.")
        sf_subtype = _SF_SUBTYPES[subtype]
        if fmt == "FLAC" and sf_subtype == "FLOAT":
            sf_subtype = "PCM_24"  # FLAC holds integers only
        self.path = path
        self.convention = convention
        self.frames_written = 0
        self._clip = sf_subtype != "FLOAT"
        self._stack = contextlib.ExitStack()
        self._finished = False
        tmp = self._stack.enter_context(atomic_output(path))
        self._file = self._stack.enter_context(
            sf.SoundFile(tmp, "w", sample_rate, 4, sf_subtype, format=fmt)
        )
        if comment:
            self._file.comment = comment
        self._resampler = (
            soxr.ResampleStream(model_rate, sample_rate, 4, dtype="float32", quality="VHQ")
            if model_rate != sample_rate
            else None
        )

    def write(self, ambix: np.ndarray, last: bool = False) -> None:
        """Append AmbiX samples [4, n] at the model's rate (``last`` flushes the resampler)."""
        block = from_ambix(np.asarray(ambix, dtype=np.float32), self.convention)
        frames = np.ascontiguousarray(block.T)
        if self._resampler is not None:
            frames = self._resampler.resample_chunk(frames, last=last)
        if self._clip:
            frames = np.clip(frames, -1.0, 1.0)
        self._file.write(frames)
        self.frames_written += len(frames)

    def finish(self) -> None:
        """Flush and move the finished file onto its path."""
        if self._resampler is not None:
            self.write(np.zeros((4, 0), np.float32), last=True)
        self._finished = True
        self._stack.close()

    def __enter__(self) -> StemWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if not self._finished:  # close the file; atomic_output then removes the temp file
            self._stack.__exit__(RuntimeError, RuntimeError("stem not finished"), None)
