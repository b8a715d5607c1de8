"""Generation: a 360 video → frames at the model rate → views → features → FOA file.

One model window per request for now (10 s for the bundled and the official model, starting
at ``start``); longer spans arrive with the any-length pipeline.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.checkpoint import CheckpointError, load_weights
from models.config import SAMPLER_METHODS, ModelConfig, preset, with_sampler
from models.device import inference_precision, pick_device
from models.generator import FoaGenerator
from plugin_core.audio_io import Subtype, resample, write_audio
from plugin_core.errors import InputError
from plugin_core.model_registry import get_entry, require_local
from plugin_core.training_data.features import (
    FeatureExtractor,
    clip_features,
    load_feature_extractor,
)
from plugin_core.video import decode_range, probe

DEFAULT_MODEL = "omnifoa-mini"
# Frames are decoded at this size: the encoders see 224-pixel views of it.
DECODE_SIZE = (512, 256)
PEAK = 10 ** (-1 / 20)  # -1 dBFS, the release's peak normalisation
StepProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a user sets for one generation; the CLI, service and add-on build it."""

    video: Path
    output: Path
    start: float = 0.0
    model_id: str = DEFAULT_MODEL
    seed: int = 0
    variations: int = 1
    steps: int | None = None
    cfg_scale: float | None = None
    sampler: str | None = None
    yaw: float = 0.0
    pitch: float = 0.0
    fov: float = 120.0
    sample_rate: int = 48000
    subtype: Subtype = "float32"
    device: str = "auto"

    def validate(self) -> None:
        """Raise InputError for values no generation can use."""
        checks = [
            (self.variations >= 1, f"Ask for at least one variation, not {self.variations}."),
            (self.steps is None or self.steps >= 1, f"Use at least one step, not {self.steps}."),
            (
                self.cfg_scale is None or self.cfg_scale >= 0,
                "The guidance scale cannot be negative.",
            ),
            (
                self.sampler in (None, *SAMPLER_METHODS),
                f"Use the sampler euler or heun, not {self.sampler}.",
            ),
            (
                0 < self.fov < 180,
                f"The field of view must be between 0 and 180 degrees, not {self.fov}.",
            ),
            (
                -90 <= self.pitch <= 90,
                f"The pitch must be between -90 and 90 degrees, not {self.pitch}.",
            ),
            (self.start >= 0, f"The start time cannot be negative ({self.start} s)."),
            (self.sample_rate in (44100, 48000), "Deliver at 44100 or 48000 Hz."),
            (self.output.suffix.lower() in (".wav", ".flac"), "Name the output *.wav or *.flac."),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)


@dataclass
class LoadedModel:
    """A generator with its weights and feature extractor, ready on a device."""

    model: FoaGenerator
    extractor: FeatureExtractor
    device: torch.device
    model_id: str


def load_model(model_id: str = DEFAULT_MODEL, device: str = "auto") -> LoadedModel:
    """Load a registered generator and its frame encoders onto the chosen device."""
    entry = get_entry(model_id)
    if entry.kind != "generator" or entry.preset is None:
        raise InputError(f"{model_id} is not a generator; see `omnifoa models list`.")
    path = require_local(entry)
    config: ModelConfig = preset(entry.preset)
    target = pick_device(device)
    model = FoaGenerator(config)
    try:
        load_weights(model, path)
    except CheckpointError as exc:
        raise InputError(str(exc)) from None
    model = model.to(target).eval()
    return LoadedModel(model, load_feature_extractor(config, target), target, model_id)


