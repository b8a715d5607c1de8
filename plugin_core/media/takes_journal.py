"""The journal of a commit that adds takes to a stem, so a process killed while it moves its
files leaves a stem the next reader can finish or undo.

Before the commit moves anything, ``.shot.wav.commit.json`` beside the stem records the take
files it adds (with their SHA-256), the take the stem will play, the sidecar it ends with and
the committing process; it is removed once the commit is over. A journal whose process is gone
means the commit was cut short: when every added take is complete, the stem and the sidecar
are made as the commit would have made them; otherwise the added takes are removed. Only
files the journal vouches for (by name and content) and the commit's own temporary files are
ever removed; the takes the sidecar lists and anything else are left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plugin_core.atomic_files import own_transaction, write_atomic
from plugin_core.media.stem_sidecar import sha256_of, sidecar_path, write_sidecar

JOURNAL_SCHEMA = "omnifoa-takes-commit"


def journal_path(stem: Path) -> Path:
    """Where a commit to ``stem``'s takes keeps its journal."""
    return stem.with_name(f".{stem.name}.commit.json")


def write_journal(
    stem: Path, added: Mapping[str, str], plays: str, document: dict[str, Any]
) -> None:
    """Write the journal of the commit about to move its files (at once, even inside an
    :func:`output_transaction`): ``added`` take files (relative to the stem's folder) →
    SHA-256, the one the stem ``plays``, the sidecar ``document``. The committer removes it
    (:func:`journal_path`) once its commit is over, moved or not."""
    journal = {
        "schema": JOURNAL_SCHEMA,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "added": dict(added),
        "plays": plays,
        "sidecar": document,
    }
    with own_transaction():
        write_atomic(journal_path(stem), lambda tmp: tmp.write_text(json.dumps(journal)))


def writer_alive(journal: dict[str, Any]) -> bool:
    """Whether the process that wrote ``journal`` may still be committing."""
    if journal.get("host") != socket.gethostname():
        return True  # another machine's process: cannot tell, leave it
    pid = journal.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def commit_temporaries(target: Path) -> list[Path]:
    """The temporary files :func:`~plugin_core.atomic_files.temporary_beside` makes for
    ``target`` (a write in progress, or a replaced file set aside)."""
    pattern = re.compile(
        rf"\.{re.escape(target.stem)}\.[A-Za-z0-9_]+\.(partial|replaced){re.escape(target.suffix)}"
    )
    if not target.parent.is_dir():
        return []
    return [p for p in target.parent.iterdir() if pattern.fullmatch(p.name) and p.is_file()]


def safe_relative(name: object) -> bool:
    return (
        isinstance(name, str)
        and not Path(name).is_absolute()
        and ".." not in Path(name).parts
        and bool(name)
    )


def recover(stem: Path) -> None:
    """Finish or undo the commit a killed process left on ``stem`` (nothing when there is no
    journal, or its process may still be running)."""
    path = journal_path(stem)
    if not path.is_file():
        return
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return  # not one omnifoa wrote completely: leave it
    if not isinstance(journal, dict) or journal.get("schema") != JOURNAL_SCHEMA:
        return
    if writer_alive(journal):
        return
    added = journal.get("added")
    plays, document = journal.get("plays"), journal.get("sidecar")
    if (
        not isinstance(added, dict)
        or not all(safe_relative(n) and isinstance(h, str) for n, h in added.items())
        or not safe_relative(plays)
        or plays not in added
        or not isinstance(document, dict)
    ):
        return
    folder = stem.parent
    ours = {n: folder / n for n, h in added.items() if (folder / n).is_file()}
    ours = {n: p for n, p in ours.items() if sha256_of(p) == added[n]}
    targets = [stem, sidecar_path(stem), *(folder / n for n in added)]
    if len(ours) == len(added):  # every take is in place: finish the commit
        source = ours[plays]
        with own_transaction():  # now, even inside the reading command's transaction
            write_atomic(stem, lambda tmp: shutil.copyfile(source, tmp))
            write_sidecar(stem, document)
    else:  # cut short before the takes were all in place: stem and sidecar are untouched
        if not stem.is_file() or sha256_of(stem) == added[plays]:
            return  # a take changed since, yet the stem moved: leave it all to the user
        for take in ours.values():
            take.unlink()
    for target in targets:
        for temporary in commit_temporaries(target):
            temporary.unlink(missing_ok=True)
    if len(ours) < len(added):
        for made in {(folder / n).parent for n in added} - {folder}:
            with contextlib.suppress(OSError):  # a folder the commit made, if empty now
                made.rmdir()
    path.unlink(missing_ok=True)
