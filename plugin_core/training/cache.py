"""The cached training set: SynthSphere clips rendered once, with their conditioning features.

Layout of a cache folder:

- ``index.json``: the settings every clip was made with and the list of shards (with seeds).
- ``shard_NNNNN.safetensors``, one per batch of clips, ``S`` clips and ``R`` rotations each:
  ``seeds`` int64 [S]; ``foa`` float16 [S, 4, N], AmbiX at 44.1 kHz, *unrotated*;
  ``azimuths`` float64 [S, R], the scene yaws (the first is 0); ``global`` and ``fov``
  float16 [S, R, T, 1280], the features of the frames turned by each yaw (T = 80 for 10 s).

FOA is kept once per clip because turning it is an exact 4 × 4 matrix (:func:`rotate_foa`,
done on load); the frames are not kept at all, only their features. float16 keeps about 11
significant bits of every sample (a relative error near -66 dB), far below what a codec
reconstructs, at half the size of float32.

Everything is a pure function of the seeds and the settings, so a cache can be rebuilt
bit for bit; a shard and then the index are written atomically, so an interrupted build
loses at most the shard in progress and the next call resumes after the last finished one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors.numpy import load_file, save_file
from tqdm import tqdm

from models.omniaudio.config import preset
from models.omniaudio.family import FOV, PANORAMA, OmniAudioEncoders
from plugin_core.atomic_files import write_atomic
from plugin_core.errors import InputError
from plugin_core.generation.frame_features import frame_features
from plugin_core.spatial.scene_turn import random_azimuths, rotate_foa, rotate_frames
from plugin_core.synthsphere import make_scene, render_foa, render_frames
from plugin_core.synthsphere.compose import SAMPLE_RATE

INDEX_NAME = "index.json"
CACHE_FORMAT = "omnifoa-training-cache/1"
# The FoV view of every cached clip: the reference extractor's (ERP centre, 120°).
FOV_YAW, FOV_PITCH, FOV_DEG = 0.0, 0.0, 120.0


@dataclass(frozen=True)
class CachedClips:
    """A whole cache in memory: S clips, R rotations each (shapes as in the module doc)."""

    folder: Path
    settings: dict[str, Any]
    seeds: NDArray[np.int64]
    foa: NDArray[np.float16]
    azimuths: NDArray[np.float64]
    global_features: NDArray[np.float16]
    fov_features: NDArray[np.float16]

    def rotated_foa(self, clip: int, rotation: int) -> NDArray[np.float32]:
        """FOA [4, N] float32 of a clip turned by its ``rotation``-th yaw, to match its features."""
        return rotate_foa(self.foa[clip].astype(np.float32), float(self.azimuths[clip, rotation]))


def _settings(
    seconds: float,
    rotations_per_clip: int,
    width: int,
    height: int,
    fps: float,
    extractor: OmniAudioEncoders,
) -> dict[str, Any]:
    global_name, fov_name = extractor.names
    return {
        "format": CACHE_FORMAT,
        "seconds": float(seconds),
        "sample_rate": SAMPLE_RATE,
        "rotations_per_clip": int(rotations_per_clip),
        "width": int(width),
        "height": int(height),
        "fps": float(fps),
        "global_encoder": global_name,
        "fov_encoder": fov_name,
        "fov_yaw": FOV_YAW,
        "fov_pitch": FOV_PITCH,
        "fov": FOV_DEG,
    }


def read_index(cache_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The cache's index (``settings`` and ``shards``), or None when there is none yet."""
    path = Path(cache_dir) / INDEX_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"Cannot read the training cache index {path} ({exc}).") from None


