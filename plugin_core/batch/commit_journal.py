"""The journal of a batch shot's commit, so a process killed while it moves the shot's files
leaves a shot the next run finishes instead of a stem it refuses.

When every file of the shot is a finished temporary beside its target and before the first
one moves, ``.shot.wav.batch-commit.json`` beside the stem records each temporary and its
target (in the order they move: the takes, the stem, the sidecar last) and the committing
process; it is removed once the commit is over, moved or not. A journal whose process is gone
means the commit was cut short: each temporary still there is moved onto its target, the
copies of the files it replaced are removed, and the shot is whole, as the commit would have
left it. A journal naming a file that is neither waiting nor in place (changed by hand since)
is left to the user, like the takes' commit journal (:mod:`plugin_core.media.takes_journal`,
whose checks this one shares).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from pathlib import Path

from plugin_core.atomic_files import own_transaction, write_atomic
from plugin_core.media.stem_sidecar import sidecar_path
from plugin_core.media.stem_takes import takes_folder
from plugin_core.media.takes_journal import commit_temporaries, safe_relative, writer_alive

JOURNAL_SCHEMA = "omnifoa-batch-commit"


def commit_journal_path(stem: Path) -> Path:
    """Where the commit of a batch shot whose stem is ``stem`` keeps its journal."""
    return stem.with_name(f".{stem.name}.batch-commit.json")


def write_commit_journal(stem: Path, moves: Sequence[tuple[Path, Path]]) -> None:
    """Write the journal of the commit about to make ``moves`` (temporary, target), at once
    even inside an output transaction; the committer removes it once its commit is over."""
    folder = stem.parent
    journal = {
        "schema": JOURNAL_SCHEMA,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "moves": [[str(t.relative_to(folder)), str(p.relative_to(folder))] for t, p in moves],
    }
    with own_transaction():
        write_atomic(commit_journal_path(stem), lambda tmp: tmp.write_text(json.dumps(journal)))


def _moves(journal: object, stem: Path) -> list[tuple[Path, Path]] | None:
    """The journal's moves, each a temporary beside one of the shot's files (the stem, its
    sidecar, its takes); None if it is not a journal this module wrote."""
    folder = stem.parent
    shot = {stem, sidecar_path(stem)}
    if not isinstance(journal, dict) or journal.get("schema") != JOURNAL_SCHEMA:
        return None
    moves = journal.get("moves")
    if not isinstance(moves, list) or not moves:
        return None
    checked = []
    for move in moves:
        if not (isinstance(move, list) and len(move) == 2 and all(map(safe_relative, move))):
            return None
        temporary, target = folder / move[0], folder / move[1]
        if temporary.parent != target.parent or not temporary.name.startswith(f".{target.stem}."):
            return None
        if not temporary.name.endswith(f".partial{target.suffix}") or temporary.is_symlink():
            return None
        if target not in shot and target.parent != takes_folder(stem):
            return None
        checked.append((temporary, target))
    return checked


def finish_commit(stem: Path) -> bool:
    """Finish the commit of a batch shot that a killed process left on ``stem``; whether it
    did (nothing when there is no journal, or its process may still be committing)."""
    path = commit_journal_path(stem)
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False  # none, or not one omnifoa wrote completely: left alone
    moves = _moves(journal, stem)
    if moves is None or writer_alive(journal):
        return False
    if any(not t.is_file() and not p.is_file() for t, p in moves):
        return False  # a file neither waiting nor in place: changed since, left to the user
    for temporary, target in moves:
        if temporary.is_file():
            os.replace(temporary, target)
    for _, target in moves:  # the replaced files set aside, and any other write of ours cut
        for left in commit_temporaries(target):
            left.unlink(missing_ok=True)
    path.unlink(missing_ok=True)
    return True
