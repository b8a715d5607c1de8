"""A batch job of the service: many shots in one job, run by :mod:`plugin_core.batch`.

The shots are checked when the job is submitted (:func:`.job_schema.batch_from_body`) and
planned again on the worker before any work (request hashes, one model each, no two shots
writing one file), so a batch that cannot run as a whole fails before any shot starts. The
shots then run in order with the queue's warm models; a stem already made for the same
request is skipped, and a shot that fails does not stop the others. Each shot's files appear
whole or not at all; a cancel stops the running shot within a sampling step (nothing of it is
written) and starts no other, so only shots that ended before the cancel keep their stems.

A batch's record holds one overall ``percent`` and a ``shots`` list: each shot's ``shot``
name, ``origin`` ("shot 3"), ``video``, ``output``, ``state`` (queued, running, done,
skipped, failed, cancelled), ``percent``, ``seconds`` and ``reason`` (why it failed).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin_core.batch.commit_journal import finish_commit
from plugin_core.batch.plan import plan_batch
from plugin_core.batch.runner import CANCELLED, NOT_STARTED, ShotResult, run_batch
from plugin_core.batch.shot_list import Shot
from plugin_core.batch.shot_run import scratch_folders, shot_files
from plugin_core.batch.warm_models import WarmModels

INTERRUPTED_BATCH = (
    "The service stopped while this batch ran; shots marked done are whole, the others wrote "
    "nothing. Submit it again: the done shots are skipped."
)


@dataclass
class ShotState:
    """Where one shot of a batch job stands."""

    state: str = "queued"  # queued, running, done, skipped, failed, cancelled
    percent: float = 0.0
    seconds: float | None = None
    output: str | None = None  # the stem, once it is in place
    reason: str | None = None


class BatchRun:
    """The shots of one batch job and where each stands; the progress the runner reports."""

    def __init__(self, shots: Sequence[Shot]) -> None:
        self.shots = list(shots)
        self.states = [ShotState() for _ in self.shots]
        self._changed: Callable[[], None] = lambda: None
        self._current = 0  # the shot running now (shots run one at a time, in order)

    # ------------------------------------------------------------ the record
    def records(self) -> list[dict[str, Any]]:
        """Each shot as the job record lists it."""
        return [
            {
                "shot": shot.name,
                "origin": shot.origin,
                "video": str(shot.request.video),
                "output": str(shot.request.output),
                "state": state.state,
                "percent": round(state.percent, 1),
                "seconds": state.seconds,
                "reason": state.reason,
            }
            for shot, state in zip(self.shots, self.states, strict=True)
        ]

    def fraction(self) -> float:
        """How much of the batch is done, 0 to 1: each shot weighs the same."""
        return sum(s.percent for s in self.states) / (100.0 * max(len(self.states), 1))

    def stage(self) -> str:
        """Which shot runs, as the record's stage says it."""
        shot = self.shots[self._current]
        return f"shot {self._current + 1} of {len(self.shots)}: {shot.name}"

    def outputs(self) -> list[str]:
        """The stems in place (made now or already up to date), in the shots' order."""
        return [s.output for s in self.states if s.output is not None]

    def planned_files(self) -> list[Path]:
        """Every file the batch may write, each shot's stem first."""
        return [
            shot.request.output.parent / name for shot in self.shots for name in shot_files(shot)
        ]

    def summary(self) -> str | None:
        """One sentence when some shots failed; None when none did."""
        failed = sum(s.state == "failed" for s in self.states)
        if not failed:
            return None
        return f"{failed} of {len(self.states)} shots failed; each failed shot gives its reason."

    def cancel_waiting(self) -> None:
        """Every shot that has not started is cancelled (the job was cancelled first)."""
        for state in self.states:
            if state.state == "queued":
                state.state, state.reason = "cancelled", NOT_STARTED

    # ------------------------------------------------------------ running
    def run(
        self,
        models: WarmModels,
        cancelled: Callable[[], bool],
        changed: Callable[[], None],
        shot_ended: Callable[[], None],
    ) -> None:
        """Plan every shot (InputError naming the first that cannot run: nothing started),
        then run them in order; ``changed`` is called on every step, ``shot_ended`` as each
        shot ends."""
        self._changed = changed
        planned = plan_batch(self.shots)
        for index, shot in enumerate(planned):
            self._current = index
            if cancelled():
                self._end(index, ShotResult(shot.name, shot.origin, "cancelled", 0.0, None))
            else:
                run_batch([shot], models, self, lambda _shot: cancelled())
            shot_ended()

    def shot_started(self, shot: Shot) -> None:
        self.states[self._current].state = "running"
        self._changed()

    def shot_step(self, shot: Shot, step: int, steps: int) -> None:
        # one short of whole until the shot's files are in place
        self.states[self._current].percent = min(99.0, 100.0 * step / max(steps, 1))
        self._changed()

    def shot_ended(self, shot: Shot, result: ShotResult) -> None:
        self._end(self._current, result)

    def _end(self, index: int, result: ShotResult) -> None:
        state = self.states[index]
        state.state, state.seconds, state.percent = result.status, result.seconds, 100.0
        state.output = result.output if result.ok else None
        state.reason = CANCELLED if result.status == "cancelled" else result.reason
        self._changed()


def recover_record(record: dict[str, Any]) -> None:
    """A batch record an earlier process left unfinished: a shot cut while its files moved
    finished (done), its shots' scratch folders removed, the shots that had not ended marked
    failed, the job failed with what is still whole. Called before the partial files beside
    the outputs are removed: a cut commit is finished from them."""
    for shot in record.get("shots") or []:
        if not isinstance(shot, dict) or not isinstance(shot.get("output"), str):
            continue
        if shot.get("state") == "running" and finish_commit(Path(shot["output"])):
            shot.update(state="done", percent=100.0, reason=None)
        for folder in scratch_folders(Path(shot["output"])):
            shutil.rmtree(folder, ignore_errors=True)
        if shot.get("state") in ("queued", "running"):
            shot.update(state="failed", reason=INTERRUPTED_BATCH)
    record["outputs"] = [
        s["output"]
        for s in record.get("shots") or []
        if isinstance(s, dict) and s.get("state") in ("done", "skipped")
    ]
    record.update(state="failed", stage="failed", error=INTERRUPTED_BATCH)
