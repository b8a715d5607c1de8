"""One shot of a batch, made in two halves: computed into a folder, then committed.

This is the interface every batch runner is built on (the local one in
:mod:`plugin_core.batch.runner`; a distributed one the same way):

``run_shot_to(shot, loaded, folder, progress, cancel) -> list[str]``
    Makes the shot's files in ``folder`` (an empty folder anywhere: a scratch folder beside
    the output, or a worker's local temporary folder) and returns their names relative to
    ``folder``, the stem first: ``<stem>.wav``, ``<stem>.wav.json`` and, for several takes,
    ``<stem>.wav.takes/take<N>.wav``. The files are final: the sidecar already names the
    shot's real output and records the shot's request hash (``shot.request_hash``, set by
    :func:`plugin_core.batch.plan.plan_batch` on the machine that owns the outputs). It reads
    only the shot's video (its path must be visible where it runs) and the model already
    loaded, and writes nothing outside ``folder``. It depends on nothing but its arguments, so
    the same shot with the same model gives the same samples on any machine of the same kind
    (the WAV header's PEAK chunk holds the time it was written).

``commit_shot(shot, folder) -> list[Path]``
    Moves those files onto the shot's outputs together, in one output transaction of their
    own: all of them appear, replacing the previous stem of the same shot, or none do (an
    error puts back every file it was replacing). It first checks that ``folder`` holds
    exactly the files the shot makes (by name, nothing else, no links), so files shipped from
    another process are never written anywhere else, and that each output may still be
    written (``overwrite``, or the file is a stem a batch made). Files on another file system
    are copied into temporaries beside their targets first, so the commit itself is renames:
    the sidecar's last, under a journal (:mod:`~plugin_core.batch.commit_journal`), so a
    commit killed midway is finished by the next plan of the shot.

``run_shot(shot, loaded, progress, cancel) -> list[Path]`` is the two together through a
scratch folder beside the output: what the local runner calls. A runner elsewhere computes
with ``run_shot_to`` where the model is, brings the folder's files to the machine that owns
the outputs (as bytes, say, into a fresh local folder) and calls ``commit_shot`` there. A
shot that fails or is cancelled raises in either half and leaves its outputs as they were.

Everything around the two halves is shared by every runner: the driver reads and checks the
shots (:mod:`~plugin_core.batch.shot_list`, :func:`~plugin_core.batch.plan.plan_batch`) and
sends only those not ``up_to_date``; a :class:`~plugin_core.batch.shot_list.Shot` is a frozen
dataclass of plain values (paths, numbers, a direction path), so it travels as it is; each
place that computes holds its models in a :class:`~plugin_core.batch.warm_models.WarmModels`;
the driver reports through :class:`~plugin_core.batch.runner.BatchProgress`, makes one
:class:`~plugin_core.batch.runner.ShotResult` per shot, in the shots' order, and writes them
with :mod:`~plugin_core.batch.report`, so the table, the JSON and the exit status are the
same whichever runner ran the shots.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from models.family import Cancel
from plugin_core.atomic_files import atomic_output, new_folder, own_transaction
from plugin_core.batch.commit_journal import commit_journal_path, write_commit_journal
from plugin_core.batch.request_hash import HASH_KEY
from plugin_core.batch.shot_list import Shot
from plugin_core.errors import InputError
from plugin_core.generation.loaded_model import LoadedModel
from plugin_core.generation.outputs import check_outputs, planned_files
from plugin_core.generation.pipeline import StepProgress, generate
from plugin_core.media.stem_sidecar import sidecar_path, write_sidecar
from plugin_core.media.stem_takes import takes_folder

SCRATCH_SUFFIX = ".batch"  # a shot's scratch folder beside its output: .<output name>.*.batch


def shot_files(shot: Shot) -> list[str]:
    """The files a shot makes, relative to its output's folder: the stem, its sidecar, its
    takes."""
    output = shot.request.output
    files = planned_files(output, shot.request.variations)
    named = [files[0], sidecar_path(output), *files[1:]]
    return [str(path.relative_to(output.parent)) for path in named]


def batch_made(stem: Path) -> bool:
    """Whether ``stem`` has a sidecar a batch wrote (one that records a request hash)."""
    return recorded_hash(stem) is not None


def recorded_hash(stem: Path) -> str | None:
    """The request hash the sidecar of ``stem`` records, if it has one."""
    try:
        document = json.loads(sidecar_path(stem).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    value = document.get(HASH_KEY) if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def check_shot_outputs(shot: Shot) -> None:
    """InputError unless every file of the shot may be written: a new file, ``overwrite``, or
    the previous stem of a batch shot (a rerun remakes a shot whose request changed)."""
    request = shot.request
    check_outputs(replace(request, overwrite=request.overwrite or batch_made(request.output)))


def run_shot_to(
    shot: Shot,
    loaded: LoadedModel,
    folder: Path,
    progress: StepProgress | None = None,
    cancel: Cancel | None = None,
) -> list[str]:
    """Make the shot's files in the empty ``folder``; their names relative to it."""
    local = replace(shot.request, output=folder / shot.request.output.name)
    with own_transaction():  # the files land in ``folder`` now, whatever the caller's state
        generate(local, loaded, progress, cancel)
    document: dict[str, Any] = json.loads(sidecar_path(local.output).read_text(encoding="utf-8"))
    document["request"]["output"] = str(shot.request.output)
    document[HASH_KEY] = shot.request_hash
    with own_transaction():
        write_sidecar(local.output, document)
    return shot_files(shot)


