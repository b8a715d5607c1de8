"""Reading ISO base media (MP4/MOV) boxes: a bounded walk over box headers, never media data.

A box is a 32-bit big-endian size (1: a 64-bit size follows the type; 0: the box runs to the
end of its parent), a four-character type, then its payload, which for container boxes is
more boxes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Box types an MP4/MOV file can start with (how such a file is recognised).
TOP_LEVEL_TYPES = frozenset(
    {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}
)
# Container boxes from moov down to a track's sample descriptions (stsd).
SAMPLE_TABLE_PATH = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl"})
MAX_BOXES = 4096  # bound on one walk, whatever the file holds
MAX_PAYLOAD_READ = 1 << 20


@dataclass(frozen=True)
class Box:
    """One box: its type and the file offsets of its header, its payload and its end."""

    kind: bytes
    start: int
    body: int
    end: int


def looks_like_mp4(file: BinaryIO) -> bool:
    """True when the file starts with a box of a type an MP4/MOV file starts with."""
    file.seek(0)
    head = file.read(8)
    return len(head) == 8 and head[4:8] in TOP_LEVEL_TYPES


def walk_boxes(
    file: BinaryIO, descend: Collection[bytes], max_boxes: int = MAX_BOXES
) -> Iterator[Box]:
    """Every box of the file, depth first, going into the container boxes named in ``descend``.

    A malformed header ends the walk of its own level (the levels above carry on); at most
    ``max_boxes`` headers are read in all.
    """
    budget = [max_boxes]
    yield from _walk(file, 0, os.fstat(file.fileno()).st_size, frozenset(descend), budget)


def read_payload(file: BinaryIO, box: Box, limit: int = MAX_PAYLOAD_READ) -> bytes:
    """The box's payload, or its first ``limit`` bytes."""
    file.seek(box.body)
    return file.read(min(box.end - box.body, limit))


def find_box_type(data: bytes, kind: bytes) -> int:
    """Index in raw box bytes of the type code of the first box of that type, or -1.

    A match counts only when the 4-byte size before it is plausible, so the same four
    letters inside some other box's data are skipped.
    """
    index = data.find(kind)
    while index >= 4:
        size = struct.unpack(">I", data[index - 4 : index])[0]
        if 8 <= size <= len(data) - index + 4:
            return index
        index = data.find(kind, index + 1)
    return -1


def _walk(
    file: BinaryIO, start: int, end: int, descend: frozenset[bytes], budget: list[int]
) -> Iterator[Box]:
    """The boxes in [start, end) and, depth first, inside those named in ``descend``."""
    pos = start
    while pos + 8 <= end and budget[0] > 0:
        budget[0] -= 1
        box = _read_header(file, pos, end)
        if box is None:
            return
        yield box
        if box.kind in descend:
            yield from _walk(file, box.body, box.end, descend, budget)
        pos = box.end


def _read_header(file: BinaryIO, pos: int, end: int) -> Box | None:
    """The box whose header is at ``pos`` in a parent ending at ``end``; None if malformed."""
    file.seek(pos)
    header = file.read(16)
    if len(header) < 8:
        return None
    size, kind = struct.unpack(">I4s", header[:8])
    body = pos + 8
    if size == 1 and len(header) == 16:
        size, body = struct.unpack(">Q", header[8:])[0], pos + 16
    elif size == 0:
        size = end - pos
    if size < body - pos or pos + size > end:
        return None
    return Box(kind, pos, body, pos + size)
