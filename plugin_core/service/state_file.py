"""Where the service keeps its address, token and job journal: the user's config folder.

``service.json`` (mode 0600, in a 0700 folder) holds ``{"url", "token", "pid"}`` for clients;
``jobs/`` holds one JSON record per job; remote use adds ``tokens.json`` (people's hashed
tokens, :mod:`.tokens`) and ``tls/`` (a self-signed certificate, :mod:`.tls`).
``OMNIFOA_CONFIG_DIR`` overrides the folder.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from plugin_core.errors import InputError

CONFIG_ENV = "OMNIFOA_CONFIG_DIR"
STATE_NAME = "service.json"


def config_dir() -> Path:
    """The user's omnifoa config folder (created 0700 when missing)."""
    folder = Path(os.environ.get(CONFIG_ENV) or user_config_dir("omnifoa", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def write_private_bytes(path: Path, data: bytes) -> None:
    """Write a file readable by this user only (0600), atomically."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON readable by this user only (0600), atomically."""
    write_private_bytes(path, json.dumps(data, indent=1).encode())


def read_state(folder: Path | None = None) -> dict[str, Any]:
    """The running service's ``{"url", "token", "pid"}``; InputError when there is none."""
    path = (folder or config_dir()) / STATE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"No omnifoa service is running (no {path}); start one with `omnifoa serve`."
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"Cannot read the service state {path} ({exc}).") from None
    if not isinstance(data, dict) or not {"url", "token"} <= data.keys():
        raise InputError(f"The service state {path} is incomplete; restart `omnifoa serve`.")
    return data
