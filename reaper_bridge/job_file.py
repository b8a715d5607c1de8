"""Job files for the REAPER ingest script: checked stems in, ``pending/<id>.json`` out.

Every stem must be a 4-channel file; FuMa stems (labelled by omnifoa, or declared) are
converted to AmbiX into the spool's ``media/`` folder first, because REAPER's ambisonic
plug-ins (IEM) expect ACN/SN3D. The job is written atomically: the ingest script never sees
half a file.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_core.spatial.foa import to_ambix
from reaper_bridge.bridge_config import BridgeError
from reaper_bridge.stem_files import labelled_fuma, read_stem, write_ambix, write_bytes

SCHEMA = "omnifoa-reaper-job"
SPOOL_FOLDERS = ("pending", "done", "acks", "media")
MAX_STEMS = 64
MAX_POSITION = 1e6


@dataclass(frozen=True)
class Stem:
    """One file to drop: where it is, the track name, where it starts on the timeline."""

    path: Path
    name: str
    position: float = 0.0
    convention: str | None = None  # None: AmbiX unless the file says FuMa


@dataclass
class Job:
    """A job as written for REAPER."""

    stems: list[Stem]
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    fx: list[str] | None = None
    bus: str | None = None

    def document(self, paths: list[Path]) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "version": 1,
            "job_id": self.job_id,
            "stems": [
                {"path": str(p), "name": s.name, "position": s.position, "format": "ambix"}
                for s, p in zip(self.stems, paths, strict=True)
            ],
        }
        if self.fx is not None:
            doc["fx"] = self.fx
        if self.bus is not None:
            doc["bus"] = self.bus
        return doc


def _clean_name(name: str) -> str:
    cleaned = re.sub(r"[\x00-\x1f\x7f]", " ", name).strip()
    if not cleaned:
        raise BridgeError("A stem needs a track name.")
    return cleaned[:256]


def prepare_stem(stem: Stem, media: Path, job_id: str, index: int) -> Path:
    """The AmbiX file REAPER should load for ``stem`` (the stem itself, or a conversion)."""
    path = stem.path.expanduser().resolve()
    if not 0 <= stem.position <= MAX_POSITION:
        raise BridgeError(
            f"A stem's position must be 0 to {MAX_POSITION:g} s, not {stem.position}."
        )
    audio, rate = read_stem(path)  # checks it exists, is audio, has 4 channels
    convention = stem.convention or ("fuma" if labelled_fuma(path) else "ambix")
    if convention == "ambix":
        return path
    media.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.-]+", "_", path.stem)
    converted = media / f"{job_id}_{index}_{safe}_ambix.wav"
    write_ambix(converted, to_ambix(audio, "fuma"), rate)
    return converted


def write_job(job: Job, spool: Path) -> Path:
    """Check and convert the stems, then write ``pending/<job id>.json``; returns its path."""
    if not 1 <= len(job.stems) <= MAX_STEMS:
        raise BridgeError(f"Drop 1 to {MAX_STEMS} stems at a time, not {len(job.stems)}.")
    for folder in SPOOL_FOLDERS:
        (spool / folder).mkdir(parents=True, exist_ok=True)
    job.stems = [Stem(s.path, _clean_name(s.name), s.position, s.convention) for s in job.stems]
    paths = [prepare_stem(s, spool / "media", job.job_id, i) for i, s in enumerate(job.stems)]
    target = spool / "pending" / f"{job.job_id}.json"
    text = json.dumps(job.document(paths), ensure_ascii=False, indent=1)
    write_bytes(target, text.encode("utf-8"))
    return target
