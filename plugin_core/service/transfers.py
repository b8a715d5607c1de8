"""A client's side of the service's files: upload a video (resuming after a dropped
connection) and download a finished job's files, verified and committed all-or-nothing.

Bytes are streamed with :mod:`http.client` in large blocks, never held whole in memory. Each
``PATCH`` carries at most ``CHUNK`` bytes; the service lets it take as long as its bytes keep
coming at its minimum rate, and on a link slower than that each cut keeps what came, so the
next ``PATCH`` goes on from there. An ``https://`` service is reached with the client's trust
(its CA file or pinned certificate), the loopback one over plain HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
from collections.abc import Callable
from contextlib import ExitStack
from http import HTTPStatus
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from plugin_core.atomic_files import atomic_output, output_transaction, undone_folders
from plugin_core.file_checks import output_file
from plugin_core.service.client import ServiceClient, ServiceError

CHUNK = 64 * 1024 * 1024  # bytes per PATCH
BLOCK = 1024 * 1024  # bytes per socket write or read
RETRIES = 5  # dropped connections in a row, none moving the upload on, before giving up
Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
Adapt = Callable[[str, Path], None]  # (the listed name, its verified bytes) before the commit


class _Slice:
    """``length`` bytes of ``file`` from its current position, read in blocks."""

    def __init__(self, file: BinaryIO, length: int) -> None:
        self.file, self.left = file, length

    def read(self, size: int = -1) -> bytes:
        block = self.file.read(min(self.left, BLOCK if size < 0 else size))
        self.left -= len(block)
        return block


class _Link:
    """One HTTP connection to the service of ``client``."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client
        where = urlsplit(client.url)
        host, port = where.hostname or "", where.port
        if where.scheme == "https":  # the client's trust: its CA file or pinned certificate
            self.conn: http.client.HTTPConnection = client.trust.connection(
                host, port, timeout=client.timeout, blocksize=BLOCK
            )
        else:
            self.conn = http.client.HTTPConnection(
                host, port, timeout=client.timeout, blocksize=BLOCK
            )

    def send(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> http.client.HTTPResponse:
        """The response (its body not read yet) to one request."""
        sent = {"Authorization": f"Bearer {self.client.token}", **(headers or {})}
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body, sent)
            return self.conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            where = self.client.url
            raise ServiceError(f"The connection to the service at {where} broke ({exc}).") from None

    def json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.send(method, path, body)
        return _answer(response, response.read())

    def close(self) -> None:
        self.conn.close()


def _answer(response: http.client.HTTPResponse, raw: bytes) -> dict[str, Any]:
    """The JSON of a response; ServiceError with the service's sentence on a refusal."""
    try:
        document = json.loads(raw) if raw else {}
    except ValueError:
        document = {}
    if response.status >= 400:
        message = document.get("error") or f"HTTP {response.status} {response.reason}"
        raise ServiceError(message, response.status)
    return document


def file_sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def upload(
    client: ServiceClient,
    path: Path,
    progress: Progress | None = None,
    chunk: int = CHUNK,
    sha256: str | None = None,
) -> str:
    """Upload ``path`` (whose ``sha256`` is computed unless given) to the service; the upload
    id a job names as its ``upload``. Failed or interrupted (Ctrl-C), the partial upload is
    deleted on the service."""
    link = _Link(client)
    try:
        size = path.stat().st_size
        digest = file_sha256(path) if sha256 is None else sha256
        declared = {"size": size, "sha256": digest, "name": path.name}
        upload_id = link.json("POST", "/v1/uploads", declared)["upload"]["id"]
    finally:
        link.close()
    try:
        resume_upload(client, upload_id, path, progress, chunk)
    except BaseException:
        _delete_upload(client, upload_id)
        raise
    return upload_id


def _delete_upload(client: ServiceClient, upload_id: str) -> None:
    """Delete upload ``upload_id`` on the service, if it can still be reached."""
    link = _Link(client)
    try:
        link.json("DELETE", f"/v1/uploads/{upload_id}")
    except ServiceError:
        pass  # the service is gone: its retention removes the upload
    finally:
        link.close()


