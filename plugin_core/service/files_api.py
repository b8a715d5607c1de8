"""The service's file endpoints and where a job's files may be.

``PATCH /v1/uploads/<id>`` (header ``Upload-Offset``) streams bytes onto a declared upload;
``HEAD``/``GET`` say its offset (``Upload-Offset``, ``Upload-Length``); ``DELETE`` drops it
(declaring one, ``POST /v1/uploads``, is a JSON endpoint of :mod:`.api`). ``GET
/v1/jobs/<id>/files`` lists a finished job's files (the stem, its sidecar, its takes: names
relative to the stem's folder, sizes, sha256) and ``GET /v1/jobs/<id>/files/<name>`` streams
one, its sha256 in ``Repr-Digest`` (RFC 9530), so a client verifies every file before it
commits them. Only the job's owner gets them.

A job body may name ``"upload": <id>`` instead of a ``video`` path, and may leave out
``output_dir``: its files then go to a fresh folder among the person's results. A confined
service (:mod:`.storage_roots`) refuses any other path outside the allowed roots.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from plugin_core.atomic_files import undone_folders
from plugin_core.errors import InputError
from plugin_core.file_checks import input_file
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.stem_sidecar import sidecar_path
from plugin_core.media.stem_takes import read_sidecar, stem_takes
from plugin_core.service.guards import whose
from plugin_core.service.job_schema import regenerate_from_body
from plugin_core.service.jobs import FINAL, JobQueue
from plugin_core.service.replies import Refused, reply
from plugin_core.service.storage_roots import StorageRoots
from plugin_core.service.uploads import DEFAULT_CAP, Retention, UploadStore

FILES_NAME = "files"  # the data root, in the service's folder: a folder per person
_OFFSET = re.compile(r"[0-9]{1,15}")
NO_FILE = "The job made no file of that name; GET /v1/jobs/<id>/files lists them."
Parsed = TypeVar("Parsed", bound=tuple[GenerationRequest, Any, Any])


@dataclass(frozen=True)
class FileSettings:
    """The service's file settings: shared roots, the upload cap, what a person may keep."""

    shared: tuple[Path, ...] = ()
    cap: int = DEFAULT_CAP
    retention: Retention = field(default_factory=Retention)


def files_api(data_root: Path, jobs: JobQueue, settings: FileSettings, remote: bool) -> FilesApi:
    """The file endpoints of a service keeping people's files under ``data_root``; what is
    there is swept by the retention limit now. InputError for a shared root that is no folder."""
    roots = StorageRoots.build(data_root, list(settings.shared), remote)
    store = UploadStore(roots, settings.cap, settings.retention, lambda: unfinished_paths(jobs))
    store.sweep_all()
    return FilesApi(store, jobs)


def unfinished_paths(jobs: JobQueue) -> set[Path]:
    """The videos, stems and output folders of every job not yet ended."""
    paths: set[Path] = set()
    for record in jobs.list(None):
        if record["state"] in FINAL:
            continue
        paths |= {Path(record["request"]["video"]), Path(record["request"]["output"]).parent}
        for shot in record.get("shots") or []:  # a batch's
            paths |= {Path(shot["video"]), Path(shot["output"]).parent}
        if record.get("edit"):
            paths.add(Path(record["edit"]["stem"]).parent)
    return paths


