"""Typed configurations of the networks and the sampler, presets, and the JSON reader.

The reader takes the stable-audio-tools model-config format that the OmniAudio release uses
(``v2a_foa.json``): ``model.pretransform`` (the spatial VAE), ``model.conditioning`` (the two
video conditioners) and ``model.diffusion`` (the DiT and its objective).
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
    # The bundled default: same architecture, small enough to train and run on a laptop CPU.
    "omnifoa-mini": ModelConfig(
        name="omnifoa-mini",
        frame_encoder="efficientnet-lite0",
        global_frame_encoder="efficientnet-lite0-sectors",
        # Sized to train in about an hour on 2 CPU cores (models/training/recipe.py): hop 1024
        # gives 430 latent frames per 10 s window.
        codec=CodecConfig(channels=16, c_mults=(2, 4, 8, 16), strides=(4, 4, 8, 8), latent_dim=32),
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


def _get(d: dict[str, Any], path: str) -> Any:
    node: Any = d
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"model config has no field {path!r}")
        node = node[key]
    return node


def _ints(values: Any, path: str) -> tuple[int, ...]:
    if not isinstance(values, list) or not all(isinstance(v, int) for v in values):
        raise ConfigError(f"model config field {path!r} must be a list of integers")
    return tuple(values)


def _codec_from_json(d: dict[str, Any], sample_rate: int) -> CodecConfig:
    pre = _get(d, "model.pretransform")
    if pre.get("type") != "autoencoder":
        raise ConfigError(f"pretransform type {pre.get('type')!r} is not supported (autoencoder)")
    enc = _get(pre, "config.encoder")
    dec = _get(pre, "config.decoder")
    for part, path in ((enc, "encoder"), (dec, "decoder")):
        if part.get("type") != "oobleck":
            raise ConfigError(f"{path} type {part.get('type')!r} is not supported (oobleck)")
    bottleneck = _get(pre, "config.bottleneck").get("type")
    if bottleneck != "vae":
        raise ConfigError(f"bottleneck type {bottleneck!r} is not supported (vae)")
    ec, dc = enc.get("config", {}), dec.get("config", {})
    codec = CodecConfig(
        io_channels=int(_get(pre, "config.io_channels")),
        channels=int(ec["channels"]),
        c_mults=_ints(ec["c_mults"], "encoder.config.c_mults"),
        strides=_ints(ec["strides"], "encoder.config.strides"),
        latent_dim=int(_get(pre, "config.latent_dim")),
        sample_rate=sample_rate,
        use_snake=bool(ec.get("use_snake", True)),
        final_tanh=bool(dc.get("final_tanh", True)),
    )
    if int(ec.get("latent_dim", 2 * codec.latent_dim)) != 2 * codec.latent_dim:
        raise ConfigError("a VAE encoder must emit twice the latent size (mean and scale)")
    if _ints(dc.get("strides", list(codec.strides)), "decoder.config.strides") != codec.strides:
        raise ConfigError("encoder and decoder strides differ; omnifoa needs them mirrored")
    downsampling = pre["config"].get("downsampling_ratio", codec.hop)
    if int(downsampling) != codec.hop:
        raise ConfigError(f"downsampling_ratio {downsampling} is not the product of the strides")
    return codec


def _conditioner_from_json(d: dict[str, Any], frame_rate: float) -> ConditionerConfig:
    configs = _get(d, "model.conditioning.configs")
    by_id = {c.get("id"): c.get("config", {}) for c in configs}
    defaults = ConditionerConfig()
    missing = [i for i in (defaults.fov_id, defaults.global_id) if i not in by_id]
    if missing:
        raise ConfigError(f"model config lacks the video conditioner(s) {', '.join(missing)}")
    fov = by_id[defaults.fov_id]
    return ConditionerConfig(
        feature_dim=int(fov.get("dim", fov.get("input_dim", defaults.feature_dim))),
        embed_dim=int(_get(d, "model.diffusion.config.global_cond_dim")),
        frame_rate=frame_rate,
    )


def _dit_from_json(d: dict[str, Any]) -> DiTConfig:
    diff = _get(d, "model.diffusion")
    if diff.get("type") != "dit":
        raise ConfigError(f"diffusion type {diff.get('type')!r} is not supported (dit)")
    objective = diff.get("diffusion_objective", "v")
    if objective != "rectified_flow":
        raise ConfigError(f"diffusion objective {objective!r} is not supported (rectified_flow)")
    c = diff["config"]
    transformer = c.get("transformer_type", "continuous_transformer")
    if transformer != "continuous_transformer":
        raise ConfigError(f"transformer type {transformer!r} is not supported")
    embed_dim, heads = int(c["embed_dim"]), int(c["num_heads"])
    return DiTConfig(
        io_channels=int(c["io_channels"]),
        embed_dim=embed_dim,
        depth=int(c["depth"]),
        num_heads=heads,
        cond_token_dim=int(c.get("cond_token_dim", 0)),
        global_cond_dim=int(c.get("global_cond_dim", embed_dim)),
        rotary_dims=max(32, (embed_dim // heads) // 2),
    )


def from_stable_audio_json(d: dict[str, Any], name: str = "custom") -> ModelConfig:
    """Read a stable-audio-tools ``diffusion_cond`` model config (e.g. ``v2a_foa.json``)."""
    if d.get("model_type") != "diffusion_cond":
        raise ConfigError(f"model_type {d.get('model_type')!r} is not supported (diffusion_cond)")
    sample_rate = int(_get(d, "sample_rate"))
    frame_rate = ConditionerConfig().frame_rate  # the reference features are 8 fps
    config = ModelConfig(
        name=name,
        sample_rate=sample_rate,
        sample_size=int(_get(d, "sample_size")),
        audio_channels=int(_get(d, "audio_channels")),
        codec=_codec_from_json(d, sample_rate),
        conditioner=_conditioner_from_json(d, frame_rate),
        dit=_dit_from_json(d),
    )
    if config.dit.io_channels != config.codec.latent_dim:
        raise ConfigError("the DiT's io_channels must equal the codec's latent_dim")
    return config


def with_sampler(config: ModelConfig, **changes: Any) -> ModelConfig:
    """A copy of ``config`` with sampler fields changed (steps, cfg_scale, method)."""
    sampler = replace(config.sampler, **changes)
    if sampler.method not in SAMPLER_METHODS:
        raise ConfigError(f"sampler method {sampler.method!r}; use one of {SAMPLER_METHODS}")
    if sampler.steps < 1:
        raise ConfigError("the sampler needs at least one step")
    return replace(config, sampler=sampler)
