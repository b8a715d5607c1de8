"""The generator as evaluated systems: the full model and its two single-branch ablations."""

from __future__ import annotations

import numpy as np
import torch

from models.family import FamilyModel, SamplingOptions
from plugin_core.evaluation.clips import SAMPLE_RATE, EvalClip, GenerateFn, fit_length
from plugin_core.generation.frame_features import window_features
from plugin_core.generation.loaded_model import LoadedModel

# The clips' camera view: the ERP centre with the reference extractor's 120° field of view.
EVAL_YAW, EVAL_PITCH, EVAL_FOV = 0.0, 0.0, 120.0


def clip_take(
    model: FamilyModel,
    frames: np.ndarray,
    yaws: np.ndarray,
    pitches: np.ndarray,
    directions: torch.Tensor,
    seed: int,
    options: SamplingOptions,
    num_samples: int,
) -> np.ndarray:
    """One take [4, num_samples] of a clip whose every view sees ``frames`` (ERP, at the
    model's frame rate), the perspective views aimed at ``yaws``/``pitches`` per frame."""
    count = model.window.frames
    views = {view.name: frames for view in model.views}
    features = window_features(model, views, yaws, pitches, EVAL_FOV, count)
    take = model.sample(features, directions, seed, 1, options)
    return fit_length(take.audio[0].numpy(), num_samples)


def model_systems(
    loaded: LoadedModel, seed: int = 0, options: SamplingOptions | None = None
) -> dict[str, GenerateFn]:
    """``{name: clip → FOA}`` for the model, the model without its panorama branch and the
    model without its FoV branch (for OmniAudio that also turns guidance off: its null
    condition is the FoV branch's).

    Each clip is sampled with ``seed`` plus the clip's own scene seed, so a system's output
    for a clip does not depend on which other clips are evaluated. The three systems share
    the frame features of the clip they were last given (computed once).
    """
    model = loaded.model
    options = options or SamplingOptions()
    if model.window.sample_rate != SAMPLE_RATE:
        raise ValueError(
            f"the evaluation runs at {SAMPLE_RATE} Hz, the model at {model.window.sample_rate}"
        )
    count = model.window.frames
    directions = torch.tensor([[EVAL_YAW, EVAL_PITCH]], dtype=torch.float64).expand(count, 2)
    last: dict[int, dict[str, torch.Tensor]] = {}

    def features(clip: EvalClip) -> dict[str, torch.Tensor]:
        key = clip.scene.seed
        if key not in last:
            last.clear()
            if clip.scene.duration > model.window.seconds + 1e-6:
                raise ValueError(
                    f"{loaded.model_id} generates {model.window.seconds:g} s windows; evaluate "
                    f"clips of at most that length, not {clip.scene.duration:g} s"
                )
            rate = model.window.frame_rate
            frames = {view.name: clip.frames_at(rate) for view in model.views}
            yaws, pitches = np.full(count, EVAL_YAW), np.full(count, EVAL_PITCH)
            last[key] = window_features(model, frames, yaws, pitches, EVAL_FOV, count)
        return last[key]

    def system(without: frozenset[str]) -> GenerateFn:
        def run(clip: EvalClip) -> np.ndarray:
            take = model.sample(
                features(clip), directions, seed + clip.scene.seed, 1, options, without
            )
            return take.audio[0].numpy()

        return run

    name = loaded.model_id
    views = {view.projection: view.name for view in model.views}
    systems = {name: system(frozenset())}
    if "panorama" in views:
        systems[f"{name} no panorama"] = system(frozenset({views["panorama"]}))
    if "perspective" in views:
        systems[f"{name} no FoV"] = system(frozenset({views["perspective"]}))
    return systems
