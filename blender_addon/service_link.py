"""The add-on's client of the local omnifoa service: standard library only (no bpy, no torch).

The service writes its address and token to ``service.json`` in the user's omnifoa config
folder; this module finds that file (the same folder the service uses on each platform, or
``OMNIFOA_CONFIG_DIR``), calls the ``/v1`` JSON API with short timeouts so Blender's UI never
waits long, and can start the service from a configured executable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TIMEOUT = 3.0


class ServiceUnavailable(Exception):
    """No service answers; the message says what to do."""


class ServiceRefused(Exception):
    """The service answered with an error; the message is its sentence."""


def default_state_file() -> Path:
    """Where ``omnifoa serve`` writes its address and token on this platform."""
    override = os.environ.get("OMNIFOA_CONFIG_DIR")
    if override:
        return Path(override) / "service.json"
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return base / "omnifoa" / "service.json"


class ServiceLink:
    """Calls to the service whose state file is ``state_file``."""

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file

    def _state(self) -> tuple[str, str]:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            url, token = data["url"], data["token"]
        except FileNotFoundError:
            raise ServiceUnavailable(
                f"The omnifoa service is not running (no {self.state_file}); start it with "
                "`omnifoa serve` or set its executable in the add-on preferences."
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ServiceUnavailable(f"Cannot read {self.state_file} ({exc}).") from None
        if not str(url).startswith("http://127.0.0.1:"):
            raise ServiceUnavailable(f"{self.state_file} names a non-local service; refusing.")
        return url, token

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        url, token = self._state()
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error") or exc.reason
            except ValueError:
                message = str(exc.reason)
            raise ServiceRefused(str(message)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ServiceUnavailable(
                f"The omnifoa service at {url} does not answer ({exc}); start it with "
                "`omnifoa serve` or set its executable in the add-on preferences."
            ) from None

    def health(self) -> dict[str, Any]:
        return self.call("GET", "/v1/health")

    def submit(self, job: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/v1/jobs", job)["job"]

    def job(self, job_id: str) -> dict[str, Any]:
        return self.call("GET", f"/v1/jobs/{job_id}")["job"]

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self.call("POST", f"/v1/jobs/{job_id}/cancel", {})["job"]


def start_service(executable: str, state_file: Path) -> subprocess.Popen:
    """Start ``executable serve`` in its own session, writing its state to ``state_file``'s
    folder and its log beside it."""
    exe = Path(executable)
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise ServiceUnavailable(
            f"The omnifoa executable {executable!r} is not a program; set the path to "
            "`omnifoa` in the add-on preferences."
        )
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
