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

from models.foley.detector import panorama_band
from models.foley.events import strength_target
from models.foley.family import FOV_SIZE, FRAME_RATE, PANORAMA_SIZE, WINDOW_SECONDS
from models.foley.voices import grain_voice, loop_voice
from plugin_core.spatial.directions import az_el_to_vector, erp_pixel_directions, vector_to_az_el
from plugin_core.spatial.projection import erp_to_perspective, global_view, perspective_grid
from plugin_core.synthsphere import SOUND_CLASSES, Scene, make_scene
from plugin_core.synthsphere.catalogue import PROFILES
from plugin_core.synthsphere.panorama import draw_object, event_envelopes, sampled_frames
from plugin_core.synthsphere.scene import SILENT_DB
from plugin_core.synthsphere.soundfield import ambience
from plugin_core.synthsphere.sounds import synthesize
from plugin_core.synthsphere.splits import DEMO_SEED, HELD_OUT_SEEDS

SAMPLE_RATE = 44100
# Seconds of each exemplar in the bank, by class: a bell rings for 3 s; a continuous class's
# loop outlasts a 10 s window even played 6 % fast, so a window never splices two of them.
EXEMPLAR_SECONDS = {
    "engine": 11.0,
    "bird": 1.0,
    "bell": 3.0,
    "drum": 0.8,
    "water": 11.0,
    "footsteps": 0.35,
    "siren": 11.0,
    "applause": 11.0,
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
    camera: NDArray[np.uint8]  # a camera view of each frame [T, 3, S, S]
    camera_labels: NDArray[np.uint8]  # its pixel labels [T, S, S]


def training_seeds(count: int) -> list[int]:
    """The first ``count`` training scene seeds (never the demo's or a held-out one)."""
    seeds = list(range(FIRST_TRAINING_SEED, FIRST_TRAINING_SEED + count))
    if seeds and seeds[-1] >= HELD_OUT_SEEDS.start:
        raise ValueError("training scenes would reach the held-out seeds")
    return seeds


def _centres(scene: Scene, times: NDArray[np.float64]) -> list[NDArray[np.float64]]:
    """Each object's centre [T, 3] (unit vectors) at ``times`` (s)."""
    out = []
    for obj in scene.objects:
        traj = obj.trajectory
        az = np.interp(times, traj.times, np.unwrap(np.radians(traj.az)))
        el = np.interp(times, traj.times, traj.el)
        out.append(az_el_to_vector(np.degrees(az), el))
    return out


def _labels(scene: Scene, times: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Per-pixel labels [T, H, W] of the frames showing ``times`` (s), at the ERP frame size,
    later objects drawn over earlier."""
    width, height = scene.video.width, scene.video.height
    dirs = az_el_to_vector(*erp_pixel_directions(width, height)).astype(np.float32)
    count = len(times)
    labels = np.zeros((count, height, width), dtype=np.uint8)
    for obj, centres in zip(scene.objects, _centres(scene, times), strict=True):
        envelope = event_envelopes(obj.onsets, obj.look.event_s, times)
        label = 1 + SOUND_CLASSES.index(obj.sound_class)
        for k in range(count):
            canvas = np.zeros((height, width, 3), dtype=np.uint8)
            draw_object(canvas, dirs, centres[k], obj.look, float(envelope[k]))
            labels[k][canvas.max(axis=-1) > 12] = label
    return labels


def _camera_views(
    scene: Scene, frames: NDArray[np.uint8], full: NDArray[np.uint8], shown: NDArray[np.float64]
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """A camera view of each frame and its labels: every other frame aimed near an object
    (within 25°), the rest anywhere; the field of view from 60° to 120°."""
    rng = np.random.default_rng(scene.seed)
    count = len(frames)
    yaws, pitches = rng.uniform(-180.0, 180.0, count), rng.uniform(-45.0, 45.0, count)
    centres = _centres(scene, shown)
    for k in range(0, count, 2):
        az, el = vector_to_az_el(centres[rng.integers(len(centres))][k])
        yaws[k] = az + rng.uniform(-25.0, 25.0)
        pitches[k] = np.clip(el + rng.uniform(-25.0, 25.0), -80.0, 80.0)
    fovs = rng.uniform(60.0, 120.0, count)
    views, labels = [], []
    height, width = full.shape[1:]
    for k in range(count):
        view = erp_to_perspective(torch.from_numpy(frames[k : k + 1]), yaws[k], pitches[k],
                                  float(fovs[k]), FOV_SIZE)  # fmt: skip
        views.append((view[0] * 255.0).round().to(torch.uint8).numpy())
        uv = perspective_grid(yaws[k], pitches[k], float(fovs[k]), FOV_SIZE)[0].numpy()
        rows = np.clip((uv[..., 1] * height).astype(np.int64), 0, height - 1)
        cols = (uv[..., 0] * width).astype(np.int64) % width
        labels.append(full[k][rows, cols])
    return np.stack(views), np.stack(labels)


def scene_views(seed: int) -> SceneViews:
    """The panorama band, pixel labels and event truth of training scene ``seed``."""
    scene = make_scene(seed, WINDOW_SECONDS)
    frames, shown = sampled_frames(scene, FRAME_RATE)
    band = panorama_band(global_view(torch.from_numpy(frames), PANORAMA_SIZE))
    erp_labels = _labels(scene, shown)
    camera, camera_labels = _camera_views(scene, frames, erp_labels, shown)
    full = torch.from_numpy(erp_labels).float()[:, None]
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
        camera,
        camera_labels,
    )


def cached_scene_views(seed: int, folder: Path) -> SceneViews:
    """``scene_views(seed)``, kept as an .npz in ``folder`` so a rerun resumes."""
    path = folder / f"scene_{seed:07d}.npz"
    if path.is_file():
        with np.load(path) as data:
            return SceneViews(
                data["band"],
                data["labels"],
                tuple(int(c) for c in data["classes"]),
                data["strength"],
                data["shown"],
                data["camera"],
                data["camera_labels"],
            )
    views = scene_views(seed)
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part.npz")
    np.savez_compressed(
        partial,
        band=views.band,
        labels=views.labels,
        classes=np.array(views.classes),
        strength=views.strength,
        shown=views.shown,
        camera=views.camera,
        camera_labels=views.camera_labels,
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
    return out


def class_levels(
    bank: dict[str, list[torch.Tensor]], seeds: list[int], seed: int = 0
) -> dict[str, float]:
    """Per class, the dB that brings the bank's voice to the class's level in the scenes: each
    training object's dry sound against the model's voice for the same onsets (grains) or the
    whole clip (loops), mean power over the clip, averaged in dB over the objects. Grains
    overlap where onsets come faster than a grain lasts (drums), so this is not 0 dB."""
    generator = torch.Generator().manual_seed(seed)
    found: dict[str, list[float]] = {name: [] for name in bank}
    for scene_seed in seeds:
        scene = make_scene(scene_seed, WINDOW_SECONDS)
        n = scene.num_samples
        for obj in scene.objects:
            truth = synthesize(obj.sound_class, obj.onsets, n, scene.sample_rate, obj.sound_seed)
            exemplars = bank[obj.sound_class]
            if PROFILES[obj.sound_class].continuous:
                voice = loop_voice(exemplars, [(0.0, scene.duration)], n, SAMPLE_RATE, generator)
            else:
                voice = grain_voice(exemplars, obj.onsets, n, SAMPLE_RATE, generator)
            ratio = np.mean(truth**2) / max(float(torch.mean(voice.double() ** 2)), 1e-20)
            found[obj.sound_class].append(10.0 * math.log10(max(float(ratio), 1e-20)))
    return {name: round(float(np.mean(v)), 2) if v else 0.0 for name, v in found.items()}
