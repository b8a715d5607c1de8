"""Writing the 360-video and spatial-audio metadata YouTube reads into an MP4/MOV file.

Three additions, each built here from its specification:

- Spherical Video V2 (``st3d`` + ``sv3d`` → ``svhd``, ``proj`` → ``prhd``, ``equi``), appended
  to the video track's sample entry: monoscopic, equirectangular, full sphere, no pose offset.
- Spherical Video V1: the GSpherical XML in a ``uuid`` box at the end of the video ``trak``
  (what YouTube's uploader has read the longest).
- Spatial Audio (``SA3D``), appended to the audio track's sample entry: periphonic first
  order, ACN channel order, SN3D normalisation, 4 channels mapped 0-3 (AmbiX).

The file's ``moov`` is rewritten in place of the old one by splicing the new boxes in and
growing the size field of every enclosing box; when ``moov`` comes before the media data,
every chunk offset (``stco``/``co64``) is moved by the bytes added. Media data is copied, never
decoded. A box already present (e.g. an ``sv3d`` FFmpeg carried over) is not added twice.
"""

from __future__ import annotations

import shutil
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

from plugin_core.errors import InputError
from plugin_core.media.video.mp4_boxes import Box, walk_boxes

SPHERICAL_V1_UUID = bytes.fromhex("ffcc8263f8554a938814587a02521fdd")
_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl"})
_VISUAL_ENTRY_HEADER = 78  # fields of a VisualSampleEntry before its child boxes
_AUDIO_ENTRY_HEADER = 28  # SoundDescription v0 / AudioSampleEntry fields
_AUDIO_ENTRY_EXTRA = {0: 0, 1: 16, 2: 36}  # QuickTime sound description versions 1 and 2
_SOFTWARE = "omnifoa"


def box(kind: bytes, payload: bytes) -> bytes:
    """One box with a 32-bit size."""
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    """A FullBox: version (8 bits) and flags (24 bits) before the payload."""
    return box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def spherical_v2_boxes() -> bytes:
    """``st3d`` (monoscopic) and ``sv3d`` for a full equirectangular sphere with no pose."""
    st3d = full_box(b"st3d", struct.pack(">B", 0))
    svhd = full_box(b"svhd", _SOFTWARE.encode() + b"\0")
    prhd = full_box(b"prhd", struct.pack(">iii", 0, 0, 0))
    equi = full_box(b"equi", struct.pack(">IIII", 0, 0, 0, 0))
    return st3d + box(b"sv3d", svhd + box(b"proj", prhd + equi))


def spherical_v1_box(width: int, height: int) -> bytes:
    """The Spherical Video V1 ``uuid`` box (GSpherical RDF/XML) for a full ERP frame."""
    xml = (
        '<?xml version="1.0"?><rdf:SphericalVideo '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns:GSpherical="http://ns.google.com/videos/1.0/spherical/">'
        "<GSpherical:Spherical>true</GSpherical:Spherical>"
        "<GSpherical:Stitched>true</GSpherical:Stitched>"
        f"<GSpherical:StitchingSoftware>{_SOFTWARE}</GSpherical:StitchingSoftware>"
        "<GSpherical:ProjectionType>equirectangular</GSpherical:ProjectionType>"
        f"<GSpherical:CroppedAreaImageWidthPixels>{width}</GSpherical:CroppedAreaImageWidthPixels>"
        f"<GSpherical:CroppedAreaImageHeightPixels>{height}"
        "</GSpherical:CroppedAreaImageHeightPixels>"
        f"<GSpherical:FullPanoWidthPixels>{width}</GSpherical:FullPanoWidthPixels>"
        f"<GSpherical:FullPanoHeightPixels>{height}</GSpherical:FullPanoHeightPixels>"
        "<GSpherical:CroppedAreaLeftPixels>0</GSpherical:CroppedAreaLeftPixels>"
        "<GSpherical:CroppedAreaTopPixels>0</GSpherical:CroppedAreaTopPixels>"
        "</rdf:SphericalVideo>"
    )
    return box(b"uuid", SPHERICAL_V1_UUID + xml.encode())


def sa3d_box(channels: int = 4) -> bytes:
    """``SA3D`` for first-order periphonic AmbiX: ACN order, SN3D, channels 0..3."""
    fields = struct.pack(">BBIBBI", 0, 0, 1, 0, 0, channels)
    return box(b"SA3D", fields + struct.pack(f">{channels}I", *range(channels)))


@dataclass
class _Track:
    trak: Box
    handler: bytes
    entry: Box | None  # the first sample entry of its stsd
    entry_children: int  # offset of the entry's first child box
    ancestors: list[Box]  # moov, trak, mdia, minf, stbl, stsd: every box enclosing the entry
    entry_kinds: set[bytes]  # child box types already in the entry
    trak_heads: set[bytes]  # first 16 payload bytes of each trak child (uuid ids)


def _children(data: bytes, start: int, end: int) -> list[Box]:
    """The boxes directly inside data[start:end] (a malformed header ends the list)."""
    found = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = pos + 8
        if size == 1 and pos + 16 <= end:
            size, body = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:
            break
        found.append(Box(kind, pos, body, pos + size))
        pos += size
    return found


