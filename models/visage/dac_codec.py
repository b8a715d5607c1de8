"""Codes ↔ FOA through the 44.1 kHz Descript Audio Codec (transformers' ``DacModel``).

ViSAGe codes each FOA channel as a mono DAC stream of ``num_rvq`` codebooks; every channel
is decoded on its own (9 codebooks × T frames → T · 512 samples) and the four are stacked in
file order W, Y, Z, X (AmbiX). Encoding is the inverse, channel by channel (the codes a
regenerated range continues from). The codec always runs in fp32.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor, nn

from models.pretrained_parts import load_part, part_config
from models.visage.config import CHANNELS


class DacDecoder:
    """A DAC model that turns ViSAGe's 36 code streams into 4-channel audio."""

    def __init__(self, model: nn.Module, num_rvq: int) -> None:
        config = model.config
        self.model = model.eval().requires_grad_(False)
        self.num_rvq = num_rvq
        self.hop = int(config.hop_length)
        self.sample_rate = int(config.sampling_rate)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def decode(self, codes: Tensor) -> Tensor:
        """Audio [B, 4, T · hop] (W, Y, Z, X; float32, CPU) of codes [B, T, 4 · num_rvq]."""
        channels = []
        with torch.inference_mode(), torch.autocast(self.device.type, enabled=False):
            for c in range(CHANNELS):
                part = codes[:, :, c * self.num_rvq : (c + 1) * self.num_rvq]
                audio = self.model.decode(audio_codes=part.transpose(1, 2).to(self.device))
                values = audio.audio_values
                channels.append(values.reshape(values.shape[0], -1).float().cpu())
        return torch.stack(channels, dim=1)

    def encode(self, audio: Tensor) -> Tensor:
        """Codes [B, T, 4 · num_rvq] of audio [B, 4, T · hop] (W, Y, Z, X): each channel's
        first ``num_rvq`` codebooks, in the order :meth:`decode` takes them."""
        streams = []
        with torch.inference_mode(), torch.autocast(self.device.type, enabled=False):
            for c in range(CHANNELS):
                mono = audio[:, c : c + 1].to(self.device, torch.float32)
                codes = self.model.encode(mono, n_quantizers=self.num_rvq).audio_codes
                streams.append(codes[:, : self.num_rvq].transpose(1, 2).long().cpu())
        return torch.cat(streams, dim=2)


DAC_PART = "DAC codec"
DAC_FETCH = "fetch it again with `omnifoa models download visage`"


def dac_config(source: str | os.PathLike[str]) -> Any:
    """The config of the DAC model saved in ``source``, read without loading a weight;
    ModelLoadError naming the file."""
    from transformers import DacConfig

    return part_config(DacConfig, source, DAC_PART, DAC_FETCH)


def load_dac(source: str | os.PathLike[str], num_rvq: int, device: torch.device) -> DacDecoder:
    """The DAC model saved in ``source`` (a folder: config.json + weights), every weight
    present; never downloaded."""
    from transformers import DacModel

    model = load_part(DacModel, source, DAC_PART, DAC_FETCH)
    return DacDecoder(model.to(device).float(), num_rvq)
