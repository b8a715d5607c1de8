"""export-video: the picture copied untouched, the FOA as a 4-channel 48 kHz track, and the
360 + spatial-audio boxes YouTube reads — checked by FFmpeg's own parsers and field by field."""

import struct
from pathlib import Path

import av
import numpy as np
import pytest

from plugin_core.errors import InputError
from plugin_core.media.audio_io import write_audio
from plugin_core.media.video import write_video
from plugin_core.media.video.mp4_boxes import (
    SAMPLE_TABLE_PATH,
    find_box_type,
    read_payload,
    walk_boxes,
)
from plugin_core.media.video.spatial_boxes import SPHERICAL_V1_UUID, inject_spatial_metadata
from plugin_core.media.video.spherical import spherical_from_frame
from plugin_core.media.video_export import export_video
from plugin_core.spatial.foa import encode_mono, from_ambix

RATE = 48000


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    folder = tmp_path_factory.mktemp("media")
    frames = [np.full((64, 128, 3), 8 * i, np.uint8) for i in range(24)]
    video = folder / "pano.mp4"
    write_video(video, frames, 12.0)
    t = np.arange(2 * RATE) / RATE
    foa = np.stack([0.2 * np.sin(2 * np.pi * f * t) for f in (300.0, 500.0, 700.0, 900.0)])
    wav = folder / "stem.wav"
    write_audio(wav, foa, RATE)
    return video, wav, foa


def decoded_audio(path: Path) -> tuple[np.ndarray, str, int]:
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        parts = []
        for frame in c.decode(stream):
            a = frame.to_ndarray()
            parts.append(a if frame.format.is_planar else a.reshape(-1, 4).T)
            layout = frame.layout.name
        scale = 2.0**31 if parts[0].dtype == np.int32 else 1.0
        return np.concatenate(parts, axis=1) / scale, layout, stream.rate


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]


def box_payloads(path: Path) -> dict[bytes, bytes]:
    """Payload of the first box of each type in the sample tables and at trak level."""
    with path.open("rb") as f:
        found: dict[bytes, bytes] = {}
        for b in walk_boxes(f, descend=SAMPLE_TABLE_PATH):
            if b.kind in (b"stsd", b"uuid"):
                found.setdefault(b.kind, b"")
                found[b.kind] += read_payload(f, b)
    return found


def inner(payload: bytes, kind: bytes) -> bytes:
    at = find_box_type(payload, kind)
    assert at >= 0, kind
    size = struct.unpack(">I", payload[at - 4 : at])[0]
    return payload[at + 4 : at - 4 + size]


def test_mov_export_carries_ambix_and_360_metadata_ffmpeg_understands(media, tmp_path) -> None:
    video, wav, foa = media
    out = tmp_path / "youtube.mov"
    result = export_video(video, wav, out)
    assert result.metadata == {"sv3d": True, "spherical_v1": True, "SA3D": True}
    audio, layout, rate = decoded_audio(out)
    assert layout == "ambisonic 1"  # FFmpeg read our SA3D box
    assert rate == RATE
    np.testing.assert_allclose(audio, foa, atol=1e-6)  # 24-bit PCM, same channel order
    with av.open(str(out)) as c:
        assert (
            spherical_from_frame(next(c.decode(video=0))) == "equirectangular (spherical side data)"
        )
    assert video_packets(out) == video_packets(video)  # the picture was not re-encoded


def test_every_field_of_the_written_boxes(media, tmp_path) -> None:
    video, wav, _ = media
    out = tmp_path / "youtube.mov"
    export_video(video, wav, out)
    boxes = box_payloads(out)
    sa3d = inner(boxes[b"stsd"], b"SA3D")
    version, kind, order, channel_order, norm, channels = struct.unpack(">BBIBBI", sa3d[:12])
    assert (version, kind, order, channel_order, norm, channels) == (0, 0, 1, 0, 0, 4)
    assert struct.unpack(">4I", sa3d[12:]) == (0, 1, 2, 3)
    assert inner(boxes[b"stsd"], b"st3d") == bytes(5)  # version/flags 0, mono
    sv3d = inner(boxes[b"stsd"], b"sv3d")
    assert inner(sv3d, b"svhd")[4:] == b"omnifoa\0"
    proj = inner(sv3d, b"proj")
    assert inner(proj, b"prhd") == bytes(16)  # no yaw, pitch or roll offset
    assert inner(proj, b"equi") == bytes(20)  # full sphere: every bound 0
    v1 = boxes[b"uuid"]
    assert v1.startswith(SPHERICAL_V1_UUID)
    for tag in (
        b"<GSpherical:Spherical>true<",
        b"<GSpherical:Stitched>true<",
        b"<GSpherical:ProjectionType>equirectangular<",
        b"<GSpherical:FullPanoWidthPixels>128<",
        b"<GSpherical:FullPanoHeightPixels>64<",
    ):
        assert tag in v1