def _tracks(moov: bytes) -> list[_Track]:
    """Every track of a ``moov`` (its bytes from offset 0) with its first sample entry."""
    root = _children(moov, 0, len(moov))[0]
    tracks = []
    for trak in (b for b in _children(moov, root.body, root.end) if b.kind == b"trak"):
        chain, handler, entry, children_at = [root, trak], b"", None, 0
        kinds: set[bytes] = set()
        trak_heads = {moov[b.body : b.body + 16] for b in _children(moov, trak.body, trak.end)}
        node = trak
        for level in (b"mdia", b"minf", b"stbl", b"stsd"):
            inner = [b for b in _children(moov, node.body, node.end) if b.kind == level]
            if level == b"mdia" and inner:
                hdlr = [
                    b for b in _children(moov, inner[0].body, inner[0].end) if b.kind == b"hdlr"
                ]
                handler = moov[hdlr[0].body + 8 : hdlr[0].body + 12] if hdlr else b""
            if not inner:
                break
            node = inner[0]
            chain.append(node)
        else:
            entries = _children(moov, node.body + 8, node.end)  # FullBox + entry_count first
            if entries:
                entry = entries[0]
                children_at = _entry_children(moov, entry, handler)
                kinds = {b.kind for b in _children(moov, children_at, entry.end)}
        tracks.append(_Track(trak, handler, entry, children_at, chain, kinds, trak_heads))
    return tracks


def _entry_children(moov: bytes, entry: Box, handler: bytes) -> int:
    if handler == b"vide":
        return entry.body + _VISUAL_ENTRY_HEADER
    version = struct.unpack(">H", moov[entry.body + 8 : entry.body + 10])[0]
    return entry.body + _AUDIO_ENTRY_HEADER + _AUDIO_ENTRY_EXTRA.get(version, 0)


def _grow(moov: bytearray, boxes: list[Box], delta: int) -> None:
    """Add ``delta`` to the size field of each box (32- or 64-bit, as the box has it)."""
    for b in boxes:
        size = struct.unpack(">I", moov[b.start : b.start + 4])[0]
        if size == 1:
            large = struct.unpack(">Q", moov[b.start + 8 : b.start + 16])[0]
            moov[b.start + 8 : b.start + 16] = struct.pack(">Q", large + delta)
        elif size == 0:
            continue  # runs to its parent's end: grows by itself
        else:
            if size + delta >= 2**32:
                raise InputError("The movie header is too large to add 360 metadata to.")
            moov[b.start : b.start + 4] = struct.pack(">I", size + delta)


def _shift_chunk_offsets(moov: bytearray, delta: int) -> None:
    """Move every stco/co64 chunk offset by ``delta`` bytes."""
    for b in _all_boxes(bytes(moov)):
        if b.kind not in (b"stco", b"co64"):
            continue
        count = struct.unpack(">I", moov[b.body + 4 : b.body + 8])[0]
        width, code = (4, ">I") if b.kind == b"stco" else (8, ">Q")
        at = b.body + 8
        for i in range(count):
            pos = at + i * width
            (offset,) = struct.unpack(code, moov[pos : pos + width])
            if b.kind == b"stco" and offset + delta >= 2**32:
                raise InputError("The file is too large to move its media data; use .mov.")
            moov[pos : pos + width] = struct.pack(code, offset + delta)


def _all_boxes(moov: bytes) -> list[Box]:
    out, stack = [], [(0, len(moov))]
    while stack:
        start, end = stack.pop()
        for b in _children(moov, start, end):
            out.append(b)
            if b.kind in _CONTAINERS:
                stack.append((b.body, b.end))
    return out


def inject_spatial_metadata(path: Path, width: int, height: int) -> dict[str, bool]:
    """Add the 360 video and AmbiX metadata to ``path`` (an MP4/MOV with one video and one
    4-channel audio track), rewriting it in place; returns which boxes were added."""
    with path.open("rb") as f:
        top = list(walk_boxes(f, descend=()))
        moov_box = next((b for b in top if b.kind == b"moov"), None)
        if moov_box is None:
            raise InputError(f"{path.name} has no movie header (moov); it is not a finished MP4.")
        f.seek(moov_box.start)
        moov = bytearray(f.read(moov_box.end - moov_box.start))
    tracks = _tracks(bytes(moov))
    video = next((t for t in tracks if t.handler == b"vide" and t.entry), None)
    audio = next((t for t in tracks if t.handler == b"soun" and t.entry), None)
    if video is None or audio is None:
        raise InputError(f"{path.name} needs a video and an audio track for spatial metadata.")
    inserts: list[tuple[int, bytes, list[Box]]] = []
    added = {"sv3d": False, "spherical_v1": False, "SA3D": False}
    if b"sv3d" not in video.entry_kinds:
        inserts.append((video.entry.end, spherical_v2_boxes(), [*video.ancestors, video.entry]))
        added["sv3d"] = True
    if SPHERICAL_V1_UUID not in video.trak_heads:
        inserts.append((video.trak.end, spherical_v1_box(width, height), video.ancestors[:2]))
        added["spherical_v1"] = True
    if b"SA3D" not in audio.entry_kinds:
        inserts.append((audio.entry.end, sa3d_box(), [*audio.ancestors, audio.entry]))
        added["SA3D"] = True
    if not inserts:
        return added
    total = sum(len(data) for _, data, _ in inserts)
    for at, data, enclosing in sorted(inserts, key=lambda item: item[0], reverse=True):
        _grow(moov, enclosing, len(data))
        moov[at:at] = data
    media_after_moov = any(b.kind == b"mdat" and b.start > moov_box.start for b in top)
    if media_after_moov:
        _shift_chunk_offsets(moov, total)
    _rewrite(path, moov_box, bytes(moov))
    return added


def _rewrite(path: Path, old: Box, moov: bytes) -> None:
    """Write the file again with ``moov`` in place of the old one, beside it, then rename."""
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.partial{path.suffix}")
    try:
        with path.open("rb") as src, tmp.open("wb") as dst:
            dst.write(src.read(old.start))
            dst.write(moov)
            src.seek(old.end)
            shutil.copyfileobj(src, dst, 1 << 22)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
