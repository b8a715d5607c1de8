"""The worker half of a render farm: a Ray actor that holds warm models and makes shots.

:class:`ShotWorker` is a plain class; :mod:`plugin_core.batch.ray_farm` makes it a Ray actor.
It makes each shot with :func:`~plugin_core.batch.shot_run.run_shot_to` in a temporary folder of
its own machine and returns the files' bytes (through Ray's object store) for the driver to
commit. It reads a shot's video from shared storage when it sees the driver's file there (the
same path, size and SHA-256), else from the copy the driver shipped through the object store,
and returns ``None`` when it sees no such file and has no copy yet (the driver then ships one).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch

from plugin_core.atomic_files import own_transaction
from plugin_core.batch.shot_list import Shot
from plugin_core.batch.shot_run import run_shot_to
from plugin_core.batch.warm_models import Loader, WarmModels
from plugin_core.generation.file_hashes import file_sha256
from plugin_core.generation.sidecar import VIDEO_FIELDS
from plugin_core.media.stem_sidecar import sidecar_path, write_sidecar

VideoFrom = Literal["shared", "shipped"]


@dataclass(frozen=True)
class VideoCopy:
    """A shot's video as the driver sees it, with its bytes in Ray's object store once a worker
    could not see it (held in a tuple so Ray fetches them only for a worker that reads them)."""

    path: Path
    size: int
    sha256: str
    shipped: tuple[Any, ...] = ()  # (ray.ObjectRef of the file's bytes,) once shipped
    shared: bool = True  # False: read the shipped bytes even where the path is visible


@dataclass(frozen=True)
class MadeShot:
    """A shot's files (names relative to the output's folder, as ``shot_files``), and where the
    worker read its video."""

    files: dict[str, bytes]
    video_from: VideoFrom


def sees(video: VideoCopy) -> bool:
    """Whether this machine has the driver's video at the same path with the same bytes."""
    try:
        if video.path.stat().st_size != video.size:
            return False
        return file_sha256(video.path) == video.sha256
    except OSError:
        return False


def _name_shot_video(stem: Path, video: Path) -> None:
    """Make the sidecar of ``stem`` name the shot's own video, not the shipped copy it read."""
    document = json.loads(sidecar_path(stem).read_text(encoding="utf-8"))
    for record, name in VIDEO_FIELDS:
        document[record][name] = str(video)
    with own_transaction():
        write_sidecar(stem, document)


class ShotWorker:
    """One farm worker: warm models on its device, one shot at a time."""

    def __init__(self, device: str, load: Loader | None = None) -> None:
        self._models = WarmModels(device, load)

    def make(self, shot: Shot, video: VideoCopy) -> MadeShot | None:
        """The shot's files, or None when its video is neither visible here nor shipped."""
        with tempfile.TemporaryDirectory(prefix="omnifoa-farm-") as scratch:
            out = Path(scratch) / "out"
            out.mkdir()
            if video.shared and sees(video):
                video_from: VideoFrom = "shared"
                made = shot
            elif video.shipped:
                import ray

                copy = Path(scratch) / "in" / video.path.name  # the same name in messages
                copy.parent.mkdir()
                copy.write_bytes(ray.get(video.shipped[0]))
                video_from = "shipped"
                made = replace(shot, request=replace(shot.request, video=copy))
            else:
                return None
            try:
                names = run_shot_to(made, self._models.get(shot.request), out)
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()  # the next shot gets the memory this one held
                raise
            if video_from == "shipped":
                _name_shot_video(out / shot.request.output.name, shot.request.video)
            return MadeShot({name: (out / name).read_bytes() for name in names}, video_from)
