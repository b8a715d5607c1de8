"""Finding the ``omnifoa`` program, starting the local service with it, and waiting for it.

Standard library only (no bpy): :func:`reach_service` blocks for up to
:data:`START_WAIT_SECONDS`, so it runs on a worker thread (see :mod:`.workers`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .service_link import ServiceBusy, ServiceLink, ServiceRefused, ServiceUnavailable

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


def _venv_program(folder: Path) -> Path | None:
    for candidate in (folder / "bin" / "omnifoa", folder / "Scripts" / "omnifoa.exe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_program(configured: str) -> tuple[list[str], str]:
    """The command that runs omnifoa, and where it was found: the configured program (or a
    venv folder, or a Python that has omnifoa: ``python -m plugin_core.cli``), else
    ``omnifoa`` on PATH, else the venvs the README suggests (``~/omnifoa``, pipx's
    ``~/.local/bin``). ServiceUnavailable says what was tried."""
    if configured:
        path = Path(configured)
        if path.is_dir():
            found = _venv_program(path)
            if found is None:
                raise ServiceUnavailable(f"The folder {configured!r} is not a venv with omnifoa.")
            return [str(found)], f"in the venv {path}"
        exe = check_program(configured)
        if exe.name.lower().startswith("python"):
            return [str(exe), "-m", "plugin_core.cli"], f"as {exe.name} -m plugin_core.cli"
        return [str(exe)], "as set in the preferences"
    on_path = shutil.which("omnifoa")
    if on_path:
        return [on_path], "on PATH"
    home = Path.home()
    for folder in (home / "omnifoa", home / ".local" / "pipx" / "venvs" / "omnifoa"):
        found = _venv_program(folder)
        if found is not None:
            return [str(found)], f"in {folder}"
    local = home / ".local" / "bin" / "omnifoa"
    if local.is_file() and os.access(local, os.X_OK):
        return [str(local)], "in ~/.local/bin"
    raise ServiceUnavailable(
        "The omnifoa service is not running and no omnifoa program was found (not set in the "
        "preferences, not on PATH, not in ~/omnifoa or ~/.local/bin); start it with "
        "`omnifoa serve` or set the program in the add-on preferences."
    )


def start_service(command: list[str], state_file: Path) -> subprocess.Popen:
    """Start ``command serve`` in its own session, writing its state to ``state_file``'s
    folder and its log beside it."""
    folder = state_file.parent
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "service.log").open("ab")
    try:
        return subprocess.Popen(
            [*command, "serve", "--state-dir", str(folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        log.close()


def describe_server(link: ServiceLink) -> str:
    """One line for *Test connection* to a studio server: its models, its device and the
    round trip of a request (the best of three, TLS handshake included), or what failed."""
    url, _ = link.address()
    try:
        trips = []
        for _ in range(3):
            began = time.perf_counter()
            health = link.health()
            trips.append(time.perf_counter() - began)
        models = [m["id"] for m in link.models().get("models", []) if m.get("installed")]
    except (ServiceUnavailable, ServiceRefused) as exc:
        return str(exc)
    return (
        f"Server {url}: models {', '.join(models) or 'none installed'}; "
        f"{health.get('device', 'device unknown')}; {min(trips) * 1000:.0f} ms round trip."
    )


def describe_connection(link: ServiceLink, executable: str) -> str:
    """One line for the preferences' *Test connection*: the running service, or what would
    start it, or why nothing can (a studio server: :func:`describe_server`)."""
    if link.remote is not None:
        return describe_server(link)
    try:
        health = link.health()
    except ServiceUnavailable:
        try:
            command, where = find_program(executable)
        except ServiceUnavailable as exc:
            return str(exc)
        return f"Not running; Generate will start it with {' '.join(command)} (found {where})."
    url, _ = link.address()
    models = ", ".join(health.get("models", [])) or "none yet"
    return f"omnifoa {health.get('version', '?')} is running at {url} (models loaded: {models})."


def reach_service(
    link: ServiceLink, executable: str, starting: Callable[[], None]
) -> dict[str, Any]:
    """The service's health, starting it (the program :func:`find_program` finds) if it is
    not running; ``starting`` is called just before a start."""
    try:
        return link.health()
    except ServiceBusy:
        return link.health(timeout=START_WAIT_SECONDS)  # running but slow: no second one
    except ServiceUnavailable:
        command, _ = find_program(executable)
    starting()
    process = start_service(command, link.state_file)
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
