"""A Python client of the service, for the preview app, the CLI, scripts and tests: the local
one (``http://127.0.0.1``), or a remote one over HTTPS, trusted through a CA file or the pinned
SHA-256 fingerprint of its certificate (:mod:`.pinning`).

The Blender add-on has its own standard-library client (it cannot import this package);
both speak the same ``/v1`` JSON API.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from plugin_core.errors import OmnifoaError
from plugin_core.service.jobs import FINAL
from plugin_core.service.pinning import Trust
from plugin_core.service.state_file import read_state

WAIT_S = 5.0  # how long one request of wait() lets the service hold the answer


class ServiceError(OmnifoaError):
    """The service refused a request or could not be reached; the message says which."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServiceClient:
    """Talks to one running service at ``url`` with its ``token``: a local one over HTTP, a
    remote one over HTTPS trusting ``ca`` (a PEM file; None: the system's CAs) or only the
    certificate with SHA-256 ``fingerprint``."""

    def __init__(
        self,
        url: str,
        token: str,
        timeout: float = 10.0,
        ca: Path | None = None,
        fingerprint: str | None = None,
    ) -> None:
        if not url.startswith(("http://127.0.0.1:", "http://localhost:", "https://")):
            raise ServiceError(
                f"The service must be local (http://127.0.0.1) or reached over HTTPS, not {url}."
            )
        if ca is not None and fingerprint is not None:
            raise ServiceError("Trust the server through a CA file or a fingerprint, not both.")
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout
        try:
            self.trust = Trust(ca, fingerprint)  # also the trust of transfers' connections
        except (ValueError, OSError) as exc:  # a bad fingerprint, an unreadable CA file
            raise ServiceError(f"Cannot trust the server that way: {exc}") from None
        self._opener = self.trust.opener()

    @classmethod
    def from_state(cls, state_dir: Path | None = None) -> ServiceClient:
        """The client of the service whose state file is in ``state_dir`` (default: config)."""
        state = read_state(state_dir)
        return cls(state["url"], state["token"])

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except (json.JSONDecodeError, AttributeError):
                message = str(exc.reason)
            raise ServiceError(message, exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, ssl.SSLError):
                raise ServiceError(
                    f"The server at {self.url} is not the one trusted ({reason}); check the "
                    "CA file or fingerprint you were given."
                ) from None
            start = (
                "check the server's URL and that it runs"
                if self.url.startswith("https://")
                else "start it with `omnifoa serve`"
            )
            raise ServiceError(
                f"The omnifoa service at {self.url} does not answer ({exc}); {start}."
            ) from None

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/v1/health")

    def models(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/models")["models"]

    def submit(self, job: dict[str, Any]) -> dict[str, Any]:
        """Queue a job (see the job fields in :mod:`plugin_core.service.job_schema`)."""
        return self._call("POST", "/v1/jobs", job)["job"]

    def submit_batch(self, shots: list[dict[str, Any]]) -> dict[str, Any]:
        """Queue one job of many shots, each a job body (with an optional ``shot`` name)."""
        return self._call("POST", "/v1/batches", {"shots": shots})["job"]

    def regenerate(
        self,
        stem: Path,
        start: float,
        end: float,
        seed: int | None = None,
        takes: int = 1,
        client_key: str | None = None,
    ) -> dict[str, Any]:
        """Queue new takes of ``stem`` for the seconds ``start`` to ``end``; the job's record."""
        body: dict[str, Any] = {
            "stem": str(stem),
            "from": start,
            "to": end,
            "takes": takes,
            **({} if seed is None else {"seed": seed}),  # none: a seed no take used
        }
        if client_key is not None:
            body["client_key"] = client_key
        return self._call("POST", "/v1/regenerate", body)["job"]

    def job(self, job_id: str, wait: float | None = None) -> dict[str, Any]:
        """The job's record; with ``wait``, once it ends or after that many seconds."""
        query = "" if wait is None else f"?wait={min(wait, WAIT_S):.3f}"
        return self._call("GET", f"/v1/jobs/{job_id}{query}")["job"]

    def jobs(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/jobs")["jobs"]

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/jobs/{job_id}/cancel", {})["job"]

    def send_to_reaper(self, job_id: str, position: float | None = None, port: int = 8000):
        """Drop a finished job's stems into REAPER through the bridge; returns REAPER's ack."""
        body: dict[str, Any] = {"port": port}
        if position is not None:
            body["position"] = position
        return self._call("POST", f"/v1/jobs/{job_id}/reaper", body)["ack"]

    def wait(self, job_id: str, timeout: float = 600.0) -> dict[str, Any]:
        """The job's record once it is done, failed or cancelled (the service answers as it
        ends, a few seconds at a time: no polling); ServiceError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            wait = max(0.0, min(WAIT_S, left))
            record = self._call("GET", f"/v1/jobs/{job_id}?wait={wait:.3f}")["job"]
            if record["state"] in FINAL:
                return record
            if time.monotonic() >= deadline:
                raise ServiceError(f"Job {job_id} did not finish within {timeout:g} s.")
