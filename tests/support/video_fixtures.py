"""Small real video files for tests: frames that say which frame they are, tones, VFR, 360 boxes."""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from plugin_core.media.video.spatial_boxes import spherical_v1_box, spherical_v2_boxes

# The top half of every frame spells its index in 8 black/white blocks (most significant bit
# on the left); the bottom half is red on the left and blue on the right. Both survive lossy
# codecs and downscaling, so timing and geometry can be read back from decoded frames.
INDEX_BITS = 8


def indexed_frame(index: int, width: int = 128, height: int = 64) -> np.ndarray:
    """A frame whose top half spells ``index`` in binary blocks; bottom half red | blue."""
    image = np.zeros((height, width, 3), np.uint8)
    block = width // INDEX_BITS
    for bit in range(INDEX_BITS):
        if index >> (INDEX_BITS - 1 - bit) & 1:
            image[: height // 2, bit * block : (bit + 1) * block] = 255
    image[height // 2 :, : width // 2] = (255, 0, 0)
    image[height // 2 :, width // 2 :] = (0, 0, 255)
    return image


def indexed_frames(count: int, width: int = 128, height: int = 64) -> Iterator[np.ndarray]:
    """``count`` indexed frames, one after another."""
    for index in range(count):
        yield indexed_frame(index, width, height)


def frame_index(image: np.ndarray) -> int:
    """The index a decoded (possibly resized) indexed frame spells."""
    height, width = image.shape[:2]
    block = width / INDEX_BITS
    index = 0
    for bit in range(INDEX_BITS):
        left, right = round((bit + 0.25) * block), round((bit + 0.75) * block)
        patch = image[height // 8 : 3 * height // 8, left : max(right, left + 1)]
        index = index * 2 + int(patch.mean() > 127)
    return index


def tones(freqs: Sequence[float], seconds: float, rate: int = 48000) -> np.ndarray:
    """float32 [len(freqs), N]: one sine per channel, amplitude 0.5."""
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * np.outer(freqs, t))).astype(np.float32)


def write_vfr_video(
    path: Path, times_ms: Sequence[int], width: int = 128, height: int = 64
) -> None:
    """H.264 mp4 (no B-frames) whose frame i is presented at times_ms[i] milliseconds."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=30, options={"bf": "0"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for index, ms in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(indexed_frame(index, width, height), format="rgb24")
            frame.pts = ms
            frame.time_base = Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_audio_only(path: Path, seconds: float = 1.0) -> None:
    """A stereo pcm .mov with no video stream."""
    samples = tones([440.0, 660.0], seconds)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("pcm_s16le", rate=48000, layout="stereo")
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = 48000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


# ------------------------------------------------- spherical metadata in video-only files
# The boxes come from omnifoa's writer (its fields are checked in test_video_export); the
# splice below is a test-only one for files without audio, which export never writes.


def _children(data: bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        yield kind, pos, size
        pos += size


def _append_child(path: Path, kinds: Sequence[bytes], extra: bytes, into_entry: bool) -> None:
    """Append ``extra`` inside the box reached by ``kinds`` (or its first sample entry).

    Only for mp4s whose moov follows mdat (PyAV's default), so no chunk offset moves.
    """
    data = bytearray(path.read_bytes())
    chain: list[int] = []
    start, end = 0, len(data)
    for wanted in kinds:
        for kind, pos, size in _children(data, start, end):
            if kind == wanted:
                chain.append(pos)
                start, end = pos + 8, pos + size
                break
        else:
            raise ValueError(f"no {wanted!r} box found")
    if data.find(b"mdat") > chain[0]:
        raise ValueError("moov must come after mdat, or chunk offsets would move")
    if into_entry:
        chain.append(chain[-1] + 16)  # stsd: header, version/flags, entry count, first entry
    last = chain[-1]
    insert_at = last + struct.unpack_from(">I", data, last)[0]
    data[insert_at:insert_at] = extra
    for pos in chain:
        struct.pack_into(">I", data, pos, struct.unpack_from(">I", data, pos)[0] + len(extra))
    path.write_bytes(bytes(data))


def inject_sv3d(path: Path) -> None:
    """Add sv3d + st3d boxes to the first track's sample entry (Spherical Video V2)."""
    extra = spherical_v2_boxes()
    kinds = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]
    _append_child(path, kinds, extra, into_entry=True)


def inject_spherical_v1(path: Path) -> None:
    """Add the Spherical Video V1 uuid box to the first track."""
    _append_child(path, [b"moov", b"trak"], spherical_v1_box(256, 128), into_entry=False)


def fps_filter_indices(
    path: Path, fps: float, start: float = 0.0, end: float | None = None
) -> list[int]:
    """The frame indices FFmpeg's own ``fps`` filter picks (``-vf fps=...``, run through PyAV's
    filter graph) from the clip cut at ``start`` (frames before it dropped, times shifted so
    the clip starts at 0), up to ``end``."""
    picked: list[int] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        graph = av.filter.Graph()
        source = graph.add_buffer(template=stream)
        chain = graph.add("fps", f"fps={fps}")
        sink = graph.add("buffersink")
        source.link_to(chain)
        chain.link_to(sink)
        graph.configure()
        offset = round(start / stream.time_base)

        def drain() -> None:
            while True:
                try:
                    out = graph.pull()
                except (av.BlockingIOError, av.EOFError):
                    return
                picked.append(frame_index(out.to_ndarray(format="rgb24")))

        for frame in container.decode(stream):
            if frame.pts < offset - 1e-9 or (end is not None and frame.time >= end + 1.0):
                continue
            frame.pts -= offset
            graph.push(frame)
            drain()
        graph.push(None)
        drain()
    if end is not None:
        picked = picked[: max(0, int(np.ceil((end - start) * fps - 1e-9)))]
    return picked
