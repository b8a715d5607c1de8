"""Training material for the object-Foley model, made from SynthSphere scenes.

Per scene: the panorama views the model sees (the ERP frames at 8 fps cut exactly as the
pipeline cuts them), a class label for every pixel (each object drawn alone on black, so the
label is the object that covers the pixel), and each object's ground truth: class, visual
event strength per frame. The sound bank: dry exemplars of every class from the scenes'
synthesisers (grains for event classes, loops for continuous ones) and one diffuse FOA bed.
Scenes come from the training seeds only (1, 2, …): the demo (seed 0) and the held-out
evaluation seeds are never drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from models.foley.family import FRAME_RATE, PANORAMA_SIZE, WINDOW_SECONDS
from models.foley.detector import panorama_band
from models.foley.events import strength_target
from plugin_core.spatial.directions import az_el_to_vector, erp_pixel_directions
from plugin_core.spatial.projection import global_view
from plugin_core.synthsphere import SOUND_CLASSES, Scene, make_scene
from plugin_core.synthsphere.catalogue import PROFILES
from plugin_core.synthsphere.panorama import draw_object, event_envelopes, sampled_frames
from plugin_core.synthsphere.scene import SILENT_DB
from plugin_core.synthsphere.soundfield import ambience
from plugin_core.synthsphere.splits import DEMO_SEED, HELD_OUT_SEEDS
from plugin_core.synthsphere.sounds import synthesize

SAMPLE_RATE = 44100
# Seconds of each exemplar in the bank, by class (a bell rings for 3 s; loops run long
# enough that a siren's slow sweep is whole).
EXEMPLAR_SECONDS = {
    "engine": 4.0, "bird": 1.0, "bell": 3.0, "drum": 0.8,
    "water": 4.0, "footsteps": 0.35, "siren": 8.0, "applause": 4.0,
}
BED_SECONDS = 8.0
FIRST_TRAINING_SEED = DEMO_SEED + 1


@dataclass(frozen=True)
class SceneViews:
    """One training scene as the model sees it, with its truth."""

    band: NDArray[np.uint8]  # ERP band of the panorama view [T, 3, S/2, S]
    labels: NDArray[np.uint8]  # 0 background, 1 + class index [T, S/2, S]
    classes: tuple[int, ...]  # class index of each object
    strength: NDArray[np.float32]  # visual event strength [objects, T]
    shown: NDArray[np.float64]  # time (s) each frame shows [T]


def training_seeds(count: int) -> list[int]:
    """The first ``count`` training scene seeds (never the demo's or a held-out one)."""
    seeds = list(range(FIRST_TRAINING_SEED, FIRST_TRAINING_SEED + count))
    if seeds and seeds[-1] >= HELD_OUT_SEEDS.start:
        raise ValueError("training scenes would reach the held-out seeds")
    return seeds


def _labels(scene: Scene, times: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Per-pixel labels [T, H, W] of the frames showing ``times`` (s), at the ERP frame size,
    later objects drawn over earlier."""
    width, height = scene.video.width, scene.video.height
    dirs = az_el_to_vector(*erp_pixel_directions(width, height)).astype(np.float32)
    count = len(times)
    labels = np.zeros((count, height, width), dtype=np.uint8)
    for obj in scene.objects:
        traj = obj.trajectory
        az = np.interp(times, traj.times, np.unwrap(np.radians(traj.az)))
        el = np.interp(times, traj.times, traj.el)
        centres = az_el_to_vector(np.degrees(az), el)
        envelope = event_envelopes(obj.onsets, obj.look.event_s, times)
        label = 1 + SOUND_CLASSES.index(obj.sound_class)
        for k in range(count):
            canvas = np.zeros((height, width, 3), dtype=np.uint8)
            draw_object(canvas, dirs, centres[k], obj.look, float(envelope[k]))
            labels[k][canvas.max(axis=-1) > 12] = label
    return labels


def scene_views(seed: int) -> SceneViews:
    """The panorama band, pixel labels and event truth of training scene ``seed``."""
    scene = make_scene(seed, WINDOW_SECONDS)
    frames, shown = sampled_frames(scene, FRAME_RATE)
    band = panorama_band(global_view(torch.from_numpy(frames), PANORAMA_SIZE))
    full = torch.from_numpy(_labels(scene, shown)).float()[:, None]
    # Labels at the band's size: the label covering most of each block of ERP pixels.
    size = band.shape[-2:]
    votes = torch.stack(
        [
            torch.nn.functional.adaptive_avg_pool2d((full == c).float(), size)[:, 0]
            for c in range(1 + len(SOUND_CLASSES))
        ]
    )
    labels = votes.argmax(dim=0).to(torch.uint8).numpy()
    times = torch.from_numpy(shown)
    strength = []
    for obj in scene.objects:
        onsets = torch.tensor(obj.onsets, dtype=torch.float64)
        elapsed = times[:, None] - onsets[None, :] if len(obj.onsets) else times[:, None] - 1e9
        strength.append(strength_target(elapsed, obj.look.event_s).max(dim=1).values.numpy())
    return SceneViews(
        (band * 255.0).round().to(torch.uint8).numpy(),
        labels,
        tuple(SOUND_CLASSES.index(o.sound_class) for o in scene.objects),
        np.array(strength, dtype=np.float32),
        shown,
    )


def cached_scene_views(seed: int, folder: Path) -> SceneViews:
    """``scene_views(seed)``, kept as an .npz in ``folder`` so a rerun resumes."""
    path = folder / f"scene_{seed:07d}.npz"
    if path.is_file():
        with np.load(path) as data:
            return SceneViews(
                data["band"], data["labels"], tuple(int(c) for c in data["classes"]),
                data["strength"], data["shown"],
            )
    views = scene_views(seed)
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part.npz")
    np.savez_compressed(
        partial, band=views.band, labels=views.labels, classes=np.array(views.classes),
        strength=views.strength, shown=views.shown,
    )
    partial.replace(path)
    return views


def sound_bank(exemplars: int, first_seed: int) -> dict[str, list[NDArray[np.float32]]]:
    """``exemplars`` dry sounds per class at the objects' reference level, seeds from
    ``first_seed`` on (one synthesiser seed per exemplar)."""
    bank: dict[str, list[NDArray[np.float32]]] = {}
    for c, name in enumerate(SOUND_CLASSES):
        n = round(EXEMPLAR_SECONDS[name] * SAMPLE_RATE)
        bank[name] = [
            synthesize(name, [0.0], n, SAMPLE_RATE, first_seed + 1000 * c + i).astype(np.float32)
            for i in range(exemplars)
        ]
    return bank


def bed_exemplar(seed: int) -> NDArray[np.float32]:
    """A diffuse FOA bed [4, N] whose W has the objects' reference RMS (level 0 dB)."""
    scene = make_scene(seed, BED_SECONDS, ambience_db=0.0)
    return ambience(scene).astype(np.float32)


def measured_levels(seeds: list[int]) -> dict[str, float]:
    """Mean object level (dB, while sounding), mean bed level (dB) and the mean silent gap
    (s) of continuous objects, over the training scenes."""
    levels, beds, gaps = [], [], []
    for seed in seeds:
        scene = make_scene(seed, WINDOW_SECONDS)
        beds.append(scene.ambience_db)
        for obj in scene.objects:
            level = np.asarray(obj.level_db)
            sounding = level > SILENT_DB
            levels.extend(level[sounding].tolist())
            if PROFILES[obj.sound_class].continuous:
                gaps.extend(_gaps(sounding, np.asarray(obj.trajectory.times)))
    return {
        "object_db": float(np.mean(levels)),
        "bed_db": float(np.mean(beds)),
        "gap_seconds": float(np.mean(gaps)) if gaps else 1.0,
    }


def _gaps(sounding: NDArray[np.bool_], times: NDArray[np.float64]) -> list[float]:
    """Lengths (s) of the silent runs between two sounding runs."""
    edges = np.diff(sounding.astype(np.int8))
    falls, rises = np.nonzero(edges == -1)[0], np.nonzero(edges == 1)[0]
    out = []
    for f in falls:
        later = rises[rises > f]
        if later.size:
            out.append(float(times[later[0]] - times[f]))
    return [g for g in out if math.isfinite(g)]
