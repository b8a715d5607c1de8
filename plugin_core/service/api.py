"""The service's HTTP API: a Starlette application, JSON in and out.

Routes (all under ``/v1``, all needing ``Authorization: Bearer <token>``):
``GET health``, ``GET schema`` (the job fields, their defaults and ranges), ``GET
openapi.json`` (the job API as an OpenAPI document), ``GET models``,
``GET jobs``, ``POST jobs``, ``POST regenerate`` (a job of new takes for a range of a stem),
``POST batches`` (one job of many shots, each a ``POST jobs`` body; at most 16 MiB),
``GET jobs/<id>`` (``?wait=S``: answered when the job ends or after S ≤ 10 seconds, so a client
waits without polling), ``POST jobs/<id>/cancel``, ``POST jobs/<id>/reaper``. Bodies are at
most 64 KiB of JSON; errors are ``{"error": "<one sentence>"}`` with a 4xx status. Endpoints
that touch files, the job lock or the network run on worker threads, so the event loop (and
health) is never held up.

A token speaks for a person (remote use) or for the local user (loopback): a person lists,
reads, waits for, cancels and hands on only their own jobs; another's job is a 404, as if it
did not exist. Remote use has no REAPER hand-off: REAPER runs on the artist's machine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from models.device import device_name, pick_device
from models.families import camera_fov
from plugin_core import __version__
from plugin_core.errors import InputError
from plugin_core.generation.model_registry import load_registry, local_path
from plugin_core.generation.regenerate import RangeEdit
from plugin_core.generation.request import SCHEMA_VERSION, GenerationRequest, schema_document
from plugin_core.service.batch_job import BatchRun
from plugin_core.service.files_api import FilesApi
from plugin_core.service.guards import (
    HEALTH,
    LOOPBACK_NAMES,
    HostCheck,
    RequestLimit,
    TokenCheck,
    whose,
)
from plugin_core.service.job_schema import (
    batch_from_body,
    regenerate_from_body,
    request_from_job,
    shot_from_job,
)
from plugin_core.service.jobs import JobQueue
from plugin_core.service.openapi import OPENAPI, openapi_document
from plugin_core.service.replies import Refused, refusal, reply
from plugin_core.service.tokens import Identify

MAX_BODY = 64 * 1024
MAX_BATCH_BODY = 16 * 2**20  # hundreds of shots, each with its direction path
MAX_IN_FLIGHT = 32  # requests answered at once, under the worker threads' 40 (anyio's default)
MAX_WAIT_S = 10.0
_WAIT = re.compile(r"wait=([0-9]{1,3}(?:\.[0-9]{1,3})?)")
_LENGTH = re.compile(r"[0-9]{1,9}")
_CLOSE = {"Connection": "close"}  # a body left unread is not read as the next request
NO_JOB = "There is no job with that id."


def service_app(
    jobs: JobQueue,
    files: FilesApi,
    port: int,
    identify: Identify,
    hosts: tuple[str, ...] = LOOPBACK_NAMES,
    remote: bool = False,
) -> Starlette:
    """The API over ``jobs`` and ``files``, for clients ``identify`` knows that address one of
    ``hosts`` at ``port`` (``remote``: listening beyond loopback)."""
    api = Api(jobs, files, remote)
    app = Starlette(
        routes=[
            Route(HEALTH, api.health, methods=["GET"]),
            Route("/v1/schema", api.schema, methods=["GET"]),
            Route(OPENAPI, api.openapi, methods=["GET"]),
            Route("/v1/models", api.models, methods=["GET"]),
            Route("/v1/jobs", api.jobs, methods=["GET", "POST"]),
            Route("/v1/regenerate", api.regenerate, methods=["POST"]),
            Route("/v1/batches", api.batch, methods=["POST"]),
            Route("/v1/jobs/{job_id}", api.job, methods=["GET"]),
            Route("/v1/jobs/{job_id}/cancel", api.cancel, methods=["POST"]),
            Route("/v1/jobs/{job_id}/reaper", api.to_reaper, methods=["POST"]),
            Route("/v1/uploads", api.declare_upload, methods=["POST"]),
            *files.routes(),
        ],
        middleware=[
            Middleware(HostCheck, names=hosts, port=port),
            Middleware(TokenCheck, identify=identify),
            Middleware(RequestLimit, limit=MAX_IN_FLIGHT),
        ],
        exception_handlers={Refused: _refused, HTTPException: _no_route, Exception: _bug},
    )
    app.router.redirect_slashes = False  # /v1/jobs/ is no endpoint, not a redirect
    return app


class Api:
    """The endpoints, over one job queue."""

    def __init__(self, jobs: JobQueue, files: FilesApi, remote: bool) -> None:
        self._jobs = jobs
        self._files = files
        self._remote = remote

    async def health(self, request: Request) -> Response:
        body = {
            "status": "ok",
            "version": __version__,
            "schema_version": SCHEMA_VERSION,
            "models": self._jobs.loaded_models(),
            "device": _device(),
        }
        return reply(HTTPStatus.OK, body)

    async def schema(self, request: Request) -> Response:
        return reply(HTTPStatus.OK, schema_document())

    async def openapi(self, request: Request) -> Response:
        return reply(HTTPStatus.OK, openapi_document(request.app.routes))

    async def models(self, request: Request) -> Response:
        return reply(HTTPStatus.OK, {"models": await run_in_threadpool(models_document)})

    async def jobs(self, request: Request) -> Response:
        """``GET /v1/jobs`` lists them, ``POST /v1/jobs`` queues one (one route: a 405 on it
        names both methods)."""
        if request.method == "POST":
            return await self.submit(request)
        jobs = await run_in_threadpool(self._jobs.list, whose(request))
        return reply(HTTPStatus.OK, {"jobs": jobs})

    async def job(self, request: Request) -> Response:
        job_id, query = request.path_params["job_id"], request.url.query
        if not query:
            return _job(await run_in_threadpool(self._jobs.get, job_id, whose(request)))
        match = _WAIT.fullmatch(query)
        if match is None or float(match.group(1)) > MAX_WAIT_S:
            raise Refused(
                HTTPStatus.BAD_REQUEST,
                f"wait is a number of seconds from 0 to {MAX_WAIT_S:g} with at most 3 "
                f"decimals (?wait=2.5), not {query[:40]!r}; wait again to wait longer.",
            )
        wait = float(match.group(1))
        record = await run_in_threadpool(self._jobs.wait_final, job_id, wait, whose(request))
        return _job(record)

    async def submit(self, request: Request) -> Response:
        body = await _json_body(request)
        return await run_in_threadpool(self._submit, body, _generation, whose(request))

    async def regenerate(self, request: Request) -> Response:
        """``POST /v1/regenerate``: a job of new takes for a range of a stem."""
        body = await _json_body(request)
        return await run_in_threadpool(self._submit, body, regenerate_from_body, whose(request))

    async def batch(self, request: Request) -> Response:
        """``POST /v1/batches``: one job of many shots (see :mod:`.batch_job`)."""
        body = await _json_body(request, MAX_BATCH_BODY)
        return await run_in_threadpool(self._submit_batch, body, whose(request))

    def _submit_batch(self, body: Any, owner: str | None) -> Response:
        """Queue ``owner``'s batch once every shot is checked; a client key of theirs seen
        before returns the first job."""
        key = body.get("client_key") if isinstance(body, dict) else None
        if isinstance(key, str) and (earlier := self._jobs.find_key(key, owner)):
            return reply(HTTPStatus.OK, {"job": earlier})
        try:
            shots, key = batch_from_body(
                body, lambda shot: self._files.parse(shot_from_job, shot, owner)
            )
        except InputError as exc:
            raise Refused(HTTPStatus.BAD_REQUEST, str(exc)) from None
        batch = BatchRun(shots)
        record, created = self._jobs.submit(shots[0].request, key, None, owner, batch)
        return reply(HTTPStatus.ACCEPTED if created else HTTPStatus.OK, {"job": record})

    def _submit(self, body: Any, parse: Callable[[Any], Submission], owner: str | None) -> Response:
        """Queue ``owner``'s job that ``parse`` reads from ``body``; a client key of theirs
        seen before returns the first job."""
        key = body.get("client_key") if isinstance(body, dict) else None
        if isinstance(key, str) and (earlier := self._jobs.find_key(key, owner)):
            return reply(HTTPStatus.OK, {"job": earlier})
        try:
            request, edit, key = self._files.parse(parse, body, owner)
        except InputError as exc:
            raise Refused(HTTPStatus.BAD_REQUEST, str(exc)) from None
        record, created = self._jobs.submit(request, key, edit, owner)
        return reply(HTTPStatus.ACCEPTED if created else HTTPStatus.OK, {"job": record})

    async def declare_upload(self, request: Request) -> Response:
        """``POST /v1/uploads``: declare an upload (see :mod:`.files_api`)."""
        return await self._files.declare(request, await _json_body(request))

    async def cancel(self, request: Request) -> Response:
        """Needs no body; one that comes is not read."""
        job_id = request.path_params["job_id"]
        return _job(await run_in_threadpool(self._jobs.cancel, job_id, whose(request)))

    async def to_reaper(self, request: Request) -> Response:
        body = await _json_body(request)
        job_id = request.path_params["job_id"]
        ack = await run_in_threadpool(self._to_reaper, job_id, body, whose(request))
        return reply(HTTPStatus.OK, {"ack": ack})

    def _to_reaper(self, job_id: str, body: Any, owner: str | None) -> dict[str, Any]:
        """Hand a finished job's stems to the REAPER bridge; REAPER's ack comes back."""
        from reaper_bridge.bridge_config import DEFAULT_PORT, BridgeError, load_config
        from reaper_bridge.doorbell import NoAnswer
        from reaper_bridge.drop import drop_stems
        from reaper_bridge.job_file import Stem
        from reaper_bridge.omnifoa_takes import with_takes

        record = self._jobs.get(job_id, owner)
        if record is None:
            raise Refused(HTTPStatus.NOT_FOUND, NO_JOB)
        if self._remote:
            raise Refused(
                HTTPStatus.CONFLICT,
                "REAPER runs on the artist's machine: download the stems and hand them on "
                "there (`omnifoa reaper drop`).",
            )
        if record["state"] != "done":
            raise Refused(HTTPStatus.CONFLICT, f"The job is {record['state']}, not done.")
        if record.get("kind") == "batch":
            raise Refused(
                HTTPStatus.CONFLICT,
                "A batch's stems each belong at their own shot's place: hand them on one by one "
                "(`omnifoa reaper drop STEM --position SECONDS`).",
            )
        if not isinstance(body, dict) or set(body) - {"position", "port"}:
            raise Refused(HTTPStatus.BAD_REQUEST, 'Send {"position": s, "port": n}.')
        start = record["request"].get("start") or 0.0  # where the stem sits in the video
        position, port = body.get("position", start), body.get("port", DEFAULT_PORT)
        if isinstance(position, bool) or not isinstance(position, int | float):
            raise Refused(HTTPStatus.BAD_REQUEST, "The position must be a number of seconds.")
        if isinstance(port, bool) or not isinstance(port, int):
            raise Refused(HTTPStatus.BAD_REQUEST, "The port must be an integer.")
        stems = [
            with_takes(Stem(Path(p), Path(p).stem, float(position))) for p in record["outputs"]
        ]
        try:
            return drop_stems(stems, load_config(None, port), timeout=10.0)
        except BridgeError as exc:
            raise Refused(HTTPStatus.BAD_REQUEST, str(exc)) from None
        except NoAnswer as exc:
            raise Refused(HTTPStatus.GATEWAY_TIMEOUT, str(exc)) from None


Submission = tuple[GenerationRequest, RangeEdit | None, str | None]


def _generation(body: Any) -> Submission:
    """A generation job body read as a submission (no edit)."""
    request, key = request_from_job(body)
    return request, None, key


def models_document() -> list[dict[str, Any]]:
    """``GET /v1/models``: the registry, which models are here, each generator's FoV."""
    return [
        {
            "id": e.id,
            "name": e.name,
            "kind": e.kind,
            "installed": local_path(e) is not None,
            **({"family": e.family, "fov": camera_fov(e.family)} if e.kind == "generator" else {}),
        }
        for e in load_registry().values()
    ]


