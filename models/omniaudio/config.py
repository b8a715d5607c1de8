"""Typed configurations of the networks and the sampler, and the presets.

:mod:`models.omniaudio.release_config` reads the release's own JSON into these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

SamplerMethod = Literal["euler", "heun"]
SAMPLER_METHODS: tuple[str, ...] = ("euler", "heun")


class ConfigError(ValueError):
    """A model configuration is malformed or unsupported; the message says which field."""


@dataclass(frozen=True)
class CodecConfig:
    """The Oobleck spatial VAE ("DAC-style codec")."""

    io_channels: int = 4
    channels: int = 128
    c_mults: tuple[int, ...] = (1, 2, 4, 8, 16)
    strides: tuple[int, ...] = (2, 4, 4, 8, 8)
    latent_dim: int = 64
    sample_rate: int = 44100
    use_snake: bool = True
    final_tanh: bool = False
    # "oobleck": the released transposed-conv decoder; "spectral": models.omniaudio.spectral_decoder
    decoder: str = "oobleck"
    decoder_width: int = 256  # the spectral decoder's channels

    @property
    def hop(self) -> int:
        """Audio samples per latent frame."""
        return math.prod(self.strides)


@dataclass(frozen=True)
class ConditionerConfig:
    """The two per-frame video conditioners (FoV branch and 360 branch)."""

    feature_dim: int = 1024  # frame-encoder output
    embed_dim: int = 1536  # conditioner output, the DiT's global_cond_dim
    frame_rate: float = 8.0
    fov_id: str = "video_fov"
    global_id: str = "video_360"


@dataclass(frozen=True)
class DiTConfig:
    """The dual-branch diffusion transformer."""

    io_channels: int = 64
    embed_dim: int = 1536
    depth: int = 24
    num_heads: int = 24
    cond_token_dim: int = 768
    global_cond_dim: int = 1536
    timestep_frequencies: int = 128
    ff_mult: int = 4
    rotary_dims: int = 32
    norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads


@dataclass(frozen=True)
class SamplerConfig:
    """Rectified-flow sampling as released: Euler, 24 steps, guidance 3."""

    steps: int = 24
    cfg_scale: float = 3.0
    method: SamplerMethod = "euler"


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build and run one generator."""

    name: str
    sample_rate: int = 44100
    sample_size: int = 441000  # samples per window (10 s at 44.1 kHz)
    audio_channels: int = 4
    frame_encoder: str = "metaclip-h14"
    global_frame_encoder: str | None = None  # the panorama branch's encoder; None: frame_encoder
    codec: CodecConfig = field(default_factory=CodecConfig)
    conditioner: ConditionerConfig = field(default_factory=ConditionerConfig)
    dit: DiTConfig = field(default_factory=DiTConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)

    @property
    def window_seconds(self) -> float:
        return self.sample_size / self.sample_rate

    @property
    def frames_per_window(self) -> int:
        """Video frames per window at the conditioner's frame rate (80 for OmniAudio)."""
        return round(self.window_seconds * self.conditioner.frame_rate)


PRESETS: dict[str, ModelConfig] = {
    "omniaudio": ModelConfig(name="omniaudio"),
    # The bundled default: same architecture, small enough to train and run on a laptop CPU,
    # except the codec's decoder: a small waveform decoder buzzes at the frame rate, so the
    # latents are decoded spectrally (models.omniaudio.spectral_decoder).
    "omniaudio-mini": ModelConfig(
        name="omniaudio-mini",
        frame_encoder="efficientnet-lite0",
        global_frame_encoder="efficientnet-lite0-sectors",
        # Sized to train in about an hour on 2 CPU cores (models/training/recipe.py): hop 1024
        # gives 430 latent frames per 10 s window.
        codec=CodecConfig(
            channels=16,
            c_mults=(2, 4, 8, 16),
            strides=(4, 4, 8, 8),
            latent_dim=32,
            decoder="spectral",
        ),
        conditioner=ConditionerConfig(feature_dim=1280, embed_dim=192),
        dit=DiTConfig(
            io_channels=32,
            embed_dim=192,
            depth=4,
            num_heads=3,
            cond_token_dim=192,
            global_cond_dim=192,
            timestep_frequencies=64,
        ),
        sampler=SamplerConfig(steps=16),
    ),
    # For tests: every part present, tiny sizes, a 1 s window.
    "tiny": ModelConfig(
        name="tiny",
        sample_size=44100,
        frame_encoder="efficientnet-lite0",
        codec=CodecConfig(channels=8, c_mults=(1, 2), strides=(8, 8), latent_dim=8),
        conditioner=ConditionerConfig(feature_dim=1280, embed_dim=64),
        dit=DiTConfig(
            io_channels=8,
            embed_dim=64,
            depth=2,
            num_heads=2,
            cond_token_dim=64,
            global_cond_dim=64,
            timestep_frequencies=16,
            rotary_dims=16,
        ),
        sampler=SamplerConfig(steps=4),
    ),
}


def preset(name: str) -> ModelConfig:
    """A named preset; ConfigError lists the known names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown model preset {name!r}; known presets: {', '.join(PRESETS)}"
        ) from None


def with_sampler(config: ModelConfig, **changes: Any) -> ModelConfig:
    """A copy of ``config`` with sampler fields changed (steps, cfg_scale, method)."""
    sampler = replace(config.sampler, **changes)
    if sampler.method not in SAMPLER_METHODS:
        raise ConfigError(f"sampler method {sampler.method!r}; use one of {SAMPLER_METHODS}")
    if sampler.steps < 1:
        raise ConfigError("the sampler needs at least one step")
    return replace(config, sampler=sampler)
