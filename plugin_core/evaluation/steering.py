"""Is the sound steered by the picture? The same held-out scene with its panorama turned.

Turning the whole panorama by α (the camera stays at the ERP centre) turns the scene: a model
that listens to the picture turns its field by α too. The turn is read from the generated
clips' whole-clip intensity azimuths, beside the ground truth's own (turned exactly).
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
WITHIN_DEG = 30.0  # a turn read within this of the asked one counts as followed
STEERING_CLIPS = 10  # omnifoa eval turns the first clips only (three generations per clip)
STEERING_NAME = "steering.txt"


@dataclass(frozen=True)
class SteeringRow:
    """One panorama turn over all clips: how far the generated field turned."""

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
    """Generate each scene as it is and with its panorama turned by each of ``turns``."""
    model = loaded.model
    options = options or SamplingOptions()
    count, rate = model.window.frames, model.window.frame_rate
    directions = torch.tensor([[EVAL_YAW, EVAL_PITCH]], dtype=torch.float64).expand(count, 2)
    yaws, pitches = np.full(count, EVAL_YAW), np.full(count, EVAL_PITCH)
    errors: dict[float, list[float]] = {turn: [] for turn in turns}
    for clip_seed in seeds:
        clip = render_clip(clip_seed, model.window.seconds)
        frames, n = clip.frames_at(rate), clip.foa.shape[1]
        heard = {}
        for turn in (0.0, *turns):
            turned = rotate_frames(frames, turn)
            take = clip_take(model, turned, yaws, pitches, directions, seed + clip_seed, options, n)
            heard[turn] = whole_clip_direction(take, SAMPLE_RATE)[0]
        for turn in turns:
            read = float(wrap_az(heard[turn] - heard[0.0]))
            errors[turn].append(abs(float(wrap_az(read - turn))))
    return [
        SteeringRow(
            turn,
            float(np.mean(values)),
            100.0 * float(np.mean(np.array(values) <= WITHIN_DEG)),
            len(values),
        )
        for turn, values in errors.items()
    ]


def format_steering(rows: Sequence[SteeringRow]) -> str:
    """The steering rows as text."""
    lines = [f"{'panorama turned':<16}  {'mean error':>10}  {f'within {WITHIN_DEG:g}°':>10}  clips"]
    for r in rows:
        turn, error = f"{r.turn_deg:>+14.0f}°", f"{r.mean_error_deg:>9.1f}°"
        lines.append(f"{turn}  {error}  {r.followed_pct:>9.0f}%  {r.clips:>5}")
    return "\n".join(lines)