def test_mp4_export_uses_aac_and_keeps_the_channel_order(media, tmp_path) -> None:
    video, wav, foa = media
    out = tmp_path / "youtube.mp4"
    result = export_video(video, wav, out)
    assert result.audio_codec == "aac"
    assert inner(box_payloads(out)[b"stsd"], b"SA3D")[2:6] == struct.pack(">I", 1)
    audio, _, rate = decoded_audio(out)
    assert rate == RATE
    # AAC delays and colours the signal: match each channel by correlation
    body = slice(4096, 2 * RATE - 4096)
    for i in range(4):
        scores = [abs(np.dot(audio[i, 1024:][body], foa[j, body])) for j in range(4)]
        assert int(np.argmax(scores)) == i


def test_fuma_stems_are_turned_into_ambix(media, tmp_path) -> None:
    video, _, _ = media
    ambix = encode_mono(0.2 * np.sin(np.arange(2 * RATE) * 0.05), 90.0, 0.0)
    fuma = tmp_path / "fuma.wav"
    write_audio(fuma, from_ambix(ambix, "fuma"), RATE, comment="FuMa (W, X, Y, Z)")
    out = tmp_path / "f.mov"
    assert export_video(video, fuma, out).converted_from_fuma
    np.testing.assert_allclose(decoded_audio(out)[0], ambix, atol=1e-5)


def test_injection_moves_chunk_offsets_when_the_header_comes_first(media, tmp_path) -> None:
    video, _, foa = media
    fast = tmp_path / "fast.mov"
    options = {"movflags": "faststart"}
    with av.open(str(video)) as src, av.open(str(fast), "w", "mov", options=options) as out:
        v = out.add_stream_from_template(src.streams.video[0])
        a = out.add_stream("pcm_s24le", rate=RATE, layout="4.0")
        for packet in src.demux(video=0):
            if packet.dts is not None:
                packet.stream = v
                out.mux(packet)
        frame = av.AudioFrame.from_ndarray(foa.astype(np.float32), format="fltp", layout="4.0")
        frame.sample_rate, frame.pts = RATE, 0
        out.mux(a.encode(frame))
        out.mux(a.encode(None))
    with fast.open("rb") as f:
        kinds = [b.kind for b in walk_boxes(f, descend=())]
    assert kinds.index(b"moov") < kinds.index(b"mdat")
    before = video_packets(fast)
    assert all(inject_spatial_metadata(fast, 128, 64).values())
    # every sample is still found where the moved chunk offsets say
    assert video_packets(fast) == before
    audio, layout, _ = decoded_audio(fast)
    assert layout == "ambisonic 1"
    np.testing.assert_allclose(audio, foa, atol=1e-6)


def test_a_file_without_audio_is_refused_and_left_alone(media, tmp_path) -> None:
    video, _, _ = media
    copy = tmp_path / "picture.mp4"
    copy.write_bytes(video.read_bytes())
    with pytest.raises(InputError, match="audio track"):
        inject_spatial_metadata(copy, 128, 64)
    assert copy.read_bytes() == video.read_bytes()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("long_audio", "lasts 4.00 s but the video 2.00 s"),
        ("three_channels", "3 channel"),
        ("wrong_suffix", r"\*\.mov or \*\.mp4"),
        ("not_a_video", "Cannot"),
    ],
)
def test_bad_input_writes_nothing(media, tmp_path, case: str, message: str) -> None:
    video, wav, foa = media
    out = tmp_path / "o.mov"
    if case == "long_audio":
        wav = tmp_path / "long.wav"
        write_audio(wav, np.tile(foa, 2), RATE)
    elif case == "three_channels":
        wav = tmp_path / "three.wav"
        write_audio(wav, foa[:3], RATE)
    elif case == "wrong_suffix":
        out = tmp_path / "o.avi"
    else:
        video = tmp_path / "junk.mp4"
        video.write_bytes(b"\0" * 4096)
    before = set(tmp_path.iterdir())
    with pytest.raises(InputError, match=message):
        export_video(video, wav, out)
    assert set(tmp_path.iterdir()) == before


def test_an_existing_output_is_kept(media, tmp_path) -> None:
    video, wav, _ = media
    out = tmp_path / "mine.mov"
    out.write_bytes(b"keep me")
    with pytest.raises(InputError, match="exists"):
        export_video(video, wav, out)
    assert out.read_bytes() == b"keep me"
