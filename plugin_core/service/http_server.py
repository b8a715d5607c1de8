"""``omnifoa serve``'s server: uvicorn (HTTP/1.1 through h11) running the API
(:mod:`.api`) on 127.0.0.1, its address and token written to the state file; or, with
``--listen`` (:mod:`.listen`), on another address over TLS for people with their own tokens
(no state file: each person brings their token, the printed fingerprint pins the server)."""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path

import uvicorn

from plugin_core.errors import InputError
from plugin_core.generation.loaded_model import load_model
from plugin_core.service.api import models_document, service_app
from plugin_core.service.connections import DeadlineH11Protocol
from plugin_core.service.files_api import FILES_NAME, FileSettings, files_api
from plugin_core.service.jobs import JobQueue
from plugin_core.service.listen import Remote
from plugin_core.service.state_file import STATE_NAME, new_token, write_private_json
from plugin_core.service.tokens import LocalToken

HOST = "127.0.0.1"
KEEP_ALIVE_S = 5  # an idle connection between requests is closed after this
SHUTDOWN_S = 5  # answers still being written when the service stops get this long


class _Server(uvicorn.Server):
    """uvicorn's server; as it stops, the job queue closes, so long-polls answer at once."""

    def __init__(self, config: uvicorn.Config, jobs: JobQueue) -> None:
        super().__init__(config)
        self.jobs = jobs

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.jobs.close()
        await super().shutdown(sockets)


def _listen(host: str, port: int, remote: bool) -> socket.socket:
    """The listening socket (clients may queue from now on); InputError when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        hint = "choose another --listen port" if remote else "choose another --port, or 0"
        raise InputError(f"Cannot listen on {host}:{port} ({reason}); {hint}.") from None


def serve(
    port: int,
    state_dir: Path,
    device: str = "auto",
    ready: threading.Event | None = None,
    remote: Remote | None = None,
    settings: FileSettings | None = None,
) -> None:
    """Run the service until SIGINT/SIGTERM: on loopback ``port`` with its address and token
    in ``state_dir``, or as ``remote`` says (TLS, people's tokens); uploads and results as
    ``settings`` say, under ``state_dir``."""
    listener = (
        _listen(HOST, port, False) if remote is None else _listen(remote.host, remote.port, True)
    )
    jobs = JobQueue(state_dir / "jobs", load_model, device)
    files = files_api(state_dir / FILES_NAME, jobs, settings or FileSettings(), remote is not None)
    token = new_token()
    bound = listener.getsockname()[1]
    if remote is None:
        app = service_app(jobs, files, bound, LocalToken(token))
        tls = {}
    else:
        app = service_app(jobs, files, bound, remote.tokens, remote.host_names(), remote=True)
        tls = {"ssl_certfile": remote.certificate.cert, "ssl_keyfile": remote.certificate.key}
    config = uvicorn.Config(
        app,
        http=DeadlineH11Protocol,
        loop="asyncio",
        ws="none",
        lifespan="off",
        interface="asgi3",
        proxy_headers=False,  # no proxy speaks for another client
        server_header=False,
        access_log=False,  # quiet: the CLI prints what matters
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=SHUTDOWN_S,
        **tls,
    )
    server = _Server(config, jobs)
    if threading.current_thread() is threading.main_thread():
        # Before uvicorn takes the signals, and after: it sends them on once it has stopped.
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, lambda *_: setattr(server, "should_exit", True))
    models_document()  # its imports (model families, the hub cache) happen now, not in a call
    state = None
    if remote is None:
        url, state = f"http://{HOST}:{bound}", state_dir / STATE_NAME
        write_private_json(state, {"url": url, "token": token, "pid": os.getpid()})
        print(f"omnifoa service on {url}; address and token in {state}", flush=True)
    else:
        print(
            f"omnifoa service on {remote.url(bound)} (TLS, people's tokens: {len(remote.tokens)}); "
            f"certificate SHA-256 fingerprint {remote.certificate.fingerprint}",
            flush=True,
        )
    if ready is not None:
        ready.set()
    try:
        server.run(sockets=[listener])
    finally:
        jobs.close()
        listener.close()
        if state is not None:
            state.unlink(missing_ok=True)
