"""ViSAGe behind the family protocol: a 90° camera view at 4 fps, CLIP features and energy
maps, the camera direction, KV-cached code sampling, DAC decoding.

A window is 5 s (20 frames; 431 DAC frames, 220,672 samples at 44.1 kHz). The camera
direction of a window is the mean of its frames' directions (a unit-vector mean, so paths
across the seam average right). The field comes back in the 360 recording's frame, as the
release generates it. Consecutive windows continue: the next window's first codes are the
previous window's last ones (forced, not sampled), so their overlap decodes to the same sound.
A range of a stem made again continues the same way from the DAC codes of the stem's audio
just before the range (:meth:`VisageModel.join_known`); its end is crossfaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from models.checkpoint_files import CheckpointError
from models.encoders.clip import ClipPatchEncoder, clip_b32_config, load_clip_patch_encoder
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
from models.visage.checkpoint import convert_visage, load_visage_weights, release_config
from models.visage.config import VisageConfig, VisageConfigError, visage_preset
from models.visage.dac_codec import DacDecoder, dac_config, load_dac
from models.visage.direction import mean_direction
from models.visage.energy_map import energy_maps
from models.visage.network import VisageNetwork
from models.visage.sampling import (
    GUIDANCE_VARIANTS,
    Conditions,
    SamplingSettings,
    generate_codes,
    repeat_last_frame,
)

# What models.families knows a ViSAGe checkpoint by (after any DDP prefix): its null vectors,
# encoder, decoder and code heads.
CHECKPOINT_PREFIXES = (
    "null_embedding",
    "dir_null_embedding",
    "energy_null_embedding",
    "model.encoder.",
    "model.decoder.",
    "dac_heads.",
)
FOV = "fov"
PATCHES = "fov.patches"
VIEW_FOV = 90.0  # the release's perspective crop
DIRECTION_NOTE = (
    "one camera direction per 5 s window: the mean of its frames' directions as unit vectors, "
    "given to the model as (-cos el sin az, -sin el, cos el cos az)"
)


def check_options(options: SamplingOptions) -> None:
    """ValueError (one sentence) for options ViSAGe cannot use (checked at the door, before
    any model is loaded)."""
    if options.steps is not None:
        raise ValueError("ViSAGe decodes a fixed number of code steps per window; leave steps out.")
    if options.sampler is not None and options.sampler not in GUIDANCE_VARIANTS:
        raise ValueError(f"ViSAGe samples with joint or dual guidance, not {options.sampler}.")


def camera_fov() -> float:
    """The field of view (degrees) of ViSAGe's camera view unless a request sets one."""
    return VIEW_FOV


@dataclass
class _Codes:
    """What a window leaves for the next: its generated codes [variations, S, streams]."""

    codes: Tensor


@dataclass
class _Forced:
    """Codes [1, P, streams] a window starts with: the DAC codes of known audio."""

    codes: Tensor


