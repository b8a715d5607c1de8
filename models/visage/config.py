"""ViSAGe's configuration: typed, with the released numbers as the preset, and the reader of
the release's ``config.json``.

The release saves its config through ``BartConfig.save_pretrained``, so the file says
``model_type: "bart"``; what makes it ViSAGe are the fields BART does not have (``d_clip``,
``num_rvq``, ``dac_vocab_size``, …). :func:`from_release_config` requires them and refuses a
plain BART config instead of building one. Every field must lie in its range (:data:`LIMITS`)
and agree with the others before anything is built; the error names the field and its value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields, replace
from typing import Any

CHANNELS = 4  # FOA channels coded as mono DAC streams, in file order W, Y, Z, X
ENERGY_PATCHES = 49  # the 7×7 patch energy map of a CLIP ViT-B/32 frame


class VisageConfigError(ValueError):
    """A ViSAGe configuration is malformed; the message names the field."""


@dataclass(frozen=True)
class VisageConfig:
    """The encoder-decoder's sizes and the sampling defaults (released values by default)."""

    d_model: int = 1024
    encoder_layers: int = 6
    decoder_layers: int = 12
    attention_heads: int = 16
    ffn_dim: int = 4096
    d_clip: int = 512
    num_rvq: int = 9
    dac_vocab_size: int = 1024
    dac_pad_token_id: int = 1024
    max_source_length: int = 20  # CLIP frames: 5 s at 4 fps
    max_target_length: int = 861  # interleaved decoder steps: 2·430 + 1
    dac_sample_rate: int = 44100
    dac_hop: int = 512
    clip_frame_rate: float = 4.0
    guidance_scale: float = 2.5
    spatial_guidance_scale: float = 2.5
    top_k: int = 256
    name: str = "visage"

    @property
    def streams(self) -> int:
        """Code streams: 4 channels × ``num_rvq`` codebooks (36 as released)."""
        return CHANNELS * self.num_rvq

    @property
    def embedding_rows(self) -> int:
        """Rows of each code table: the vocabulary and the pad, rounded up to 64 (1088)."""
        return math.ceil((self.dac_vocab_size + 1) / 64) * 64

    @property
    def code_frames(self) -> int:
        """DAC frames one window generates: ``int(N / fps · frame rate)`` (430 for 20 frames)."""
        return int(self.max_source_length / self.clip_frame_rate * self.dac_frame_rate)

    @property
    def dac_frame_rate(self) -> int:
        """DAC frames per second as the release counts them: ``sample_rate // hop`` (86)."""
        return self.dac_sample_rate // self.dac_hop

    @property
    def output_frames(self) -> int:
        """DAC frames decoded per window: the audio's length in frames, the last generated
        frame repeated to fill it (431)."""
        samples = int(self.max_source_length / self.clip_frame_rate * self.dac_sample_rate)
        return math.ceil(samples / self.dac_hop)

    @property
    def window_seconds(self) -> float:
        return self.max_source_length / self.clip_frame_rate

    @property
    def parameters(self) -> int:
        """Parameters of the network these sizes build (358,626,868 as released)."""
        d, f, streams = self.d_model, self.ffn_dim, self.streams
        attention = 4 * (d * d + d)
        feed_forward = 2 * f * d + f + d
        encoder_layer = attention + feed_forward + 4 * d
        decoder_layer = 2 * attention + feed_forward + 6 * d
        direction_mlp = 3 * d + d + d * d + d
        energy_mlp = ENERGY_PATCHES * d + d + d * d + d
        encoder = (
            self.encoder_layers * encoder_layer
            + (self.d_clip + 1) * d  # the CLIP projection
            + (self.max_source_length + 4 + 2 + 2) * d  # positions, embed_spatial, BOS/EOS, LN
            + direction_mlp
            + energy_mlp
        )
        decoder = (
            self.decoder_layers * decoder_layer
            + streams * self.embedding_rows * d
            + (1 + self.max_target_length + 2 + 2) * d  # BOS, positions (offset 2), LN
        )
        heads = streams * (d * self.dac_vocab_size + self.dac_vocab_size)
        return encoder + decoder + heads + self.d_clip + 3 + ENERGY_PATCHES

    def check(self) -> VisageConfig:
        """This config if every field lies in :data:`LIMITS` and the fields agree with each
        other, else VisageConfigError naming the field and its value."""
        for spec in fields(self):
            if spec.name in LIMITS:
                check_field(spec.name, getattr(self, spec.name), spec.name)
        if self.d_model % self.attention_heads:
            raise VisageConfigError(
                f"d_model is {self.d_model}, not a multiple of the {self.attention_heads} "
                "attention heads"
            )
        if not self.dac_vocab_size <= self.dac_pad_token_id < self.embedding_rows:
            raise VisageConfigError(
                f"dac_pad_token_id is {self.dac_pad_token_id}, not past the "
                f"{self.dac_vocab_size} codes and within the {self.embedding_rows} table rows"
            )
        if self.top_k > self.dac_vocab_size:
            raise VisageConfigError(
                f"top_k is {self.top_k}, more than the {self.dac_vocab_size} codes there are"
            )
        if self.max_target_length != 2 * self.code_frames + 1:
            raise VisageConfigError(
                f"max_target_length is {self.max_target_length}, which does not hold the "
                f"interleaved {self.code_frames} frames (2·frames + 1 = {2 * self.code_frames + 1})"
            )
        if self.parameters > MAX_PARAMETERS:
            raise VisageConfigError(
                f"these sizes make {self.parameters:,} parameters, more than the "
                f"{MAX_PARAMETERS:,} omnifoa loads (the release has {VisageConfig().parameters:,})"
            )
        return self


