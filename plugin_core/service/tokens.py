"""Who a request comes from: the loopback service's one token, or a person's own token.

Remote use (``omnifoa serve --listen``) answers only people named in ``tokens.json`` in the
service's config folder (mode 0600, written atomically): each holds the SHA-256 of a random
256-bit token, never the token itself (``omnifoa serve tokens add NAME`` prints it once). The
service re-reads the file whenever it changes, so a revoked token is refused from the next
request on, without a restart. Edits hold an exclusive lock on ``tokens.json.lock`` beside it
from read to write, so two ``tokens add``/``revoke`` at once both take effect.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from plugin_core.errors import InputError
from plugin_core.service.state_file import new_token, write_private_json

TOKENS_NAME = "tokens.json"
_LOCK_NAME = TOKENS_NAME + ".lock"  # held by whoever edits the token file
_PERSON = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_BEARER = b"Bearer "


@dataclass(frozen=True)
class Caller:
    """Whose request this is: ``person`` None is the loopback service's own user, who owns
    every job."""

    person: str | None


class Identify(Protocol):
    """Who the ``Authorization`` header's value speaks for; None: nobody (refused)."""

    def __call__(self, authorization: bytes) -> Caller | None: ...


def _bearer(authorization: bytes) -> bytes | None:
    return authorization[len(_BEARER) :] if authorization.startswith(_BEARER) else None


def _digest(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()


class LocalToken:
    """The loopback service's token (from its state file): its holder is the local user."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()

    def __call__(self, authorization: bytes) -> Caller | None:
        given = _bearer(authorization)
        if given is not None and hmac.compare_digest(given, self._expected):
            return Caller(None)
        return None


def check_person(name: str) -> str:
    """``name`` if it can name a person: 1 to 64 letters, digits, ``.``, ``_`` or ``-``."""
    if not _PERSON.fullmatch(name):
        raise InputError(
            f"A person's name is 1 to 64 letters, digits, '.', '_' or '-' starting with a "
            f"letter or digit, not {name[:80]!r}."
        )
    return name


def _read(path: Path) -> dict[str, dict[str, Any]]:
    """The people in the token file ``path`` (none when there is no file)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read the token file {path} ({exc}); fix or remove it.") from None
    people = data.get("people") if isinstance(data, dict) else None
    if not isinstance(people, dict) or not all(
        isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
        for entry in people.values()
    ):
        raise InputError(f"The token file {path} is not one omnifoa wrote; fix or remove it.")
    return people


def _write(path: Path, people: dict[str, dict[str, Any]]) -> None:
    write_private_json(path, {"format": "omnifoa-tokens", "version": 1, "people": people})


@contextmanager
def _editing(folder: Path) -> Iterator[Path]:
    """The token file of ``folder``, locked against other editors (processes included)."""
    fd = os.open(folder / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed
        yield folder / TOKENS_NAME
    finally:
        os.close(fd)


def add_person(folder: Path, name: str) -> str:
    """A new token for ``name`` (stored hashed in ``folder``); the token, to show once."""
    check_person(name)
    with _editing(folder) as path:
        people = _read(path)
        if name in people:
            raise InputError(
                f"{name} has a token already; revoke it first "
                f"(`omnifoa serve tokens revoke {name}`)."
            )
        token = new_token()
        people[name] = {"sha256": _digest(token.encode()), "added": round(time.time())}
        _write(path, people)
    return token


def revoke_person(folder: Path, name: str) -> None:
    """Forget ``name``'s token: the service refuses it from its next request on."""
    with _editing(folder) as path:
        people = _read(path)
        if people.pop(name, None) is None:
            raise InputError(f"No token is held by {name[:80]!r}; see `omnifoa serve tokens list`.")
        _write(path, people)


def people(folder: Path) -> dict[str, float]:
    """Who holds a token, with when it was added (seconds since the epoch)."""
    return {name: entry.get("added", 0) for name, entry in _read(folder / TOKENS_NAME).items()}


class TokenBook:
    """The people's tokens in ``folder``'s token file, re-read whenever the file changes."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / TOKENS_NAME
        self._seen: tuple[int, int, int] | None = None
        self._hashes: list[tuple[str, str]] = []
        self._reload()

    def __len__(self) -> int:
        return len(self._hashes)

    def _reload(self) -> None:
        """Read the file again if it was replaced or changed since it was last read (a file
        that can no longer be read refuses everyone until it is fixed)."""
        try:
            info = os.stat(self.path)
            seen = (info.st_ino, info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            seen = None
        if seen is not None and seen == self._seen:
            return
        try:
            people = _read(self.path)
        except InputError:
            people = {}
        self._hashes = [(name, entry["sha256"]) for name, entry in people.items()]
        self._seen = seen

    def __call__(self, authorization: bytes) -> Caller | None:
        given = _bearer(authorization)
        if given is None:
            return None
        self._reload()
        digest = _digest(given)
        found = None
        for name, expected in self._hashes:  # every entry compared: no early exit
            if hmac.compare_digest(digest, expected):
                found = name
        return None if found is None else Caller(found)
