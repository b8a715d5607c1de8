"""Worker threads for the calls that can take long: reach (or start) the service and submit a
job (on a studio server: upload the video, follow the job, download its stem), hand a job's
stems to REAPER, and look up the service's models (their camera FoVs).

They do HTTP and nothing else (no bpy: this module does not import it). Each call gets a
ticket; its outcomes go into a thread-safe queue that the main thread drains with
:func:`take_outcomes` (a timer, see :mod:`.pending`). Tickets are started and retired on the
main thread only.
"""

from __future__ import annotations

import http.client
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .remote_server import Remote, TransferFailed, download, file_sha256, upload
from .service_link import (
    ServiceBusy,
    ServiceLink,
    ServiceRefused,
    ServiceUnavailable,
    check_schema,
)
from .service_start import reach_service

SUBMIT_TIMEOUT = 15.0  # the service checks the video before it answers
REAPER_TIMEOUT = 60.0  # the service waits for REAPER's acknowledgement before it answers
MODELS_TIMEOUT = 3.0  # a short list; a submit does not wait longer on it

PROGRESS, MODELS, SENT = "progress", "models", "sent"  # news on the way; not final
SUBMITTED, HANDED, LISTED, FAILED = "submitted", "handed", "listed", "failed"  # final
DOWNLOADED, ENDED = "downloaded", "ended"  # final: a server's job brought down, or not done
FOLLOW_WAIT = 5.0  # how long one long-poll of a server's job lets the server hold the answer


@dataclass(frozen=True)
class Outcome:
    """What a worker hands back: progress (a message), or its one final result."""

    ticket: str
    # PROGRESS, MODELS (data: GET /v1/models), SUBMITTED (data: the job record), HANDED
    # (data: the ack), LISTED (a model look-up ended), FAILED; a server's job: SENT (data:
    # its record; the worker follows it on), DOWNLOADED (data: "stems", local paths), ENDED
    kind: str
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.kind not in (PROGRESS, MODELS, SENT)


_outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
_started: dict[str, float] = {}  # ticket -> monotonic start time (main thread only)


def in_flight(ticket: str) -> bool:
    """Whether the worker holding ``ticket`` has not yet handed back its final outcome."""
    return bool(ticket) and ticket in _started


def any_in_flight() -> bool:
    return bool(_started)


def seconds_since_start(ticket: str) -> float:
    return time.monotonic() - _started.get(ticket, time.monotonic())


def take_outcomes() -> list[Outcome]:
    """Every outcome handed back so far, oldest first; final ones retire their ticket."""
    taken = []
    while True:
        try:
            outcome = _outcomes.get_nowait()
        except queue.Empty:
            return taken
        if outcome.final:
            _started.pop(outcome.ticket, None)
        taken.append(outcome)


def _run(ticket: str, work: Callable[[], None]) -> None:
    """Run ``work`` on a daemon thread; whatever it raises becomes a FAILED outcome."""

    def body() -> None:
        try:
            work()
        except (ServiceUnavailable, ServiceRefused) as exc:
            _outcomes.put(Outcome(ticket, FAILED, str(exc)))
        except Exception as exc:  # a bug must still end the wait, with its text
            _outcomes.put(Outcome(ticket, FAILED, f"omnifoa add-on error: {exc!r}"))

    _started[ticket] = time.monotonic()
    threading.Thread(target=body, name=f"omnifoa-{ticket[:8]}", daemon=True).start()


def _put_models(ticket: str, link: ServiceLink) -> None:
    """Hand back the service's model list, when it gives it (a job does not wait on it)."""
    try:
        document = link.models(MODELS_TIMEOUT)
    except (ServiceUnavailable, ServiceRefused):
        return
    if isinstance(document, dict):
        _outcomes.put(Outcome(ticket, MODELS, data=document))


def look_up_models_in_background(link: ServiceLink) -> str:
    """Ask the (running) service for its models; returns the ticket. Never starts it."""
    ticket = uuid.uuid4().hex

    def work() -> None:
        _put_models(ticket, link)
        _outcomes.put(Outcome(ticket, LISTED))

    _run(ticket, work)
    return ticket


