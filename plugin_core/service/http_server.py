"""The service's HTTP front: the standard library's threading server, JSON in and out.

Routes (all under ``/v1``, all needing ``Authorization: Bearer <token>``):
``GET health``, ``GET schema`` (the job fields, their defaults and ranges), ``GET models``,
``GET jobs``, ``POST jobs``, ``GET jobs/<id>`` (``?wait=S``: answered when the job ends or
after S ≤ 10 seconds, so a client waits without polling),
``POST jobs/<id>/cancel``. Bodies are at most 64 KiB of JSON; errors are
``{"error": "<one sentence>"}`` with a 4xx status.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import math
import os
import re
import signal
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from models.families import camera_fov
from plugin_core import __version__
from plugin_core.errors import InputError
from plugin_core.generation.loaded_model import load_model
from plugin_core.generation.model_registry import load_registry, local_path
from plugin_core.generation.request import SCHEMA_VERSION, schema_document
from plugin_core.service.job_schema import request_from_job
from plugin_core.service.jobs import JobQueue
from plugin_core.service.state_file import STATE_NAME, new_token, write_private_json

API_VERSION = 1
HOST = "127.0.0.1"
MAX_BODY = 64 * 1024
MAX_CONNECTIONS = 32  # open at once; more are closed at once rather than given a thread
CONNECTION_TIMEOUT_S = 10.0  # a client that sends nothing for this long is dropped
REQUEST_DEADLINE_S = 20.0  # the whole request (line, headers, body), however slowly it trickles
_JOB = re.compile(r"^/v1/jobs/([0-9a-f]{32})(/cancel|/reaper)?$")
# GET /v1/jobs/<id>?wait=S answers when the job ends, or after S seconds (at most MAX_WAIT_S)
_WAIT = re.compile(r"^/v1/jobs/([0-9a-f]{32})\?wait=([0-9]{1,3}(?:\.[0-9]{1,3})?)$")
MAX_WAIT_S = 10.0
_LENGTH = re.compile(r"[0-9]{1,9}")


class RequestDeadlines:
    """One watchdog thread for all connections: a client still sending its request
    ``REQUEST_DEADLINE_S`` after connecting (a byte at a time, to hold a connection and its
    thread) is disconnected."""

    def __init__(self) -> None:
        self._due: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="omnifoa-deadlines", daemon=True).start()

    def watch(self, connection: socket.socket) -> None:
        with self._lock:
            self._due[connection] = time.monotonic() + REQUEST_DEADLINE_S

    def forget(self, connection: socket.socket) -> None:
        with self._lock:
            self._due.pop(connection, None)

    def _run(self) -> None:
        while True:
            time.sleep(0.5)
            now = time.monotonic()
            with self._lock:
                late = [c for c, due in self._due.items() if due <= now]
                for connection in late:
                    del self._due[connection]
            for connection in late:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class ServiceServer(ThreadingHTTPServer):
    """The HTTP server with the service's token and job queue attached, a bounded number of
    connections, each with a timeout."""

    daemon_threads = True

    def __init__(self, port: int, token: str, jobs: JobQueue) -> None:
        super().__init__((HOST, port), Handler)
        self.token = token
        self.jobs = jobs
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.deadlines = RequestDeadlines()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # too many open: this one is closed at once
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, not a traceback, for a client that went away or misbehaved."""
        kind = sys.exc_info()[0]
        name = kind.__name__ if kind is not None else "error"
        print(f"omnifoa service: connection from {client_address[0]} ended ({name})", flush=True)


