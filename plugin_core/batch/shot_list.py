"""A batch's shots: read from a shot list (CSV or TOML) or one per video of a folder.

A shot is one generation request. Its columns (CSV) or keys (TOML) are the request's own
field names (:func:`plugin_core.generation.request.field_specs`: ``video``, ``output``,
``start``, ``end``, ``model``, ``seed``, ``yaw``, ``pitch``, ``path`` (a direction-path
file), ``steps``, …) plus an optional ``shot`` naming the row in the report; ``overwrite``
and ``device`` belong to the whole batch, not to a row. A field a row leaves out (or leaves
empty) takes the batch's default (the ``generate`` flags given to ``omnifoa batch``).
Relative paths are relative to the shot list's folder. CSV::

    shot,video,start,end,seed,yaw,output
    opening,footage/A001.mp4,0,12.5,1,90,stems/opening.wav

TOML, one ``[[shots]]`` table per shot::

    [[shots]]
    shot = "opening"
    video = "footage/A001.mp4"
    end = 12.5
    path = "paths/A001.json"
    output = "stems/opening.wav"

Every value is checked as it is read, with the line of its row named in the sentence.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugin_core.errors import InputError
from plugin_core.file_checks import input_file
from plugin_core.generation.request import GenerationRequest, check_field, field_specs
from plugin_core.media.video.encode import VIDEO_SUFFIXES
from plugin_core.spatial.direction_path import load_path

NAME = "shot"
BATCH_WIDE = ("overwrite", "device")  # one value for the whole batch
MAX_LIST_BYTES = 16 * 2**20
MAX_SHOTS = 100_000
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
_TOML_SHOT = re.compile(r"^\s*\[\[\s*shots\s*\]\]")


@dataclass(frozen=True)
class Shot:
    """One shot of a batch: its request, and whether its stem is already made."""

    name: str  # how the report names it: the row's ``shot``, else the output's file name
    origin: str  # where it was given ("shots.csv line 4", or the video's name in a folder)
    request: GenerationRequest
    request_hash: str = ""  # set once the plan has checked the shot (batch.request_hash)
    up_to_date: bool = False  # its stem and sidecar record the same hash: nothing to do


def row_fields() -> tuple[str, ...]:
    """The names a shot list may use, in the request's order."""
    return (NAME, *(name for name in field_specs() if name not in BATCH_WIDE))


def _text_value(name: str, text: str) -> Any:
    """A CSV cell as the value its field takes (still unchecked for range)."""
    kind = field_specs()[name].kind
    if kind in ("int", "float"):
        try:
            return int(text) if kind == "int" else float(text)
        except ValueError:
            words = "a whole number" if kind == "int" else "a number"
            raise InputError(f"{name} must be {words}, not {text!r}.") from None
    if kind == "bool":
        if text.lower() not in _TRUE + _FALSE:
            raise InputError(f"{name} must be true or false, not {text!r}.")
        return text.lower() in _TRUE
    return text


def _cell(name: str, text: str) -> Any:
    """A CSV cell as its field's value; an unknown column's or an empty cell's text as is."""
    return _text_value(name, text) if text and name in field_specs() else text


def _value(name: str, raw: Any, base: Path) -> Any:
    """A row's value of field ``name`` checked (paths made absolute from ``base``)."""
    kind = field_specs()[name].kind
    if kind in ("path", "direction_path"):
        if not isinstance(raw, str) or not raw:
            raise InputError(f"{name} must be a file path, not {raw!r}.")
        path = base / Path(raw).expanduser()
        return load_path(path) if kind == "direction_path" else path
    return check_field(name, raw, name)


def shot_request(
    row: Mapping[str, Any], defaults: Mapping[str, Any], base: Path, out: Path | None
) -> tuple[str, GenerationRequest]:
    """The name and the (validated) request of one row; InputError naming what is wrong."""
    unknown = sorted(set(row) - set(row_fields()))
    if unknown:
        raise InputError(f"{unknown[0]!r} is not a shot field; use {', '.join(row_fields())}.")
    values = dict(defaults)
    for name, raw in row.items():
        if name != NAME and raw not in ("", None):
            values[name] = _value(name, raw, base)
    if "video" not in values:
        raise InputError("the shot names no video; give its video column.")
    if "output" not in values:
        if out is None:
            raise InputError("the shot names no output; give its output or -o FOLDER.")
        values["output"] = out / f"{values['video'].stem}.wav"
    request = GenerationRequest(**values)
    request.validate()
    input_file(request.video, "video")
    name = row.get(NAME) or request.output.name
    if not isinstance(name, str) or len(name) > 200:
        raise InputError("shot must be a name of at most 200 characters.")
    return name, request


