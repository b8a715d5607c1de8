"""The identity of a shot's result: a hash of its request and of what it reads.

Two shots with the same hash make the same stem, so a stem whose sidecar records the hash of
the shot asked for is up to date. The hash covers every request field that changes the sound
(the direction path by its keys, not its file name), the video's bytes (not its name: a
project moved to another disk is still done) and the bytes of the model's files (its weights
and the parts it requires). It leaves out where the files go, ``overwrite`` and ``device``
(where to run, not what to make).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from plugin_core.generation.file_hashes import file_sha256
from plugin_core.generation.model_registry import get_entry, require_local, with_parts
from plugin_core.generation.request import SCHEMA_VERSION, GenerationRequest, request_record

HASH_KEY = "request_hash"  # where a batch stem's sidecar records it
_NOT_HASHED = ("video", "output", "overwrite", "device")


def model_identity(model_id: str) -> list[str]:
    """The SHA-256 of the model's weights and of each part it requires (remembered by size and
    modification time, so this is cheap after the first time); InputError when a file is not
    on this machine."""
    return [file_sha256(require_local(entry)) for entry in with_parts(get_entry(model_id))]


def request_hash(request: GenerationRequest, video_sha256: str, model: list[str]) -> str:
    """The hex SHA-256 of the request's sound-changing fields, the video's and the model's
    bytes."""
    record = request_record(request)
    for name in _NOT_HASHED:
        record.pop(name)
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "request": record,
        "video_sha256": video_sha256,
        "model_sha256": model,
    }
    text = json.dumps(document, sort_keys=True, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def shot_hash(request: GenerationRequest) -> str:
    """:func:`request_hash` of a request whose video and model are on this machine."""
    return request_hash(request, file_sha256(request.video), model_identity(request.model))