class VisageModel:
    """A loaded ViSAGe network with its CLIP encoder and DAC decoder, on one device."""

    family = "visage"

    def __init__(
        self,
        network: VisageNetwork,
        clip: ClipPatchEncoder,
        codec: DacDecoder,
        device: torch.device,
    ) -> None:
        self.network, self.clip, self.codec, self.device = network, clip, codec, device
        config = network.config
        self.preset = config.name
        self.views = (ViewSpec(FOV, "perspective", clip.input_size, VIEW_FOV),)
        self.window = WindowSpec(
            sample_rate=codec.sample_rate,
            samples=config.output_frames * codec.hop,
            seconds=config.window_seconds,
            frame_rate=config.clip_frame_rate,
            hop_step=codec.hop,
        )

    def settings(self, options: SamplingOptions) -> SamplingSettings:
        config = self.network.config
        return SamplingSettings(
            guidance=options.sampler or "joint",  # type: ignore[arg-type]
            scale=config.guidance_scale if options.cfg is None else options.cfg,
            spatial_scale=config.spatial_guidance_scale,
            top_k=config.top_k,
        )

    def check_options(self, options: SamplingOptions) -> None:
        check_options(options)

    def steps(self, options: SamplingOptions) -> int:
        return 2 * self.network.config.code_frames + 1

    def encode(self, views: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """CLIP embeddings [T, 512] (``fov``) and patch tokens [T, 49, 768] (``fov.patches``)."""
        embeds, patches = self.clip.encode(views[FOV])
        return {FOV: embeds, PATCHES: patches}

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
        """FOA [variations, 4, N] of one window; without ``fov`` the picture is replaced by
        the learned nulls (the camera direction stays)."""
        device = self.device
        clip = features[FOV].to(device)
        energy = energy_maps(features[PATCHES]).to(device)
        if FOV in without:
            null_clip, null_energy, _ = self.network.null_condition(1, clip.shape[0])
            clip, energy = null_clip[0], null_energy[0]
        direction = mean_direction(directions)
        conditions = Conditions(clip, energy, direction.to(device))
        generator = torch.Generator(device=device).manual_seed(seed)
        prefix = self._prefix(continuation)
        if prefix is not None and prefix.shape[0] != variations:
            prefix = prefix.expand(variations, -1, -1)
        with torch.inference_mode():
            codes = generate_codes(
                self.network,
                conditions,
                generator,
                variations,
                self.settings(options),
                prefix,
                progress,
                cancel,
            )
        full = repeat_last_frame(codes, self.network.config.output_frames)
        record = {
            "direction_vector": [round(float(x), 6) for x in direction],
            "continued_frames": 0 if prefix is None else int(prefix.shape[1]),
        }
        return Take(self.codec.decode(full), _Codes(codes.cpu()), record)

    def join_known(self, known: KnownAudio, previous: Continuation | None) -> KnownJoin:
        """A window that starts with known audio starts with its DAC codes (the whole codec
        frames of it, forced); the new audio's end is crossfaded by the caller."""
        flags = known.known.bool()
        unknown = (~flags).nonzero()
        if len(unknown) == 0:  # nothing to make here
            return KnownJoin(previous)
        leading = int(unknown[0])
        after = "crossfade" if bool(flags[leading:].any()) else None
        frames = min(leading // self.codec.hop, self.network.config.code_frames - 1)
        if frames < 1:
            return KnownJoin(previous, None, after)
        codes = self.codec.encode(known.audio[None, :, : frames * self.codec.hop])
        return KnownJoin(Continuation(_Forced(codes), 0), "forced codes", after)

    def _prefix(self, continuation: Continuation | None) -> Tensor | None:
        """The codes this window starts with: forced codes of known audio, or the previous
        window's last codes: all but one of the code frames the two windows share (the last
        of those is the repeated filler frame)."""
        if continuation is not None and isinstance(continuation.state, _Forced):
            return continuation.state.codes
        if continuation is None or not isinstance(continuation.state, _Codes):
            return None
        shared = continuation.overlap // self.codec.hop - 1
        codes = continuation.state.codes
        if shared < 1 or shared >= codes.shape[1]:
            return None
        return codes[:, -shared:]

    def describe(self, options: SamplingOptions) -> dict[str, Any]:
        settings = self.settings(options)
        return {
            "family": self.family,
            "preset": self.preset,
            "codec": "Descript Audio Codec 44.1 kHz (transformers DacModel), each channel alone",
            "guidance": {
                "variant": settings.guidance,
                "scale": settings.scale,
                **(
                    {"spatial_scale": settings.spatial_scale} if settings.guidance == "dual" else {}
                ),
            },
            "top_k": settings.top_k,
            "temperature": settings.temperature,
            "direction": DIRECTION_NOTE,
            "continuation": "each window starts with the previous window's last codes",
        }


def convert(
    source: str | os.PathLike[str], target: str | os.PathLike[str], weights_copy: WeightsCopy
) -> ConversionReport:
    """A ViSAGe checkpoint (``module.`` prefixes stripped, every key checked) as safetensors."""
    if weights_copy == "ema":
        raise CheckpointError("ViSAGe checkpoints have no EMA copy; leave out the EMA option.")
    return ConversionReport(convert_visage(source, target), 0, "transformers (ViSAGe)")


def _check_parts(config: VisageConfig, clip_folder: str, codec_folder: str) -> None:
    """ModelLoadError unless CLIP's embeddings are ``d_clip`` wide and the DAC has the
    codebooks, hop and rate the config names: read from the parts' configs, before anything
    is built or loaded."""
    width = int(clip_b32_config(clip_folder).projection_dim)
    if config.d_clip != width:
        raise ModelLoadError(
            f"ViSAGe's d_clip is {config.d_clip} but the CLIP ViT-B/32 in {clip_folder} gives "
            f"{width}-wide embeddings; use the config.json released with the weights and "
            "`omnifoa models download visage` for its parts."
        )
    codec = dac_config(codec_folder)
    needs = (  # ViSAGe's field, its value, the DAC's field, whether the DAC's value fits
        ("num_rvq", config.num_rvq, "n_codebooks", codec.n_codebooks >= config.num_rvq),
        ("dac_downsample_rate", config.dac_hop, "hop_length", codec.hop_length == config.dac_hop),
        (
            "dac_sample_rate",
            config.dac_sample_rate,
            "sampling_rate",
            codec.sampling_rate == config.dac_sample_rate,
        ),
    )
    for field, value, theirs, fits in needs:
        if not fits:
            raise ModelLoadError(
                f"ViSAGe's {field} is {value} but the DAC codec in {codec_folder} has {theirs} "
                f"{getattr(codec, theirs)}; fetch the 44.1 kHz DAC with "
                "`omnifoa models download visage`."
            )


def load(spec: LoadSpec) -> VisageModel:
    """The network from its weights (and the config.json beside them), CLIP and the DAC from
    the parts the registry found, every size checked against the parts before anything is
    built; ModelLoadError names what is missing or does not fit."""
    if spec.weights_copy == "ema":
        raise ModelLoadError("ViSAGe checkpoints have no EMA copy; leave out the EMA option.")
    missing = [role for role in ("codec", "frame_encoder") if role not in spec.parts]
    if missing:
        raise ModelLoadError(
            f"ViSAGe needs its {' and '.join(missing)}; run `omnifoa models download visage`."
        )
    try:
        preset = visage_preset(spec.preset)
    except VisageConfigError as exc:
        raise ModelLoadError(f"{str(exc).capitalize()}.") from None
    config = release_config(spec.weights, preset)
    clip_folder, codec_folder = spec.parts["frame_encoder"], spec.parts["codec"]
    _check_parts(config, clip_folder, codec_folder)
    clip = load_clip_patch_encoder(clip_folder, spec.device)
    codec = load_dac(codec_folder, config.num_rvq, spec.device)
    network = VisageNetwork(config)
    load_visage_weights(network, spec.weights)
    return VisageModel(network.to(spec.device).eval(), clip, codec, spec.device)