class Handler(BaseHTTPRequestHandler):
    server: ServiceServer
    server_version = f"omnifoa/{__version__}"
    timeout = CONNECTION_TIMEOUT_S  # applies to the request line, the headers and the body

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the CLI prints what matters

    def setup(self) -> None:
        super().setup()
        self.server.deadlines.watch(self.connection)

    def _request_read(self) -> None:
        """The request is in: answering it has no deadline."""
        self.server.deadlines.forget(self.connection)

    def finish(self) -> None:
        self.server.deadlines.forget(self.connection)
        super().finish()

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(_strict({"api": API_VERSION, **body}), allow_nan=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (a garbled request line, an unknown method, a
        header too long) as the same JSON sentence every other refusal is."""
        self.close_connection = True
        self._error(code, f"{message or HTTPStatus(code).phrase}.")

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": message})

    def _authorised(self) -> bool:
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {self.server.token}"
        if hmac.compare_digest(given.encode(), expected.encode()):
            return True
        self._error(HTTPStatus.UNAUTHORIZED, "A valid token is needed (Authorization: Bearer).")
        return False

    def _body(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None:
            raise _HttpError(HTTPStatus.LENGTH_REQUIRED, "Send a Content-Length with the body.")
        if not _LENGTH.fullmatch(length.strip()):
            raise _HttpError(HTTPStatus.BAD_REQUEST, "The Content-Length must be ASCII digits.")
        if int(length) > MAX_BODY:
            raise _HttpError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"A request body is at most {MAX_BODY} bytes."
            )
        raw = self.rfile.read(int(length))
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _HttpError(
                HTTPStatus.BAD_REQUEST, "The request body is not valid JSON."
            ) from None
        except RecursionError:
            raise _HttpError(
                HTTPStatus.BAD_REQUEST, "The request body is nested too deeply."
            ) from None

    def do_GET(self) -> None:
        self._request_read()
        if not self._authorised():
            return
        jobs = self.server.jobs
        if self.path == "/v1/health":
            self._send(
                200,
                {
                    "status": "ok",
                    "version": __version__,
                    "schema_version": SCHEMA_VERSION,
                    "models": jobs.loaded_models(),
                },
            )
        elif self.path == "/v1/schema":
            self._send(200, schema_document())
        elif self.path == "/v1/models":
            self._send(200, {"models": models_document()})
        elif self.path == "/v1/jobs":
            self._send(200, {"jobs": jobs.list()})
        elif (match := _JOB.match(self.path)) and not match.group(2):
            self._send_job(jobs.get(match.group(1)))
        elif match := _WAIT.match(self.path):
            wait = float(match.group(2))
            if wait > MAX_WAIT_S:
                self._error(
                    HTTPStatus.BAD_REQUEST,
                    f"wait={match.group(2)} is too long; wait at most {MAX_WAIT_S:g} s per "
                    "request and ask again.",
                )
            else:
                self._send_job(jobs.wait_final(match.group(1), wait))
        else:
            self._error(HTTPStatus.NOT_FOUND, f"No such endpoint: GET {self.path[:100]}.")

    def _send_job(self, record: dict[str, Any] | None) -> None:
        if record is None:
            self._error(HTTPStatus.NOT_FOUND, "There is no job with that id.")
        else:
            self._send(200, {"job": record})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        try:
            if self.path.endswith("/cancel"):  # needs no body; one that comes is read, ignored
                length = self.headers.get("Content-Length", "0").strip()
                if _LENGTH.fullmatch(length) and 0 < int(length) <= MAX_BODY:
                    self.rfile.read(int(length))
                body = None
            else:
                body = self._body()
            self._request_read()
            if self.path == "/v1/jobs":
                key = body.get("client_key") if isinstance(body, dict) else None
                if isinstance(key, str) and (earlier := self.server.jobs.find_key(key)):
                    self._send(HTTPStatus.OK, {"job": earlier})
                    return
                try:
                    request, key = request_from_job(body)
                except InputError as exc:
                    raise _HttpError(HTTPStatus.BAD_REQUEST, str(exc)) from None
                record, created = self.server.jobs.submit(request, key)
                self._send(HTTPStatus.ACCEPTED if created else HTTPStatus.OK, {"job": record})
                return
            match = _JOB.match(self.path)
            if match and match.group(2) == "/cancel":
                record = self.server.jobs.cancel(match.group(1))
                if record is None:
                    raise _HttpError(HTTPStatus.NOT_FOUND, "There is no job with that id.")
                self._send(200, {"job": record})
                return
            if match and match.group(2) == "/reaper":
                self._send(200, {"ack": self._to_reaper(match.group(1), body)})
                return
            raise _HttpError(HTTPStatus.NOT_FOUND, f"No such endpoint: POST {self.path[:100]}.")
        except _HttpError as exc:
            self._error(exc.status, exc.message)

    def _to_reaper(self, job_id: str, body: Any) -> dict[str, Any]:
        """Hand a finished job's stems to the REAPER bridge; REAPER's ack comes back."""
        from reaper_bridge.bridge_config import DEFAULT_PORT, BridgeError, load_config
        from reaper_bridge.doorbell import NoAnswer
        from reaper_bridge.drop import drop_stems
        from reaper_bridge.job_file import Stem

        record = self.server.jobs.get(job_id)
        if record is None:
            raise _HttpError(HTTPStatus.NOT_FOUND, "There is no job with that id.")
        if record["state"] != "done":
            raise _HttpError(HTTPStatus.CONFLICT, f"The job is {record['state']}, not done.")
        if not isinstance(body, dict) or set(body) - {"position", "port"}:
            raise _HttpError(HTTPStatus.BAD_REQUEST, 'Send {"position": s, "port": n}.')
        start = record["request"].get("start") or 0.0  # where the stem sits in the video
        position, port = body.get("position", start), body.get("port", DEFAULT_PORT)
        if isinstance(position, bool) or not isinstance(position, int | float):
            raise _HttpError(HTTPStatus.BAD_REQUEST, "The position must be a number of seconds.")
        if isinstance(port, bool) or not isinstance(port, int):
            raise _HttpError(HTTPStatus.BAD_REQUEST, "The port must be an integer.")
        stems = [Stem(Path(p), Path(p).stem, float(position)) for p in record["outputs"]]
        try:
            return drop_stems(stems, load_config(None, port), timeout=10.0)
        except BridgeError as exc:
            raise _HttpError(HTTPStatus.BAD_REQUEST, str(exc)) from None
        except NoAnswer as exc:
            raise _HttpError(HTTPStatus.GATEWAY_TIMEOUT, str(exc)) from None


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


def _strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by null (JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def serve(port: int, state_dir: Path, device: str = "auto", ready: threading.Event | None = None):
    """Run the service until SIGINT/SIGTERM; its address and token go to ``state_dir``."""
    jobs = JobQueue(state_dir / "jobs", load_model, device)
    token = new_token()
    try:
        server = ServiceServer(port, token, jobs)
    except OSError as exc:
        jobs.close()
        raise InputError(
            f"Cannot listen on {HOST}:{port} ({exc.strerror}); choose another --port, or 0."
        ) from None
    models_document()  # its imports (model families, the hub cache) happen now, not in a call
    url = f"http://{HOST}:{server.server_address[1]}"
    state = state_dir / STATE_NAME
    write_private_json(state, {"url": url, "token": token, "pid": os.getpid()})
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"omnifoa service on {url}; address and token in {state}", flush=True)
    if ready is not None:
        ready.set()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        jobs.close()
        server.server_close()
        state.unlink(missing_ok=True)
