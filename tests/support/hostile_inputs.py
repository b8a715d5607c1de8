"""Bad inputs made on demand, and the evidence a failure left nothing behind.

``spoil(kind, good, where)`` turns a good input file into one hostile variant of it (missing,
a folder, a FIFO, empty, random bytes, cut in half, NaN samples); ``snapshot`` lists a folder
tree with sizes and hashes, hidden temporaries included; ``small_tmpfs`` mounts a tiny or
read-only file system where the test runs as root, and skips with the reason elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

FILE_KINDS = ("missing", "folder", "fifo", "empty", "garbage", "truncated")


def spoil(kind: str, good: Path, where: Path) -> Path:
    """A hostile stand-in for ``good`` in ``where`` (same suffix), of the given kind."""
    bad = where / f"{kind}{good.suffix}"
    if kind == "missing":
        return bad
    if kind == "folder":
        bad.mkdir()
    elif kind == "fifo":
        os.mkfifo(bad)
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "garbage":
        bad.write_bytes(np.random.default_rng(7).bytes(4096))
    elif kind == "truncated":
        data = good.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "nan":
        audio, rate = sf.read(good, dtype="float32", always_2d=True)
        audio[len(audio) // 3, 0] = np.nan
        sf.write(bad, audio, rate, subtype="FLOAT")
    else:
        raise ValueError(kind)
    return bad


def release_fifo(path: Path) -> None:
    """Unblock a reader stuck on the FIFO ``path`` (open its writing end and close it)."""
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def fill_up(folder: Path) -> Path:
    """Write a file into ``folder`` until its disk has no room left; returns the file."""
    filler = folder / "filler.bin"
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 1024)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler


def snapshot(folder: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry under ``folder`` (hidden ones too): relative path -> (kind, size, sha256)."""
    found: dict[str, tuple[str, int, str]] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            found[name] = ("link", 0, os.readlink(path))
        elif path.is_dir():
            found[name] = ("dir", 0, "")
        elif path.is_file():
            data = path.read_bytes()
            found[name] = ("file", len(data), hashlib.sha256(data).hexdigest())
        else:
            found[name] = ("special", 0, "")
    return found


@contextlib.contextmanager
def small_tmpfs(folder: Path, size_kib: int = 64, read_only: bool = False) -> Iterator[Path]:
    """Mount a ``size_kib`` tmpfs (read-only if asked) on ``folder``; skip where not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size_kib}k" + (",ro" if read_only else "")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "omnifoa-test", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not root'})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
