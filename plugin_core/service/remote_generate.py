"""One generation on a remote omnifoa server, for ``omnifoa generate --server``: the local
outputs checked first, the video uploaded, the job submitted with the request's own fields and
followed to its end, its files downloaded, verified and committed at the requested output.

The whole video is uploaded, not a cut of the span: a cut without re-encoding starts at a
keyframe and rebases the timestamps, so the frames the server decodes at the model's rate
could differ from the ones a local run decodes; the whole file makes the same stem.

The sidecar that comes back names this machine's video and stem, not the server's upload and
results folder (:func:`~plugin_core.generation.sidecar.localized_sidecar`), so a later local
``omnifoa regenerate`` or ``omnifoa batch`` finds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from plugin_core.generation.outputs import check_outputs
from plugin_core.generation.request import GenerationRequest, field_specs, request_record
from plugin_core.generation.sidecar import localized_sidecar
from plugin_core.media.stem_sidecar import sidecar_path, sidecar_text
from plugin_core.service.client import ServiceClient, ServiceError
from plugin_core.service.transfers import Adapt, Progress, download, file_sha256, upload

POLL_S = 1.0  # how long one long-poll of the job waits for its end before progress is shown
JobProgress = Callable[[float], None]  # the job's percent done


def job_body(request: GenerationRequest, upload_id: str) -> dict[str, Any]:
    """The job body of ``request`` with its video uploaded as ``upload_id``; the stem goes
    to a fresh folder among the person's results on the server."""
    record = request_record(request)
    wire = [name for name, spec in field_specs().items() if spec.wire and name != "video"]
    return {"upload": upload_id, "name": request.output.name, **{n: record[n] for n in wire}}


def check_server(client: ServiceClient, model: str) -> None:
    """ServiceError (one sentence) unless the server answers, knows the token and has
    ``model`` installed: nothing is uploaded to a server that cannot run the job."""
    try:
        models = client.models()
    except ServiceError as exc:
        if exc.status == 401:
            raise ServiceError(
                f"The server at {client.url} refused the token (401); ask for a token "
                "(`omnifoa serve tokens add NAME` on the server) and set OMNIFOA_SERVER_TOKEN.",
                401,
            ) from None
        raise
    installed = sorted(m["id"] for m in models if m.get("installed"))
    if model not in installed:
        raise ServiceError(
            f"The server at {client.url} has no model {model!r} installed; "
            f"it has {', '.join(installed) or 'none'}."
        )


def follow(client: ServiceClient, job_id: str, progress: JobProgress | None) -> dict[str, Any]:
    """The job's record once it has ended, ``progress`` told its percent on the way."""
    while True:
        record = client.job(job_id, wait=POLL_S)
        if progress is not None:
            progress(100.0 if record["state"] == "done" else record["percent"])
        if record["state"] in ("done", "failed", "cancelled"):
            return record


def localize(request: GenerationRequest, video_sha256: str, server: str) -> Adapt:
    """What turns the stem's downloaded sidecar into one naming this machine's video and
    output (ServiceError when it records another video)."""
    name = sidecar_path(request.output).name

    def adapt(listed: str, tmp: Path) -> None:
        if listed != name:
            return
        try:
            document = json.loads(tmp.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ServiceError(
                f"The server sent {name} that is not JSON; nothing was written."
            ) from None
        try:
            local = localized_sidecar(document, request.video, video_sha256, request.output, server)
        except ValueError as exc:
            raise ServiceError(str(exc)) from None
        tmp.write_text(sidecar_text(local), encoding="utf-8")

    return adapt


def remote_generate(
    client: ServiceClient,
    request: GenerationRequest,
    sent: Progress | None = None,
    progress: JobProgress | None = None,
) -> list[Path]:
    """Make ``request``'s stem on the server of ``client``; the local files written (inside
    the caller's output transaction, if any). Interrupted (Ctrl-C), the job is cancelled."""
    check_outputs(request)  # refused before a byte leaves the machine
    check_server(client, request.model)
    digest = file_sha256(request.video)  # the bytes uploaded: the sidecar must record them
    job = client.submit(job_body(request, upload(client, request.video, sent, sha256=digest)))
    try:
        record = follow(client, job["id"], progress)
    except KeyboardInterrupt:
        with suppress(ServiceError):  # the server is gone: it has no job to go on with
            client.cancel(job["id"])
        raise
    if record["state"] != "done":
        why = record["error"] or "it was cancelled on the server"
        raise ServiceError(f"The job on the server {record['state']}: {why}")
    adapt = localize(request, digest, client.url)
    return download(client, job["id"], request.output.parent, request.overwrite, adapt)
