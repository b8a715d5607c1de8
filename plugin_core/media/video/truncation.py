"""Whether a video file holds all the video it promises.

A file cut short in a copy or a download still opens when its index or header sits at the
front (a "fast start" mp4, a Matroska file), but its frames stop early. What a file promises
is the decode time of the last sample its index lists or, without an index, its duration;
decoding compares it with the last frame it decodes, probing with the last packet it finds
near the end (decoding none). Either way the sentence is the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
from av.container import InputContainer

from plugin_core.errors import InputError
from plugin_core.media.video.media_input import (
    open_input,
    stream_duration,
    stream_frame_rate,
    video_stream,
)
from plugin_core.media.video.time_range import seek_before, start_offset

# A frame counts as "at" a target time when its timestamp is within this many seconds.
TIME_EPS = 1e-4


def promised_end(stream: Any, offset: float, end: float) -> tuple[float, float]:
    """(seconds, tolerance): how far into the file, up to ``end``, the stream's frames reach
    at least, and how far short of that a whole file may stop."""
    step = 1.0 / (stream_frame_rate(stream) or 30.0)
    entries = stream.index_entries
    if len(entries):  # the last indexed sample's decode time is a lower bound on the last frame
        last = float(entries[len(entries) - 1].timestamp * stream.time_base) - offset
        return min(end, last), 2 * step + TIME_EPS
    return end, max(1.0, 5 * step)


def cut_short(source: Path, stops: float, promised: float) -> InputError:
    """The sentence for a video whose frames stop at ``stops`` s, short of ``promised`` s."""
    return InputError(
        f"The video in {source.name} stops at {stops:.2f} s although the file says it "
        f"runs to {promised:.2f} s; it is probably truncated, so re-export or re-download it."
    )


def check_whole(source: Path) -> None:
    """InputError when the video's packets stop well before the end the file promises."""
    with open_input(source) as container:
        stream = video_stream(container, source)
        offset = start_offset(stream)
        promised, tolerance = promised_end(stream, offset, stream_duration(stream, container))
        if promised - tolerance <= 0:
            return  # the file promises nothing to check against
        stops = _last_packet_time(container, stream, offset, promised - tolerance)
    if stops is None:  # nothing readable from there on: find where the packets stop
        with open_input(source) as container:
            stops = _last_packet_time(container, video_stream(container, source), offset, 0.0)
    if stops is None or stops < promised - tolerance:
        raise cut_short(source, stops or 0.0, promised)


def _last_packet_time(
    container: InputContainer, stream: Any, offset: float, start: float
) -> float | None:
    """The latest time (from the file's start) of the stream's packets from the keyframe
    before ``start`` to where the file ends or its data breaks off; None without any."""
    seek_before(container, stream, offset, start, margin=0.0)
    latest = None
    try:
        for packet in container.demux(stream):
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is not None:
                when = float(stamp * stream.time_base) - offset
                latest = when if latest is None else max(latest, when)
    except av.FFmpegError:
        pass  # the data breaks off here: the packets before it are what the file holds
    return latest
