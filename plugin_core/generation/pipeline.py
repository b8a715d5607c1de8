"""Generation: a 360 video → frames at the model rate → views → features → FOA stem(s).

Any span: the range is cut into model windows that overlap by up to a second, each window is
generated with a seed derived from the request seed (:mod:`plugin_core.generation.windowing`), brought
to the loudness target (BS.1770 on W, with a true-peak ceiling; :mod:`plugin_core.generation.loudness`),
and joined to the previous one with an equal-power crossfade. Windows start whole frames
apart, so the frames two windows share are decoded and encoded once; frames are decoded one
window ahead on a worker thread (:mod:`plugin_core.generation.window_frames`) and the stems are written as
they grow (:mod:`plugin_core.media.stem_writer`), so memory does not depend on the length of the
video. The FoV crop follows a constant direction or a
keyframed :class:`~plugin_core.spatial.direction_path.DirectionPath`, frame by frame.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from models.device import inference_precision, pick_device
from models.omniaudio.acceleration import accelerate, compile_mode
from models.omniaudio.checkpoint import CheckpointError, load_weights
from models.omniaudio.config import SAMPLER_METHODS, ModelConfig, preset, with_sampler
from models.omniaudio.generator import FoaGenerator
from plugin_core.errors import InputError
from plugin_core.generation.frame_features import (
    FeatureExtractor,
    clip_features,
    load_feature_extractor,
)
from plugin_core.generation.loudness import (
    DEFAULT_CEILING_DBTP,
    DEFAULT_TARGET_LUFS,
    MIN_SECONDS,
    LoudnessResult,
    normalise,
)
from plugin_core.generation.model_registry import get_entry, require_local, sha256_of
from plugin_core.generation.sidecar import sidecar, sidecar_path, write_sidecar
from plugin_core.generation.window_frames import (
    FramePrefetcher,
    FrameSpan,
    aligned_hop,
    frame_spans,
)
from plugin_core.generation.windowing import CrossfadeJoiner, Window, plan_windows, window_seed
from plugin_core.media.audio_io import Subtype
from plugin_core.media.stem_writer import Delivery, StemWriter
from plugin_core.media.video import probe
from plugin_core.spatial.direction_path import DirectionPath
from plugin_core.spatial.projection import Angles

DEFAULT_MODEL = "omnifoa-mini"
OVERLAP_SECONDS = 1.0  # crossfade between windows (at most a quarter of a window), ± a frame
MIN_SPAN_SECONDS = 0.5
MAX_PAD_SECONDS = 0.05  # a span's last few ms are padded rather than given their own window
FADE_SECONDS = 0.005
StepProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a user sets for one generation; the CLI, service and add-on build it.

    ``end`` None runs to the end of the video; ``path`` (video time) overrides ``yaw`` and
    ``pitch``; ``aim`` points the FoV along the strongest visual action instead (found by
    motion saliency; the sidecar records the path); ``loudness_lufs`` None skips loudness
    normalisation (the ceiling still holds).
    """

    video: Path
    output: Path
    start: float = 0.0
    end: float | None = None
    model_id: str = DEFAULT_MODEL
    seed: int = 0
    variations: int = 1
    steps: int | None = None
    cfg_scale: float | None = None
    sampler: str | None = None
    yaw: float = 0.0
    pitch: float = 0.0
    path: DirectionPath | None = None
    fov: float = 120.0
    aim: bool = False
    sample_rate: int = 48000
    subtype: Subtype = "float32"
    convention: Delivery = "ambix"
    loudness_lufs: float | None = DEFAULT_TARGET_LUFS
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP
    overwrite: bool = False
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
            (
                self.end is None or self.end - self.start >= MIN_SPAN_SECONDS,
                f"The time range must last at least {MIN_SPAN_SECONDS} s "
                f"(asked for {self.start} to {self.end} s).",
            ),
            (self.sample_rate in (44100, 48000), "Deliver at 44100 or 48000 Hz."),
            (self.convention in ("ambix", "fuma"), "Deliver AmbiX or FuMa."),
            (
                self.loudness_lufs is None or -70 < self.loudness_lufs < 0,
                f"A loudness target lies between -70 and 0 LUFS, not {self.loudness_lufs}.",
            ),
            (
                -20 <= self.ceiling_dbtp <= 0,
                f"A true-peak ceiling lies between -20 and 0 dBTP, not {self.ceiling_dbtp}.",
            ),
            (self.output.suffix.lower() in (".wav", ".flac"), "Name the output *.wav or *.flac."),
            (
                not (self.aim and self.path is not None),
                "Aim the FoV one way: at the action or along a direction path, not both.",
            ),
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
    try:
        accelerate(model, target, compile_mode())
    except ValueError as exc:
        raise InputError(f"{exc}.") from None
    return LoadedModel(model, load_feature_extractor(config, target), target, model_id)


