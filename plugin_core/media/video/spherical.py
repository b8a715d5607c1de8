"""Spherical (360) video hints: FFmpeg side data, metadata tags, MP4/MOV sv3d/st3d/V1 boxes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import av
from av.sidedata.sidedata import Type as SideDataType

from plugin_core.media.video.mp4_boxes import (
    SAMPLE_TABLE_PATH,
    find_box_type,
    looks_like_mp4,
    read_payload,
    walk_boxes,
)

# AVSphericalProjection values, in FFmpeg's order.
_PROJECTIONS = (
    "equirectangular",
    "cubemap",
    "equirectangular tile",
    "half equirectangular",
    "rectilinear",
    "fisheye",
    "parametric immersive",
)
# Spherical Video V1 (Google) puts its XML in a trak-level uuid box with this id.
_SPHERICAL_V1_UUID = bytes.fromhex("ffcc8263f8554a938814587a02521fdd")


def spherical_from_frame(frame: av.VideoFrame) -> str | None:
    """The projection named by FFmpeg's spherical side data on a decoded frame, if any.
    (Looked up by type: PyAV 18.1.1 iterates the side data by type, 18.1.0 by entry.)"""
    try:
        raw = bytes(frame.side_data[SideDataType.SPHERICAL])
    except KeyError:
        return None
    code = int.from_bytes(raw[:4], sys.byteorder) if len(raw) >= 4 else -1
    name = _PROJECTIONS[code] if 0 <= code < len(_PROJECTIONS) else "spherical"
    return f"{name} (spherical side data)"


def spherical_from_metadata(stream: Any) -> str | None:
    """A spherical/projection tag in the stream metadata, if any."""
    for key, value in stream.metadata.items():
        if "spherical" in key.lower() or "projection" in key.lower():
            return f"{key}={value} (metadata)"
    return None


def spherical_from_boxes(source: Path) -> str | None:
    """Look for sv3d/st3d or the Spherical Video V1 uuid box in an MP4/MOV's video sample boxes."""
    try:
        with source.open("rb") as file:
            if not looks_like_mp4(file):
                return None
            for box in walk_boxes(file, descend=SAMPLE_TABLE_PATH):
                if box.kind == b"stsd":
                    found = _spherical_in_sample_entries(read_payload(file, box))
                elif box.kind == b"uuid":
                    found = _v1(read_payload(file, box))
                else:
                    continue
                if found:
                    return found
            return None
    except OSError:
        return None


def spatial_audio_from_boxes(source: Path) -> str | None:
    """What an SA3D box (YouTube's spatial audio) in an MP4/MOV's sample entries says, if any:
    e.g. "ambisonic order 1, 4 channels, ACN/SN3D (SA3D)"."""
    try:
        with source.open("rb") as file:
            if not looks_like_mp4(file):
                return None
            for box in walk_boxes(file, descend=SAMPLE_TABLE_PATH):
                if box.kind != b"stsd":
                    continue
                payload = read_payload(file, box)
                at = find_box_type(payload, b"SA3D")
                if at >= 0:
                    return _describe_sa3d(payload[at + 4 : at + 16])
            return None
    except OSError:
        return None


def _describe_sa3d(fields: bytes) -> str:
    """SA3D's fields after its type: version, type, order (u32), ordering, normalisation,
    channel count (u32)."""
    if len(fields) < 12:
        return "spatial audio (SA3D)"
    order = int.from_bytes(fields[2:6], "big")
    ordering = "ACN" if fields[6] == 0 else f"ordering {fields[6]}"
    normalisation = "SN3D" if fields[7] == 0 else f"normalisation {fields[7]}"
    channels = int.from_bytes(fields[8:12], "big")
    return f"ambisonic order {order}, {channels} channels, {ordering}/{normalisation} (SA3D)"


def _spherical_in_sample_entries(payload: bytes) -> str | None:
    """Name what an sv3d (projection) or st3d (stereo) box inside stsd says, if present."""
    sv3d = find_box_type(payload, b"sv3d")
    if sv3d >= 0:
        inner = payload[sv3d:]
        for tag, name in ((b"equi", "equirectangular"), (b"cbmp", "cubemap"), (b"mshp", "mesh")):
            if tag in inner:
                return f"{name} (sv3d)"
        return "spherical (sv3d)"
    if find_box_type(payload, b"st3d") >= 0:
        return "stereoscopic, projection not stated (st3d)"
    return None


def _v1(payload: bytes) -> str | None:
    """Spherical Video V1: a uuid box with Google's id and GSpherical XML."""
    if not payload.startswith(_SPHERICAL_V1_UUID) or b"Spherical" not in payload:
        return None
    if b"equirectangular" in payload.lower():
        return "equirectangular (spherical-v1)"
    return "spherical (spherical-v1)"
