"""The service's job queue: one worker, cancellation within a sampling step, a journal.

A job generates stems, or regenerates part of one stem (new takes, the first chosen); both
write inside one output transaction, so a failed or cancelled job changes no file. A batch job
runs many shots (:mod:`.batch_job`), each shot's files whole or not at all.

Every job's record is written to ``<journal>/<id>.json`` whenever its state changes, so a
service that is killed mid-job finds, on its next start, jobs still marked queued or running:
it marks them failed and removes the partial files their stems left (the ``.partial``
temporaries beside each output). Finished records stay, so clients can still ask about them.

Each job records whose it is (``owner``: the person whose token submitted it; null for the
loopback service's own user). A person sees, waits for and cancels only their own jobs (and
their client keys are theirs alone); the loopback user (``whose`` None) sees every job.
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.family import SamplingCancelled, WeightsCopy
from plugin_core.atomic_files import output_transaction
from plugin_core.batch.warm_models import WarmModels
from plugin_core.errors import InputError, OmnifoaError
from plugin_core.generation.loaded_model import LoadedModel
from plugin_core.generation.outputs import planned_files
from plugin_core.generation.pipeline import generate
from plugin_core.generation.regenerate import RangeEdit, regenerate, written_files
from plugin_core.generation.request import GenerationRequest, request_record
from plugin_core.media.stem_sidecar import sidecar_path
from plugin_core.media.stem_takes import Take
from plugin_core.service.batch_job import BatchRun, recover_record
from plugin_core.service.state_file import write_private_json

FINAL = frozenset({"done", "failed", "cancelled"})
_JOB_ID = re.compile(r"[0-9a-f]{32}")
INTERRUPTED = "The service stopped while this job ran; nothing was written. Submit it again."


class JobCancelled(Exception):
    """Raised inside a running job's progress callback once a cancel was asked for."""


@dataclass
class Job:
    """One job, a generation, (with ``edit``) a regenerate of part of a stem or (with
    ``batch``) a batch of shots, and where it stands."""

    id: str
    request: GenerationRequest  # a regenerate's: its stem's; a batch's: its first shot's
    client_key: str | None = None
    edit: RangeEdit | None = None
    owner: str | None = None  # the person whose token submitted it; None: the local user
    batch: BatchRun | None = None
    state: str = "queued"  # queued, running, done, failed, cancelled
    stage: str = "queued"
    percent: float = 0.0
    eta_s: float | None = None
    error: str | None = None
    outputs: list[str] = field(default_factory=list)
    takes: list[int] = field(default_factory=list)  # the takes a regenerate job added
    plan: list[Path] = field(default_factory=list)  # a regenerate job's files, once it runs
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def planned_outputs(self) -> list[Path]:
        """The files the job may write, the stem first."""
        if self.batch is not None:
            return self.batch.planned_files()
        if self.edit is None:
            return planned_files(self.request.output, self.request.variations)
        return self.plan or [self.edit.stem]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "client_key": self.client_key,
            "state": self.state,
            "stage": self.stage,
            "percent": round(self.percent, 1),
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
            "error": self.error,
            "outputs": self.outputs,
            "sidecars": [str(sidecar_path(Path(p))) for p in self.outputs],
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "request": request_record(self.request),
            "kind": self.kind,
            "edit": None if self.edit is None else edit_record(self.edit),
            "takes": self.takes,
            "shots": None if self.batch is None else self.batch.records(),
        }

    @property
    def kind(self) -> str:
        if self.batch is not None:
            return "batch"
        return "generate" if self.edit is None else "regenerate"


def edit_record(edit: RangeEdit) -> dict[str, Any]:
    """A regenerate job's edit as its record shows it (the request's field names)."""
    return {
        "stem": str(edit.stem),
        "from": edit.start,
        "to": edit.end,
        "seed": edit.seed,
        "takes": edit.takes,
    }


def check_output_folder(request: GenerationRequest) -> None:
    """InputError unless the stem's folder is still the real folder checked at submit (the
    service stores it resolved, so a symlink swapped in since cannot redirect a stem)."""
    folder = request.output.parent
    if folder.is_symlink() or folder.resolve() != folder:
        raise InputError(
            f"The output folder {folder} was changed into a link after the job was submitted; "
            "nothing was written. Submit the job again."
        )