def submit_in_background(
    link: ServiceLink, job: dict[str, Any], executable: str, endpoint: str = "/v1/jobs"
) -> str:
    """Reach the service (starting it from ``executable`` if needed), check its job schema,
    submit ``job`` to ``endpoint``; returns the ticket."""
    ticket = uuid.uuid4().hex

    def work() -> None:
        if link.remote is not None:
            _server_job(ticket, link, link.remote, job, endpoint)
            return

        def starting() -> None:
            _outcomes.put(Outcome(ticket, PROGRESS, "starting the omnifoa service…"))

        check_schema(reach_service(link, executable, starting))
        _put_models(ticket, link)
        _outcomes.put(Outcome(ticket, PROGRESS, "sending the job to the omnifoa service…"))
        body = {**job, "client_key": ticket}  # a retry finds the same job, never a second
        try:
            record = link.submit(body, SUBMIT_TIMEOUT, endpoint)
        except ServiceBusy:
            record = link.submit(body, SUBMIT_TIMEOUT, endpoint)
        _outcomes.put(Outcome(ticket, SUBMITTED, data=record))

    _run(ticket, work)
    return ticket


def _server_job(
    ticket: str, link: ServiceLink, remote: Remote, job: dict[str, Any], endpoint: str
) -> None:
    """A job on a studio server: the strip's video uploaded, the job submitted and followed
    to its end, its stem downloaded into the job's (local) output folder."""
    if endpoint != "/v1/jobs":
        raise ServiceRefused(
            "A studio server takes one strip at a time from Blender; choose 'This computer' "
            "in the add-on preferences for a batch or new takes."
        )
    check_schema(link.health())
    _put_models(ticket, link)
    body = dict(job)
    folder, video = Path(body.pop("output_dir")), Path(body.pop("video"))
    for name in (body["name"], body["name"] + ".json"):
        if (folder / name).exists():  # refused before a byte is sent
            raise ServiceRefused(f"{folder / name} exists already; change the seed or move it.")

    def sent(done: int, size: int) -> None:
        percent = 100 * done // max(size, 1)
        _outcomes.put(Outcome(ticket, PROGRESS, f"uploading the video… {percent}%"))

    try:
        digest = file_sha256(video)  # the bytes uploaded: the sidecar must record them
        body["upload"] = upload(remote, video, sent, digest)
        record = link.submit({**body, "client_key": ticket}, SUBMIT_TIMEOUT)
        _outcomes.put(Outcome(ticket, SENT, data=record))
        while record["state"] not in ("done", "failed", "cancelled"):
            query = f"/v1/jobs/{record['id']}?wait={FOLLOW_WAIT:g}"
            record = link.call("GET", query, timeout=FOLLOW_WAIT + SUBMIT_TIMEOUT)["job"]
        if record["state"] != "done":  # the poll timer tells the scene
            _outcomes.put(Outcome(ticket, ENDED))
            return
        files = download(remote, record["id"], folder, body["name"], video, digest)
    except (TransferFailed, OSError, http.client.HTTPException) as exc:
        raise ServiceUnavailable(
            f"The transfer with the server at {remote.url} failed: {exc}"
        ) from None
    _outcomes.put(Outcome(ticket, DOWNLOADED, data={"stems": [str(files[0])]}))


def not_sent_to_reaper(exc: ServiceUnavailable) -> ServiceUnavailable:
    """``exc`` (the service is not running) said as why the stems did not go to REAPER."""
    text = str(exc)
    return ServiceUnavailable(f"Not sent to REAPER: {text[:1].lower()}{text[1:]}")


def hand_to_reaper_in_background(link: ServiceLink, job_id: str, port: int) -> str:
    """Ask the service to hand ``job_id``'s stems to REAPER on ``port``; returns the ticket."""
    ticket = uuid.uuid4().hex

    def work() -> None:
        try:
            ack = link.to_reaper(job_id, port, REAPER_TIMEOUT)
        except ServiceBusy:
            raise ServiceBusy(
                f"REAPER has not answered within {REAPER_TIMEOUT:g} s (the omnifoa service is "
                "still waiting for it); check that REAPER is running, then send again."
            ) from None
        except ServiceUnavailable as exc:
            raise not_sent_to_reaper(exc) from None
        _outcomes.put(Outcome(ticket, HANDED, data=ack))

    _run(ticket, work)
    return ticket
