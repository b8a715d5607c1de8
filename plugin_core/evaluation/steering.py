"""Is the sound steered by the picture? The same held-out scene with its panorama turned.

Turning the whole panorama by α turns the scene: a model that listens to the picture turns its
field by α too. Read twice: with the camera turned with the panorama (it sees what it saw, so
only the panorama's turn is measured) and with the camera left at the ERP centre (it then
sees other things; a model that lifts what the camera sees moves its field for that reason
too: :mod:`plugin_core.evaluation.fov_turn` measures the camera alone). The turn is read from
the generated clips' whole-clip intensity azimuths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from models.family import SamplingOptions
from plugin_core.evaluation.clips import SAMPLE_RATE, render_clip
from plugin_core.evaluation.model_systems import EVAL_PITCH, EVAL_YAW, clip_take
from plugin_core.evaluation.spatial import whole_clip_direction
from plugin_core.generation.loaded_model import LoadedModel
from plugin_core.spatial.directions import wrap_az
from plugin_core.spatial.scene_turn import rotate_frames

TURNS = (90.0, -90.0)
CAMERAS = ("turned with it", "left at front")
WITHIN_DEG = 30.0  # a turn read within this of the asked one counts as followed
STEERING_CLIPS = 10  # omnifoa eval turns the first clips only (three generations per clip)
STEERING_NAME = "steering.txt"


@dataclass(frozen=True)
class SteeringRow:
    """One panorama turn over all clips: how far the generated field turned."""

    camera: str  # one of CAMERAS
    turn_deg: float
    mean_error_deg: float  # |turn read − turn asked|, wrapped, mean over clips
    followed_pct: float  # clips whose field turned within WITHIN_DEG of the turn
    clips: int


def steering_rows(
    loaded: LoadedModel,
    seeds: Sequence[int],
    turns: Sequence[float] = TURNS,
    seed: int = 0,
    options: SamplingOptions | None = None,
) -> list[SteeringRow]:
    """Generate each scene as it is and with its panorama turned by each of ``turns``, with
    the camera turned with it and left at the front."""
    model = loaded.model
    options = options or SamplingOptions()
    count, rate = model.window.frames, model.window.frame_rate
    errors: dict[tuple[str, float], list[float]] = {
        (camera, turn): [] for camera in CAMERAS for turn in turns
    }

    def heard(frames: np.ndarray, turn: float, yaw: float, take_seed: int, n: int) -> float:
        """Whole-clip azimuth of the take of ``frames`` turned by ``turn``, camera at ``yaw``."""
        yaws, pitches = np.full(count, yaw), np.full(count, EVAL_PITCH)
        directions = torch.tensor([[yaw, EVAL_PITCH]], dtype=torch.float64).expand(count, 2)
        turned = rotate_frames(frames, turn)
        take = clip_take(model, turned, yaws, pitches, directions, take_seed, options, n)
        return whole_clip_direction(take, SAMPLE_RATE)[0]

    for clip_seed in seeds:
        clip = render_clip(clip_seed, model.window.seconds)
        frames, n = clip.frames_at(rate), clip.foa.shape[1]
        start = heard(frames, 0.0, EVAL_YAW, seed + clip_seed, n)
        for camera in CAMERAS:
            for turn in turns:
                yaw = float(wrap_az(EVAL_YAW + turn)) if camera == CAMERAS[0] else EVAL_YAW
                read = float(wrap_az(heard(frames, turn, yaw, seed + clip_seed, n) - start))
                errors[camera, turn].append(abs(float(wrap_az(read - turn))))
    return [
        SteeringRow(
            camera,
            turn,
            float(np.mean(values)),
            100.0 * float(np.mean(np.array(values) <= WITHIN_DEG)),
            len(values),
        )
        for (camera, turn), values in errors.items()
    ]


def format_steering(rows: Sequence[SteeringRow]) -> str:
    """The steering rows as text."""
    lines = [
        f"{'camera':<15}  {'panorama turned':<16}  {'mean error':>10}  "
        f"{f'within {WITHIN_DEG:g}°':>10}  clips"
    ]
    for r in rows:
        turn, error = f"{r.turn_deg:>+14.0f}°", f"{r.mean_error_deg:>9.1f}°"
        lines.append(f"{r.camera:<15}  {turn}  {error}  {r.followed_pct:>9.0f}%  {r.clips:>5}")
    return "\n".join(lines)
