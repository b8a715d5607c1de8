"""The service's job request: a JSON object checked field by field into a GenerationRequest.

Path policy: the job reads only the video it names (an absolute path to an existing file)
and writes only inside the output folder it names (absolute, existing); the stem's file name
is a plain name — no folders, no leading dot — ending in .wav or .flac.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from plugin_core.errors import InputError
from plugin_core.generation.pipeline import GenerationRequest, check_outputs
from plugin_core.spatial.direction_path import DirectionPath

# field: (accepted types, required); numbers exclude booleans
_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "video": ((str,), True),
    "output_dir": ((str,), True),
    "name": ((str,), True),
    "client_key": ((str,), False),
    "start": ((int, float), False),
    "end": ((int, float, type(None)), False),
    "model": ((str,), False),
    "seed": ((int,), False),
    "variations": ((int,), False),
    "steps": ((int, type(None)), False),
    "cfg": ((int, float, type(None)), False),
    "sampler": ((str, type(None)), False),
    "yaw": ((int, float), False),
    "pitch": ((int, float), False),
    "path": ((dict, type(None)), False),
    "aim": ((bool,), False),
    "fov": ((int, float), False),
    "sample_rate": ((int,), False),
    "subtype": ((str,), False),
    "convention": ((str,), False),
    "loudness": ((int, float, type(None)), False),
    "ceiling": ((int, float), False),
    "overwrite": ((bool,), False),
}
_NAME = re.compile(r"^[^\W][\w .,()+-]{0,150}\.(wav|flac)$", re.IGNORECASE)
MAX_VARIATIONS = 16
MAX_SEED = 2**63 - 1


def _check_types(body: dict[str, Any]) -> None:
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise InputError(f"Unknown job field {unknown[0]!r}; see the API's job fields.")
    for name, (types, required) in _FIELDS.items():
        if name not in body:
            if required:
                raise InputError(f"A job needs the field {name!r}.")
            continue
        value = body[name]
        if isinstance(value, bool) and bool not in types:
            raise InputError(f"The job field {name!r} must not be true/false.")
        if not isinstance(value, types):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise InputError(f"The job field {name!r} must be {wanted}.")


def _video(text: str) -> Path:
    path = Path(text)
    if not path.is_absolute():
        raise InputError(f"The video path must be absolute, not {text!r}.")
    if not path.is_file():
        raise InputError(f"The video {text} does not exist or is not a file.")
    return path


def _output(folder_text: str, name: str) -> Path:
    folder = Path(folder_text)
    if not folder.is_absolute() or not folder.is_dir():
        raise InputError(f"The output folder must be an existing absolute folder: {folder_text!r}.")
    if not _NAME.match(name):
        raise InputError(
            f"The stem name {name!r} must be a plain file name ending in .wav or .flac."
        )
    target = (folder / name).resolve()
    if target.parent != folder.resolve():
        raise InputError(f"The stem name {name!r} leads outside the output folder.")
    return folder / name


def request_from_job(body: Any) -> tuple[GenerationRequest, str | None]:
    """The GenerationRequest a job body asks for, and its client key; InputError otherwise."""
    if not isinstance(body, dict):
        raise InputError("A job must be a JSON object.")
    _check_types(body)
    seed = body.get("seed", 0)
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"The seed must be between 0 and {MAX_SEED}.")
    variations = body.get("variations", 1)
    if not 1 <= variations <= MAX_VARIATIONS:
        raise InputError(f"Ask for 1 to {MAX_VARIATIONS} variations, not {variations}.")
    if body.get("subtype", "float32") not in ("float32", "pcm24"):
        raise InputError("The sample format must be float32 or pcm24.")
    key = body.get("client_key")
    if key is not None and not 1 <= len(key) <= 128:
        raise InputError("A client key must have 1 to 128 characters.")
    path = body.get("path")
    request = GenerationRequest(
        video=_video(body["video"]),
        output=_output(body["output_dir"], body["name"]),
        start=float(body.get("start", 0.0)),
        end=None if body.get("end") is None else float(body["end"]),
        model_id=body.get("model", GenerationRequest.model_id),
        seed=seed,
        variations=variations,
        steps=body.get("steps"),
        cfg_scale=body.get("cfg"),
        sampler=body.get("sampler"),
        yaw=float(body.get("yaw", 0.0)),
        pitch=float(body.get("pitch", 0.0)),
        path=None if path is None else DirectionPath.from_json(path),
        fov=float(body.get("fov", 120.0)),
        aim=body.get("aim", False),
        sample_rate=body.get("sample_rate", 48000),
        subtype=body.get("subtype", "float32"),
        convention=body.get("convention", "ambix"),
        loudness_lufs=body.get("loudness", GenerationRequest.loudness_lufs),
        ceiling_dbtp=float(body.get("ceiling", GenerationRequest.ceiling_dbtp)),
        overwrite=body.get("overwrite", False),
    )
    request.validate()
    check_outputs(request)
    return request, key
