"""How a laptop reaches a studio's omnifoa server: the token and the trust (a CA file or the
certificate's pinned fingerprint) for ``omnifoa generate --server URL``.

Each setting comes from the environment (``OMNIFOA_SERVER_TOKEN``, ``OMNIFOA_SERVER_CA``,
``OMNIFOA_SERVER_FINGERPRINT``) or else from ``client.toml`` in omnifoa's config folder::

    url = "https://gpu.studio.lan:8765"
    token = "..."
    fingerprint = "AB:CD:..."   # or: ca = "/path/to/studio-ca.pem"

The environment wins over the file, setting by setting. The file's settings apply only to the
server its ``url`` names (a token is never sent to another server); a file without ``url``
applies to any.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from plugin_core.errors import InputError
from plugin_core.service.client import ServiceClient
from plugin_core.service.state_file import config_dir

CLIENT_FILE = "client.toml"
ENVIRONMENT = {
    "token": "OMNIFOA_SERVER_TOKEN",
    "ca": "OMNIFOA_SERVER_CA",
    "fingerprint": "OMNIFOA_SERVER_FINGERPRINT",
}
_KEYS = ("url", *ENVIRONMENT)


@dataclass(frozen=True)
class ServerSettings:
    """One server's address, the token that speaks for the user there, and how to trust it."""

    url: str
    token: str
    ca: Path | None = None
    fingerprint: str | None = None

    def client(self, timeout: float = 30.0) -> ServiceClient:
        """A client of this server; ServiceError (one sentence) for a URL or trust it refuses."""
        return ServiceClient(self.url, self.token, timeout, self.ca, self.fingerprint)


def client_file(folder: Path | None = None) -> Path:
    """Where ``client.toml`` lives (omnifoa's config folder unless ``folder``)."""
    return (folder or config_dir()) / CLIENT_FILE


def _file_settings(url: str, path: Path) -> dict[str, str]:
    """The settings ``path`` holds for the server at ``url`` (none when it names another)."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path} is not a readable TOML file ({exc}); fix or remove it.") from None
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise InputError(
            f"{path} has an unknown setting {unknown[0]!r}; the settings are {', '.join(_KEYS)}."
        )
    if not all(isinstance(value, str) for value in data.values()):
        raise InputError(f"Every setting in {path} must be text in quotes.")
    if "url" in data and data["url"].rstrip("/") != url.rstrip("/"):
        return {}
    return data


def server_settings(url: str, folder: Path | None = None) -> ServerSettings:
    """The settings for the server at ``url``: the environment's, else ``client.toml``'s;
    InputError when no token is found or the trust is set twice."""
    if not url.startswith("https://"):
        raise InputError(
            f"A server is reached over HTTPS (https://HOST:PORT), not {url[:200]!r}; "
            "ask for the address `omnifoa serve --listen` printed."
        )
    path = client_file(folder)
    found = _file_settings(url, path)
    for key, variable in ENVIRONMENT.items():
        if os.environ.get(variable):
            found[key] = os.environ[variable]
    if not found.get("token"):
        raise InputError(
            f'No token for {url}: set {ENVIRONMENT["token"]} or put token = "..." in {path}.'
        )
    if found.get("ca") and found.get("fingerprint"):
        raise InputError(
            "Trust the server through a CA file or a fingerprint, not both; "
            f"drop one of {ENVIRONMENT['ca']}/ca and {ENVIRONMENT['fingerprint']}/fingerprint."
        )
    ca = Path(found["ca"]) if found.get("ca") else None
    return ServerSettings(url, found["token"], ca, found.get("fingerprint"))
