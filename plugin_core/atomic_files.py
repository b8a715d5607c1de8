"""Atomic file output: write to a temporary file beside the target, rename on success."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from plugin_core.errors import InputError


def _file_mode() -> int:
    """Permissions a plainly created file would get under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success.

    On any error the temporary file is removed and an existing ``path`` is left untouched.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise InputError(
            f"The output folder {target.parent} does not exist; create it or choose another."
        )
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=".partial" + target.suffix, dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _file_mode())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_output(path) as tmp:
        write(tmp)
