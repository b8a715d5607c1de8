"""A stem's takes: every version of its audio, one of them chosen.

``shot.wav`` always plays the chosen take. A stem with one take is that file alone; once it
has more, each take is a file in ``shot.wav.takes/`` (``take1.wav``, ``take2.wav``, …) and
``shot.wav`` is a copy of the chosen one. The sidecar lists the takes (number, file, seed and
how the take was made, with the join of a regenerated range at each end) and says which is
chosen; the takes are never removed by omnifoa. Reading a stem's sidecar first finishes or
undoes a commit of new takes that a killed process left (:mod:`~plugin_core.media.takes_journal`).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from plugin_core.atomic_files import output_transaction, write_atomic
from plugin_core.errors import InputError
from plugin_core.file_checks import input_file
from plugin_core.media.stem_sidecar import sidecar_path, write_sidecar
from plugin_core.media.takes_journal import recover

JOIN_ENDS = ("start", "end")


@dataclass(frozen=True)
class Take:
    """One version of a stem's audio."""

    number: int  # from 1, in the order the takes were made
    file: str  # relative to the stem's folder
    seed: int
    made: dict[str, Any] = field(default_factory=dict)  # how: generate, or regenerate (range…)


def takes_folder(stem: Path) -> Path:
    """The folder holding a stem's takes once it has more than one."""
    return stem.with_name(stem.name + ".takes")


def take_path(stem: Path, number: int) -> Path:
    """Where take ``number`` of ``stem`` lives once the stem has several takes."""
    return takes_folder(stem) / f"take{number}{stem.suffix}"


def read_sidecar(stem: Path) -> dict[str, Any]:
    """The sidecar document of ``stem`` (after finishing or undoing an interrupted commit of
    its takes); InputError when it is missing or unreadable."""
    recover(stem)
    path = sidecar_path(stem)
    input_file(path, "the stem's sidecar")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(
            f"{path} is not a JSON sidecar omnifoa wrote; it cannot be used."
        ) from None
    if not isinstance(document, dict) or document.get("schema") != "omnifoa-stem":
        raise InputError(f"{path} is not a sidecar omnifoa wrote; it cannot be used.")
    return document


def stem_takes(stem: Path, document: dict[str, Any]) -> tuple[list[Take], int]:
    """The takes a sidecar lists and the chosen one's number (a sidecar from before takes:
    one take, the stem itself)."""
    listed = document.get("takes")
    if listed is None:
        seed = int(document.get("request", {}).get("seed", 0))
        return [Take(1, stem.name, seed, {"by": document.get("job", "generate")})], 1
    try:
        takes = [
            Take(int(t["number"]), str(t["file"]), int(t["seed"]), dict(t["made"])) for t in listed
        ]
        chosen = int(document["chosen"])
    except (KeyError, TypeError, ValueError):
        raise InputError(
            f"{sidecar_path(stem)} lists its takes in a form omnifoa did not write; "
            "restore it from a backup or generate the stem again."
        ) from None
    numbers = [t.number for t in takes]
    if not takes or len(set(numbers)) != len(numbers) or chosen not in numbers:
        raise InputError(f"{sidecar_path(stem)} lists no take {chosen} to play, or a take twice.")
    if any(Path(t.file).is_absolute() or ".." in Path(t.file).parts for t in takes):
        raise InputError(f"{sidecar_path(stem)} names a take outside the stem's folder.")
    return takes, chosen


def take_joins(made: dict[str, Any]) -> dict[str, str] | None:
    """How a regenerated range joins the audio around it, at its start and its end ("forced
    codes", "inpainted" or "crossfade"); None for a take that has no joins. (Sidecars from
    before the joins were told apart name one for both ends.)"""
    join = made.get("join")
    if isinstance(join, str) and join != "whole":
        return dict.fromkeys(JOIN_ENDS, join)
    if isinstance(join, dict):
        return {end: str(join.get(end, "crossfade")) for end in JOIN_ENDS}
    return None


def how_made(made: dict[str, Any]) -> str:
    """How a take was made, in a few words: "generated (variation 1)", "regenerated 3-6 s of
    take 1", "… of take 1 (forced codes, crossfade)"."""
    if made.get("by") == "regenerate":
        start, end = made.get("range", [0.0, 0.0])
        joins = take_joins(made)
        kinds = f" ({joins['start']}, {joins['end']})" if joins else ""
        return f"regenerated {start:g}-{end:g} s of take {made.get('from_take')}{kinds}"
    variation = made.get("variation")
    return "generated" + (f" (variation {variation})" if variation is not None else "")


def takes_record(takes: list[Take], chosen: int) -> dict[str, Any]:
    """The sidecar's ``takes`` and ``chosen`` fields."""
    return {"takes": [asdict(t) for t in takes], "chosen": chosen}


def choose_take(stem: Path, number: int) -> Path:
    """Make take ``number`` the one ``stem`` plays: its file copied onto the stem and the
    sidecar updated, together or not at all. Returns the take's file."""
    document = read_sidecar(stem)
    takes, _ = stem_takes(stem, document)
    by_number = {t.number: t for t in takes}
    if number not in by_number:
        listed = ", ".join(str(n) for n in by_number)
        raise InputError(f"{stem.name} has no take {number}; its takes are {listed}.")
    source = stem.parent / by_number[number].file
    input_file(source, f"take {number} of {stem.name}")
    with output_transaction():
        if source != stem:
            write_atomic(stem, lambda tmp: shutil.copyfile(source, tmp))
        write_sidecar(stem, {**document, **takes_record(takes, number)})
    return source
