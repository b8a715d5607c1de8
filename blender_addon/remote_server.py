"""A studio's omnifoa server, reached from Blender over HTTPS (standard library only: no bpy,
so it runs on worker threads; the add-on cannot import omnifoa's own client).

The server's certificate is trusted by its pinned SHA-256 fingerprint (what ``omnifoa serve
--listen`` prints), checked right after the TLS handshake and before a byte of a request (the
token) is sent. Videos go up with the service's resumable upload protocol (``POST
/v1/uploads``, then ``PATCH`` with ``Upload-Offset``, resumed from ``HEAD`` after a dropped
connection; one that fails or is stopped is deleted on the server, as the CLI's is); a
finished job's files come down, each checked against its sha256, and appear in
the folder together or not at all.

The stem's sidecar comes down naming the server's paths; before it is placed, the fields in
``VIDEO_FIELDS`` are made to name the strip's local video, those in ``OUTPUT_FIELDS`` the local
stem, and ``made_on`` the server, every other field kept (:func:`localized_sidecar`). The same
rewrite as ``plugin_core/generation/sidecar.py`` makes for ``omnifoa generate --server``; a
test keeps the two equal.
"""

from __future__ import annotations

import copy
import hashlib
import http.client
import json
import os
import re
import secrets
import ssl
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

CHUNK = 16 * 1024 * 1024  # bytes per PATCH: each request ends well inside the server's deadline
BLOCK = 1024 * 1024
RETRIES = 5  # dropped connections in a row before an upload gives up
TRANSFER_TIMEOUT = 60.0
_HEX = re.compile(r"[0-9a-f]{64}")
Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
VIDEO_FIELDS = (("request", "video"), ("source", "video"))  # where the sidecar names the video
OUTPUT_FIELDS = (("request", "output"),)  # where it names the stem
MADE_ON = "made_on"  # the server a downloaded stem was made on: {"server": URL}


class TransferFailed(Exception):
    """An upload or download could not be done; the message says why, in one sentence."""


class NotPinned(ssl.SSLError):
    """The server's certificate is not the pinned one."""


def fingerprint_of(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 64, 2)).upper()


def parse_fingerprint(text: str) -> str:
    """``text`` as ``AB:CD:…``; ValueError unless it is 64 hex digits (colons free)."""
    plain = text.strip().replace(":", "").lower()
    if not _HEX.fullmatch(plain):
        raise ValueError(
            "The certificate fingerprint is the 64 hexadecimal digits `omnifoa serve` printed "
            f"(SHA-256, colons allowed), not {text[:80]!r}."
        )
    return ":".join(plain[i : i + 2] for i in range(0, 64, 2)).upper()


class PinnedConnection(http.client.HTTPSConnection):
    """An HTTPS connection that goes on only to the certificate with fingerprint ``pin``."""

    def __init__(self, host: str, port: int | None, pin: str, **options: Any) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False  # the pin names the certificate itself
        context.verify_mode = ssl.CERT_NONE
        super().__init__(host, port, context=context, **options)
        self.pin = pin

    def connect(self) -> None:
        super().connect()
        der = self.sock.getpeercert(binary_form=True) or b""
        if fingerprint_of(der) != self.pin:
            self.sock.close()
            raise NotPinned(
                f"its certificate's fingerprint is {fingerprint_of(der)}, not the pinned {self.pin}"
            )


class _PinnedHandler(urllib.request.HTTPSHandler):
    def __init__(self, pin: str) -> None:
        super().__init__()
        self.pin = pin

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        def connect(host: str, **options: Any) -> PinnedConnection:
            options.pop("context", None)
            return PinnedConnection(host, None, self.pin, **options)

        return self.do_open(connect, req)


