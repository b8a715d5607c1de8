"""The service's job request: a JSON object checked field by field into a GenerationRequest.

The job fields are the request's own (:mod:`plugin_core.generation.request`: same names,
types, defaults, ranges and sentences as the CLI), plus where the stem goes. Path policy: the
job reads only the video it names (an absolute path to an existing file) and writes only
inside the output folder it names (absolute, existing), one that the service's user owns and no
other user could swap for a link (see :func:`_check_unswappable`); the stem's file name is a
plain name — no folders, no leading dot — ending in .wav or .flac.

A regenerate body (``POST /v1/regenerate``) names an omnifoa stem (absolute, with its sidecar,
in a folder that passes the same ownership check), a range of it in seconds, a seed and a
number of takes; the model and the video come from the stem's sidecar.

A batch body (``POST /v1/batches``) lists shots, each a generation job body (with an optional
``shot`` name, without a client key); every shot is checked before the batch is queued, and a
refusal names the shot by its place in the list.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import soundfile as sf

from models.families import check_options
from plugin_core.batch.shot_list import NAME as SHOT_NAME
from plugin_core.batch.shot_list import Shot
from plugin_core.batch.shot_run import check_shot_outputs
from plugin_core.errors import InputError
from plugin_core.file_checks import input_file
from plugin_core.generation.model_registry import get_entry
from plugin_core.generation.outputs import check_outputs
from plugin_core.generation.pipeline import sampling_options
from plugin_core.generation.regenerate import RangeEdit
from plugin_core.generation.request import (
    MAX_SEED,
    MAX_TAKES,
    GenerationRequest,
    check_field,
    field_specs,
    request_from_record,
)
from plugin_core.media.stem_takes import read_sidecar, stem_takes
from plugin_core.spatial.direction_path import DirectionPath

PLACEMENT_FIELDS = ("video", "output_dir", "name", "client_key")
REGENERATE_FIELDS = ("stem", "from", "to", "seed", "takes", "client_key")
BATCH_FIELDS = ("shots", "client_key")
MAX_BATCH_SHOTS = 1000
_NAME = re.compile(r"^[^\W][\w .,()+-]{0,150}\.(wav|flac)$", re.IGNORECASE)


def job_fields() -> list[str]:
    """Every field a job body may hold."""
    wire = [name for name, spec in field_specs().items() if spec.wire and name != "video"]
    return [*PLACEMENT_FIELDS, *wire]


def _text(body: dict[str, Any], name: str) -> str | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, str):
        raise InputError(f"The job field {name!r} must be text.")
    return value


def _required(body: dict[str, Any], name: str) -> str:
    value = _text(body, name)
    if value is None:
        raise InputError(f"A job needs the field {name!r}.")
    return value


def _video(text: str) -> Path:
    path = Path(text)
    if not path.is_absolute():
        raise InputError(f"The video path must be absolute, not {text!r}.")
    return input_file(path, "video")


def _output(folder_text: str, name: str) -> Path:
    folder = Path(folder_text)
    if not folder.is_absolute() or not folder.is_dir():
        raise InputError(f"The output folder must be an existing absolute folder: {folder_text!r}.")
    if not _NAME.match(name):
        raise InputError(
            f"The stem name {name!r} must be a plain file name ending in .wav or .flac."
        )
    real = folder.resolve()  # links followed now; the job writes to this real folder
    if (real / name).resolve().parent != real:
        raise InputError(f"The stem name {name!r} leads outside the output folder.")
    _check_owned(real, "output folder")
    return real / name


def _check_owned(real: Path, what: str) -> None:
    """The ownership check of a folder the service writes into, where POSIX owners and modes
    apply (Windows has ACLs instead)."""
    if hasattr(os, "geteuid"):
        _check_unswappable(real, what)


def _check_unswappable(real: Path, what: str) -> None:
    """InputError unless the service's user owns the folder ``real`` (the ``what``, links
    already followed) and no other user could swap it for a link: every folder above it is
    this user's or root's, and none of them, nor ``real``, is writable by every user without
    the sticky bit."""
    me = os.geteuid()
    for folder in (real, *real.parents):
        info = folder.stat()
        if folder == real and info.st_uid != me:
            raise InputError(
                f"The {what} {real} belongs to another user; the service writes only "
                "into folders its own user owns."
            )
        where = "is" if folder == real else f"lies in {folder}, which is"
        if info.st_uid not in (me, 0):
            raise InputError(
                f"The {what} {real} {where} another user's: they could swap it for a "
                "link; choose a folder of your own."
            )
        if info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
            raise InputError(
                f"The {what} {real} {where} writable by every user, who could swap it "
                "for a link; choose a folder only you can change."
            )


def request_from_job(body: Any) -> tuple[GenerationRequest, str | None]:
    """The GenerationRequest a job body asks for, and its client key; InputError otherwise."""
    if not isinstance(body, dict):
        raise InputError("A job must be a JSON object.")
    unknown = sorted(set(body) - set(job_fields()))
    if unknown:
        raise InputError(f"Unknown job field {unknown[0]!r}; see GET /v1/schema.")
    request = _checked_request(body)
    check_outputs(request)
    return request, _client_key(body)


def shot_from_job(body: Any) -> tuple[GenerationRequest, str | None, None]:
    """A batch's shot: a generation job body without a client key, with an optional
    ``shot`` name (the report's; default the stem's name). (request, name, None); its
    outputs are checked with the shot (a stem a batch made may be made again)."""
    if not isinstance(body, dict):
        raise InputError("A shot must be a JSON object with a job's fields.")
    allowed = [SHOT_NAME, *(f for f in job_fields() if f != "client_key")]
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InputError(f"Unknown shot field {unknown[0]!r}; see GET /v1/schema.")
    name = _text(body, SHOT_NAME)
    if name is not None and not 1 <= len(name) <= 200:
        raise InputError("A shot's name must have 1 to 200 characters.")
    return _checked_request(body), name, None


def batch_from_body(
    body: Any, parse_shot: Callable[[Any], tuple[GenerationRequest, str | None, None]]
) -> tuple[list[Shot], str | None]:
    """The shots a batch body (``{"shots": [...], "client_key": ...}``) asks for, each read
    by ``parse_shot`` (:func:`shot_from_job`, with the service's path rules) and named by
    its place ("shot 3") in any refusal, and the client key; InputError otherwise."""
    if not isinstance(body, dict):
        raise InputError("A batch must be a JSON object.")
    unknown = sorted(set(body) - set(BATCH_FIELDS))
    if unknown:
        raise InputError(
            f"Unknown batch field {unknown[0]!r}; the fields are {', '.join(BATCH_FIELDS)}."
        )
    listed = body.get("shots")
    if not isinstance(listed, list) or not 1 <= len(listed) <= MAX_BATCH_SHOTS:
        raise InputError(f"A batch needs 'shots': a list of 1 to {MAX_BATCH_SHOTS} job bodies.")
    key = _client_key(body)
    shots = []
    for index, shot_body in enumerate(listed):
        origin = f"shot {index + 1}"
        try:
            request, name, _ = parse_shot(shot_body)
            shot = Shot(name or request.output.name, origin, request)
            check_shot_outputs(shot)
        except InputError as exc:
            raise InputError(f"{origin}: {exc}") from None
        shots.append(shot)
    return shots, key


def _checked_request(body: dict[str, Any]) -> GenerationRequest:
    """The request of a job body whose field names are known, checked but for its outputs."""
    video, folder, name = (_required(body, f) for f in ("video", "output_dir", "name"))
    values: dict[str, Any] = {}
    for field_name in job_fields()[len(PLACEMENT_FIELDS) :]:
        if field_name not in body:
            continue
        value = body[field_name]
        if field_name == "path" and value is not None:
            value = DirectionPath.from_json(value)
        values[field_name] = check_field(field_name, value)
    request = GenerationRequest(video=_video(video), output=_output(folder, name), **values)
    request.validate()
    family = get_entry(request.model).family  # an unknown model is refused now, not later
    try:
        check_options(family, sampling_options(request))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return request


def _client_key(body: dict[str, Any]) -> str | None:
    """The body's client key, if any: 1 to 128 characters."""
    key = _text(body, "client_key")
    if key is not None and not 1 <= len(key) <= 128:
        raise InputError("A client key must have 1 to 128 characters.")
    return key


def regenerate_from_body(body: Any) -> tuple[GenerationRequest, RangeEdit, str | None]:
    """The range edit a regenerate body asks for, the request its stem was made with (the
    model and video to use) and its client key; InputError otherwise."""
    if not isinstance(body, dict):
        raise InputError("A regenerate request must be a JSON object.")
    unknown = sorted(set(body) - set(REGENERATE_FIELDS))
    if unknown:
        raise InputError(
            f"Unknown regenerate field {unknown[0]!r}; the fields are "
            f"{', '.join(REGENERATE_FIELDS)}."
        )
    stem = _stem(_required(body, "stem"))
    key = _client_key(body)
    start, end = _seconds(body, "from"), _seconds(body, "to")
    seed = _whole(body, "seed", 0, MAX_SEED) if "seed" in body else None  # None: a fresh one
    takes = _whole(body, "takes", 1, MAX_TAKES)
    document = read_sidecar(stem)
    stem_takes(stem, document)  # takes listed in a form omnifoa wrote
    source = request_from_record(document.get("request"), stem)
    get_entry(source.model)  # a model no longer registered is refused now, not later
    input_file(source.video, "video the stem was made from")
    edit = RangeEdit(stem, start, end, seed, takes)
    edit.check(_duration(stem))
    return source, edit, key


def _stem(text: str) -> Path:
    """The stem at absolute path ``text``, in its real folder, which must pass the ownership
    check output folders get (the job rewrites the stem and adds its takes there)."""
    path = Path(text)
    if not path.is_absolute():
        raise InputError(f"The stem path must be absolute, not {text[:200]!r}.")
    input_file(path, "stem")
    real = path.parent.resolve()
    _check_owned(real, "stem's folder")
    return real / path.name


def _seconds(body: dict[str, Any], name: str) -> float:
    """The body's required field ``name``: a finite number of seconds."""
    if name not in body:
        raise InputError(f"A regenerate request needs the field {name!r}.")
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"The field {name!r} must be a number of seconds into the stem.")
    if not abs(value) <= sys.float_info.max:
        raise InputError(f"The field {name!r} must be a finite number of seconds, not {value}.")
    return float(value)


def _whole(body: dict[str, Any], name: str, low: int, high: int) -> int:
    """The body's field ``name`` (1 when absent): a whole number from ``low`` to ``high``."""
    value = body.get(name, 1)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(
            f"The field {name!r} must be a whole number from {low} to {high}, "
            f"not {str(value)[:40]}."
        )
    return value


def _duration(stem: Path) -> float:
    """The stem's length in seconds; InputError when it is not audio."""
    try:
        info = sf.info(str(stem))
    except RuntimeError:
        raise InputError(f"The stem {stem} is not audio omnifoa can read.") from None
    return info.frames / info.samplerate
