"""Starting the local service from the configured ``omnifoa`` executable, and waiting for it.

Standard library only (no bpy): :func:`reach_service` blocks for up to
:data:`START_WAIT_SECONDS`, so it runs on a worker thread (see :mod:`.workers`).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .service_link import ServiceBusy, ServiceLink, ServiceUnavailable

START_WAIT_SECONDS = 30.0
RETRY_SECONDS = 0.25


def check_program(executable: str) -> Path:
    """``executable`` as a path, or ServiceUnavailable when it is not a program."""
    exe = Path(executable)
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise ServiceUnavailable(
            f"The omnifoa executable {executable!r} is not a program; set the path to "
            "`omnifoa` in the add-on preferences."
        )
    return exe


def start_service(executable: str, state_file: Path) -> subprocess.Popen:
    """Start ``executable serve`` in its own session, writing its state to ``state_file``'s
    folder and its log beside it."""
    exe = check_program(executable)
    folder = state_file.parent
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "service.log").open("ab")
    try:
        return subprocess.Popen(
            [str(exe), "serve", "--state-dir", str(folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        log.close()


def reach_service(
    link: ServiceLink, executable: str, starting: Callable[[], None]
) -> dict[str, Any]:
    """The service's health, starting it from ``executable`` (when set) if it is not running;
    ``starting`` is called just before a start."""
    try:
        return link.health()
    except ServiceBusy:
        return link.health(timeout=START_WAIT_SECONDS)  # running but slow: no second one
    except ServiceUnavailable:
        if not executable:
            raise
    starting()
    process = start_service(executable, link.state_file)
    log = link.state_file.parent / "service.log"
    deadline = time.monotonic() + START_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            return link.health()
        except ServiceUnavailable:
            if process.poll() is not None:
                raise ServiceUnavailable(
                    f"The omnifoa service stopped as it started (exit code "
                    f"{process.returncode}); see {log}."
                ) from None
            time.sleep(RETRY_SECONDS)
    raise ServiceUnavailable(
        f"The omnifoa service did not start within {START_WAIT_SECONDS:.0f} s; see {log}."
    )
