"""Files the bridge reads and writes: stems checked with soundfile, AmbiX conversions, and
text replaced atomically (a temporary file beside the target, then a rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from reaper_bridge.bridge_config import BridgeError


def read_stem(path: Path) -> tuple[np.ndarray, int]:
    """A 4-channel stem as float32 [4, N] and its rate; BridgeError for anything else."""
    if not path.is_file():
        raise BridgeError(f"Cannot read {path}: the file does not exist.")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise BridgeError(f"Cannot read {path.name} as audio ({exc}).") from None
    if data.shape[1] != 4:
        raise BridgeError(
            f"{path.name} has {data.shape[1]} channel(s); REAPER's ambisonic tracks need a "
            "4-channel first-order file."
        )
    return np.ascontiguousarray(data.T), int(rate)


def labelled_fuma(path: Path) -> bool:
    """True when the file's comment says FuMa (as omnifoa labels its FuMa exports)."""
    try:
        comment = sf.SoundFile(path).comment or ""
    except (sf.LibsndfileError, RuntimeError):
        return False
    return comment.lower().startswith("fuma")


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename; nothing half-written is ever seen."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_ambix(path: Path, audio: np.ndarray, rate: int) -> None:
    """Write AmbiX float32 WAV, atomically."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".partial.wav", dir=path.parent)
    os.close(fd)
    try:
        with sf.SoundFile(tmp, "w", rate, 4, "FLOAT", format="WAV") as f:
            f.comment = "AmbiX (ACN/SN3D)"
            f.write(np.ascontiguousarray(audio.T, dtype=np.float32))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
