"""Writing scenes to disk: one scene as mp4 + AmbiX wav + JSON, or a numbered set of scenes."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from plugin_core.atomic_files import output_transaction
from plugin_core.errors import InputError
from plugin_core.file_checks import output_file
from plugin_core.media.audio_io import write_audio
from plugin_core.media.video import write_video
from plugin_core.synthsphere.compose import check_seconds, make_scene
from plugin_core.synthsphere.panorama import render_frames
from plugin_core.synthsphere.scene import Scene, VideoFormat, save_scene
from plugin_core.synthsphere.soundfield import render_foa

# H.264 settings: fast to encode, small files, every frame decodable within a second.
_H264_OPTIONS = {"preset": "veryfast", "crf": "23", "g": "24"}


@dataclass(frozen=True)
class ScenePaths:
    """The three files of a rendered scene."""

    video: Path
    audio: Path
    metadata: Path


def check_video_size(width: int, height: int) -> None:
    """Raise InputError unless width × height is a size the H.264 scenes can have."""
    if width % 2 or height % 2 or width < 8 or height < 4:
        raise InputError(
            f"The video size must be even and at least 8×4 pixels, not {width}×{height}."
        )


def render_scene(
    scene: Scene,
    out_dir: str | os.PathLike[str],
    stem: str = "scene",
    width: int = 512,
    height: int = 256,
    fps: float = 24.0,
    overwrite: bool = False,
) -> ScenePaths:
    """Write ``<stem>.mp4`` (ERP H.264), ``<stem>.wav`` (AmbiX float32) and ``<stem>.json``.

    The three appear together (one output transaction), so a failure leaves none of them; an
    existing file is replaced only with ``overwrite``.
    """
    check_video_size(width, height)
    if not stem or Path(stem).name != stem or stem.startswith("."):
        raise InputError(f"The file stem {stem!r} must be a plain file name without folders.")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    scene = replace(scene, video=VideoFormat(width, height, float(fps)))
    final = ScenePaths(folder / f"{stem}.mp4", folder / f"{stem}.wav", folder / f"{stem}.json")
    for path in (final.video, final.audio, final.metadata):
        output_file(path, overwrite)
    with output_transaction():
        write_video(final.video, render_frames(scene), scene.video.fps, options=_H264_OPTIONS)
        write_audio(
            final.audio,
            render_foa(scene),
            scene.sample_rate,
            subtype="float32",
            comment=f"synthsphere scene seed {scene.seed}, AmbiX (ACN/SN3D)",
        )
        save_scene(scene, final.metadata)
    return final


def write_dataset(
    out_dir: str | os.PathLike[str],
    count: int,
    seconds: float = 10.0,
    first_seed: int = 0,
    progress: bool = True,
    width: int = 512,
    height: int = 256,
    fps: float = 24.0,
    overwrite: bool = False,
) -> list[ScenePaths]:
    """Render ``count`` scenes with seeds ``first_seed, first_seed + 1, …`` as ``scene_<seed>``."""
    if count < 1:
        raise InputError(f"Give at least one scene to write, not {count}.")
    check_seconds(seconds)
    check_video_size(width, height)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for seed in range(first_seed, first_seed + count):  # refuse before rendering anything
        for suffix in (".mp4", ".wav", ".json"):
            output_file(Path(out_dir) / f"scene_{seed:06d}{suffix}", overwrite)
    written = []
    for seed in tqdm(range(first_seed, first_seed + count), desc="scenes", disable=not progress):
        scene = make_scene(seed, seconds)
        stem = f"scene_{seed:06d}"
        written.append(render_scene(scene, out_dir, stem, width, height, fps, overwrite))
    return written