@dataclass(frozen=True)
class Remote:
    """A server's URL, the token that speaks for the artist there and its pinned certificate."""

    url: str
    token: str
    fingerprint: str

    @classmethod
    def checked(cls, url: str, token: str, fingerprint: str) -> Remote:
        """The server the preferences name; ValueError (one sentence) for what is missing."""
        where = urlsplit(url.strip())
        if where.scheme != "https" or not where.hostname or where.path not in ("", "/"):
            raise ValueError(
                "The server URL is the https://HOST:PORT `omnifoa serve --listen` printed, "
                f"not {url[:80]!r}."
            )
        if not token.strip():
            raise ValueError("Enter your token for the server (`omnifoa serve tokens add`).")
        return cls(url.strip().rstrip("/"), token.strip(), parse_fingerprint(fingerprint))

    def opener(self) -> urllib.request.OpenerDirector:
        """A urllib opener that trusts only the pinned certificate and follows no redirect."""
        opener = urllib.request.OpenerDirector()
        for handler in (
            _PinnedHandler(self.fingerprint),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
        ):
            opener.add_handler(handler)
        return opener

    def connection(self, timeout: float = TRANSFER_TIMEOUT) -> PinnedConnection:
        where = urlsplit(self.url)
        return PinnedConnection(
            where.hostname or "", where.port, self.fingerprint, timeout=timeout, blocksize=BLOCK
        )


class _Slice:
    """``length`` bytes of ``file`` from where it is, read in blocks."""

    def __init__(self, file: Any, length: int) -> None:
        self.file, self.left = file, length

    def read(self, size: int = -1) -> bytes:
        block = self.file.read(min(self.left, BLOCK if size < 0 else size))
        self.left -= len(block)
        return block


