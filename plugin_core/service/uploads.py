"""Resumable uploads of the video a job reads, in the person's uploads folder, and the
retention limit on a person's files.

An upload is declared first (its size, at most the service's cap, and its sha256), then its
bytes are sent in order: each ``PATCH`` carries the offset it starts at (``Upload-Offset``,
the tus protocol's header names) and is streamed to disk as it arrives. A connection that drops
keeps what was written; ``HEAD`` says where to go on. When the declared size is reached the
bytes must match the sha256, or the upload is removed; a body that would pass the declared
size removes it too. A finished upload is named by its id in a job (``"upload": id``).

Each person's uploads and results count towards their retention limit: files older than the
age limit go, and the oldest go first while a new upload would pass the byte limit (an upload
counts its declared size from the start). Files of unfinished jobs are never removed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from plugin_core.errors import InputError
from plugin_core.service.replies import Refused
from plugin_core.service.state_file import write_private_json
from plugin_core.service.storage_roots import RESULTS, UPLOADS, StorageRoots

GIB = 1024**3
DEFAULT_CAP = 8 * GIB
DEFAULT_KEEP_S = 7 * 24 * 3600.0
DEFAULT_KEEP_BYTES = 64 * GIB
FLUSH = 4 * 1024 * 1024  # bytes gathered before one write to disk (off the event loop)
LOCK_WAIT_S = 10.0  # how long a request waits for another one on the same upload to end
UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")
_CLOSE = {"Connection": "close"}  # the rest of a refused body is not read as a request
NO_UPLOAD = "There is no upload of yours with that id; declare it again with POST /v1/uploads."


@dataclass(frozen=True)
class Retention:
    """What a person may keep on the service: files at most ``age_s`` old, ``total`` bytes."""

    age_s: float = DEFAULT_KEEP_S
    total: int = DEFAULT_KEEP_BYTES


@dataclass
class _Kept:
    """One removable thing of a person's: an upload (its files) or a job's results folder."""

    paths: list[Path]
    size: int
    mtime: float


InUse = Callable[[], set[Path]]  # the files and folders of unfinished jobs


class UploadStore:
    """The uploads of every person, and their retention."""

    def __init__(self, roots: StorageRoots, cap: int, retention: Retention, in_use: InUse) -> None:
        self.roots, self.cap, self.retention, self._in_use = roots, cap, retention, in_use
        self._hashers: dict[str, tuple[int, Any]] = {}  # id → (bytes hashed, sha256 so far)
        self._locks: dict[str, asyncio.Lock] = {}
        self._sweeping = threading.RLock()  # a sweep and the upload it makes room for

    # ------------------------------------------------------------ declare, ask, use
    def create(self, person: str | None, body: Any) -> dict[str, Any]:
        """Declare an upload from ``{"size", "sha256", "name"?}``; its status."""
        if not isinstance(body, dict) or set(body) - {"size", "sha256", "name"}:
            raise Refused(
                HTTPStatus.BAD_REQUEST,
                'Declare an upload as {"size": bytes, "sha256": hex, "name": "clip.mp4"}.',
            )
        size, digest, name = body.get("size"), body.get("sha256"), body.get("name", "")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise Refused(
                HTTPStatus.BAD_REQUEST, "The upload size must be a whole number of bytes."
            )
        if size > self.cap:
            raise Refused(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"An upload is at most {self.cap} bytes ({self.cap / GIB:.3g} GiB), not {size}; "
                "upload a shorter span of the video.",
            )
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise Refused(
                HTTPStatus.BAD_REQUEST, "The upload's sha256 must be 64 lowercase hex digits."
            )
        if not isinstance(name, str):
            raise Refused(HTTPStatus.BAD_REQUEST, "The upload's name must be text.")
        suffix = Path(name).suffix.lower()
        if not _SUFFIX.fullmatch(suffix) or suffix in (".json", ".part"):  # the store's own
            suffix = ".bin"
        upload_id = uuid.uuid4().hex
        with self._sweeping:
            self.sweep(person, incoming=size)
            folder = self.roots.uploads(person)
            meta = {"id": upload_id, "size": size, "sha256": digest, "suffix": suffix}
            write_private_json(folder / f"{upload_id}.json", {**meta, "created": time.time()})
            os.close(
                os.open(folder / f"{upload_id}.part", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            )
        return self.status(person, upload_id)

    def status(self, person: str | None, upload_id: str) -> dict[str, Any]:
        """``{"id", "size", "offset", "complete"}`` of the person's upload."""
        meta = self._meta(person, upload_id)
        done = self._data(person, meta, complete=True)
        if done.is_file():
            offset, complete = done.stat().st_size, True
        else:
            part = self._data(person, meta, complete=False)
            if not part.is_file():
                raise Refused(HTTPStatus.NOT_FOUND, NO_UPLOAD)
            offset, complete = part.stat().st_size, False
        return {"id": upload_id, "size": meta["size"], "offset": offset, "complete": complete}

    def video(self, person: str | None, upload_id: str) -> Path:
        """The file of the person's finished upload ``upload_id``; InputError otherwise."""
        if not isinstance(upload_id, str) or not UPLOAD_ID.fullmatch(upload_id):
            raise InputError("The job field 'upload' must be the id POST /v1/uploads gave.")
        try:
            meta = self._meta(person, upload_id)
        except Refused:
            raise InputError(f"There is no upload {upload_id} of yours on this service.") from None
        path = self._data(person, meta, complete=True)
        if not path.is_file():
            raise InputError(
                f"The upload {upload_id} is not complete; send the rest of it (HEAD gives "
                "its offset), then submit the job."
            )
        os.utime(path)  # used now: retention counts its age from here
        return path

    def delete(self, person: str | None, upload_id: str) -> None:
        meta = self._meta(person, upload_id)
        self._remove(person, meta["id"])

    # ------------------------------------------------------------ bytes
    async def append(
        self,
        person: str | None,
        upload_id: str,
        offset: int,
        length: int | None,
        chunks: AsyncIterator[bytes],
    ) -> dict[str, Any]:
        """Stream ``chunks`` (a request body of ``length`` bytes, when said) onto the upload
        from ``offset``; the status after it, whether the body came whole or was cut."""
        lock = self._locks.setdefault(upload_id, asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), LOCK_WAIT_S)
        except TimeoutError:
            raise Refused(
                HTTPStatus.CONFLICT,
                "Another request is sending bytes of this upload; wait for it to end.",
            ) from None
        try:
            return await self._append(person, upload_id, offset, length, chunks)
        finally:
            lock.release()

    async def settled_status(self, person: str | None, upload_id: str) -> dict[str, Any]:
        """The status once a request still writing the upload has ended (if it ends soon)."""
        lock = self._locks.get(upload_id)
        if lock is not None and lock.locked():
            try:
                await asyncio.wait_for(lock.acquire(), 2.0)
                lock.release()
            except TimeoutError:
                pass  # still sending: the offset as it stands
        return await run_in_threadpool(self.status, person, upload_id)

    async def _append(
        self,
        person: str | None,
        upload_id: str,
        offset: int,
        length: int | None,
        chunks: AsyncIterator[bytes],
    ) -> dict[str, Any]:
        status = await run_in_threadpool(self.status, person, upload_id)
        if status["complete"]:
            raise Refused(HTTPStatus.CONFLICT, "The upload is complete already.")
        at, size = status["offset"], status["size"]
        if offset != at:
            raise Refused(
                HTTPStatus.CONFLICT,
                f"The upload is at offset {at}, not {offset}; send the bytes from there.",
                {"Upload-Offset": str(at), **_CLOSE},
            )
        if length is not None and at + length > size:
            await run_in_threadpool(self._remove, person, upload_id)
            raise self._too_long(size)
        meta = await run_in_threadpool(self._meta, person, upload_id)
        part = self._data(person, meta, complete=False)
        hasher = await run_in_threadpool(self._hasher, upload_id, part, at)
        too_long = False
        with open(part, "ab") as file:  # opening is quick; the writes go to threads
            disk = _Appender(file, hasher, at)
            pending = bytearray()
            try:
                async for chunk in chunks:
                    if disk.sent + len(pending) + len(chunk) > size:
                        too_long = True
                        break
                    pending += chunk
                    if len(pending) >= FLUSH:
                        await disk.add(pending)
                        pending = bytearray()
            except ClientDisconnect:
                pass  # the connection dropped: what came is kept, HEAD says how much
            finally:
                if pending and not too_long:
                    await disk.add(pending)
                written = await disk.settle()
                self._hashers[upload_id] = (written, hasher)
        if too_long:
            await run_in_threadpool(self._remove, person, upload_id)
            raise self._too_long(size)
        if written == size:
            await run_in_threadpool(self._finish, person, meta, hasher)
        return await run_in_threadpool(self.status, person, upload_id)

    def _too_long(self, size: int) -> Refused:
        return Refused(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"The bytes sent pass the upload's declared size of {size}; the upload is removed: "
            "declare it again with its true size.",
            _CLOSE,
        )

    def _hasher(self, upload_id: str, part: Path, offset: int) -> Any:
        """The sha256 of the upload's first ``offset`` bytes, kept from earlier requests or
        read again from disk (after a restart)."""
        kept = self._hashers.get(upload_id)
        if kept is not None and kept[0] == offset:
            return kept[1]
        hasher = hashlib.sha256()
        with open(part, "rb") as file:
            while block := file.read(min(FLUSH, offset - file.tell())):
                hasher.update(block)
        return hasher

    def _finish(self, person: str | None, meta: dict[str, Any], hasher: Any) -> None:
        """Keep the upload if its bytes match its sha256; remove it otherwise."""
        self._hashers.pop(meta["id"], None)
        if hasher.hexdigest() != meta["sha256"]:
            self._remove(person, meta["id"])
            raise Refused(
                HTTPStatus.BAD_REQUEST,
                "The uploaded bytes do not match the declared sha256; the upload is removed: "
                "upload the file again.",
            )
        os.replace(self._data(person, meta, False), self._data(person, meta, True))

    # ------------------------------------------------------------ files
    def _meta(self, person: str | None, upload_id: str) -> dict[str, Any]:
        if not UPLOAD_ID.fullmatch(upload_id):
            raise Refused(HTTPStatus.NOT_FOUND, NO_UPLOAD)
        path = self.roots.uploads(person) / f"{upload_id}.json"
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise Refused(HTTPStatus.NOT_FOUND, NO_UPLOAD) from None
        return meta

    def _data(self, person: str | None, meta: dict[str, Any], complete: bool) -> Path:
        name = meta["id"] + (meta["suffix"] if complete else ".part")
        return self.roots.uploads(person) / name

    def _files(self, person: str | None, upload_id: str) -> list[Path]:
        return sorted(self.roots.uploads(person).glob(f"{upload_id}.*"))

    def _remove(self, person: str | None, upload_id: str) -> None:
        self._hashers.pop(upload_id, None)
        for path in self._files(person, upload_id):
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------ retention
    def sweep_all(self) -> None:
        """Apply the retention limit to every person's files (at start)."""
        with self._sweeping:
            for folder in sorted(self.roots.data_root.iterdir()):
                if folder.is_dir():
                    self._sweep_folder(folder, 0)

    def sweep(self, person: str | None, incoming: int = 0) -> None:
        """Remove the person's expired files, then their oldest while ``incoming`` more bytes
        would pass the byte limit; 507 when what is in use leaves no room."""
        with self._sweeping:
            self._sweep_folder(self.roots.person_root(person), incoming)

    def _sweep_folder(self, folder: Path, incoming: int) -> None:
        busy = self._in_use()
        entries = _kept(folder)
        kept = [k for k in entries if not any(_holds(p, busy) for p in k.paths)]
        held = sum(k.size for k in entries) - sum(k.size for k in kept)
        too_old = time.time() - self.retention.age_s
        kept.sort(key=lambda k: k.mtime)
        total = held + sum(k.size for k in kept) + incoming
        for entry in kept:
            if entry.mtime >= too_old and total <= self.retention.total:
                continue
            if any(self._sending(p.stem) for p in entry.paths):
                continue  # bytes arriving now
            for path in entry.paths:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                self._hashers.pop(path.stem, None)
            total -= entry.size
        if total > self.retention.total:
            raise Refused(
                HTTPStatus.INSUFFICIENT_STORAGE,
                f"Your files on this service would take {total} bytes, over the "
                f"{self.retention.total} you may keep, and the rest are in use; wait for your "
                "jobs to end or upload a shorter span.",
            )

    def _sending(self, upload_id: str) -> bool:
        lock = self._locks.get(upload_id)
        return lock is not None and lock.locked()


