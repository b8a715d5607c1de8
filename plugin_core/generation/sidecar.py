"""The sidecar of a generated stem: how it was made, so it can be made again.

Beside the common header and delivery (:mod:`plugin_core.media.stem_sidecar`): every request
field under its wire name, the model (registry id, family, preset, file hash, which weights,
sampler and precision), the source video (path, sha256, time range), the windows, and the
one gain the stem's level stage chose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plugin_core.generation.request import GenerationRequest, request_record
from plugin_core.media.stem_sidecar import delivery_record, sidecar_header


def generation_sidecar(
    request: GenerationRequest,
    stem: Path,
    variation: int,
    model: dict[str, Any],
    video_sha256: str,
    span: tuple[float, float],
    window_seconds: list[tuple[float, float]],
    level: dict[str, Any],
    amplitude_joins: int,
    window_records: list[dict[str, Any]],
) -> dict[str, Any]:
    """The sidecar document of one stem of a finished request."""
    return {
        **sidecar_header(stem, "generate"),
        "variation": variation,
        "request": request_record(request),
        "model": model,
        "source": {
            "video": str(request.video),
            "sha256": video_sha256,
            "start": span[0],
            "end": span[1],
        },
        "delivery": delivery_record(request.convention, request.sample_rate, request.subtype),
        "level": level,
        "windows": [
            {"start": a, "end": b, **record}
            for (a, b), record in zip(window_seconds, window_records, strict=True)
        ],
        "amplitude_crossfades": amplitude_joins,
    }
