"""The generator as evaluated systems: the full model and its two single-branch ablations."""

from __future__ import annotations

import numpy as np
import torch

from models.omniaudio.config import ModelConfig
from plugin_core.evaluation.clips import SAMPLE_RATE, EvalClip, GenerateFn
from plugin_core.generation.pipeline import LoadedModel, sample_window, window_features

# The clips' FoV view: the ERP centre with the reference extractor's 120° field of view.
EVAL_YAW, EVAL_PITCH, EVAL_FOV = 0.0, 0.0, 120.0


def model_systems(
    loaded: LoadedModel, seed: int = 0, config: ModelConfig | None = None
) -> dict[str, GenerateFn]:
    """``{name: clip → FOA}`` for the model, the model without its panorama branch and the
    model without its FoV branch (guidance off: its null condition is the FoV branch's).

    Each clip is sampled with ``seed`` plus the clip's own scene seed, so a system's output
    for a clip does not depend on which other clips are evaluated. The three systems share
    the frame features of the clip they were last given (computed once).
    """
    cfg = config or loaded.model.config
    if cfg.sample_rate != SAMPLE_RATE:
        raise ValueError(f"the evaluation runs at {SAMPLE_RATE} Hz, the model at {cfg.sample_rate}")
    last: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def features(clip: EvalClip) -> tuple[torch.Tensor, torch.Tensor]:
        key = clip.scene.seed
        if key not in last:
            last.clear()
            last[key] = window_features(loaded, clip.frames, EVAL_YAW, EVAL_PITCH, EVAL_FOV, cfg)
        return last[key]

    def system(use_global: bool, use_fov: bool) -> GenerateFn:
        def run(clip: EvalClip) -> np.ndarray:
            foa = sample_window(
                loaded,
                features(clip),
                seed + clip.scene.seed,
                config=cfg,
                use_global=use_global,
                use_fov=use_fov,
            )
            return foa[0]

        return run

    name = loaded.model_id
    return {
        name: system(True, True),
        f"{name} no panorama": system(False, True),
        f"{name} no FoV": system(True, False),
    }