def _recover_commit(record: dict[str, Any], planned: list[Path]) -> None:
    """A job cut while its files were being moved into place: done if the stem and its
    takes are there (saying when the sidecar is missing), failed (and its moved files
    removed) otherwise."""
    audio = [p for p in planned if p.suffix.lower() in (".wav", ".flac")]
    stems = audio[:1]  # the stem; any others are its takes, listed by its sidecar
    replaced = {p: _set_aside(p) for p in [*audio, *map(sidecar_path, stems)]}
    if audio and all(p.is_file() for p in audio):
        missing = [sidecar_path(p).name for p in stems if not sidecar_path(p).is_file()]
        record.update(state="done", stage="done", outputs=[str(p) for p in stems], error=None)
        if missing:  # the stems are whole; say what is not there
            record["error"] = (
                "The service stopped while moving the files into place; sidecar(s) "
                f"{', '.join(missing)} were not written."
            )
        for kept in replaced.values():
            if kept is not None:
                kept.unlink(missing_ok=True)
        return
    for target, kept in replaced.items():  # put back what the cut move had set aside
        if kept is not None:
            os.replace(kept, target)
    record.update(state="failed", stage="failed", error=INTERRUPTED)


def _set_aside(target: Path) -> Path | None:
    """The copy of ``target`` an interrupted move set aside (``.<stem>.*.replaced<suffix>``)."""
    found = sorted(target.parent.glob(f".{target.stem}.*.replaced{target.suffix}"))
    return found[-1] if found else None


def remove_partials(outputs: list[Path]) -> list[Path]:
    """Delete the temporaries an interrupted write left beside ``outputs``; returns them."""
    removed = []
    for out in outputs:
        for name in (out, sidecar_path(out)):
            for tmp in name.parent.glob(f".{name.stem}.*.partial{name.suffix}"):
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


ModelLoader = Callable[[str, str, WeightsCopy], LoadedModel]


