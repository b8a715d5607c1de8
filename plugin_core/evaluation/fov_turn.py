"""Does the field-of-view steer the sound? Each held-out scene generated with the camera
following its loudest object, and again with the camera where no object is.

The panorama is the same in both takes; only the perspective crop (and the camera direction
given to the model) differs. For the followed object the report reads, in each take, the level
of a cardioid beam aimed along the object's path and the angle between the whole clip's
intensity direction and the object's mean direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from models.family import SamplingOptions
from plugin_core.evaluation.clips import SAMPLE_RATE, render_clip
from plugin_core.evaluation.model_systems import clip_take
from plugin_core.evaluation.spatial import whole_clip_direction
from plugin_core.generation.loaded_model import LoadedModel
from plugin_core.spatial.directions import az_el_to_vector, great_circle_deg, vector_to_az_el
from plugin_core.spatial.foa import direction_per_sample
from plugin_core.synthsphere import Scene

FOV_TURN_NAME = "fov_turn.txt"
FOV_TURN_CLIPS = 10  # omnifoa eval aims the first clips only (two generations per clip)
AIMS = ("toward", "away")
# Candidate directions for the camera aimed away from every object: a 10° grid up to ±60°.
_AWAY_AZ = np.arange(-180.0, 180.0, 10.0)
_AWAY_EL = np.arange(-60.0, 61.0, 10.0)


@dataclass(frozen=True)
class AimRow:
    """One camera aim over all clips, for the followed object."""

    aim: str  # "toward", "away" or "scene itself" (the ground truth, which no aim changes)
    beam_db: float  # level of a cardioid aimed along the object's path, dB re full scale
    beam_share_db: float  # that level over the level of W: 0 dB when all sound is there
    direction_error_deg: float  # whole-clip intensity direction vs the object's mean direction
    clips: int


def loudest_object(scene: Scene) -> int:
    """Index of the object with the highest mean level."""
    return int(np.argmax([np.mean(o.level_db) for o in scene.objects]))


def object_path(scene: Scene, index: int, count: int, rate: float) -> np.ndarray:
    """Unit vectors [count, 3] of an object at ``count`` instants ``rate`` per second apart."""
    traj = scene.objects[index].trajectory
    return direction_per_sample(count, traj.az, traj.el, traj.times, rate)


def away_direction(scene: Scene, count: int, rate: float) -> tuple[float, float]:
    """The grid direction farthest (worst case over time) from every object of the scene."""
    az, el = np.meshgrid(_AWAY_AZ, _AWAY_EL)
    grid = az_el_to_vector(az.ravel(), el.ravel())  # [G, 3]
    paths = np.concatenate([object_path(scene, i, count, rate) for i in range(len(scene.objects))])
    nearest = (grid @ paths.T).max(axis=1)  # cosine to the nearest object, per candidate
    best = int(np.argmin(nearest))
    return float(az.ravel()[best]), float(el.ravel()[best])


def beam_levels(foa: np.ndarray, path: np.ndarray) -> tuple[float, float]:
    """Level (dB) of a cardioid following ``path`` [N, 3] and that level over W's."""
    w, y, z, x = np.asarray(foa, dtype=np.float64)
    beam = 0.5 * (w + path[:, 0] * x + path[:, 1] * y + path[:, 2] * z)
    level = 10.0 * np.log10(max(float(np.mean(beam**2)), 1e-12))
    return level, level - 10.0 * np.log10(max(float(np.mean(w**2)), 1e-12))


def fov_turn_rows(
    loaded: LoadedModel,
    seeds: Sequence[int],
    seed: int = 0,
    options: SamplingOptions | None = None,
) -> list[AimRow]:
    """Generate each scene with the camera on its loudest object and away from all objects."""
    model = loaded.model
    options = options or SamplingOptions()
    count, rate = model.window.frames, model.window.frame_rate
    measured: dict[str, list[tuple[float, float, float]]] = {a: [] for a in (*AIMS, "scene")}
    for clip_seed in seeds:
        clip = render_clip(clip_seed, model.window.seconds)
        target = loudest_object(clip.scene)
        frames = object_path(clip.scene, target, count, rate)
        yaw, pitch = vector_to_az_el(frames)
        away = away_direction(clip.scene, count, rate)
        aims = {"toward": (yaw, pitch), "away": (np.full(count, away[0]), np.full(count, away[1]))}
        n, seen = clip.foa.shape[1], clip.frames_at(rate)
        heard = {"scene": clip.foa}
        for aim, (yaws, pitches) in aims.items():
            directions = torch.from_numpy(np.stack([yaws, pitches], axis=1))
            heard[aim] = clip_take(
                model, seen, yaws, pitches, directions, seed + clip_seed, options, n
            )
        path = object_path(clip.scene, target, n, SAMPLE_RATE)
        mean_az, mean_el = vector_to_az_el(path.mean(axis=0))
        for aim, foa in heard.items():
            error = great_circle_deg(*whole_clip_direction(foa, SAMPLE_RATE), mean_az, mean_el)
            measured[aim].append((*beam_levels(foa, path), float(error)))
    names = {"toward": "toward", "away": "away", "scene": "scene itself"}
    return [
        AimRow(names[aim], *np.mean(np.array(values), axis=0).tolist(), len(values))
        for aim, values in measured.items()
    ]


def format_fov_turn(rows: Sequence[AimRow]) -> str:
    """The aim rows as text, with the toward − away change."""
    lines = [f"{'camera':<13}  {'beam level':>10}  {'beam − W':>8}  {'direction error':>15}  clips"]
    for r in rows:
        lines.append(
            f"{r.aim:<13}  {r.beam_db:>7.1f} dB  {r.beam_share_db:>5.1f} dB  "
            f"{r.direction_error_deg:>14.1f}°  {r.clips:>5}"
        )
    by_aim = {r.aim: r for r in rows}
    if set(AIMS) <= set(by_aim):
        toward, away = by_aim["toward"], by_aim["away"]
        lines.append(
            f"toward − away: beam level {toward.beam_db - away.beam_db:+.1f} dB, "
            f"beam − W {toward.beam_share_db - away.beam_share_db:+.1f} dB, "
            f"direction error {toward.direction_error_deg - away.direction_error_deg:+.1f}°"
        )
    return "\n".join(lines)
