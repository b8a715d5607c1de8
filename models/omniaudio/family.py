"""OmniAudio behind the family protocol: its two views, encoders, weights, sampling, decoding.

The panorama view (the ERP frame padded to a square) and a perspective FoV crop, both at
the frame encoders' input size, at 8 fps over a 10 s window (the preset says). Precision as
the reference runs it: the frame encoders, the two video conditioners and the codec decode in
fp32; only the DiT under half-precision autocast on a GPU (bf16, fp16 where bf16 is missing).
A range of a stem made again is inpainted: the codec encodes the audio around it and the
sampler keeps those latent frames (:meth:`OmniAudioModel.join_known`); a checkpoint without
the codec's encoder crossfades instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from models.device import autocast_dtype
from models.encoders.base import FrameEncoder
from models.encoders.registry import load_frame_encoder
from models.family import (
    Cancel,
    Continuation,
    ConversionReport,
    KnownAudio,
    KnownJoin,
    LoadSpec,
    ModelLoadError,
    Progress,
    SamplingOptions,
    Take,
    ViewSpec,
    WeightsCopy,
    WindowSpec,
)
from models.omniaudio.acceleration import accelerate, compile_mode
from models.omniaudio.checkpoint import (
    EMA_PREFIX,
    LIGHTNING_PREFIX,
    OWN_PREFIXES,
    REFERENCE_PREFIXES,
    convert_to_safetensors,
    load_weights,
)
from models.omniaudio.config import SAMPLER_METHODS, ConfigError, ModelConfig, preset, with_sampler
from models.omniaudio.generator import FoaGenerator
from models.omniaudio.sampler import Inpainting

# What models.families knows an OmniAudio checkpoint by: Lightning's prefixes (weights and EMA
# copy), the reference's module names and omnifoa's own.
CHECKPOINT_PREFIXES = (
    LIGHTNING_PREFIX,
    EMA_PREFIX,
    *(reference for reference, _ in REFERENCE_PREFIXES),
    *OWN_PREFIXES,
)
PANORAMA = "panorama"
FOV = "fov"
DEFAULT_FOV = 120.0  # the reference extractor's FoV crop


def check_options(options: SamplingOptions) -> None:
    """ValueError (one sentence) for a sampler OmniAudio does not have (checked at the door,
    before any model is loaded)."""
    if options.sampler is not None and options.sampler not in SAMPLER_METHODS:
        raise ValueError(
            f"OmniAudio samples with {' or '.join(SAMPLER_METHODS)}, not {options.sampler}."
        )


def camera_fov() -> float:
    """The field of view (degrees) of OmniAudio's camera view unless a request sets one."""
    return DEFAULT_FOV


