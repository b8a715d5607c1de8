"""Atomic file output: every file is written under a temporary name beside its target and
renamed only when it is complete; inside an :func:`output_transaction`, all of a command's
files are renamed together at its end, or none are.

A transaction keeps each finished temporary file until the command succeeds. Then it moves
every one onto its target, keeping any file it replaces aside until all have moved; if a
move fails, the ones already moved are taken back and the replaced files restored, so the
folder looks as it did before the command. On an error before that, the temporaries are
removed. (A process killed in the middle of the renames can still leave some files moved:
the service's journal records that moment, see :mod:`plugin_core.service.jobs`.)
"""

from __future__ import annotations

import contextvars
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from plugin_core.errors import InputError

_ACTIVE: contextvars.ContextVar[OutputTransaction | None] = contextvars.ContextVar(
    "omnifoa_output_transaction", default=None
)


def _file_mode() -> int:
    """Permissions a plainly created file would get under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def temporary_beside(target: Path, tag: str = "partial") -> Path:
    """A new empty file beside ``target`` named ``.<stem>.<random>.<tag><suffix>``."""
    fd, name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".{tag}{target.suffix}", dir=target.parent
    )
    os.close(fd)
    return Path(name)


class OutputTransaction:
    """The finished temporary files of one command, moved onto their targets together."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []  # (temporary, target)

    @property
    def targets(self) -> list[Path]:
        """The files this transaction will write, in order."""
        return [target for _, target in self._pending]

    @property
    def pending(self) -> list[tuple[Path, Path]]:
        """Each finished temporary file and the target it moves onto, in the order they move."""
        return list(self._pending)

    def defer(self, temporary: Path, target: Path) -> None:
        """Move ``temporary`` onto ``target`` when the transaction commits."""
        self._pending.append((temporary, target))

    def abort(self) -> None:
        """Remove every temporary file; nothing is moved."""
        for temporary, _ in self._pending:
            temporary.unlink(missing_ok=True)
        self._pending.clear()

    def commit(self) -> None:
        """Move every file onto its target, or (on an error) none of them."""
        moved: list[tuple[Path, Path | None]] = []  # (target, what it replaced, set aside)
        try:
            for temporary, target in self._pending:
                kept = None
                if target.exists():
                    kept = temporary_beside(target, "replaced")
                    os.replace(target, kept)
                moved.append((target, kept))
                os.replace(temporary, target)
        except BaseException:
            for target, kept in reversed(moved):
                if kept is not None:
                    os.replace(kept, target)
                else:
                    target.unlink(missing_ok=True)
            self.abort()
            raise
        for _, kept in moved:
            if kept is not None:
                kept.unlink(missing_ok=True)
        self._pending.clear()


@contextmanager
def output_transaction() -> Iterator[OutputTransaction]:
    """All files written atomically inside this block appear together at its end, or none
    do. A transaction inside another joins it."""
    outer = _ACTIVE.get()
    if outer is not None:
        yield outer
        return
    transaction = OutputTransaction()
    token = _ACTIVE.set(transaction)
    try:
        yield transaction
    except BaseException:
        transaction.abort()
        raise
    finally:
        _ACTIVE.reset(token)
    transaction.commit()


@contextmanager
def own_transaction() -> Iterator[OutputTransaction]:
    """A transaction that does not join the active one: its files appear at its own end
    (scratch files a command reads back before it writes its outputs)."""
    token = _ACTIVE.set(None)
    try:
        with output_transaction() as transaction:
            yield transaction
    finally:
        _ACTIVE.reset(token)


@contextmanager
def undone_folders(path: str | os.PathLike[str]) -> Iterator[Path]:
    """If the block fails, remove ``path`` and the parents of it that did not exist before the
    block (a command may make them as it goes), so a refused command leaves no folder behind."""
    folder = Path(path)
    top = None
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        top = candidate
    try:
        yield folder
    except BaseException:
        if top is not None:
            shutil.rmtree(top, ignore_errors=True)
        raise


@contextmanager
def undone_additions(path: str | os.PathLike[str]) -> Iterator[Path]:
    """If the block fails, remove what it added under the folder ``path`` (files, folders,
    ``path`` itself and its new parents) and keep everything that was there before."""
    folder = Path(path)
    before = set(folder.rglob("*")) if folder.is_dir() else set()
    with undone_folders(folder):
        try:
            yield folder
        except BaseException:
            added = set(folder.rglob("*")) - before if folder.is_dir() else set()
            for entry in sorted(added, reverse=True):  # a folder's entries before the folder
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
            raise


@contextmanager
def new_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Make ``path`` (and missing parents) for a command's files; removed if the block fails."""
    with undone_folders(path) as folder:
        folder.mkdir(parents=True, exist_ok=True)
        yield folder


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it becomes ``path`` only on success (at once, or
    when the surrounding :func:`output_transaction` commits).

    On any error the temporary file is removed and an existing ``path`` is left untouched.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise InputError(
            f"The output folder {target.parent} does not exist; create it or choose another."
        )
    tmp = temporary_beside(target)
    handed_over = False
    try:
        yield tmp
        os.chmod(tmp, _file_mode())
        transaction = _ACTIVE.get()
        if transaction is not None:
            transaction.defer(tmp, target)
            handed_over = True
        else:
            os.replace(tmp, target)
    finally:
        if not handed_over:
            tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_output(path) as tmp:
        write(tmp)
