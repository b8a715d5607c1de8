"""Which H.264 pictures nothing refers to: NAL headers of hand-made packets and of x264 files."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from video_fixtures import indexed_frames

from plugin_core.media.video import write_video
from plugin_core.media.video.h264_references import is_unreferenced_picture, length_prefix_size

# NAL header bytes: forbidden bit, nal_ref_idc (2 bits), nal_unit_type (5 bits)
B_SLICE_UNREFERENCED = 0x01  # ref_idc 0, non-IDR slice
P_SLICE_REFERENCED = 0x41  # ref_idc 2, non-IDR slice
IDR_SLICE = 0x65  # ref_idc 3, IDR slice
SEI = 0x06  # ref_idc 0, supplemental information: not a picture
SPS = 0x67


def avcc(*units: bytes, prefix: int = 4) -> memoryview:
    return memoryview(b"".join(len(u).to_bytes(prefix, "big") + u for u in units))


def annex_b(*units: bytes) -> memoryview:
    return memoryview(b"".join(b"\x00\x00\x00\x01" + u for u in units))


@pytest.mark.parametrize("prefix", [1, 2, 4])
def test_length_prefixed_packets(prefix: int) -> None:
    def packet(*headers: int) -> memoryview:
        return avcc(*(bytes([h, 0x88, 0x84]) for h in headers), prefix=prefix)

    assert is_unreferenced_picture(packet(B_SLICE_UNREFERENCED), prefix)
    assert is_unreferenced_picture(packet(SEI, B_SLICE_UNREFERENCED, B_SLICE_UNREFERENCED), prefix)
    assert not is_unreferenced_picture(packet(P_SLICE_REFERENCED), prefix)
    assert not is_unreferenced_picture(packet(IDR_SLICE), prefix)
    # one referenced slice makes the picture a reference
    assert not is_unreferenced_picture(packet(B_SLICE_UNREFERENCED, 0x21), prefix)
    assert not is_unreferenced_picture(packet(SEI), prefix)  # no picture at all
    assert not is_unreferenced_picture(packet(SPS, IDR_SLICE), prefix)


def test_annex_b_packets() -> None:
    assert is_unreferenced_picture(annex_b(bytes([SEI, 5]), bytes([B_SLICE_UNREFERENCED, 9])), None)
    assert not is_unreferenced_picture(annex_b(bytes([P_SLICE_REFERENCED, 9])), None)
    assert not is_unreferenced_picture(memoryview(b"\x01\x02\x03"), None)  # no start code


def test_packets_that_do_not_parse_are_decoded() -> None:
    whole = avcc(bytes([B_SLICE_UNREFERENCED, 1, 2, 3]))
    assert not is_unreferenced_picture(whole[:-1], 4)  # the NAL unit runs past the packet
    assert not is_unreferenced_picture(whole[:3], 4)  # a cut length prefix
    assert not is_unreferenced_picture(memoryview(b"\x00\x00\x00\x00"), 4)  # empty NAL unit
    assert not is_unreferenced_picture(avcc(bytes([0x81, 1])), 4)  # forbidden bit set


def test_extradata_says_which_framing() -> None:
    assert length_prefix_size(bytes([1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0])) == 4
    assert length_prefix_size(bytes([1, 0x64, 0, 0x1F, 0xFD, 0xE1, 0])) == 2
    assert length_prefix_size(b"\x00\x00\x00\x01\x67\x64") is None  # Annex B parameter sets
    assert length_prefix_size(None) is None


def classify(path: Path) -> list[tuple[bool, bool]]:
    """(keyframe, unreferenced) per packet of a file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        prefix = length_prefix_size(stream.codec_context.extradata)
        return [
            (packet.is_keyframe, is_unreferenced_picture(memoryview(packet), prefix))
            for packet in container.demux(stream)
            if packet.size
        ]


def test_an_x264_file_with_b_frames_has_unreferenced_pictures_and_none_without(
    tmp_path: Path,
) -> None:
    with_b, without_b = tmp_path / "b.mp4", tmp_path / "p.mp4"
    write_video(with_b, indexed_frames(60), 30, options={"bf": "3", "b_pyramid": "normal"})
    write_video(without_b, indexed_frames(60), 30, options={"bf": "0"})

    packets = classify(with_b)
    unreferenced = [u for _, u in packets]
    assert len(packets) == 60
    # b-pyramid keeps the middle B of each run of three as a reference
    assert 10 <= sum(unreferenced) <= 45
    assert not any(u for key, u in packets if key)
    assert not any(u for _, u in classify(without_b))
