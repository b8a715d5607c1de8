"""A batch checked before any work starts: every shot's model, outputs and request hash.

A shot is refused (InputError naming its row) when its model is unknown, not a generator or
not on this machine, when two shots write the same file, when a shot would write over
another's video, or when its stem exists and is neither a batch's stem nor allowed to be
replaced (``overwrite``); a shot whose commit a killed run left midway is finished first. A
shot whose stem, sidecar and takes exist and whose sidecar records the same request hash is up
to date (skipped) unless ``overwrite`` asks for it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from plugin_core.batch.commit_journal import finish_commit
from plugin_core.batch.request_hash import model_identity, request_hash
from plugin_core.batch.shot_list import Shot
from plugin_core.batch.shot_run import (
    check_shot_outputs,
    recorded_hash,
    remove_leftover_scratch,
    shot_files,
)
from plugin_core.errors import InputError
from plugin_core.generation.file_hashes import file_sha256
from plugin_core.generation.model_registry import get_entry

Progress = Callable[[int, int], None]


def _model(model_id: str, known: dict[str, list[str]]) -> list[str]:
    if model_id not in known:
        entry = get_entry(model_id)
        if entry.kind != "generator" or entry.preset is None:
            raise InputError(f"{model_id} is not a generator; see `omnifoa models list`.")
        known[model_id] = model_identity(model_id)
    return known[model_id]


def _up_to_date(shot: Shot) -> bool:
    output = shot.request.output
    if shot.request.overwrite or recorded_hash(output) != shot.request_hash:
        return False
    return all((output.parent / name).is_file() for name in shot_files(shot))


def plan_batch(shots: Sequence[Shot], progress: Progress | None = None) -> list[Shot]:
    """The shots, each checked, with its request hash and whether it is up to date;
    InputError (its row named) for the first shot that cannot run."""
    models: dict[str, list[str]] = {}
    written: dict[Path, str] = {}
    videos = {shot.request.video.resolve(): shot.origin for shot in shots}
    planned = []
    for index, shot in enumerate(shots):
        request = shot.request
        try:
            model = _model(request.model, models)
            for name in shot_files(shot):
                target = (request.output.parent / name).resolve()
                if target in written:
                    raise InputError(f"{target} is also written by {written[target]}.")
                if target in videos:
                    raise InputError(f"{target} is the video of {videos[target]}.")
                written[target] = shot.origin
            finish_commit(request.output)  # a commit a killed run left midway
            remove_leftover_scratch(request.output)
            check_shot_outputs(shot)
            digest = request_hash(request, file_sha256(request.video), model)
        except InputError as exc:
            raise InputError(f"{shot.origin}: {exc}") from None
        checked = replace(shot, request_hash=digest)
        planned.append(replace(checked, up_to_date=_up_to_date(checked)))
        if progress is not None:
            progress(index + 1, len(shots))
    return planned