def window_features(
    loaded: LoadedModel,
    frames: np.ndarray,
    yaw: Angles = 0.0,
    pitch: Angles = 0.0,
    fov: float = 120.0,
    config: ModelConfig | None = None,
    count: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Global and FoV features [T, D] of ``count`` (default: a window's) ERP frames
    [T, H, W, 3] at 8 fps; the FoV aims at one direction or one per frame.

    With fewer frames than ``count`` the last frame is held: its panorama features repeat and
    its FoV features are computed once per distinct direction, not once per held frame.
    """
    cfg = config or loaded.model.config
    count = cfg.frames_per_window if count is None else count
    frames = frames[:count]
    yaws = np.broadcast_to(np.asarray(yaw, np.float64), (count,))
    pitches = np.broadcast_to(np.asarray(pitch, np.float64), (count,))
    real = len(frames)
    extractor = loaded.extractor
    g, f = clip_features(torch.from_numpy(frames), extractor, yaws[:real], pitches[:real], fov)
    if real == count:
        return g, f
    held = np.stack([yaws[real:], pitches[real:]], axis=1)
    directions, which = np.unique(held, axis=0, return_inverse=True)
    last = np.repeat(frames[-1:], len(directions), axis=0)
    _, aimed = clip_features(
        torch.from_numpy(last), extractor, directions[:, 0], directions[:, 1], fov
    )
    held_g = g[-1:].expand(count - real, -1)
    return torch.cat([g, held_g]), torch.cat([f, aimed[torch.from_numpy(which.reshape(-1))]])


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


def output_paths(output: Path, seed: int, variations: int) -> list[Path]:
    """One file per variation: the name itself for one, ``name_seedN_vK`` for several."""
    if variations == 1:
        return [output]
    return [
        output.with_name(f"{output.stem}_seed{seed}_v{i}{output.suffix}") for i in range(variations)
    ]


@dataclass
class GenerationResult:
    """The stems written, with what each window's loudness stage measured and did."""

    paths: list[Path]
    span: tuple[float, float]  # seconds of the video
    windows: list[Window]
    loudness: list[list[LoudnessResult | None]] = field(default_factory=list)  # [variation][w]
    amplitude_joins: list[int] = field(default_factory=list)  # per variation


def _span(request: GenerationRequest) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = probe(request.video)
    if request.start >= info.duration:
        raise InputError(
            f"The start time {request.start} s is past the end of the video "
            f"({info.duration:.2f} s)."
        )
    end = info.duration if request.end is None else request.end
    if end > info.duration + 1e-3:
        raise InputError(
            f"The end time {end} s is past the end of the video ({info.duration:.2f} s)."
        )
    if end - request.start < MIN_SPAN_SECONDS:
        raise InputError(
            f"The time range {request.start:g} to {end:g} s is shorter than "
            f"{MIN_SPAN_SECONDS} s; choose a longer one."
        )
    return request.start, min(end, info.duration)


def check_outputs(request: GenerationRequest) -> None:
    """InputError unless every file the request writes can be written without clobbering."""
    paths = output_paths(request.output, request.seed, request.variations)
    for path in [*paths, *map(sidecar_path, paths)]:
        if not path.parent.is_dir():
            raise InputError(
                f"The output folder {path.parent} does not exist; create it or choose another."
            )
        if not os.access(path.parent, os.W_OK):
            raise InputError(f"Cannot write to {path.parent}; choose a folder you can write to.")
        if path.exists() and not request.overwrite:
            raise InputError(f"{path} exists; choose another name or allow overwriting.")


def _sampler_config(request: GenerationRequest, cfg: ModelConfig) -> ModelConfig:
    changes = {
        k: v
        for k, v in (
            ("steps", request.steps),
            ("cfg_scale", request.cfg_scale),
            ("method", request.sampler),
        )
        if v is not None
    }
    return with_sampler(cfg, **changes) if changes else cfg


def _level(
    audio: np.ndarray, rate: int, request: GenerationRequest, previous_gain_db: float
) -> tuple[np.ndarray, LoudnessResult | None, float]:
    """One window brought to the request's loudness; a window too short to measure takes the
    previous window's gain."""
    if audio.shape[-1] < MIN_SECONDS * rate:
        return audio * 10 ** (previous_gain_db / 20), None, previous_gain_db
    levelled, result = normalise(audio, rate, request.loudness_lufs, request.ceiling_dbtp)
    return levelled, result, result.gain_db


def generate(
    request: GenerationRequest,
    loaded: LoadedModel | None = None,
    progress: StepProgress | None = None,
) -> GenerationResult:
    """Run one request end to end and write its stem(s); nothing is left behind on failure."""
    request.validate()
    paths = output_paths(request.output, request.seed, request.variations)
    check_outputs(request)
    start, end = _span(request)
    if request.aim:
        from plugin_core.tracking import strongest_path  # OpenCV, only when aiming

        request = replace(request, path=strongest_path(request.video))
    loaded = loaded or load_model(request.model_id, request.device)
    cfg = _sampler_config(request, loaded.model.config)
    rate = cfg.sample_rate
    window = loaded.model.output_samples
    fps = cfg.conditioner.frame_rate
    overlap = min(round(OVERLAP_SECONDS * rate), window // 4)
    overlap = window - aligned_hop(window, overlap, rate, fps)
    total = round((end - start) * rate)
    windows = plan_windows(total, window, overlap, round(MAX_PAD_SECONDS * rate))
    spans = frame_spans(windows, start, end, rate, fps, cfg.window_seconds)
    conditioning = _Conditioning(loaded, cfg, request)
    steps = cfg.sampler.steps * (2 if cfg.sampler.method == "heun" else 1)
    comment = (
        f"{'FuMa (W, X, Y, Z; W at -3 dB)' if request.convention == 'fuma' else 'AmbiX (ACN/SN3D)'}"
        f" by omnifoa {loaded.model_id}, seed {request.seed}"
    )
    result = GenerationResult(paths, (start, end), windows)
    joiners = [CrossfadeJoiner(windows, request.ceiling_dbtp) for _ in paths]
    gains = [0.0] * len(paths)
    result.loudness = [[] for _ in paths]
    with contextlib.ExitStack() as stack:
        writers = [
            stack.enter_context(
                StemWriter(
                    p, rate, request.sample_rate, request.subtype, request.convention, comment
                )
            )
            for p in paths
        ]
        frames_ahead = stack.enter_context(FramePrefetcher(request.video, spans, fps))
        for w, span in zip(windows, spans, strict=True):
            features = conditioning.features(span, frames_ahead.take())

            def window_progress(i: int, n: int, done: int = w.index * steps) -> None:
                if progress is not None:
                    progress(done + i, len(windows) * steps)

            seed = window_seed(request.seed, w.index)
            takes = sample_window(
                loaded, features, seed, request.variations, cfg, progress=window_progress
            )
            pad = total - w.end if w is windows[-1] else 0
            for v, take in enumerate(takes):
                levelled, measured, gains[v] = _level(take[:, : w.length], rate, request, gains[v])
                result.loudness[v].append(measured)
                if pad:  # fade out into the few padded samples that end the span
                    fade = min(round(FADE_SECONDS * rate), w.length)
                    levelled[:, -fade:] *= np.linspace(1.0, 0.0, fade)
                final = joiners[v].add(levelled)
                if pad:
                    final = np.concatenate([final, np.zeros((4, pad), final.dtype)], axis=-1)
                writers[v].write(final)
        for writer in writers:
            writer.finish()
    result.amplitude_joins = [j.amplitude_joins for j in joiners]
    _write_sidecars(request, loaded, result, rate)
    return result


class _Conditioning:
    """Each window's features: those of the frames it shares with the previous window are
    taken over (the same video frames at the same FoV direction), the rest are computed."""

    def __init__(self, loaded: LoadedModel, cfg: ModelConfig, request: GenerationRequest):
        self._loaded, self._cfg, self._request = loaded, cfg, request
        self._path = request.path or DirectionPath.constant(request.yaw, request.pitch)
        self._previous: tuple[torch.Tensor, torch.Tensor] | None = None
        self._last_frame: np.ndarray | None = None

    def features(self, span: FrameSpan, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(global, FoV) features [T, D] of the window ``span`` describes, given its new
        frames (held from the last frame seen when there are none)."""
        cfg, count = self._cfg, self._cfg.frames_per_window
        times = span.t0 + np.arange(count) / cfg.conditioner.frame_rate
        yaw, pitch = self._path.at(times)
        if len(frames) == 0:
            assert self._last_frame is not None, "the first window decodes frames"
            frames = self._last_frame[None]
        self._last_frame = frames[-1]
        r = span.reused
        new = window_features(
            self._loaded, frames, yaw[r:], pitch[r:], self._request.fov, cfg, count - r
        )
        if r and self._previous is not None:
            taken = [p[span.shift : span.shift + r] for p in self._previous]
            new = (torch.cat([taken[0], new[0]]), torch.cat([taken[1], new[1]]))
        self._previous = new
        return new


def _model_record(loaded: LoadedModel) -> dict[str, str | None]:
    """The model's id, preset and registered sha256 (None for a model outside the registry)."""
    try:
        entry = get_entry(loaded.model_id)
    except InputError:
        return {"id": loaded.model_id, "preset": loaded.model.config.name, "sha256": None}
    return {"id": entry.id, "preset": entry.preset, "sha256": entry.sha256}


def _write_sidecars(
    request: GenerationRequest, loaded: LoadedModel, result: GenerationResult, rate: int
) -> None:
    start = result.span[0]
    spans = [(start + w.start / rate, start + w.end / rate) for w in result.windows]
    model = _model_record(loaded)
    video_sha256 = sha256_of(request.video)  # once per request: the video may be gigabytes
    for v, path in enumerate(result.paths):
        levels = [None if r is None else r.as_dict() for r in result.loudness[v]]
        document = sidecar(
            request,
            path,
            v,
            model,
            video_sha256,
            result.span,
            spans,
            levels,
            result.amplitude_joins[v],
        )
        write_sidecar(path, document)