@cache
def _device() -> str:
    """The device jobs run on by default, in words (``GET /v1/health``)."""
    return device_name(pick_device())


def _job(record: dict[str, Any] | None) -> Response:
    if record is None:
        raise Refused(HTTPStatus.NOT_FOUND, NO_JOB)
    return reply(HTTPStatus.OK, {"job": record})


async def _json_body(request: Request, limit: int = MAX_BODY) -> Any:
    """The request's JSON body: a Content-Length of at most ``limit`` bytes, then valid
    JSON."""
    length = request.headers.get("Content-Length")
    if length is None:
        raise Refused(HTTPStatus.LENGTH_REQUIRED, "Send a Content-Length with the body.", _CLOSE)
    if not _LENGTH.fullmatch(length.strip()):
        raise Refused(HTTPStatus.BAD_REQUEST, "The Content-Length must be ASCII digits.", _CLOSE)
    if int(length) > limit:
        raise Refused(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"A request body is at most {limit} bytes.",
            _CLOSE,
        )
    try:
        raw = await request.body()
    except ClientDisconnect:
        raise Refused(HTTPStatus.BAD_REQUEST, "The request body ended early.") from None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Refused(HTTPStatus.BAD_REQUEST, "The request body is not valid JSON.") from None
    except RecursionError:
        raise Refused(HTTPStatus.BAD_REQUEST, "The request body is nested too deeply.") from None


async def _refused(request: Request, exc: Refused) -> Response:
    return refusal(exc.status, exc.sentence, exc.headers)


async def _no_route(request: Request, exc: HTTPException) -> Response:
    """Starlette's own 404 and 405 as the same JSON sentence every other refusal is."""
    where = f"{request.method} {request.url.path[:100]}"
    if exc.status_code == HTTPStatus.NOT_FOUND:
        return refusal(exc.status_code, f"No such endpoint: {where}.")
    return refusal(exc.status_code, f"{exc.detail}: {where}.", exc.headers)


async def _bug(request: Request, exc: Exception) -> Response:
    """A bug answers a sentence too (its traceback goes to the service's log)."""
    return refusal(HTTPStatus.INTERNAL_SERVER_ERROR, f"Internal error: {exc!r}.")
