"""The add-on's client of the omnifoa service (the local one, or a studio server through
:mod:`.remote_server`): standard library and platformdirs only
(no bpy, no torch), so it runs on worker threads.

The service writes its address and token to ``service.json`` in the user's omnifoa config
folder (``platformdirs.user_config_dir("omnifoa")``, or ``OMNIFOA_CONFIG_DIR``); this module
finds that file the same way, and calls the ``/v1`` JSON API with a timeout chosen per call.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from .remote_server import NotPinned, Remote

SCHEMA_VERSION = 3  # the job fields' version this add-on was written for (GET /v1/health)
TIMEOUT = 3.0
CONFIG_ENV = "OMNIFOA_CONFIG_DIR"
STATE_NAME = "service.json"
_START_HINT = "start it with `omnifoa serve` or set its executable in the add-on preferences."


class ServiceUnavailable(Exception):
    """The service is not running; the message says what to do."""


class ServiceBusy(ServiceUnavailable):
    """The service took longer than the call's timeout to answer."""


class ServiceRefused(Exception):
    """The service answered with an error; the message is its sentence."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def default_state_file() -> Path:
    """Where ``omnifoa serve`` writes its address and token on this platform."""
    folder = os.environ.get(CONFIG_ENV) or user_config_dir("omnifoa", appauthor=False)
    return Path(folder) / STATE_NAME


def check_schema(health: dict[str, Any]) -> None:
    """Refuse a service whose job fields are another version than this add-on's."""
    theirs = health.get("schema_version")
    if theirs != SCHEMA_VERSION:
        raise ServiceRefused(
            f"The omnifoa service speaks job schema {theirs} but this add-on was written for "
            f"{SCHEMA_VERSION}; update the add-on or the service.",
            409,
        )


class ServiceLink:
    """Calls to the service whose state file is ``state_file``, or to the ``remote`` server
    (over HTTPS, its certificate pinned) when the preferences name one."""

    def __init__(self, state_file: Path, remote: Remote | None = None) -> None:
        self.state_file = state_file
        self.remote = remote

    def address(self) -> tuple[str, str]:
        """The service's URL and token, from its state file (or the remote server's)."""
        if self.remote is not None:
            return self.remote.url, self.remote.token
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            url, token = data["url"], data["token"]
        except FileNotFoundError:
            raise ServiceUnavailable(
                f"The omnifoa service is not running (no {self.state_file}); {_START_HINT}"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ServiceUnavailable(f"Cannot read {self.state_file} ({exc}).") from None
        if not str(url).startswith("http://127.0.0.1:"):
            raise ServiceUnavailable(f"{self.state_file} names a non-local service; refusing.")
        return url, token

    def call(
        self, method: str, path: str, body: Any = None, timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """One JSON call; ServiceUnavailable, ServiceBusy or ServiceRefused say what failed."""
        url, token = self.address()
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        opener = urllib.request.build_opener() if self.remote is None else self.remote.opener()
        try:
            with opener.open(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error") or exc.reason
            except ValueError:
                message = str(exc.reason)
            raise ServiceRefused(str(message), exc.code) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, NotPinned):
                raise ServiceUnavailable(
                    f"The server at {url} is not the one pinned: {reason}; check the "
                    "fingerprint in the add-on preferences."
                ) from None
            if isinstance(reason, TimeoutError):
                raise ServiceBusy(
                    f"The omnifoa service at {url} did not answer within {timeout:g} s."
                ) from None
            if self.remote is not None:
                raise ServiceUnavailable(
                    f"The omnifoa server at {url} does not answer ({reason}); check the "
                    "server URL in the add-on preferences."
                ) from None
            raise ServiceUnavailable(
                f"The omnifoa service at {url} is not running ({reason}); {_START_HINT}"
            ) from None

    def health(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        return self.call("GET", "/v1/health", timeout=timeout)

    def models(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The service's model list (``{"models": [...]}``; generators give ``fov``)."""
        return self.call("GET", "/v1/models", timeout=timeout)

    def submit(
        self, job: dict[str, Any], timeout: float = TIMEOUT, endpoint: str = "/v1/jobs"
    ) -> dict[str, Any]:
        """Queue a job (``/v1/regenerate``: a range of a stem); its record."""
        return self.call("POST", endpoint, job, timeout)["job"]

    def job(self, job_id: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        return self.call("GET", f"/v1/jobs/{job_id}", timeout=timeout)["job"]

    def cancel(self, job_id: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        return self.call("POST", f"/v1/jobs/{job_id}/cancel", {}, timeout)["job"]

    def to_reaper(self, job_id: str, port: int, timeout: float) -> dict[str, Any]:
        """Hand a done job's stems to REAPER; returns REAPER's acknowledgement."""
        return self.call("POST", f"/v1/jobs/{job_id}/reaper", {"port": port}, timeout)["ack"]
