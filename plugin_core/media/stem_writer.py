"""Streaming stem output: FOA blocks at the model's rate in, a delivery file out, atomically.

Two passes, so the whole stem can get one gain that depends on all of it: blocks are
converted to the delivery convention (AmbiX, or FuMa on request), resampled with a streaming
soxr resampler and appended to a float32 scratch file (the stem is never held whole); then
:meth:`StemWriter.finish` reads the scratch file back block by block, applies the gain,
writes the delivery sample format to a temporary file beside the target and renames it onto
the target. An error or an unfinished writer leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np
import soundfile as sf
import soxr

from plugin_core.atomic_files import atomic_output
from plugin_core.errors import InputError
from plugin_core.file_checks import write_failures
from plugin_core.media.audio_io import Subtype
from plugin_core.spatial.foa import from_ambix

Delivery = Literal["ambix", "fuma"]
_SF_SUBTYPES = {"float32": "FLOAT", "pcm24": "PCM_24", "pcm16": "PCM_16"}
_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
_BLOCK = 1 << 16  # frames per read of the second pass


class StemAbandoned(Exception):
    """The stem was not written: the caller's ``stop()`` said so while it was written."""


class StemWriter:
    """Write one 4-channel stem block by block, then once more with its gain; use as a
    context manager."""

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
        self._format, self._subtype, self._comment = fmt, sf_subtype, comment
        self._rate = sample_rate
        self._finished = False
        self._stack = contextlib.ExitStack()
        scratch = self._stack.enter_context(atomic_output(path.with_name(path.name + ".raw.wav")))
        self._scratch_path = scratch
        with write_failures(path):
            self._scratch = self._stack.enter_context(
                sf.SoundFile(scratch, "w", sample_rate, 4, "FLOAT", format="WAV")
            )
        self._resampler = (
            soxr.ResampleStream(model_rate, sample_rate, 4, dtype="float32", quality="VHQ")
            if model_rate != sample_rate
            else None
        )

    def write(self, ambix: np.ndarray, last: bool = False) -> None:
        """Append AmbiX samples [4, n] at the model's rate (``last`` flushes the resampler)."""
        if not np.isfinite(ambix).all():
            raise InputError(
                f"Nothing was written to {self.path.name}: the model produced samples that are "
                "not numbers (NaN or infinity); check its weights and the guidance scale."
            )
        block = from_ambix(np.asarray(ambix, dtype=np.float32), self.convention)
        frames = np.ascontiguousarray(block.T)
        if self._resampler is not None:
            frames = self._resampler.resample_chunk(frames, last=last)
        with write_failures(self.path):
            self._scratch.write(frames)
        self.frames_written += len(frames)

    def finish(self, gain_db: float = 0.0, stop: Callable[[], bool] | None = None) -> None:
        """Write the stem with ``gain_db`` on every sample and move it onto its path.
        ``stop()`` is asked before every block written; when it says so, StemAbandoned is
        raised and nothing is left behind."""
        if self._resampler is not None:
            self.write(np.zeros((4, 0), np.float32), last=True)
        self._scratch.close()
        gain = np.float32(10 ** (gain_db / 20))
        clip = self._subtype != "FLOAT"
        with (
            write_failures(self.path),
            atomic_output(self.path) as tmp,
            sf.SoundFile(tmp, "w", self._rate, 4, self._subtype, format=self._format) as out,
            sf.SoundFile(self._scratch_path) as raw,
        ):
            if self._comment:
                out.comment = self._comment
            for block in raw.blocks(_BLOCK, dtype="float32"):
                if stop is not None and stop():
                    raise StemAbandoned(self.path)
                block = block * gain
                out.write(np.clip(block, -1.0, 1.0) if clip else block)
        self._finished = True
        self._stack.__exit__(RuntimeError, RuntimeError("scratch file done"), None)

    def __enter__(self) -> StemWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if not self._finished:  # close the scratch file; atomic_output then removes it
            self._stack.__exit__(RuntimeError, RuntimeError("stem not finished"), None)
