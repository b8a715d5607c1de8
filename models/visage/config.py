"""ViSAGe's configuration: typed, with the released numbers as the preset, and the reader of
the release's ``config.json``.

The release saves its config through ``BartConfig.save_pretrained``, so the file says
``model_type: "bart"``; what makes it ViSAGe are the fields BART does not have (``d_clip``,
``num_rvq``, ``dac_vocab_size``, …). :func:`from_release_config` requires them and refuses a
plain BART config instead of building one.
"""

from __future__ import annotations

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

    def check(self) -> VisageConfig:
        """This config if it is consistent, else VisageConfigError naming the field."""
        if self.d_model % self.attention_heads:
            raise VisageConfigError("d_model must be a multiple of the attention heads")
        if self.dac_pad_token_id < self.dac_vocab_size:
            raise VisageConfigError("dac_pad_token_id must lie outside the code vocabulary")
        if self.max_target_length != 2 * self.code_frames + 1:
            raise VisageConfigError(
                f"max_target_length {self.max_target_length} does not hold the interleaved "
                f"{self.code_frames} frames (2·frames + 1 = {2 * self.code_frames + 1})"
            )
        return self


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
    for a, b in (("encoder_attention_heads", "decoder_attention_heads"),
                 ("encoder_ffn_dim", "decoder_ffn_dim")):  # fmt: skip
        if a in document and b in document and document[a] != document[b]:
            raise VisageConfigError(f"{a} and {b} differ; ViSAGe uses one value for both")
    known = {f.name: f.type for f in fields(VisageConfig)}
    values: dict[str, Any] = {"name": name}
    for key, value in document.items():
        target = _RELEASE_NAMES.get(key, key)
        if target in known and target != "name":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise VisageConfigError(f"config.json field {key!r} must be a number")
            values[target] = value
    try:
        return replace(VisageConfig(), **values).check()
    except TypeError as exc:
        raise VisageConfigError(f"config.json does not fit ViSAGe ({exc})") from None