def window_features(
    loaded: LoadedModel,
    frames: np.ndarray,
    yaw: float = 0.0,
    pitch: float = 0.0,
    fov: float = 120.0,
    config: ModelConfig | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Global and FoV features [T, D] of one window of ERP frames [T, H, W, 3] at 8 fps."""
    cfg = config or loaded.model.config
    frames = _fit_frames(frames, cfg.frames_per_window)
    return clip_features(torch.from_numpy(frames), loaded.extractor, yaw, pitch, fov)


def sample_window(
    loaded: LoadedModel,
    features: tuple[torch.Tensor, torch.Tensor],
    seed: int,
    variations: int = 1,
    config: ModelConfig | None = None,
    use_global: bool = True,
    use_fov: bool = True,
    progress: StepProgress | None = None,
) -> np.ndarray:
    """FOA [variations, 4, N] (AmbiX, model rate) from one window's (global, FoV) features.

    ``use_global=False`` zeroes the panorama branch; ``use_fov=False`` zeroes the FoV branch
    and turns guidance off (its null condition is the FoV branch's).
    """
    model = loaded.model
    cfg = config or model.config
    global_feats, fov_feats = features
    sampler = cfg.sampler
    if not use_fov:
        fov_feats = torch.zeros_like(fov_feats)
        sampler = with_sampler(cfg, cfg_scale=1.0).sampler
    generator = torch.Generator(device=loaded.device).manual_seed(seed)
    with inference_precision(loaded.device):
        foa = model.generate(
            global_feats,
            fov_feats,
            generator,
            variations,
            sampler,
            progress,
            use_global=use_global,
        )
    return foa.float().cpu().numpy()


def _fit_frames(frames: np.ndarray, count: int) -> np.ndarray:
    """Hold the last frame (or cut) so there are exactly ``count`` frames."""
    if len(frames) >= count:
        return frames[:count]
    pad = np.repeat(frames[-1:], count - len(frames), axis=0)
    return np.concatenate([frames, pad])


def peak_normalise(foa: np.ndarray, peak: float = PEAK) -> np.ndarray:
    """Scale all four channels together so the loudest sample sits at ``peak``."""
    top = float(np.max(np.abs(foa)))
    return foa if top == 0 else foa * (peak / top)


def output_paths(output: Path, seed: int, variations: int) -> list[Path]:
    """One file per variation: the name itself for one, ``name_seedN`` for several."""
    if variations == 1:
        return [output]
    return [
        output.with_name(f"{output.stem}_seed{seed}_v{i}{output.suffix}") for i in range(variations)
    ]


def generate(
    request: GenerationRequest,
    loaded: LoadedModel | None = None,
    progress: StepProgress | None = None,
) -> list[Path]:
    """Run one request end to end and write its file(s); returns their paths."""
    request.validate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = probe(request.video)
    if request.start >= info.duration:
        raise InputError(
            f"The start time {request.start} s is past the end of the video "
            f"({info.duration:.2f} s)."
        )
    loaded = loaded or load_model(request.model_id, request.device)
    cfg = loaded.model.config
    changes = {
        k: v
        for k, v in (
            ("steps", request.steps),
            ("cfg_scale", request.cfg_scale),
            ("method", request.sampler),
        )
        if v is not None
    }
    cfg = with_sampler(cfg, **changes) if changes else cfg
    end = min(request.start + cfg.window_seconds, info.duration)
    decoded = decode_range(
        request.video, request.start, end, fps=cfg.conditioner.frame_rate, size=DECODE_SIZE
    )
    features = window_features(loaded, decoded.frames, request.yaw, request.pitch, request.fov, cfg)
    foa = sample_window(loaded, features, request.seed, request.variations, cfg, progress=progress)
    keep = min(foa.shape[-1], round((end - request.start) * cfg.sample_rate))
    paths = output_paths(request.output, request.seed, request.variations)
    for take, path in zip(foa, paths, strict=True):
        audio = resample(
            peak_normalise(take[:, :keep]).astype(np.float32), cfg.sample_rate, request.sample_rate
        )
        write_audio(
            path,
            audio,
            request.sample_rate,
            request.subtype,
            comment=f"AmbiX (ACN/SN3D) by omnifoa {loaded.model_id}, seed {request.seed}",
        )
    return paths
