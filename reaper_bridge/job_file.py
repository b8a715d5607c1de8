"""Job files for the REAPER ingest script: checked stems in, ``pending/<id>.json`` out.

Every stem must be a 4-channel file; FuMa stems (labelled by omnifoa, or declared) are
converted to AmbiX into the spool's ``media/`` folder first, because REAPER's ambisonic
plug-ins (IEM) expect ACN/SN3D. A stem with takes carries each take's file (prepared the same
way, all one length) and which one plays; REAPER makes them takes of one item. The job is
written atomically: the ingest script never sees half a file.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from plugin_core.spatial.foa import to_ambix
from reaper_bridge.bridge_config import BridgeError
from reaper_bridge.stem_files import labelled_fuma, read_stem, write_ambix, write_bytes

SCHEMA = "omnifoa-reaper-job"
SPOOL_FOLDERS = ("pending", "done", "acks", "media")
MAX_STEMS = 64
MAX_POSITION = 1e6
MAX_TAKES = 64


@dataclass(frozen=True)
class StemTake:
    """One take of a stem: its file and its name in REAPER."""

    path: Path
    name: str


@dataclass(frozen=True)
class Stem:
    """One file to drop: where it is, the track name, where it starts on the timeline."""

    path: Path
    name: str
    position: float = 0.0
    convention: str | None = None  # None: AmbiX unless the file says FuMa
    takes: tuple[StemTake, ...] = ()  # none: the stem's own file is its one take
    active: int = 0  # which of ``takes`` plays (0-based)


@dataclass(frozen=True)
class Prepared:
    """A file as REAPER should load it (AmbiX), its take name and its length."""

    path: Path
    name: str
    frames: int
    rate: int


@dataclass
class Job:
    """A job as written for REAPER."""

    stems: list[Stem]
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    fx: list[str] | None = None
    bus: str | None = None

    def document(self, prepared: list[list[Prepared]]) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "version": 1,
            "job_id": self.job_id,
            "stems": [_stem_entry(s, p) for s, p in zip(self.stems, prepared, strict=True)],
        }
        if self.fx is not None:
            doc["fx"] = self.fx
        if self.bus is not None:
            doc["bus"] = self.bus
        return doc


def _stem_entry(stem: Stem, prepared: list[Prepared]) -> dict[str, Any]:
    """A stem's job entry; ``path`` is the file that plays, ``takes`` only when it has some."""
    entry: dict[str, Any] = {
        "path": str(prepared[stem.active].path),
        "name": stem.name,
        "position": stem.position,
        "format": "ambix",
    }
    if stem.takes:
        entry["takes"] = [{"path": str(p.path), "name": p.name} for p in prepared]
        entry["active"] = stem.active
    return entry


def _clean_name(name: str) -> str:
    cleaned = re.sub(r"[\x00-\x1f\x7f]", " ", name).strip()
    if not cleaned:
        raise BridgeError("A stem needs a track name.")
    return cleaned[:256]


def _prepare_file(path: Path, convention: str | None, media: Path, label: str) -> Prepared:
    """The AmbiX file REAPER should load for ``path`` (itself, or a conversion named after
    ``label``), checked to be a 4-channel file with samples."""
    path = path.expanduser().resolve()
    audio, rate = read_stem(path)  # checks it exists, is audio, has 4 channels
    convention = convention or ("fuma" if labelled_fuma(path) else "ambix")
    if convention == "ambix":
        return Prepared(path, "", audio.shape[1], rate)
    media.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.-]+", "_", path.stem)
    converted = media / f"{label}_{safe}_ambix.wav"
    write_ambix(converted, to_ambix(audio, "fuma"), rate)
    return Prepared(converted, "", audio.shape[1], rate)


def _check_one_length(stem: Stem, prepared: list[Prepared]) -> None:
    """A stem's takes share one item: each must be as long as the first, within a sample."""
    first = prepared[0]
    for take in prepared[1:]:
        apart = abs(take.frames / take.rate - first.frames / first.rate)
        if apart > 1.0 / min(take.rate, first.rate) + 1e-9:
            raise BridgeError(
                f"Take {take.name!r} of {stem.name} ({take.path.name}) lasts "
                f"{take.frames / take.rate:.6f} s and take {first.name!r} "
                f"{first.frames / first.rate:.6f} s; a stem's takes must be one length."
            )


def prepare_stem(stem: Stem, media: Path, job_id: str, index: int) -> list[Prepared]:
    """The AmbiX files REAPER should load for ``stem``: one per take (the stem itself, or a
    conversion, when it has no takes)."""
    if not 0 <= stem.position <= MAX_POSITION:
        raise BridgeError(
            f"A stem's position must be 0 to {MAX_POSITION:g} s, not {stem.position}."
        )
    if len(stem.takes) > MAX_TAKES or not 0 <= stem.active < max(len(stem.takes), 1):
        raise BridgeError(
            f"{stem.name} needs 1 to {MAX_TAKES} takes and one of them active, not take "
            f"{stem.active + 1} of {len(stem.takes)}."
        )
    if not stem.takes:
        return [_prepare_file(stem.path, stem.convention, media, f"{job_id}_{index}")]
    prepared = [
        replace(
            _prepare_file(t.path, stem.convention, media, f"{job_id}_{index}_{k + 1}"),
            name=_clean_name(t.name),
        )
        for k, t in enumerate(stem.takes)
    ]
    _check_one_length(stem, prepared)
    return prepared


def write_job(job: Job, spool: Path) -> Path:
    """Check and convert the stems, then write ``pending/<job id>.json``; returns its path."""
    if not 1 <= len(job.stems) <= MAX_STEMS:
        raise BridgeError(f"Drop 1 to {MAX_STEMS} stems at a time, not {len(job.stems)}.")
    for folder in SPOOL_FOLDERS:
        (spool / folder).mkdir(parents=True, exist_ok=True)
    job.stems = [replace(s, name=_clean_name(s.name)) for s in job.stems]
    prepared = [prepare_stem(s, spool / "media", job.job_id, i) for i, s in enumerate(job.stems)]
    target = spool / "pending" / f"{job.job_id}.json"
    text = json.dumps(job.document(prepared), ensure_ascii=False, indent=1)
    write_bytes(target, text.encode("utf-8"))
    return target