class OmniAudioEncoders:
    """The preset's two frozen frame encoders: the panorama (global) branch and the FoV one."""

    def __init__(
        self, config: ModelConfig, device: torch.device | str = "cpu", batch_size: int | None = None
    ) -> None:
        global_name = config.global_frame_encoder or config.frame_encoder
        self.panorama: FrameEncoder = load_frame_encoder(global_name, device, batch_size=batch_size)
        self.fov: FrameEncoder = load_frame_encoder(
            config.frame_encoder, device, batch_size=batch_size
        )
        expected = config.conditioner.feature_dim
        for encoder in (self.panorama, self.fov):
            if encoder.feature_dim != expected:
                raise ModelLoadError(
                    f"The frame encoder {encoder.name!r} gives {encoder.feature_dim}-d features "
                    f"but the model {config.name!r} expects {expected}-d."
                )
        self.views = (
            ViewSpec(PANORAMA, "panorama", self.panorama.input_size),
            ViewSpec(FOV, "perspective", self.fov.input_size, DEFAULT_FOV),
        )

    @property
    def names(self) -> tuple[str, str]:
        """(panorama encoder name, FoV encoder name), as recorded beside cached features."""
        return self.panorama.name, self.fov.name

    def encode(self, views: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Features [T, D] (float32) of the views given ([T, 3, S, S], panorama and/or FoV)."""
        encoders = {PANORAMA: self.panorama, FOV: self.fov}
        return {name: encoders[name].encode(view) for name, view in views.items()}


@dataclass
class _Known:
    """What a window is inpainted around (the family's continuation state)."""

    inpainting: Inpainting


class OmniAudioModel:
    """A loaded OmniAudio generator (any preset) with its encoders, on one device;
    ``codec_encoder``: whether its weights had the codec's encoder."""

    family = "omniaudio"

    def __init__(
        self,
        generator: FoaGenerator,
        encoders: OmniAudioEncoders,
        device: torch.device,
        weights_copy: WeightsCopy = "model",
        codec_encoder: bool = True,
    ) -> None:
        self.generator = generator
        self.codec_encoder = codec_encoder
        self.encoders = encoders
        self.device = device
        self.weights_copy = weights_copy
        config = generator.config
        self.preset = config.name
        self.views = encoders.views
        self.window = WindowSpec(
            sample_rate=config.sample_rate,
            samples=generator.output_samples,
            seconds=config.window_seconds,
            frame_rate=config.conditioner.frame_rate,
        )

    @property
    def codec_hop(self) -> int:
        """Audio samples per latent frame of the codec."""
        return self.generator.config.codec.hop

    @torch.inference_mode()
    def round_trip(self, audio: Tensor, seed: int) -> Tensor:
        """FOA [B, 4, N] through the codec: the posterior mean, decoded (fp32)."""
        if not self.codec_encoder:
            raise ValueError(
                f"The weights of {self.preset} have no codec encoder; measure the codec with "
                "a checkpoint that has one."
            )
        codec = self.generator.codec
        latents = codec.encode(audio.to(self.device, torch.float32))
        return codec.decode(latents, torch.Generator(device=self.device).manual_seed(seed)).cpu()

    @torch.inference_mode()
    def join_known(self, known: KnownAudio, previous: Continuation | None) -> KnownJoin:
        """The window's known audio encoded to latents whose wholly known frames the sampler
        keeps (inpainting); without the codec's encoder, crossfades."""
        flags = known.known.bool()
        unknown = (~flags).nonzero()
        first = int(unknown[0]) if len(unknown) else len(flags)
        before, after = first > 0, bool(flags[first:].any())
        if len(unknown) == 0 or not (before or after):
            return KnownJoin(previous)
        hop, frames = self.codec_hop, self.generator.latent_frames
        whole = flags[: frames * hop].reshape(frames, hop).all(dim=1)
        kept = (bool(whole[: first // hop].any()), bool(whole[first // hop :].any()))
        if not self.codec_encoder or not any(kept):
            crossfades = ("crossfade" if before else None, "crossfade" if after else None)
            return KnownJoin(previous, *crossfades)
        latents = self.generator.codec.encode(known.audio[None].to(self.device, torch.float32))
        state = Continuation(_Known(Inpainting(latents, whole.to(self.device))), 0)
        start, end = (
            ("inpainted" if keeps else "crossfade") if side else None
            for keeps, side in zip(kept, (before, after), strict=True)
        )
        return KnownJoin(state, start, end)

    def sampler_config(self, options: SamplingOptions) -> ModelConfig:
        """The preset with the options' sampler changes applied."""
        changes: dict[str, Any] = {
            key: value
            for key, value in (
                ("steps", options.steps),
                ("cfg_scale", options.cfg),
                ("method", options.sampler),
            )
            if value is not None
        }
        return with_sampler(self.generator.config, **changes) if changes else self.generator.config

    def check_options(self, options: SamplingOptions) -> None:
        """ValueError (one sentence) for steps, guidance or a sampler OmniAudio cannot use."""
        check_options(options)
        try:
            self.sampler_config(options)
        except ConfigError as exc:
            raise ValueError(f"{str(exc).capitalize()}.") from None

    def steps(self, options: SamplingOptions) -> int:
        """Network passes one window takes (Heun: two per step)."""
        sampler = self.sampler_config(options).sampler
        return sampler.steps * (2 if sampler.method == "heun" else 1)

    def encode(self, views: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return self.encoders.encode(views)

    def sample(
        self,
        features: Mapping[str, Tensor],
        directions: Tensor,
        seed: int,
        variations: int,
        options: SamplingOptions,
        without: frozenset[str] = frozenset(),
        progress: Progress | None = None,
        cancel: Cancel | None = None,
        continuation: Continuation | None = None,
    ) -> Take:
        """FOA [variations, 4, N] of one window; the directions already aimed the FoV views.

        Without ``panorama`` the global branch is zeroed; without ``fov`` the FoV features are
        zeroed and guidance is off (its null condition is the FoV branch's). Windows are
        independent; a continuation from :meth:`join_known` inpaints around known audio.
        """
        sampler = self.sampler_config(options).sampler
        global_feats, fov_feats = features[PANORAMA], features[FOV]
        if FOV in without:
            fov_feats = torch.zeros_like(fov_feats)
            sampler = replace(sampler, cfg_scale=1.0)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        state = continuation.state if continuation is not None else None
        known = state.inpainting if isinstance(state, _Known) else None
        with torch.inference_mode():
            foa = self.generator.generate(
                global_feats,
                fov_feats,
                generator,
                variations,
                sampler,
                progress,
                cancel,
                use_global=PANORAMA not in without,
                known=known,
            )
        return Take(foa.float().cpu())

    def describe(self, options: SamplingOptions) -> dict[str, Any]:
        sampler = self.sampler_config(options).sampler
        half = self.generator.flow.dit_precision
        return {
            "family": self.family,
            "preset": self.preset,
            "weights_copy": self.weights_copy,
            "frame_encoders": {PANORAMA: self.encoders.names[0], FOV: self.encoders.names[1]},
            "sampler": {"method": sampler.method, "steps": sampler.steps, "cfg": sampler.cfg_scale},
            "precision": {
                "dit": str(half).removeprefix("torch.") if half else "float32",
                "conditioners": "float32",
                "codec": "float32",
            },
        }


def convert(
    source: str | os.PathLike[str], target: str | os.PathLike[str], weights_copy: WeightsCopy
) -> ConversionReport:
    """An OmniAudio checkpoint (Lightning, exported or omnifoa's) as safetensors."""
    report = convert_to_safetensors(source, target, ema=weights_copy == "ema")
    return ConversionReport(report.loaded, len(report.unused), report.source)


def load(spec: LoadSpec) -> OmniAudioModel:
    """Build the preset, load its weights (the file's own copy, or its EMA copy), compile on
    CUDA, and load its frame encoders; ModelLoadError names what is wrong."""
    try:
        config = preset(spec.preset)
    except ConfigError as exc:
        raise ModelLoadError(f"{str(exc).capitalize()}.") from None
    generator = FoaGenerator(config)
    report = load_weights(generator, spec.weights, ema=spec.weights_copy == "ema")
    generator = generator.to(spec.device).eval()
    generator.flow.dit_precision = autocast_dtype(spec.device)
    try:
        accelerate(generator, spec.device, compile_mode())
    except ValueError as exc:
        raise ModelLoadError(f"{exc}.") from None
    encoders = OmniAudioEncoders(config, spec.device)
    return OmniAudioModel(generator, encoders, spec.device, spec.weights_copy, report.encoder)
