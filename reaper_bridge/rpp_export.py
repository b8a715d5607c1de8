"""The offline fallback: REAPER project (.RPP) text with the same tracks, items and bus.

A new project gets 48 kHz, a 4-channel master and a 4-channel folder track (the monitoring
bus) holding one 4-channel track per stem. Merging into an existing project adds the stems
at the end of its omnifoa monitor folder when it has one (only the folder's old last track's
ISBUS line changes), or appends a new folder before the project's closing line; every other
line stays byte for byte. A stem with takes is one item with a take per file, the chosen one
selected (``TAKE SEL``). Text is written with ``rpp`` (RPP quoting rules) and replaced
atomically. Monitoring plug-ins are not written
into the file (REAPER stores plug-in state as opaque blobs); add IEM SceneRotator →
BinauralDecoder on the bus, or use ``omnifoa reaper drop``, which adds them.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import rpp
from rpp import Element

from plugin_core.atomic_files import undone_folders
from plugin_core.errors import InputError
from plugin_core.file_checks import input_file
from reaper_bridge.bridge_config import BridgeError
from reaper_bridge.job_file import Prepared, Stem, prepare_stem
from reaper_bridge.stem_files import write_bytes

BUS_NAME = "omnifoa FOA monitor"


def _guid() -> str:
    return "{" + str(uuid.uuid4()).upper() + "}"


def _quotable(text: str) -> str:
    if all(q in text for q in "\"'`"):
        raise BridgeError(
            f"{text!r} holds all three quote characters, which an RPP file cannot hold; rename it."
        )
    return text


def _take_lines(name: str, path: Path) -> list[list[str] | Element]:
    """A take's name and source, as the item (first take) or a ``TAKE`` line holds them."""
    return [
        ["NAME", _quotable(name)],
        Element("SOURCE", ["WAVE"], [["FILE", _quotable(str(path))]]),
    ]


def _item(stem: Stem, prepared: list[Prepared]) -> Element:
    """One item: the first take's lines, then ``TAKE`` (``TAKE SEL``: the one that plays) and
    each further take's lines, as REAPER writes them."""
    playing = prepared[stem.active]
    children: list[list[str] | Element] = [
        ["POSITION", f"{stem.position:.6f}"],
        ["LENGTH", f"{playing.frames / playing.rate:.6f}"],
        *_take_lines(prepared[0].name or stem.name, prepared[0].path),
    ]
    for k, take in enumerate(prepared[1:], start=1):
        children += [["TAKE", "SEL"] if k == stem.active else ["TAKE"]]
        children += _take_lines(take.name, take.path)
    return Element("ITEM", [], children)


def _stem_track(stem: Stem, prepared: list[Prepared], depth: int) -> Element:
    children = [
        ["NAME", _quotable(stem.name)],
        ["NCHAN", "4"],
        ["ISBUS", "0", str(depth)],
        _item(stem, prepared),
    ]
    return Element("TRACK", [_guid()], children)


def _stem_tracks(stems: list[Stem], media: Path) -> list[Element]:
    """One track per stem, the last one closing the monitor folder."""
    key = uuid.uuid4().hex
    prepared = [prepare_stem(s, media, key, i) for i, s in enumerate(stems)]
    last = len(stems) - 1
    return [
        _stem_track(s, p, -1 if i == last else 0)
        for i, (s, p) in enumerate(zip(stems, prepared, strict=True))
    ]


def _tracks(stems: list[Stem], media: Path) -> list[Element]:
    bus = Element("TRACK", [_guid()], [["NAME", BUS_NAME], ["NCHAN", "4"], ["ISBUS", "1", "1"]])
    return [bus, *_stem_tracks(stems, media)]


