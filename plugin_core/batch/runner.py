"""The local batch runner: planned shots in order on one device, one warm model per model id.

A shot that fails (a video FFmpeg cannot read, a cancel, too little memory) is reported with
its one-sentence reason and the next shot runs; only an interrupt (Ctrl-C) stops the batch.
Each shot's files appear whole or not at all (:mod:`plugin_core.batch.shot_run`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import torch

from models.family import SamplingCancelled
from plugin_core.batch.shot_list import Shot
from plugin_core.batch.shot_run import run_shot
from plugin_core.batch.warm_models import WarmModels
from plugin_core.errors import OmnifoaError

Status = Literal["done", "skipped", "failed", "cancelled"]
CANCELLED = "Cancelled; nothing of this shot was written."
NOT_STARTED = "Not started: the batch was stopped before this shot."
OUT_OF_MEMORY = (
    "The device ran out of memory for this shot; run it alone, on the CPU (--device cpu) or "
    "with a shorter span."
)


@dataclass(frozen=True)
class ShotResult:
    """How one shot ended: its stem, or the one sentence that says why not."""

    shot: str
    origin: str
    status: Status
    seconds: float
    output: str | None = None  # the stem (done or skipped)
    reason: str | None = None  # failed or cancelled
    video_from: str | None = None  # a farm shot: its video read from "shared" or "shipped"

    @property
    def ok(self) -> bool:
        """Whether the shot's stem is in place."""
        return self.status in ("done", "skipped")


class BatchProgress(Protocol):
    """What a runner reports while it works (a CLI's bars, a service's job record)."""

    def shot_started(self, shot: Shot) -> None: ...

    def shot_step(self, shot: Shot, step: int, steps: int) -> None: ...

    def shot_ended(self, shot: Shot, result: ShotResult) -> None: ...


def default_reason(error: BaseException) -> str:
    """A failure in one sentence: an omnifoa error's own, else the exception named."""
    if isinstance(error, OmnifoaError):
        return str(error)
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def run_batch(
    shots: Sequence[Shot],
    models: WarmModels,
    progress: BatchProgress | None = None,
    cancel: Callable[[Shot], bool] | None = None,
    reason: Callable[[BaseException], str] = default_reason,
) -> list[ShotResult]:
    """Run every shot that is not up to date, in order; one result per shot, in order.
    ``cancel(shot)`` is asked before a shot starts and while it runs (True cancels that shot:
    a batch stopped by its user starts no further shot), ``reason`` turns a failure into its
    sentence."""
    results = []
    for shot in shots:
        if progress is not None:
            progress.shot_started(shot)
        if cancel is not None and not shot.up_to_date and cancel(shot):
            result = ShotResult(shot.name, shot.origin, "cancelled", 0.0, reason=NOT_STARTED)
        else:
            result = _run_one(shot, models, progress, cancel, reason)
        if progress is not None:
            progress.shot_ended(shot, result)
        results.append(result)
    return results


def _run_one(
    shot: Shot,
    models: WarmModels,
    progress: BatchProgress | None,
    cancel: Callable[[Shot], bool] | None,
    reason: Callable[[BaseException], str],
) -> ShotResult:
    output = str(shot.request.output)
    if shot.up_to_date:
        return ShotResult(shot.name, shot.origin, "skipped", 0.0, output)
    began = time.monotonic()

    def seconds() -> float:
        return round(time.monotonic() - began, 3)

    def step(done: int, steps: int) -> None:
        if progress is not None:
            progress.shot_step(shot, done, steps)

    try:
        loaded = models.get(shot.request)
        run_shot(shot, loaded, step, None if cancel is None else lambda: cancel(shot))
    except SamplingCancelled:
        return ShotResult(shot.name, shot.origin, "cancelled", seconds(), reason=CANCELLED)
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()  # the next shot gets the memory this one held
        return ShotResult(shot.name, shot.origin, "failed", seconds(), reason=OUT_OF_MEMORY)
    except Exception as exc:
        return ShotResult(shot.name, shot.origin, "failed", seconds(), reason=reason(exc))
    return ShotResult(shot.name, shot.origin, "done", seconds(), output)