class JobQueue:
    """Queued jobs run one at a time on a worker thread, with models kept loaded."""

    def __init__(self, journal: Path, load: ModelLoader, device: str = "auto") -> None:
        self.journal = journal
        self.journal.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._load = load
        self._device = device
        self._models: dict[tuple[str, WeightsCopy], LoadedModel] = {}
        self._jobs: dict[str, Job] = {}
        self._by_key: dict[tuple[str | None, str], str] = {}  # (owner, client key) → id
        self._records: dict[str, dict[str, Any]] = {}  # finished jobs of earlier runs
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)  # notified whenever a job ends
        self._closed = False
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._recover()
        self._worker = threading.Thread(target=self._run, name="omnifoa-worker", daemon=True)
        self._worker.start()

    # ---------------------------------------------------------------- journal
    def _recover(self) -> None:
        """Mark jobs an earlier process left unfinished as failed and clean their files; a job
        cut while its files were being moved into place is reported with what is there; a
        record that cannot be read is set aside (``.bad``) and named, the service starts."""
        for path in sorted(self.journal.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(record, dict) or not _JOB_ID.fullmatch(str(record.get("id"))):
                    raise ValueError("not a job record")
            except (OSError, ValueError, RecursionError):
                aside = path.with_suffix(".bad")
                path.replace(aside)
                print(f"omnifoa: journal record {path.name} is unreadable; set aside as {aside}")
                continue
            if record.get("state") not in FINAL:
                planned = [Path(p) for p in record.get("planned", []) if isinstance(p, str)]
                if record.get("kind") == "batch":
                    recover_record(record)  # first: a shot's cut commit needs its partials
                    remove_partials(planned)
                elif record.get("stage") == "committing":
                    remove_partials(planned)
                    _recover_commit(record, planned)
                else:
                    remove_partials(planned)
                    record.update(state="failed", stage="failed", error=INTERRUPTED)
                record["finished"] = time.time()
                write_private_json(path, record)
            self._records[record["id"]] = record
            if isinstance(record.get("client_key"), str):
                self._by_key[(record.get("owner"), record["client_key"])] = record["id"]

    # ---------------------------------------------------------------- API
    def submit(
        self,
        request: GenerationRequest,
        client_key: str | None,
        edit: RangeEdit | None = None,
        owner: str | None = None,
        batch: BatchRun | None = None,
    ) -> tuple[dict, bool]:
        """Queue ``owner``'s job (with ``edit``: a regenerate of part of the stem ``request``
        made; with ``batch``: its shots, ``request`` the first's); the same owner's client key
        again returns the first job. (record, created)"""
        with self._lock:
            if client_key is not None and (owner, client_key) in self._by_key:
                return self._record(self._by_key[(owner, client_key)]), False
            job = Job(uuid.uuid4().hex, request, client_key, edit, owner, batch)
            self._jobs[job.id] = job
            if client_key is not None:
                self._by_key[(owner, client_key)] = job.id
            self._save_with_plan(job)
        self._queue.put(job.id)
        return job.to_json(), True

    def find_key(self, client_key: str, owner: str | None) -> dict[str, Any] | None:
        """The job ``owner`` submitted earlier with this client key, if any."""
        with self._lock:
            job_id = self._by_key.get((owner, client_key))
            return None if job_id is None else self._record(job_id)

    def _save_with_plan(self, job: Job) -> None:
        record = job.to_json()
        record["planned"] = [str(p) for p in job.planned_outputs()]
        write_private_json(self.journal / f"{job.id}.json", record)

    def _record(self, job_id: str) -> dict[str, Any]:
        if job_id in self._jobs:
            return self._jobs[job_id].to_json()
        return self._records[job_id]

    def _sees(self, job_id: str, whose: str | None) -> bool:
        """Whether there is a job ``job_id`` that ``whose`` may see (None: every job)."""
        if job_id in self._jobs:
            owner = self._jobs[job_id].owner
        elif job_id in self._records:
            owner = self._records[job_id].get("owner")
        else:
            return False
        return whose is None or owner == whose

    def get(self, job_id: str, whose: str | None) -> dict[str, Any] | None:
        """The job's record, if ``whose`` may see it."""
        with self._lock:
            return self._record(job_id) if self._sees(job_id, whose) else None

    def wait_final(self, job_id: str, seconds: float, whose: str | None) -> dict[str, Any] | None:
        """The job's record once it has ended, or after ``seconds``, or as the queue closes
        (None: no such job that ``whose`` may see)."""
        deadline = time.monotonic() + seconds
        with self._ended:
            while True:
                if not self._sees(job_id, whose):
                    return None
                record = self._record(job_id)
                left = deadline - time.monotonic()
                if record["state"] in FINAL or left <= 0 or self._closed:
                    return record
                self._ended.wait(left)

    def list(self, whose: str | None) -> list[dict[str, Any]]:
        """The records of the jobs ``whose`` may see."""
        with self._lock:
            records = [*self._records.values(), *(j.to_json() for j in self._jobs.values())]
        return [r for r in records if whose is None or r.get("owner") == whose]

    def cancel(self, job_id: str, whose: str | None) -> dict[str, Any] | None:
        """Ask a job to stop: a queued one ends at once, a running one within a step (None:
        no such job that ``whose`` may see)."""
        with self._lock:
            if not self._sees(job_id, whose):
                return None
            job = self._jobs.get(job_id)
            if job is None:
                return self._records.get(job_id)
            if job.state not in FINAL:
                job.cancel.set()
                if job.state == "queued":
                    if job.batch is not None:
                        job.batch.cancel_waiting()
                    self._finish(job, "cancelled", None)
            return job.to_json()

    def loaded_models(self) -> list[str]:
        return sorted({model_id for model_id, _ in self._models})

    def close(self) -> None:
        """Stop the worker after the jobs already queued; whoever waits for a job is answered
        now."""
        with self._ended:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
            self._ended.notify_all()

    # ---------------------------------------------------------------- worker
    def _finish(self, job: Job, state: str, error: str | None) -> None:
        job.state = job.stage = state
        job.error = error
        job.finished = time.time()
        job.eta_s = 0.0 if state == "done" else None
        self._save_with_plan(job)
        self._ended.notify_all()

    def _model(self, request: GenerationRequest) -> LoadedModel:
        return self._kept(request.model, self._device, "ema" if request.ema else "model")

    def _kept(self, model_id: str, device: str, weights: WeightsCopy) -> LoadedModel:
        """The model, loaded on ``device`` the first time, then kept for every later job."""
        key: tuple[str, WeightsCopy] = (model_id, weights)
        if key not in self._models:
            self._models[key] = self._load(model_id, device, weights)
        return self._models[key]

    def _run(self) -> None:
        while (job_id := self._queue.get()) is not None:
            with self._lock:
                job = self._jobs[job_id]
                if job.state != "queued":
                    continue
                job.state, job.stage, job.started = "running", "loading model", time.time()
                self._save_with_plan(job)
            if job.batch is None:
                self._execute(job)
            else:
                self._execute_batch(job, job.batch)

    def _execute(self, job: Job) -> None:
        def progress(step: int, steps: int) -> None:
            if job.cancel.is_set():
                raise JobCancelled
            elapsed = time.time() - (job.started or time.time())
            job.stage, job.percent = "generating", 100.0 * step / max(steps, 1)
            job.eta_s = elapsed * (steps - step) / step if step else None

        made: list[Take] = []
        try:
            if job.cancel.is_set():
                raise JobCancelled
            if job.edit is not None:
                plan = written_files(job.edit)  # the takes it adds, as the stem has them now
                with self._lock:
                    job.plan = plan
                    self._save_with_plan(job)
            loaded = self._model(job.request)
            progress(0, 1)
            with output_transaction():  # the stems and sidecars appear together, or none
                check_output_folder(job.request)
                if job.edit is None:
                    generate(job.request, loaded, progress, job.cancel.is_set)
                else:
                    made = regenerate(job.edit, loaded, progress, job.cancel.is_set)
                check_output_folder(job.request)  # no link retargeted while it ran
                with self._lock:
                    job.stage = "committing"  # a crash from here on is recovered as such
                    self._save_with_plan(job)
        except (JobCancelled, SamplingCancelled):
            with self._lock:
                self._finish(job, "cancelled", None)
            return
        except OmnifoaError as exc:
            with self._lock:
                self._finish(job, "failed", str(exc))
            return
        except Exception as exc:  # a bug must not kill the worker; the job reports it
            traceback.print_exc()
            with self._lock:
                self._finish(job, "failed", f"Internal error: {exc!r}")
            return
        with self._lock:
            job.outputs = [str(job.request.output)]  # the stem (its takes: its sidecar)
            job.takes = [take.number for take in made]
            job.percent = 100.0
            self._finish(job, "done", None)

    def _execute_batch(self, job: Job, batch: BatchRun) -> None:
        """Run a batch job's shots (see :mod:`.batch_job`); the journal records each shot's
        end. Done when every shot ran (each says how it ended), cancelled on a cancel, failed
        when the shots could not be planned (nothing started)."""

        def changed() -> None:
            job.stage = batch.stage()
            job.percent = 100.0 * batch.fraction()
            elapsed = time.time() - (job.started or time.time())
            fraction = batch.fraction()
            job.eta_s = elapsed * (1 - fraction) / fraction if fraction else None

        def shot_ended() -> None:
            with self._lock:
                self._save_with_plan(job)

        job.stage = "checking shots"
        try:
            batch.run(WarmModels(self._device, self._kept), job.cancel.is_set, changed, shot_ended)
        except OmnifoaError as exc:
            with self._lock:
                self._finish(job, "failed", f"{exc} Nothing was made.")
            return
        except Exception as exc:  # a bug must not kill the worker; the job reports it
            traceback.print_exc()
            with self._lock:
                self._finish(job, "failed", f"Internal error: {exc!r}")
            return
        with self._lock:
            job.outputs = batch.outputs()
            if job.cancel.is_set():
                self._finish(job, "cancelled", None)
            else:
                job.percent = 100.0
                self._finish(job, "done", batch.summary())
