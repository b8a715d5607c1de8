"""Which H.264 packets no other picture refers to, read from their NAL unit headers.

A coded picture whose slices all have ``nal_ref_idc`` 0 (H.264 7.4.1) is never used to
predict another picture, so a decoder that is not asked for it can leave it out and every
other picture decodes to the same pixels. Packets are length-prefixed NAL units in MP4/MKV
("avcC" extradata says how long the prefix is) or Annex B start-code streams (MPEG-TS, raw).
"""

from __future__ import annotations

_SLICE_TYPES = (1, 5)  # coded slice of a non-IDR picture, of an IDR picture
_AVCC_VERSION = 1


def length_prefix_size(extradata: bytes | None) -> int | None:
    """Bytes of the length before each NAL unit (1, 2 or 4) for "avcC" extradata; None for
    Annex B streams (no extradata, or extradata that is itself start-code delimited)."""
    if not extradata or len(extradata) < 7 or extradata[0] != _AVCC_VERSION:
        return None
    return (extradata[4] & 0x03) + 1


def _nal_headers(data: memoryview, prefix: int | None) -> list[int] | None:
    """The first byte of every NAL unit of a packet; None when the packet does not parse."""
    headers: list[int] = []
    if prefix is not None:
        at = 0
        while at < len(data):
            if at + prefix > len(data):
                return None
            size = int.from_bytes(data[at : at + prefix], "big")
            at += prefix
            if size == 0 or at + size > len(data):
                return None
            headers.append(data[at])
            at += size
        return headers
    raw = data.tobytes()
    at = raw.find(b"\x00\x00\x01")
    while at != -1:
        if at + 3 < len(raw):
            headers.append(raw[at + 3])
        at = raw.find(b"\x00\x00\x01", at + 3)
    return headers


def is_unreferenced_picture(data: memoryview, prefix: int | None) -> bool:
    """True when the packet holds picture slices that no other picture may refer to
    (every slice's ``nal_ref_idc`` is 0); False for reference pictures, packets without
    slices and anything that does not parse (those are decoded)."""
    headers = _nal_headers(data, prefix)
    if not headers:
        return False
    slices = [h for h in headers if h & 0x1F in _SLICE_TYPES]
    return bool(slices) and all(h & 0xE0 == 0 for h in slices)  # forbidden bit, nal_ref_idc