def resume_upload(
    client: ServiceClient,
    upload_id: str,
    path: Path,
    progress: Progress | None = None,
    chunk: int = CHUNK,
) -> None:
    """Send the rest of upload ``upload_id`` of ``path`` from where the service says it is."""
    size, drops = path.stat().st_size, 0
    link = _Link(client)
    try:
        offset = _offset(link, upload_id)
        with open(path, "rb") as file:
            while offset < size:
                if progress is not None:
                    progress(offset, size)
                length = min(chunk, size - offset)
                file.seek(offset)
                headers = {
                    "Upload-Offset": str(offset),
                    "Content-Length": str(length),
                    "Content-Type": "application/offset+octet-stream",
                }
                try:
                    response = link.send(
                        "PATCH", f"/v1/uploads/{upload_id}", _Slice(file, length), headers
                    )
                    raw = response.read()
                    if response.status == HTTPStatus.REQUEST_TIMEOUT:  # cut: bytes came slowly
                        _answer(response, raw)  # its sentence, handled as a dropped connection
                except (ServiceError, OSError, http.client.HTTPException):
                    link.close()
                    link = _Link(client)
                    kept = _offset(link, upload_id)
                    drops = 0 if kept > offset else drops + 1  # a cut that kept bytes is progress
                    if drops > RETRIES:
                        raise
                    offset = kept
                    continue
                if response.status == 409 and response.getheader("Upload-Offset"):
                    offset = int(response.getheader("Upload-Offset", "0"))  # it went on elsewhere
                    link.close()  # the service closes after a refusal
                    link = _Link(client)
                    continue
                offset = _answer(response, raw)["upload"]["offset"]
                drops = 0
        if progress is not None:
            progress(size, size)
    finally:
        link.close()


def _offset(link: _Link, upload_id: str) -> int:
    response = link.send("HEAD", f"/v1/uploads/{upload_id}")
    response.read()
    if response.status >= 400:
        raise ServiceError(f"The service has no upload {upload_id} to resume.", response.status)
    return int(response.getheader("Upload-Offset", "0"))


def download(
    client: ServiceClient,
    job_id: str,
    folder: Path,
    overwrite: bool = False,
    adapt: Adapt | None = None,
) -> list[Path]:
    """Download job ``job_id``'s files into ``folder``: every file checked against its sha256,
    handed to ``adapt`` (which may rewrite it), then all of them moved into place together,
    or none."""
    link = _Link(client)
    try:
        listed = link.json("GET", f"/v1/jobs/{job_id}/files")["files"]
        targets = [folder / _relative(entry["name"]) for entry in listed]
        for target in targets:
            if target.parent.is_dir():  # refused before any byte comes
                output_file(target, overwrite)
        made: list[Path] = []
        with ExitStack() as new_folders, output_transaction():
            for sub in sorted({t.parent for t in targets}):  # a stem's takes folder
                new_folders.enter_context(undone_folders(sub)).mkdir(parents=True, exist_ok=True)
            for entry, target in zip(listed, targets, strict=True):
                output_file(target, overwrite)
                _fetch(link, f"/v1/jobs/{job_id}/files/{entry['name']}", target, entry, adapt)
                made.append(target)
        return made
    finally:
        link.close()


def _relative(name: Any) -> PurePosixPath:
    """A file name the service listed, which must stay inside the download folder."""
    path = PurePosixPath(name) if isinstance(name, str) else None
    if path is None or path.is_absolute() or not path.parts or ".." in path.parts:
        raise ServiceError(f"The service listed a file name that leaves the folder: {name!r}.")
    return path


def _fetch(
    link: _Link, path: str, target: Path, entry: dict[str, Any], adapt: Adapt | None
) -> None:
    """Stream one file into a temporary beside ``target`` (then ``adapt`` it), moved there when
    the transaction commits; ServiceError when its bytes do not match its sha256."""
    response = link.send("GET", path)
    if response.status != 200:
        _answer(response, response.read())
    said = response.getheader("Repr-Digest", "")
    hasher = hashlib.sha256()
    with atomic_output(target) as tmp:
        with open(tmp, "wb") as file:
            while block := response.read(BLOCK):
                hasher.update(block)
                file.write(block)
        expected = base64.b64encode(bytes.fromhex(entry["sha256"])).decode()
        if said != f"sha-256=:{expected}:" or hasher.hexdigest() != entry["sha256"]:
            raise ServiceError(
                f"{target.name} arrived damaged (its sha256 does not match); nothing was "
                "written: download the job's files again."
            )
        if adapt is not None:
            adapt(entry["name"], tmp)
