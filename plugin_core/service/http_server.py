"""``omnifoa serve``'s server: uvicorn (HTTP/1.1 through h11) running the API
(:mod:`.api`) on 127.0.0.1, its address and token written to the state file."""

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
from plugin_core.service.jobs import JobQueue
from plugin_core.service.state_file import STATE_NAME, new_token, write_private_json

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


def serve(
    port: int, state_dir: Path, device: str = "auto", ready: threading.Event | None = None
) -> None:
    """Run the service until SIGINT/SIGTERM; its address and token go to ``state_dir``."""
    try:
        listener = socket.create_server((HOST, port))  # listening now: clients may queue
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise InputError(
            f"Cannot listen on {HOST}:{port} ({reason}); choose another --port, or 0."
        ) from None
    jobs = JobQueue(state_dir / "jobs", load_model, device)
    token = new_token()
    bound = listener.getsockname()[1]
    config = uvicorn.Config(
        service_app(token, jobs, bound),
        http=DeadlineH11Protocol,
        loop="asyncio",
        ws="none",
        lifespan="off",
        interface="asgi3",
        proxy_headers=False,  # every client is local: no proxy speaks for another
        server_header=False,
        access_log=False,  # quiet: the CLI prints what matters
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=SHUTDOWN_S,
    )
    server = _Server(config, jobs)
    if threading.current_thread() is threading.main_thread():
        # Before uvicorn takes the signals, and after: it sends them on once it has stopped.
        for stop in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop, lambda *_: setattr(server, "should_exit", True))
    models_document()  # its imports (model families, the hub cache) happen now, not in a call
    url = f"http://{HOST}:{bound}"
    state = state_dir / STATE_NAME
    write_private_json(state, {"url": url, "token": token, "pid": os.getpid()})
    print(f"omnifoa service on {url}; address and token in {state}", flush=True)
    if ready is not None:
        ready.set()
    try:
        server.run(sockets=[listener])
    finally:
        jobs.close()
        listener.close()
        state.unlink(missing_ok=True)
