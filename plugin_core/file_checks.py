"""What every command checks of the files it is given, before it reads or writes anything.

An input must be a regular, readable file (a folder, a FIFO or a device is refused at once,
so nothing hangs waiting on a pipe). An output must go into an existing folder this process
can really write to (tried, not just asked: a read-only mount says no to root too), must not
be a folder, must not replace an existing file unless overwriting was asked for, and must
never be one of the command's inputs, even with overwriting.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from plugin_core.atomic_files import temporary_beside
from plugin_core.errors import InputError

OVERWRITE_HINT = "choose another name or allow overwriting (--overwrite)"
_NEARLY_FULL_BYTES = 1 << 20


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def input_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """``path`` if it is a regular file this process can read, else one sentence why not."""
    source = Path(path)
    try:
        mode = source.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"The {what} {source} does not exist; check the path.") from None
    except OSError as exc:
        raise InputError(f"Cannot look at the {what} {source} ({exc.strerror}).") from None
    kind = _kind(mode)
    if kind is not None:
        raise InputError(f"The {what} {source} is {kind}; give a regular file instead.")
    if not os.access(source, os.R_OK):
        raise InputError(f"The {what} {source} cannot be read; check its permissions.")
    return source


def check_complete_riff(path: Path) -> None:
    """InputError when a RIFF (WAV) file is shorter than its header says: a file cut off in a
    copy or a download, which audio libraries would otherwise read as a shorter sound."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
        size = path.stat().st_size
    except OSError:
        return  # the reader that follows names the problem
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    declared = int.from_bytes(head[4:8], "little") + 8
    if declared in (8, 0xFFFFFFFF + 8):  # written by a stream that never came back to fill it in
        return
    if size < declared:
        raise InputError(
            f"{path.name} is cut short: its header promises {declared} bytes but the file holds "
            f"{size}; copy or export it again."
        )


def check_has_samples(path: Path, samples: int) -> None:
    """InputError when an audio file holds no samples (a header alone): there is nothing to
    analyse, convert, play or place on a track."""
    if samples == 0:
        raise InputError(
            f"{path.name} has no audio (0 samples); export the sound again or give another file."
        )


@contextlib.contextmanager
def write_failures(path: Path, *kinds: type[Exception]) -> Iterator[None]:
    """Turn a writer's vague failure (libsndfile's "System error", a serializer's I/O error)
    into what it almost always is when the disk has no room left: ``OSError(ENOSPC)`` naming
    ``path``; otherwise one sentence naming the file. ``kinds`` default to RuntimeError."""
    translated: tuple[type[Exception], ...] = kinds or (RuntimeError,)
    try:
        yield
    except OSError:
        raise
    except translated as exc:
        try:
            usage = os.statvfs(path.parent)
            nearly_full = usage.f_bavail * usage.f_frsize < _NEARLY_FULL_BYTES
        except OSError:
            nearly_full = False
        if nearly_full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
        reason = " ".join(str(exc).split())
        raise InputError(f"Could not write {path} ({reason}); check the disk and folder.") from None


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file (through links), existing or not."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def folder_is_writable(folder: Path) -> bool:
    """Whether a file can really be created in ``folder`` (tried, then removed)."""
    try:
        probe = temporary_beside(folder / "omnifoa-write-check", "probe")
    except OSError:
        return False
    probe.unlink(missing_ok=True)
    return True


def output_file(
    path: str | os.PathLike[str],
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike[str]] = (),
    what: str = "output",
) -> Path:
    """``path`` if this command may write it, else one sentence why not."""
    target = Path(path)
    for source in inputs:
        if same_file(target, Path(source)):
            raise InputError(f"The {what} {target} is also an input; write it under another name.")
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"The folder {folder} does not exist; create it or choose another.")
    if target.exists() or target.is_symlink():
        kind = _kind(target.stat().st_mode) if target.exists() else "a broken link"
        if kind is not None:
            raise InputError(f"The {what} {target} is {kind}; choose a file name.")
        if not overwrite:
            raise InputError(f"{target} exists; {OVERWRITE_HINT}.")
    if not folder_is_writable(folder):
        raise InputError(f"Cannot write to {folder}; choose a folder you can write to.")
    return target
