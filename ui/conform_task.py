"""A conform job run from the preview window: find the source (the mark the user clicked, or
the strongest visual action), encode the stem along it, on a worker thread.

The worker reports through Qt signals, which Qt delivers in the window's thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6 import QtCore

from plugin_core.conform.job import ConformRequest, ConformResult, conform_stem
from plugin_core.conform.source import LocatedSource, SourceQuery, locate_source
from plugin_core.errors import InputError
from plugin_core.media.video import probe


@dataclass(frozen=True)
class Mark:
    """A direction (degrees) the user clicked at a video time (seconds)."""

    az: float
    el: float
    time: float


@dataclass(frozen=True)
class ConformDone:
    """What a finished job wrote, and the source it followed."""

    result: ConformResult
    source: LocatedSource


class ConformTask(QtCore.QObject):
    """One conform job on a worker thread; ``progress(stage, step, steps)``, then ``done`` or
    ``failed`` with one sentence."""

    progress = QtCore.Signal(str, int, int)
    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def __init__(
        self,
        video: Path,
        stem: Path,
        output: Path,
        mark: Mark | None,
        sample_rate: int,
        distance: bool = False,
    ) -> None:
        super().__init__()
        self.video, self.stem, self.output, self.mark = video, stem, output, mark
        self.sample_rate, self.distance = sample_rate, distance
        self._thread = threading.Thread(target=self._run, name="omnifoa-conform", daemon=True)

    def start(self) -> None:
        """Start the job; signals follow."""
        self._thread.start()

    def running(self) -> bool:
        """Whether the job is still working."""
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            self.done.emit(self._conform())
        except InputError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # a worker thread must report, not die silently
            self.failed.emit(f"Conform failed: {type(exc).__name__}: {exc}")

    def _conform(self) -> ConformDone:
        duration = probe(self.video).duration
        if self.mark is None:
            query, stage = SourceQuery(auto=True, distance=self.distance), "finding the action"
        else:
            at = (self.mark.az, self.mark.el)
            query = SourceQuery(at=at, time=self.mark.time, distance=self.distance)
            stage = "tracking the mark"
        source = locate_source(
            self.video, query, 0.0, duration, lambda i, n: self.progress.emit(stage, i, n)
        )
        request = ConformRequest(
            stem=self.stem,
            output=self.output,
            path=source.path,
            end=duration,
            distance=source.distance,
            sample_rate=self.sample_rate,
            overwrite=True,  # the save dialog has asked already
            source={"video": str(self.video), "via": "preview", **source.record},
        )
        result = conform_stem(request, lambda i, n: self.progress.emit("encoding", i, n))
        return ConformDone(result, source)