# The range of each field: the released value lies well inside it, and no value in it divides
# by zero or asks for more memory than a machine has (the whole network is capped by
# MAX_PARAMETERS besides). Fields whose default is an int must be whole numbers.
LIMITS: dict[str, tuple[float, float]] = {
    "d_model": (1, 8192),
    "encoder_layers": (1, 64),
    "decoder_layers": (1, 64),
    "attention_heads": (1, 128),
    "ffn_dim": (1, 32768),
    "d_clip": (1, 4096),
    "num_rvq": (1, 32),
    "dac_vocab_size": (1, 65536),
    "dac_pad_token_id": (1, 65536),
    "max_source_length": (1, 1024),
    "max_target_length": (3, 65537),
    "dac_sample_rate": (8000, 192000),
    "dac_hop": (1, 8192),
    "clip_frame_rate": (0.25, 120),
    "guidance_scale": (0, 100),
    "spatial_guidance_scale": (0, 100),
    "top_k": (1, 65536),
}
MAX_PARAMETERS = 2_000_000_000  # 8 GB of fp32 weights, 5.6 times the release


def check_field(name: str, value: object, label: str) -> None:
    """VisageConfigError unless ``value`` is a number in the range :data:`LIMITS` gives
    ``name`` (a whole one where the field is), saying ``label`` is ``value``."""
    low, high = LIMITS[name]
    whole = isinstance(getattr(VisageConfig, name), int)
    kinds = int if whole else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        shown = json.dumps(value, default=repr)
        kind = "a whole number" if whole else "a number"
        raise VisageConfigError(f"{label} is {shown}, not {kind} from {low:g} to {high:g}")


PRESETS: dict[str, VisageConfig] = {
    "visage": VisageConfig(),
    # For tests: every part present, tiny sizes, the released window and code layout.
    "visage-tiny": VisageConfig(
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        attention_heads=4,
        ffn_dim=64,
        d_clip=16,
        name="visage-tiny",
    ),
}


def visage_preset(name: str) -> VisageConfig:
    """A named preset; VisageConfigError lists the known names."""
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(PRESETS)
        raise VisageConfigError(f"unknown ViSAGe preset {name!r}; known presets: {known}") from None


# config.json field → VisageConfig field, where the names differ
_RELEASE_NAMES = {
    "encoder_attention_heads": "attention_heads",
    "encoder_ffn_dim": "ffn_dim",
    "cfg_guidance_scale": "guidance_scale",
    "cfg_spatial_guidance_scale": "spatial_guidance_scale",
    "dac_downsample_rate": "dac_hop",
}
_REQUIRED = ("d_clip", "num_rvq", "dac_vocab_size")


def from_release_config(document: dict[str, Any], name: str = "visage") -> VisageConfig:
    """The VisageConfig a released ``config.json`` describes (BART fields and ViSAGe's own)."""
    if not isinstance(document, dict):
        raise VisageConfigError("config.json must hold a JSON object")
    missing = [key for key in _REQUIRED if key not in document]
    if missing:
        raise VisageConfigError(
            f"config.json lacks {', '.join(missing)}: it describes a plain "
            f"{document.get('model_type', 'unknown')} model, not ViSAGe"
        )
    known = {f.name for f in fields(VisageConfig)} - {"name"}
    values: dict[str, Any] = {"name": name}
    for key, value in document.items():
        target = _RELEASE_NAMES.get(key, key)
        if target in known:
            check_field(target, value, f"field {key}")
            values[target] = value
    for a, b in (("encoder_attention_heads", "decoder_attention_heads"),
                 ("encoder_ffn_dim", "decoder_ffn_dim")):  # fmt: skip
        if a in document and b in document and document[a] != document[b]:
            raise VisageConfigError(f"{a} and {b} differ; ViSAGe uses one value for both")
    return replace(VisageConfig(), **values).check()