def _request(
    conn: http.client.HTTPConnection,
    remote: Remote,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[http.client.HTTPResponse, bytes | None]:
    """One request; the response with its body read (None: a file's body left to stream)."""
    sent = {"Authorization": f"Bearer {remote.token}", **(headers or {})}
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    conn.request(method, path, body, sent)
    response = conn.getresponse()
    if method == "GET" and "/files/" in path and response.status == 200:
        return response, None
    return response, response.read()


def _json(response: http.client.HTTPResponse, raw: bytes | None) -> dict[str, Any]:
    try:
        document = json.loads(raw or b"{}")
    except ValueError:
        document = {}
    if response.status >= 400:
        raise TransferFailed(document.get("error") or f"HTTP {response.status} {response.reason}")
    return document


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def upload(
    remote: Remote, path: Path, progress: Progress | None = None, sha256: str | None = None
) -> str:
    """Upload the video at ``path`` (whose ``sha256`` is computed unless given); the upload's
    id, which a job names as its ``upload``. Failed or stopped (whatever ``progress`` raises),
    the partial upload is deleted on the server."""
    size = path.stat().st_size
    digest = file_sha256(path) if sha256 is None else sha256
    declared = {"size": size, "sha256": digest, "name": path.name}
    conn = remote.connection()
    try:
        upload_id = _json(*_request(conn, remote, "POST", "/v1/uploads", declared))["upload"]["id"]
    finally:
        conn.close()
    try:
        _send(remote, path, upload_id, size, progress)
    except BaseException:
        _delete_upload(remote, upload_id)
        raise
    return upload_id


def _delete_upload(remote: Remote, upload_id: str) -> None:
    """Delete upload ``upload_id`` on the server, if it can still be reached."""
    conn = remote.connection()
    try:
        _request(conn, remote, "DELETE", f"/v1/uploads/{upload_id}")
    except (OSError, http.client.HTTPException):
        pass  # the server is gone: its retention removes the upload
    finally:
        conn.close()


def _send(remote: Remote, path: Path, upload_id: str, size: int, progress: Progress | None) -> None:
    """The bytes of ``path`` to upload ``upload_id``, resumed from the server's offset after a
    dropped connection."""
    drops, offset = 0, 0
    conn = remote.connection()
    try:
        with open(path, "rb") as file:
            while offset < size:
                if progress is not None:
                    progress(offset, size)
                length = min(CHUNK, size - offset)
                file.seek(offset)
                headers = {
                    "Upload-Offset": str(offset),
                    "Content-Length": str(length),
                    "Content-Type": "application/offset+octet-stream",
                }
                try:
                    where = f"/v1/uploads/{upload_id}"
                    response, raw = _request(
                        conn, remote, "PATCH", where, _Slice(file, length), headers
                    )
                except (OSError, http.client.HTTPException):
                    drops += 1
                    if drops > RETRIES:
                        raise
                    conn.close()
                    conn = remote.connection()
                    response, _ = _request(conn, remote, "HEAD", f"/v1/uploads/{upload_id}")
                    offset = int(response.getheader("Upload-Offset", "0"))
                    continue
                offset, drops = _json(response, raw)["upload"]["offset"], 0
    finally:
        conn.close()
    if progress is not None:
        progress(size, size)


def _inside(folder: Path, name: Any) -> Path:
    """Where the file the server listed as ``name`` goes: inside ``folder`` only."""
    path = PurePosixPath(name) if isinstance(name, str) else None
    if path is None or path.is_absolute() or not path.parts or ".." in path.parts:
        raise TransferFailed(f"The server listed a file name that leaves the folder: {name!r}.")
    return folder.joinpath(*path.parts)


def localized_sidecar(
    document: Any, video: Path, video_sha256: str, output: Path, server: str
) -> dict[str, Any]:
    """The sidecar a server wrote for a stem made from the upload of ``video`` (whose sha256
    is ``video_sha256``), naming ``video`` and the local stem ``output`` instead of the
    server's paths, and the ``server``; TransferFailed (one sentence) when it is not a
    generation sidecar or records another video."""
    made = copy.deepcopy(document)
    try:
        if made["source"]["sha256"] != video_sha256:
            raise TransferFailed(
                f"The server's sidecar records a video other than {video.name} (its sha256 "
                "differs); nothing was written."
            )
        for fields, path in ((VIDEO_FIELDS, video), (OUTPUT_FIELDS, output)):
            for record, name in fields:
                if not isinstance(made[record][name], str):
                    raise TypeError
                made[record][name] = str(path.absolute())
    except (KeyError, TypeError):
        raise TransferFailed(
            "The server sent a sidecar that is not a generation sidecar omnifoa wrote; "
            "nothing was written."
        ) from None
    made[MADE_ON] = {"server": server}
    return made


def _localize(part: Path, remote: Remote, video: Path, video_sha256: str, stem: Path) -> None:
    """Rewrite the downloaded sidecar at ``part`` to name this machine's video and stem."""
    try:
        document = json.loads(part.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TransferFailed(
            "The server sent a sidecar that is not JSON; generate again."
        ) from None
    local = localized_sidecar(document, video, video_sha256, stem, remote.url)
    part.write_text(json.dumps(local, indent=1, allow_nan=False) + "\n", encoding="utf-8")


def download(
    remote: Remote, job_id: str, folder: Path, stem: str, video: Path, video_sha256: str
) -> list[Path]:
    """Download job ``job_id``'s files (its stem, named ``stem``, first) into ``folder``: each
    checked against its sha256, the sidecar made to name the local ``video`` (whose sha256 is
    ``video_sha256``) and stem, then all moved into place together; none replaces a file."""
    conn = remote.connection()
    parts: list[tuple[Path, Path]] = []
    made_folders: list[Path] = []
    placed: list[Path] = []
    try:
        listed = _json(*_request(conn, remote, "GET", f"/v1/jobs/{job_id}/files"))["files"]
        targets = [_inside(folder, entry["name"]) for entry in listed]
        for target in targets:
            if target.exists():
                raise TransferFailed(f"{target} exists already; move it away and generate again.")
        for entry, target in zip(listed, targets, strict=True):
            if not target.parent.is_dir():
                target.parent.mkdir(parents=True)
                made_folders.append(target.parent)
            part = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
            parts.append((part, target))
            _fetch(conn, remote, f"/v1/jobs/{job_id}/files/{entry['name']}", part, entry)
            if entry["name"] == f"{stem}.json":
                _localize(part, remote, video, video_sha256, folder / stem)
        for target in targets:
            if target.exists():
                raise TransferFailed(f"{target} appeared meanwhile; nothing was replaced.")
        for part, target in parts:
            os.replace(part, target)
            placed.append(target)
        return targets
    except BaseException:
        for target in placed:  # a move that failed halfway: none of them stays
            target.unlink(missing_ok=True)
        for part, _ in parts:
            part.unlink(missing_ok=True)
        for made in reversed(made_folders):
            if made.is_dir() and not any(made.iterdir()):
                made.rmdir()
        raise
    finally:
        conn.close()


def _fetch(
    conn: http.client.HTTPConnection, remote: Remote, path: str, part: Path, entry: dict
) -> None:
    response, raw = _request(conn, remote, "GET", path)
    if raw is not None:
        _json(response, raw)
    digest = hashlib.sha256()
    with open(part, "wb") as file:
        while block := response.read(BLOCK):
            digest.update(block)
            file.write(block)
    if digest.hexdigest() != entry["sha256"]:
        raise TransferFailed(
            f"{part.name} arrived damaged (its sha256 does not match); generate again."
        )
