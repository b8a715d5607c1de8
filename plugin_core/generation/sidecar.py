"""The JSON sidecar written beside every stem: how it was made, so it can be made again.

``stem.wav`` gets ``stem.wav.json`` with every request parameter, the model (id, preset,
registry sha256), the source video (path, sha256, time range), the delivery (convention,
rate, sample format), what the loudness stage did per window, and the omnifoa version.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugin_core import __version__
from plugin_core.atomic_files import write_atomic

if TYPE_CHECKING:
    from plugin_core.generation.pipeline import GenerationRequest

SCHEMA = "omnifoa-stem"
SCHEMA_VERSION = 1
CONVENTION_NAMES = {
    "ambix": "AmbiX (ACN channel order W, Y, Z, X; SN3D)",
    "fuma": "FuMa (W, X, Y, Z; W at -3 dB)",
}


def sidecar_path(stem: Path) -> Path:
    """Where the sidecar of ``stem`` goes: the stem's name with ``.json`` added."""
    return stem.with_name(stem.name + ".json")


def _plain(value: Any) -> Any:
    """JSON-ready form of request fields (paths as text, direction paths as their JSON)."""
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and hasattr(value, "to_json"):
        return value.to_json()
    return value


def request_record(request: Any) -> dict[str, Any]:
    """Every field of a request dataclass, JSON-ready, as its sidecar records it."""
    return {f.name: _plain(getattr(request, f.name)) for f in dataclasses.fields(request)}


def sidecar(
    request: GenerationRequest,
    stem: Path,
    variation: int,
    model: dict[str, Any],
    video_sha256: str,
    span: tuple[float, float],
    window_seconds: list[tuple[float, float]],
    loudness: list[dict[str, Any] | None],
    amplitude_joins: int,
) -> dict[str, Any]:
    """The sidecar document of one stem of a finished request."""
    params = request_record(request)
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "software": {"name": "omnifoa", "version": __version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "stem": stem.name,
        "variation": variation,
        "request": params,
        "model": model,
        "source": {
            "video": str(request.video),
            "sha256": video_sha256,
            "start": span[0],
            "end": span[1],
        },
        "delivery": {
            "convention": CONVENTION_NAMES[request.convention],
            "sample_rate": request.sample_rate,
            "sample_format": request.subtype,
            "channels": 4,
        },
        "windows": [
            {"start": a, "end": b, "loudness": level}
            for (a, b), level in zip(window_seconds, loudness, strict=True)
        ],
        "amplitude_crossfades": amplitude_joins,
    }


def write_sidecar(stem: Path, document: dict[str, Any]) -> Path:
    """Write the sidecar of ``stem`` atomically; returns its path."""
    path = sidecar_path(stem)
    text = json.dumps(document, indent=1) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
