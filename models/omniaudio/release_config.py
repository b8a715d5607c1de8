"""The OmniAudio release's model config (stable-audio-tools ``diffusion_cond`` JSON) read
into a :class:`~models.omniaudio.config.ModelConfig`.

The release's ``v2a_foa.json`` holds ``model.pretransform`` (the spatial VAE),
``model.conditioning`` (the two video conditioners) and ``model.diffusion`` (the DiT and its
objective); anything omnifoa cannot run is refused by field name.
"""

from __future__ import annotations

from typing import Any

from models.omniaudio.config import (
    CodecConfig,
    ConditionerConfig,
    ConfigError,
    DiTConfig,
    ModelConfig,
)


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
