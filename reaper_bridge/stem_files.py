"""Files the bridge reads and writes: stems checked with soundfile (regular files only),
AmbiX conversions, and text replaced atomically (:mod:`plugin_core.atomic_files`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from plugin_core.atomic_files import atomic_output, write_atomic
from plugin_core.errors import InputError
from plugin_core.file_checks import (
    check_complete_riff,
    check_has_samples,
    input_file,
    write_failures,
)
from reaper_bridge.bridge_config import BridgeError


def read_stem(path: Path) -> tuple[np.ndarray, int]:
    """A 4-channel stem as float32 [4, N] and its rate; BridgeError for anything else."""
    try:
        input_file(path, "stem")
        check_complete_riff(path)
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        check_has_samples(path, data.shape[0])
    except InputError as exc:
        raise BridgeError(str(exc)) from None
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise BridgeError(f"Cannot read {path.name} as audio ({exc}).") from None
    if data.shape[1] != 4:
        raise BridgeError(
            f"{path.name} has {data.shape[1]} channel(s); REAPER's ambisonic tracks need a "
            "4-channel first-order file."
        )
    if not np.isfinite(data).all():
        raise BridgeError(
            f"{path.name} holds samples that are not numbers (NaN or infinity); REAPER would "
            "play garbage. Repair or re-export it."
        )
    return np.ascontiguousarray(data.T), int(rate)


def labelled_fuma(path: Path) -> bool:
    """True when the file's comment says FuMa (as omnifoa labels its FuMa exports)."""
    try:
        comment = sf.SoundFile(path).comment or ""
    except (sf.LibsndfileError, RuntimeError):
        return False
    return comment.lower().startswith("fuma")


def write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (inside a command's output transaction, when
    the command's other files appear)."""
    write_atomic(path, lambda tmp: tmp.write_bytes(data))


def write_ambix(path: Path, audio: np.ndarray, rate: int) -> None:
    """Write AmbiX float32 WAV, atomically."""
    with (
        write_failures(path),
        atomic_output(path) as tmp,
        sf.SoundFile(tmp, "w", rate, 4, "FLOAT", format="WAV") as f,
    ):
        f.comment = "AmbiX (ACN/SN3D)"
        f.write(np.ascontiguousarray(audio.T, dtype=np.float32))