class FilesApi:
    """Uploads in, results out, over one upload store and one job queue."""

    def __init__(self, store: UploadStore, jobs: JobQueue) -> None:
        self.store, self.roots, self._jobs = store, store.roots, jobs

    def routes(self) -> list[Route]:
        return [
            Route(
                "/v1/uploads/{upload_id}",
                self.upload,
                methods=["GET", "HEAD", "PATCH", "DELETE"],
            ),
            Route("/v1/jobs/{job_id}/files", self.job_files, methods=["GET"]),
            Route("/v1/jobs/{job_id}/files/{name:path}", self.job_file, methods=["GET"]),
        ]

    # ------------------------------------------------------------ uploads
    async def declare(self, request: Request, body: Any) -> Response:
        """``POST /v1/uploads`` with its JSON body read: 201 with the upload's status."""
        status = await run_in_threadpool(self.store.create, whose(request), body)
        return _upload_reply(
            HTTPStatus.CREATED, status, {"Location": f"/v1/uploads/{status['id']}"}
        )

    async def upload(self, request: Request) -> Response:
        person, upload_id = whose(request), request.path_params["upload_id"]
        if request.method == "PATCH":
            offset = _header_number(request, "Upload-Offset", required=True)
            length = _header_number(request, "Content-Length", required=False)
            status = await self.store.append(person, upload_id, offset, length, request.stream())
            return _upload_reply(HTTPStatus.OK, status)
        if request.method == "DELETE":
            await run_in_threadpool(self.store.delete, person, upload_id)
            return reply(HTTPStatus.OK, {"deleted": upload_id})
        return _upload_reply(HTTPStatus.OK, await self.store.settled_status(person, upload_id))

    # ------------------------------------------------------------ results
    async def job_files(self, request: Request) -> Response:
        return reply(HTTPStatus.OK, {"files": await run_in_threadpool(self._listing, request)})

    def _listing(self, request: Request) -> list[dict[str, Any]]:
        return [
            {"name": name, "size": path.stat().st_size, "sha256": _sha256(path)}
            for name, path in self._files(request).items()
        ]

    async def job_file(self, request: Request) -> Response:
        files = await run_in_threadpool(self._files, request)
        path = files.get(request.path_params["name"])
        if path is None:
            raise Refused(HTTPStatus.NOT_FOUND, NO_FILE)
        digest = await run_in_threadpool(_sha256, path)
        encoded = base64.b64encode(bytes.fromhex(digest)).decode()
        return FileResponse(
            path,
            headers={"Repr-Digest": f"sha-256=:{encoded}:", "Cache-Control": "no-store"},
            media_type="application/octet-stream",
        )

    def _files(self, request: Request) -> dict[str, Path]:
        """The files of the caller's finished job, by their name relative to the stem's folder."""
        record = self._jobs.get(request.path_params["job_id"], whose(request))
        if record is None:
            raise Refused(HTTPStatus.NOT_FOUND, "There is no job with that id.")
        if record["state"] != "done":
            raise Refused(HTTPStatus.CONFLICT, f"The job is {record['state']}, not done.")
        files: dict[str, Path] = {}
        for output in record["outputs"]:
            stem = Path(output)
            try:
                takes, _ = stem_takes(stem, read_sidecar(stem))
                for path in [stem, sidecar_path(stem), *(stem.parent / t.file for t in takes)]:
                    real = input_file(path, "job file").resolve()
                    if not real.is_relative_to(stem.parent):
                        raise InputError(f"{path} lies outside the stem's folder.")
                    files[real.relative_to(stem.parent).as_posix()] = real
            except InputError as exc:
                raise Refused(
                    HTTPStatus.GONE, f"The job's files are no longer whole on the service: {exc}"
                ) from None
        return files

    # ------------------------------------------------------------ job bodies
    def parse(self, parse: Callable[[Any], Parsed], body: Any, person: str | None) -> Parsed:
        """``parse(body)`` with the body's upload and results folder filled in and every path
        it reads or writes checked against the roots; a results folder made for a job that is
        refused is removed."""
        if not isinstance(body, dict):
            return parse(body)
        body = dict(body)
        if parse is regenerate_from_body:  # new takes of a stem, beside it
            if isinstance(body.get("stem"), str):
                body["stem"] = self.roots.writable(body["stem"], person, "stem")
            parsed = parse(body)
        else:
            self._video(body, person)
            if isinstance(body.get("output_dir"), str):
                body["output_dir"] = self.roots.writable(
                    body["output_dir"], person, "output folder"
                )
                parsed = parse(body)
            elif "output_dir" in body:
                parsed = parse(body)
            else:
                with self._results_folder(person) as folder:
                    body["output_dir"] = str(folder)
                    parsed = parse(body)
        self.roots.readable(str(parsed[0].video), person, "video")  # a regenerate's: its stem's
        return parsed

    def _video(self, body: dict[str, Any], person: str | None) -> None:
        """The body's ``upload`` as its ``video``; a ``video`` path checked against the roots."""
        if "upload" in body:
            if "video" in body:
                raise InputError("A job names its video by 'video' or by 'upload', not both.")
            body["video"] = str(self.store.video(person, body.pop("upload")))
        elif isinstance(body.get("video"), str):
            body["video"] = self.roots.readable(body["video"], person, "video")

    @contextmanager
    def _results_folder(self, person: str | None) -> Iterator[Path]:
        """A fresh folder among the person's results, removed if the block fails."""
        self.store.sweep(person)
        with undone_folders(self.roots.new_results_folder(person)) as folder:
            folder.mkdir(mode=0o700)
            yield folder


def _upload_reply(
    status: int, upload: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """An upload's status, in JSON and in the tus protocol's headers."""
    return reply(
        status,
        {"upload": upload},
        {
            "Upload-Offset": str(upload["offset"]),
            "Upload-Length": str(upload["size"]),
            "Cache-Control": "no-store",
            **(headers or {}),
        },
    )


def _header_number(request: Request, name: str, required: bool) -> int | None:
    value = request.headers.get(name)
    if value is None:
        if required:
            raise Refused(HTTPStatus.BAD_REQUEST, f"Send the {name} header with the bytes.")
        return None
    if not _OFFSET.fullmatch(value.strip()):
        raise Refused(HTTPStatus.BAD_REQUEST, f"The {name} header must be ASCII digits.")
    return int(value)


def _sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
