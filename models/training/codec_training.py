"""Training the spatial VAE on FOA crops, and folding its latent scale to unit RMS."""

from __future__ import annotations

import os
from collections.abc import Iterator

import torch
from torch import Tensor

from models.omniaudio.codec import SpatialVAE
from models.training.loop import (
    LogFn,
    LoopSettings,
    TrainingResult,
    next_batch,
    run_loop,
    trainer_generator,
)
from models.training.losses import codec_loss


def train_codec(
    model: SpatialVAE,
    batches: Iterator[Tensor],
    steps: int,
    lr: float = 5e-4,
    kl_weight: float = 1e-4,
    log: LogFn | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 500,
    seed: int = 0,
    *,
    waveform_weight: float = 0.1,
    direction_weight: float = 0.0,
    input_gain: float = 10.0,
    warmup: int = 100,
    log_every: int = 50,
) -> TrainingResult:
    """Train ``model`` on FOA batches [B, 4, N] to ``steps`` steps in all (resuming from the
    newest checkpoint in ``checkpoint_dir``) with the STFT + waveform + KL loss
    (:func:`models.training.losses.codec_loss`); the posterior is sampled from a generator
    seeded with ``seed``. Crops whose length is a multiple of the codec's hop decode to their
    own length.

    The codec trains on ``input_gain``·audio: material near −20 dBFS RMS (SynthSphere) then
    sits near unit scale, where the Snake activations are non-linear and training is faster.
    When training ends the gain is folded into the weights (:func:`fold_input_gain`), so the
    returned codec takes and gives audio at its own level; checkpoints hold unfolded weights.
    """
    if input_gain != 1.0 and model.config.final_tanh:
        raise ValueError("an input gain cannot be folded through the decoder's final tanh")
    generator = trainer_generator(model, seed)
    device = next(model.parameters()).device

    def step_loss(step: int) -> tuple[Tensor, dict[str, Tensor]]:
        audio = input_gain * next_batch(batches, step).to(device, non_blocking=True)
        latents, kl = model.encode_with_kl(audio, sample=True, generator=generator)
        reconstruction = model.decode(latents)
        return codec_loss(
            reconstruction,
            audio,
            kl,
            latents.shape[-1],
            kl_weight,
            waveform_weight,
            direction_weight,
        )

    settings = LoopSettings(
        steps=steps,
        lr=lr,
        warmup=warmup,
        log_every=log_every,
        checkpoint_every=checkpoint_every,
    )
    result = run_loop(model, step_loss, settings, generator, log, checkpoint_dir)
    fold_input_gain(model, input_gain)
    return result


@torch.no_grad()
def fold_input_gain(model: SpatialVAE, gain: float) -> None:
    """Make a codec trained on gain·audio take and give plain audio: the first encoder conv is
    multiplied by ``gain`` and the last decoder conv (no bias) divided by it."""
    model.encoder.layers[0].weight *= gain
    model.decoder.layers[-1].weight /= gain


@torch.no_grad()
def latent_rms(model: SpatialVAE, batches: Iterator[Tensor], num_batches: int) -> float:
    """Root mean square of the posterior means over ``num_batches`` FOA batches."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for _ in range(num_batches):
        latents = model.encode(next(batches).to(device))
        total += float(latents.double().square().sum())
        count += latents.numel()
    return (total / count) ** 0.5


@torch.no_grad()
def normalise_latent_scale(
    model: SpatialVAE, batches: Iterator[Tensor], num_batches: int = 8
) -> float:
    """Rescale the codec so its posterior means have unit RMS; returns the RMS found.

    The flow model trains and samples in unit-variance noise, so latents far from unit scale
    make its task harder. The scale is folded into the weights: the encoder's last conv (mean
    half) is divided by it and the decoder's first conv multiplied, so ``decode(encode(x))``
    is unchanged and no config or generator change is needed. Run it once, after codec
    training: the posterior std is not rescaled, so training should not continue after it.
    """
    rms = latent_rms(model, batches, num_batches)
    if not rms > 0:
        raise ValueError("the codec's latents are all zero; train it before normalising")
    latent_dim = model.config.latent_dim
    head = model.encoder.layers[-1]
    head.weight[:latent_dim] /= rms
    head.bias[:latent_dim] /= rms
    model.decoder.layers[0].weight *= rms
    return rms