def _top_tracks(lines: list[str]) -> list[tuple[int, int, str, int | None]]:
    """The project's tracks as (first line, last line, name, ISBUS line) — line numbers."""
    found, depth, start, name, isbus = [], 0, 0, "", None
    for i, line in enumerate(lines):
        text = line.strip()
        if text.startswith("<"):
            depth += 1
            if depth == 2 and text.startswith("<TRACK"):
                start, name, isbus = i, "", None
        elif text == ">":
            if depth == 2 and lines[start].strip().startswith("<TRACK"):
                found.append((start, i, name, isbus))
            depth -= 1
        elif depth == 2 and text.startswith("NAME "):
            name = text[5:].strip().strip("\"'`")
        elif depth == 2 and text.startswith("ISBUS "):
            isbus = i
    return found


def _folder_change(line: str) -> int:
    parts = line.split()
    return int(parts[2]) if len(parts) > 2 and parts[2].lstrip("-").isdigit() else 0


def _into_monitor_folder(original: str, stems: list[Stem], media: Path) -> str | None:
    """``original`` with the stems' tracks added at the end of its omnifoa monitor folder (the
    folder's old last track no longer closes it; no other line changes), or None when the
    project has no such folder."""
    lines = original.splitlines(keepends=True)
    tracks = _top_tracks(lines)
    for index, (_, _, name, isbus) in enumerate(tracks):
        if name != BUS_NAME or isbus is None or lines[isbus].split()[1:2] != ["1"]:
            continue
        depth = 1
        for _, end, _, child_isbus in tracks[index + 1 :]:
            depth += _folder_change(lines[child_isbus]) if child_isbus is not None else 0
            if depth <= 0:
                if depth < 0 or child_isbus is None:
                    return None  # the folder closes deeper structures too: leave it be
                indent = lines[child_isbus][
                    : len(lines[child_isbus]) - len(lines[child_isbus].lstrip())
                ]
                lines[child_isbus] = f"{indent}ISBUS 0 0\n"
                added = "".join(_indented(rpp.dumps(t)) for t in _stem_tracks(stems, media))
                return "".join(lines[: end + 1]) + added + "".join(lines[end + 1 :])
        return None
    return None


def _new_project() -> Element:
    return Element(
        "REAPER_PROJECT",
        ["0.1", "7.0", "0"],
        [["SAMPLERATE", "48000", "0", "0"], ["MASTER_NCH", "4", "2"]],
    )


def export_rpp(stems: list[Stem], output: Path, merge: bool = False) -> Path:
    """Write ``output`` with the stems (``merge``: add them to the project already there)."""
    if not stems:
        raise BridgeError("Give at least one stem to put in the project.")
    if output.suffix.lower() != ".rpp":
        raise BridgeError(f"Name the project *.rpp, not {output.name}.")
    if output.exists():
        try:
            input_file(output, "project")  # a pipe, a folder or a device: refused, never opened
        except InputError as exc:
            raise BridgeError(str(exc)) from None
        if not merge:
            raise BridgeError(f"{output} exists; pass --merge to add the stems to it.")
    media = output.parent / f"{output.stem}_media"
    with undone_folders(media):  # conversions made before a refused stem leave no folder
        if merge and output.exists():
            original = _existing_project(output)
            text = _into_monitor_folder(original, stems, media)
            if text is None:  # no omnifoa monitor folder yet: a new one at the end
                tracks = "".join(_indented(rpp.dumps(t)) for t in _tracks(stems, media))
                end = original.rstrip().rfind("\n>")
                text = original[: end + 1] + tracks + original[end + 1 :]
        else:
            project = _new_project()
            for track in _tracks(stems, media):
                project.append(track)
            text = rpp.dumps(project)
        write_bytes(output, text.encode("utf-8"))
    return output


def _existing_project(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
        project = rpp.loads(text)
    except Exception as exc:  # unreadable text or rpp's parser errors, all alike to a user
        raise BridgeError(f"Cannot read {path.name} as a REAPER project ({exc}).") from None
    if project.tag != "REAPER_PROJECT" or "\n>" not in text.rstrip():
        raise BridgeError(f"{path.name} is not a REAPER project.")
    return text


def _indented(block: str) -> str:
    return "".join(f"  {line}\n" for line in block.rstrip("\n").split("\n"))