def _write_index(cache_dir: Path, index: dict[str, Any]) -> None:
    text = json.dumps(index, indent=1)
    write_atomic(cache_dir / INDEX_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def render_clip(
    seed: int,
    seconds: float,
    azimuths: Iterable[float],
    width: int,
    height: int,
    fps: float,
    extractor: OmniAudioEncoders,
) -> tuple[NDArray[np.float16], NDArray[np.float16], NDArray[np.float16]]:
    """One clip: FOA [4, N] and global / FoV features [R, T, D] for each scene yaw (float16)."""
    scene = make_scene(seed, seconds)
    foa = render_foa(scene).astype(np.float16)
    frames = np.stack(list(render_frames(scene, width, height, fps)))
    global_parts, fov_parts = [], []
    for azimuth in azimuths:
        turned = rotate_frames(frames, azimuth)
        yaws, pitches = np.full(len(turned), FOV_YAW), np.full(len(turned), FOV_PITCH)
        by_view = {view.name: turned for view in extractor.views}
        features = frame_features(extractor, by_view, yaws, pitches, FOV_DEG)
        glob, fov = features[PANORAMA], features[FOV]
        global_parts.append(glob.to(torch.float16).numpy())
        fov_parts.append(fov.to(torch.float16).numpy())
    return foa, np.stack(global_parts), np.stack(fov_parts)


def build_dataset(
    cache_dir: str | os.PathLike[str],
    seeds: Iterable[int],
    seconds: float = 10.0,
    rotations_per_clip: int = 1,
    width: int = 512,
    height: int = 256,
    fps: float = 8.0,
    progress: bool = True,
    extractor: OmniAudioEncoders | None = None,
    clips_per_shard: int = 16,
) -> Path:
    """Render and cache the clips of ``seeds`` not cached yet; returns the cache folder.

    ``extractor`` defaults to the ``omniaudio-mini`` preset's encoders on the CPU. A folder
    made with other settings is refused rather than mixed. Frames are rendered at 512 × 256:
    the global view shrinks to 224 px either way, but the FoV crop (224 px across 120°) is
    visibly sharper from 512 columns than from 256, for about 5 % more time per clip (the two
    encoders dominate; measured on 2 CPU cores).
    """
    if rotations_per_clip < 1 or clips_per_shard < 1:
        raise InputError("A training cache needs at least one rotation and one clip per shard.")
    folder = Path(cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    extractor = extractor or OmniAudioEncoders(preset("omniaudio-mini"))
    settings = _settings(seconds, rotations_per_clip, width, height, fps, extractor)
    index = read_index(folder) or {"settings": settings, "shards": []}
    if index["settings"] != settings:
        raise InputError(
            f"The training cache {folder} was made with other settings "
            f"({index['settings']}); use another folder for {settings}."
        )
    done = {seed for shard in index["shards"] for seed in shard["seeds"]}
    todo = list(dict.fromkeys(int(s) for s in seeds if int(s) not in done))
    bar = tqdm(total=len(todo), desc="training clips", unit="clip", disable=not progress)
    for start in range(0, len(todo), clips_per_shard):
        batch = todo[start : start + clips_per_shard]
        azimuths = np.stack([random_azimuths(s, rotations_per_clip, width) for s in batch])
        clips = []
        for seed, turns in zip(batch, azimuths, strict=True):
            clips.append(render_clip(seed, seconds, turns, width, height, fps, extractor))
            bar.update()
        name = f"shard_{len(index['shards']):05d}.safetensors"
        arrays = {
            "seeds": np.asarray(batch, dtype=np.int64),
            "foa": np.stack([c[0] for c in clips]),
            "azimuths": azimuths,
            "global": np.stack([c[1] for c in clips]),
            "fov": np.stack([c[2] for c in clips]),
        }
        write_atomic(folder / name, lambda tmp, arrays=arrays: save_file(arrays, tmp))
        index["shards"].append({"file": name, "seeds": batch})
        _write_index(folder, index)
    bar.close()
    return folder


def load_cache(cache_dir: str | os.PathLike[str]) -> CachedClips:
    """Every clip of a cache folder, in the order they were cached."""
    folder = Path(cache_dir)
    index = read_index(folder)
    if index is None or not index["shards"]:
        raise InputError(f"{folder} holds no training clips yet; run build_dataset first.")
    shards = [load_file(folder / shard["file"]) for shard in index["shards"]]

    def joined(key: str) -> np.ndarray:
        return np.concatenate([shard[key] for shard in shards])

    return CachedClips(
        folder=folder,
        settings=index["settings"],
        seeds=joined("seeds"),
        foa=joined("foa"),
        azimuths=joined("azimuths"),
        global_features=joined("global"),
        fov_features=joined("fov"),
    )
