"""Training a spectral decoder on a frozen encoder's latents (models.omniaudio.spectral_decoder).

The decoder regresses what it synthesises from: log |W| per STFT cell (L1) and the active
intensity vector, weighted by the cell's energy (squared error). Nothing is decoded to a
waveform during training, so a step costs an STFT of the target and one pass of the net.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from torch import Tensor

from models.omniaudio.spectral_decoder import SpectralDecoder, spectral_targets
from models.training.loop import (
    LogFn,
    LoopSettings,
    TrainingResult,
    next_batch,
    run_loop,
    trainer_generator,
)

# A pair of latents [B, latent_dim, L] and the FOA they encode [B, 4, L·hop].
DecoderBatch = tuple[Tensor, Tensor]


def spectral_decoder_loss(
    decoder: SpectralDecoder, latents: Tensor, audio: Tensor, direction_weight: float = 1.0
) -> tuple[Tensor, dict[str, Tensor]]:
    """L1 of log |W| plus ``direction_weight`` × the energy-weighted squared error of the
    intensity vector; returns the total and its detached terms."""
    log_magnitude, intensity, power = spectral_targets(audio, decoder.hop, decoder.window)
    predicted_magnitude, predicted_intensity = decoder.spectral_parameters(latents)
    weight = power / power.mean(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    magnitude = (predicted_magnitude - log_magnitude).abs().mean()
    direction = ((predicted_intensity - intensity).square().sum(1) * weight).mean()
    return magnitude + direction_weight * direction, {
        "magnitude": magnitude.detach(),
        "direction": direction.detach(),
    }


def train_spectral_decoder(
    decoder: SpectralDecoder,
    batches: Iterator[DecoderBatch],
    steps: int,
    lr: float = 1e-3,
    log: LogFn | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    *,
    direction_weight: float = 1.0,
    seed: int = 0,
    warmup: int = 100,
    log_every: int = 50,
    checkpoint_every: int = 500,
) -> TrainingResult:
    """Train ``decoder`` to ``steps`` steps in all (resuming from ``checkpoint_dir``) on
    (latents, FOA) batches from a frozen encoder."""
    device = next(decoder.parameters()).device

    def step_loss(step: int) -> tuple[Tensor, dict[str, Tensor]]:
        latents, audio = next_batch(batches, step)
        return spectral_decoder_loss(
            decoder, latents.to(device), audio.to(device), direction_weight
        )

    settings = LoopSettings(
        steps=steps,
        lr=lr,
        warmup=warmup,
        log_every=log_every,
        checkpoint_every=checkpoint_every,
        weight_decay=1e-4,
    )
    generator = trainer_generator(decoder, seed)
    return run_loop(decoder, step_loss, settings, generator, log, checkpoint_dir)