class _Appender:
    """Appends blocks to an upload's file and its hash on a worker thread: one block is
    written while the next one arrives."""

    def __init__(self, file: Any, hasher: Any, offset: int) -> None:
        self.file, self.hasher = file, hasher
        self.sent = offset  # bytes handed over, written or being written
        self._writing: asyncio.Future[None] | None = None

    async def add(self, block: bytearray) -> None:
        await self.settle()
        self._writing = asyncio.ensure_future(run_in_threadpool(self._write, block))
        self.sent += len(block)

    async def settle(self) -> int:
        """The bytes on disk once the block being written is."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            await writing
        return self.sent

    def _write(self, block: bytearray) -> None:
        self.file.write(block)
        self.file.flush()
        self.hasher.update(block)


def _kept(person_root: Path) -> list[_Kept]:
    """Everything of one person's that retention may remove."""
    entries: list[_Kept] = []
    uploads = person_root / UPLOADS
    if uploads.is_dir():
        for meta in uploads.glob("*.json"):
            files = sorted(uploads.glob(f"{meta.stem}.*"))
            try:
                size = int(json.loads(meta.read_text(encoding="utf-8"))["size"])
            except (OSError, ValueError, KeyError, TypeError):
                size = sum(_size(f) for f in files)
            entries.append(_Kept(files, size, max(_mtime(f) for f in files)))
    results = person_root / RESULTS
    if results.is_dir():
        for folder in results.iterdir():
            inside = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
            mtime = max([_mtime(folder), *map(_mtime, inside)])
            entries.append(_Kept([folder], sum(map(_size, inside)), mtime))
    return entries


def _holds(path: Path, busy: set[Path]) -> bool:
    return any(b == path or b.is_relative_to(path) for b in busy)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
