"""The sidecar of a generated stem: how it was made, so it can be made again.

Beside the common header and delivery (:mod:`plugin_core.media.stem_sidecar`): every request
field under its wire name, the model (registry id, family, preset, file hash, which weights,
sampler and precision), the source video (path, sha256, time range), the windows, and the
one gain the stem's level stage chose.

A stem made on a server and downloaded (``generate --server``) gets this machine's paths in
place of the server's (:func:`localized_sidecar`): the fields in ``VIDEO_FIELDS`` name the
local video, those in ``OUTPUT_FIELDS`` the local stem, and ``made_on`` names the server; every
other field stays as the server wrote it. The Blender add-on does the same in
``blender_addon/remote_server.py`` (it cannot import this module); a test keeps the two equal.
"""

from __future__ import annotations

import copy
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


VIDEO_FIELDS = (("request", "video"), ("source", "video"))  # where the sidecar names the video
OUTPUT_FIELDS = (("request", "output"),)  # where it names the stem
MADE_ON = "made_on"  # the server a downloaded stem was made on: {"server": URL}


def localized_sidecar(
    document: Any, video: Path, video_sha256: str, output: Path, server: str
) -> dict[str, Any]:
    """The sidecar a server wrote for a stem made from the upload of ``video`` (whose sha256
    is ``video_sha256``), naming ``video`` and the local stem ``output`` instead of the
    server's paths, and the ``server``; ValueError (one sentence) when it is not a generation
    sidecar or records another video."""
    made = copy.deepcopy(document)
    try:
        if made["source"]["sha256"] != video_sha256:
            raise ValueError(
                f"The server's sidecar records a video other than {video.name} (its sha256 "
                "differs); nothing was written."
            )
        for fields, path in ((VIDEO_FIELDS, video), (OUTPUT_FIELDS, output)):
            for record, name in fields:
                if not isinstance(made[record][name], str):
                    raise TypeError
                made[record][name] = str(path.absolute())
    except (KeyError, TypeError):
        raise ValueError(
            "The server sent a sidecar that is not a generation sidecar omnifoa wrote; "
            "nothing was written."
        ) from None
    made[MADE_ON] = {"server": server}
    return made