def _produced(folder: Path) -> set[str]:
    """Every entry under ``folder`` that is a file or a link, relative to it."""
    return {
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_symlink() or not p.is_dir()
    }


def commit_shot(shot: Shot, folder: Path) -> list[Path]:
    """Move the files :func:`run_shot_to` made in ``folder`` onto the shot's outputs, all or
    none; the paths written, the stem first."""
    expected = shot_files(shot)
    produced = _produced(folder)
    if produced != set(expected) or any((folder / n).is_symlink() for n in expected):
        raise InputError(
            f"The files made for {shot.name} are not the ones a shot makes "
            f"({', '.join(sorted(produced)) or 'none'}); nothing was written."
        )
    check_shot_outputs(shot)
    stem = shot.request.output
    base = stem.parent
    takes = takes_folder(stem)
    moving = [*expected[2:], expected[0], expected[1]]  # the takes, the stem, the sidecar last
    try:
        with contextlib.ExitStack() as stack:
            if shot.request.variations > 1:
                stack.enter_context(new_folder(takes))
            transaction = stack.enter_context(own_transaction())
            for name in moving:
                with atomic_output(base / name) as temporary:
                    shutil.move(folder / name, temporary)
            write_commit_journal(stem, transaction.pending)  # a kill from here on is finished
    finally:
        commit_journal_path(stem).unlink(missing_ok=True)
    return [base / name for name in expected]


def scratch_folder(output: Path) -> Path:
    """A new scratch folder beside ``output`` for its files, named with this process's id."""
    prefix = f".{output.name}.{os.getpid()}-"
    return Path(tempfile.mkdtemp(prefix=prefix, suffix=SCRATCH_SUFFIX, dir=output.parent))


def scratch_folders(output: Path) -> list[Path]:
    """The scratch folders :func:`run_shot` made beside ``output`` (left by a killed process)."""
    return sorted(output.parent.glob(f".{glob.escape(output.name)}.*{SCRATCH_SUFFIX}"))


def _process_ended(folder: Path, output: Path) -> bool:
    """Whether the process that made scratch ``folder`` is gone (its id is in the name)."""
    pid = folder.name[len(output.name) + 2 :].partition("-")[0]
    if not pid.isdigit():
        return False  # not a name this module gives: left alone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # another user's process
    return False


def remove_leftover_scratch(output: Path) -> None:
    """Remove the scratch folders beside ``output`` whose process was killed mid-shot; those of
    a batch still running are kept."""
    for folder in scratch_folders(output):
        if folder.is_dir() and not folder.is_symlink() and _process_ended(folder, output):
            shutil.rmtree(folder, ignore_errors=True)


def run_shot(
    shot: Shot,
    loaded: LoadedModel,
    progress: StepProgress | None = None,
    cancel: Cancel | None = None,
) -> list[Path]:
    """Make the shot and commit its files (through a scratch folder beside the output, so the
    commit is renames); the paths written, the stem first."""
    scratch = scratch_folder(shot.request.output)
    try:
        run_shot_to(shot, loaded, scratch, progress, cancel)
        return commit_shot(shot, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