def _read_text(source: Path) -> str:
    input_file(source, "shot list")
    if source.stat().st_size > MAX_LIST_BYTES:
        raise InputError(f"{source.name} is larger than a shot list can be (16 MiB).")
    try:
        return source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the shot list {source} ({exc}).") from None


def _csv_rows(source: Path, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [cell.strip() for cell in next(reader, [])]
        if not header:
            raise InputError(f"{source.name} is empty; give a header row and one row per shot.")
        last = reader.line_num
        for cells in reader:
            line, last = last + 1, reader.line_num
            if not cells or not "".join(cells).strip() or cells[0].lstrip().startswith("#"):
                continue
            origin = f"{source.name} line {line}"
            if len(cells) != len(header):
                raise InputError(
                    f"{origin}: the row has {len(cells)} cells and the header {len(header)}."
                )
            try:
                row = {k: _cell(k, v.strip()) for k, v in zip(header, cells, strict=True)}
            except InputError as exc:
                raise InputError(f"{origin}: {exc}") from None
            yield origin, row
    except csv.Error as exc:
        raise InputError(f"{source.name} line {reader.line_num}: not valid CSV ({exc}).") from None


def _toml_rows(source: Path, text: str) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source.name} is not valid TOML ({exc}).") from None
    shots = data.get("shots")
    others = sorted(set(data) - {"shots"})
    if not isinstance(shots, list) or others:
        raise InputError(f"{source.name} must hold [[shots]] tables and nothing else.")
    lines = [n for n, line in enumerate(text.splitlines(), 1) if _TOML_SHOT.match(line)]
    for index, row in enumerate(shots):
        where = f"line {lines[index]}" if len(lines) == len(shots) else f"shot {index + 1}"
        origin = f"{source.name} {where}"
        if not isinstance(row, dict):
            raise InputError(f"{origin}: a shot must be a table of fields.")
        yield origin, row


def read_shot_list(
    source: Path, defaults: Mapping[str, Any], out: Path | None = None
) -> list[Shot]:
    """The shots of a .csv or .toml shot list, every row checked; InputError naming the line of
    the first bad one."""
    suffix = source.suffix.lower()
    if suffix not in (".csv", ".toml"):
        raise InputError(
            f"Give the shots as a .csv or .toml shot list or a folder of videos, not {source.name}."
        )
    text = _read_text(source)
    rows = _csv_rows(source, text) if suffix == ".csv" else _toml_rows(source, text)
    shots = []
    for origin, row in rows:
        if len(shots) == MAX_SHOTS:
            raise InputError(f"{source.name} holds more than {MAX_SHOTS} shots; split it.")
        try:
            name, request = shot_request(row, defaults, source.parent.absolute(), out)
        except InputError as exc:
            raise InputError(f"{origin}: {exc}") from None
        shots.append(Shot(name, origin, request))
    if not shots:
        raise InputError(f"{source.name} lists no shots; add one row per shot.")
    return shots


def folder_shots(folder: Path, defaults: Mapping[str, Any], out: Path) -> list[Shot]:
    """One shot per video of ``folder`` (by name), its stem ``out/<video name>.wav``."""
    videos = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
    )
    if not videos:
        kinds = ", ".join(VIDEO_SUFFIXES)
        raise InputError(f"{folder} holds no videos ({kinds}); give a folder of 360 videos.")
    shots = []
    for video in videos:
        try:
            row = {NAME: video.name, "video": video.name}
            name, request = shot_request(row, defaults, folder.absolute(), out)
        except InputError as exc:
            raise InputError(f"{video.name}: {exc}") from None
        shots.append(Shot(name, video.name, request))
    return shots
