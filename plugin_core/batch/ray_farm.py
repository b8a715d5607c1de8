"""The render-farm runner: a batch's shots on a Ray cluster, committed on this machine.

A pool of Ray actors (:class:`~plugin_core.batch.farm_worker.ShotWorker`), one per GPU of the
cluster (one per CPU where it has none), each holding warm models; each shot goes to the next
free actor (``ray.wait`` on the actors' tasks), its files come back as bytes through Ray's
object store and this process, which owns the outputs, writes them with
:func:`~plugin_core.batch.shot_run.commit_shot`, the same all-or-nothing commit as a local
run. A worker process that dies is restarted by Ray and its shot retried by Ray
(``max_restarts`` and ``max_task_retries``, :data:`RETRIES` each); a shot that still fails is
a failed row and nothing of it is written. Progress is per shot (started when an actor takes
it, ended when its files are committed); results, table and report are the local runner's.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from plugin_core.batch.farm_worker import MadeShot, ShotWorker, VideoCopy
from plugin_core.batch.runner import OUT_OF_MEMORY, BatchProgress, ShotResult, default_reason
from plugin_core.batch.shot_list import Shot
from plugin_core.batch.shot_run import commit_shot, scratch_folder, shot_files
from plugin_core.batch.warm_models import Loader
from plugin_core.errors import InputError
from plugin_core.generation.file_hashes import file_sha256

CONNECT_SECONDS = 5.0
RETRIES = 2  # restarts of a dead worker, and retries of the shot it was making
NO_RAY = "Running on a Ray cluster needs Ray: install omnifoa[farm] (pip install 'omnifoa[farm]')."
_DIED = (
    f"The Ray worker making this shot died, and again on each of {RETRIES} retries; "
    "nothing of it was written."
)
_NO_WORKER = "No Ray worker was left to make this shot; nothing of it was written."


def check_address(address: str) -> None:
    """InputError unless Ray is installed and ``address`` is ``local``, ``auto`` or a
    ``[ray://]HOST:PORT`` that answers (Ray itself would retry for minutes)."""
    import_ray()
    if address in ("local", "auto"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray takes local, auto or HOST:PORT (the Ray head's), not {address!r}.")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except (OSError, ValueError) as exc:
        raise InputError(
            f"Cannot reach the Ray cluster at {address} ({exc}); start it with "
            "`ray start --head` there, or give its head's address."
        ) from None


def import_ray() -> Any:
    """The ``ray`` module; InputError (install omnifoa[farm]) where it is not installed."""
    try:
        import ray
    except ImportError:
        raise InputError(NO_RAY) from None
    return ray


@contextlib.contextmanager
def ray_cluster(address: str) -> Iterator[None]:
    """Connected to the Ray cluster at ``address`` (``local``: a new one on this machine, ended
    with the block) for the ``with`` block; a process already connected stays on its cluster."""
    ray = import_ray()
    if ray.is_initialized():
        yield
        return
    try:
        ray.init(address=address, include_dashboard=False, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise InputError(
            f"Cannot reach the Ray cluster at {address} ({' '.join(str(exc).split())[:200]}); "
            "start it with `ray start --head` or give its address."
        ) from None
    try:
        yield
    finally:
        ray.shutdown()


def _workers(ray: Any, device: str, wanted: int, load: Loader | None) -> list[Any]:
    """The actors: one per GPU of the cluster (``device`` not cpu), else one per CPU."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0)) if device != "cpu" else 0
    count = gpus or int(resources.get("CPU", 0))
    if count == 0:
        raise InputError("The Ray cluster has no CPU or GPU for a worker; add a node to it.")
    options: dict[str, Any] = {"num_cpus": 1, "num_gpus": 1 if gpus else 0}
    actor = ray.remote(max_restarts=RETRIES, max_task_retries=RETRIES)(ShotWorker)
    return [
        actor.options(**options).remote(device if gpus else "cpu", load)
        for _ in range(min(count, wanted))
    ]


class _Videos:
    """Each video's identity as this machine sees it, and its shipped bytes once needed."""

    def __init__(self, ray: Any, ship: bool) -> None:
        self._ray = ray
        self._ship = ship
        self._copies: dict[Path, VideoCopy] = {}

    def copy(self, video: Path) -> VideoCopy:
        if video not in self._copies:
            size = video.stat().st_size
            self._copies[video] = VideoCopy(video, size, file_sha256(video), shared=not self._ship)
            if self._ship:
                self.ship(video)
        return self._copies[video]

    def ship(self, video: Path) -> None:
        """Put the video's bytes in Ray's object store for workers that cannot see it."""
        found = self._copies[video]
        if not found.shipped:
            ref = self._ray.put(video.read_bytes())
            self._copies[video] = replace(found, shipped=(ref,))


def _failed(shot: Shot, seconds: float, sentence: str) -> ShotResult:
    return ShotResult(shot.name, shot.origin, "failed", seconds, reason=sentence)


def _commit(shot: Shot, made: MadeShot) -> None:
    """Write the worker's files into a scratch folder beside the output and commit them; only
    the names the shot makes are ever written (InputError for anything else)."""
    expected = shot_files(shot)
    if sorted(made.files) != sorted(expected):
        raise InputError(f"The files made for {shot.name} are not the ones a shot makes.")
    scratch = scratch_folder(shot.request.output)  # as a local run's, so its clean-ups find it
    try:
        for name in expected:
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            (scratch / name).write_bytes(made.files[name])
        commit_shot(shot, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _failure(ray: Any, error: BaseException, reason: Callable[[BaseException], str]) -> str:
    """The sentence of a shot whose task raised ``error``."""
    if isinstance(error, ray.exceptions.RayActorError):
        return _DIED
    cause = getattr(error, "cause", None)  # a RayTaskError's: what the worker raised
    if isinstance(cause, torch.cuda.OutOfMemoryError):
        return OUT_OF_MEMORY
    return reason(cause if isinstance(cause, BaseException) else error)


def _outcome(
    ray: Any, task: Any, shot: Shot, seconds: float, reason: Callable[[BaseException], str]
) -> ShotResult | None:
    """How the actor's ``task`` for ``shot`` ended, its files committed; None when the worker
    could not see the video (the caller ships it and gives the shot out again)."""
    try:
        made: MadeShot | None = ray.get(task)
        if made is None:
            return None
        _commit(shot, made)
    except Exception as exc:
        return _failed(shot, seconds, _failure(ray, exc, reason))
    output = str(shot.request.output)
    return ShotResult(shot.name, shot.origin, "done", seconds, output, video_from=made.video_from)


def run_on_ray(
    shots: Sequence[Shot],
    device: str = "auto",
    progress: BatchProgress | None = None,
    reason: Callable[[BaseException], str] = default_reason,
    ship_videos: bool = False,
    load: Loader | None = None,
) -> list[ShotResult]:
    """Run every shot that is not up to date on the connected Ray cluster (see
    :func:`ray_cluster`); one result per shot, in order, as the local ``run_batch``.
    ``ship_videos`` sends every video through the object store without first trying shared
    storage; ``load`` is how workers load a model (default: ``load_model``)."""
    ray = import_ray()
    results: dict[int, ShotResult] = {}

    def start(index: int) -> None:
        if progress is not None:
            progress.shot_started(shots[index])

    def end(index: int, result: ShotResult) -> None:
        results[index] = result
        if progress is not None:
            progress.shot_ended(shots[index], result)

    waiting: deque[int] = deque()
    for index, shot in enumerate(shots):
        if shot.up_to_date:
            start(index)
            end(index, ShotResult(shot.name, shot.origin, "skipped", 0.0, str(shot.request.output)))
        else:
            waiting.append(index)
    videos = _Videos(ray, ship_videos)
    actors = _workers(ray, device, len(waiting), load) if waiting else []
    idle = list(actors)
    running: dict[Any, tuple[Any, int]] = {}  # an actor's task → the actor, the shot
    began: dict[int, float] = {}
    try:
        while waiting or running:
            while waiting and idle:
                index, actor = waiting.popleft(), idle.pop()
                if index not in began:
                    began[index] = time.monotonic()
                    start(index)
                try:  # the video's identity, or bytes (once a worker did not see it)
                    video = videos.copy(shots[index].request.video)
                except (OSError, ray.exceptions.RayError) as exc:  # gone since the plan, say
                    idle.append(actor)
                    end(index, _failed(shots[index], 0.0, _failure(ray, exc, reason)))
                    continue
                running[actor.make.remote(shots[index], video)] = (actor, index)
            if not running:  # every actor is gone: nothing can make the shots left
                for index in waiting:
                    end(index, _failed(shots[index], 0.0, _NO_WORKER))
                break
            [task], _ = ray.wait(list(running), num_returns=1)
            actor, index = running.pop(task)
            seconds = round(time.monotonic() - began[index], 3)
            result = _outcome(ray, task, shots[index], seconds, reason)
            if result is None or result.reason != _DIED:
                idle.append(actor)  # a dead actor (out of restarts) takes no more shots
            if result is None:  # the worker does not see the video: ship it, go again
                try:
                    videos.ship(shots[index].request.video)
                    waiting.appendleft(index)
                except (OSError, ray.exceptions.RayError) as exc:
                    end(index, _failed(shots[index], seconds, _failure(ray, exc, reason)))
            else:
                end(index, result)
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)
    return [results[i] for i in range(len(shots))]


def video_summary(results: Sequence[ShotResult]) -> str:
    """One line: how many shots read their video from shared storage, how many were sent it."""
    shared = sum(r.video_from == "shared" for r in results)
    shipped = sum(r.video_from == "shipped" for r in results)
    return (
        f"videos: {shared} shot(s) read from shared storage, "
        f"{shipped} shipped through Ray's object store"
    )
