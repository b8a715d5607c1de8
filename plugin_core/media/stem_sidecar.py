"""The JSON sidecar beside every stem: where it goes, its common header, how it is written.

``stem.wav`` gets ``stem.wav.json``. Every sidecar starts with the same header (schema,
software, time, stem, the job that made it) and says how the stem is delivered; each job
(generation, conform) adds what it did.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from plugin_core import __version__
from plugin_core.atomic_files import write_atomic

SCHEMA = "omnifoa-stem"
SCHEMA_VERSION = 2
CONVENTION_NAMES = {
    "ambix": "AmbiX (ACN channel order W, Y, Z, X; SN3D)",
    "fuma": "FuMa (W, X, Y, Z; W at -3 dB)",
}


def sidecar_path(stem: Path) -> Path:
    """Where the sidecar of ``stem`` goes: the stem's name with ``.json`` added."""
    return stem.with_name(stem.name + ".json")


def sidecar_header(stem: Path, job: str) -> dict[str, Any]:
    """The fields every sidecar starts with."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "software": {"name": "omnifoa", "version": __version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "stem": stem.name,
        "job": job,
    }


def delivery_record(convention: str, sample_rate: int, subtype: str) -> dict[str, Any]:
    """How the stem is on disk."""
    return {
        "convention": CONVENTION_NAMES[convention],
        "sample_rate": sample_rate,
        "sample_format": subtype,
        "channels": 4,
    }


def plain_record(request: Any) -> dict[str, Any]:
    """Every field of a request dataclass, JSON-ready (paths as text, direction paths as
    their JSON)."""
    out = {}
    for f in dataclasses.fields(request):
        value = getattr(request, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif dataclasses.is_dataclass(value) and hasattr(value, "to_json"):
            value = value.to_json()
        out[f.name] = value
    return out


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sidecar_text(document: dict[str, Any]) -> str:
    """A sidecar document as its file holds it."""
    return json.dumps(document, indent=1, allow_nan=False) + "\n"


def write_sidecar(stem: Path, document: dict[str, Any]) -> Path:
    """Write the sidecar of ``stem`` atomically; returns its path."""
    path = sidecar_path(stem)
    text = sidecar_text(document)
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
