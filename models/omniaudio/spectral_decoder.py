"""A spectral decoder for small codecs: latents → W spectrogram and intensity → FOA from noise.

A small Oobleck decoder trained for an hour renders a slowly varying latent as a waveform that
repeats every hop (a buzz at sample_rate/hop Hz with a comb of its harmonics). This decoder
never draws waveforms from the latent. Per STFT frame (a quarter of a hop) and frequency bin it
predicts the magnitude of W and the active intensity vector I (direction × directness,
|I| < 1), and synthesises the field the way a plane wave plus a diffuse field looks in
AmbiX/SN3D:

    W         = |W|·e^{jφ}, φ from a few Griffin-Lim iterations started at seeded noise,
    (Y, Z, X) = W·I + independent noise of power |W|²·(1 − |I|²)/3 in each channel.

Its output's intensity direction is I's by construction, and its phases are drawn from the
caller's generator, so one seed gives one stem.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional

from models.family import Cancel, SamplingCancelled
from models.omniaudio.config import CodecConfig

N_FFT = 1024
FRAMES_PER_HOP = 4  # STFT frames per latent frame: the STFT hop is a quarter of the codec's
GRIFFIN_LIM_ITERATIONS = 16
LOG_MAGNITUDE_FLOOR = 1e-5  # |W| below this is silence (about −100 dB under a full-scale bin)
BINS = N_FFT // 2 + 1


class _ResidualBlock(nn.Module):
    """GELU, dilated k3 conv, GELU, k1 conv; added to the input."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.GELU(),
            nn.Conv1d(width, width, 3, dilation=dilation, padding=dilation),
            nn.GELU(),
            nn.Conv1d(width, width, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layers(x)


def stft_hop(config: CodecConfig) -> int:
    """Samples between STFT frames: a quarter of the codec's hop."""
    if config.hop % FRAMES_PER_HOP:
        raise ValueError(f"the spectral decoder needs a hop divisible by 4, got {config.hop}")
    return config.hop // FRAMES_PER_HOP


class SpectralDecoder(nn.Module):
    """Latents [B, latent_dim, L] → FOA [B, 4, L·hop] (AmbiX), synthesised from noise."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        if config.io_channels != 4:
            raise ValueError(f"the spectral decoder makes 4 FOA channels, not {config.io_channels}")
        width = config.decoder_width
        self.hop = stft_hop(config)
        self.latent_net = nn.Sequential(
            nn.Conv1d(config.latent_dim, width, 3, padding=1),
            *(_ResidualBlock(width, d) for d in (1, 2, 4)),
        )
        self.frame_net = nn.Sequential(*(_ResidualBlock(width, d) for d in (1, 2)))
        self.head = nn.Conv1d(width, 4 * BINS, 1)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    def spectral_parameters(self, latent: Tensor) -> tuple[Tensor, Tensor]:
        """log |W| [B, BINS, F] and the intensity vector in (Y, Z, X) order [B, 3, BINS, F],
        F = 4·L + 1 STFT frames (centred frames of L·hop samples)."""
        hidden = self.latent_net(latent)
        hidden = functional.interpolate(hidden, scale_factor=FRAMES_PER_HOP, mode="linear")
        out = functional.pad(self.head(self.frame_net(hidden)), (0, 1), mode="replicate")
        log_magnitude = out[:, :BINS]
        vector = out[:, BINS:].unflatten(1, (3, BINS))
        intensity = vector * torch.rsqrt(1.0 + vector.square().sum(1, keepdim=True))
        return log_magnitude, intensity

    def forward(
        self,
        latent: Tensor,
        generator: torch.Generator | None = None,
        cancel: Cancel | None = None,
    ) -> Tensor:
        log_magnitude, intensity = self.spectral_parameters(latent)
        length = latent.shape[-1] * self.hop * FRAMES_PER_HOP
        return self.synthesise(log_magnitude, intensity, length, generator, cancel)

    def _stft(self, audio: Tensor) -> Tensor:
        return torch.stft(audio, N_FFT, self.hop, window=self.window, return_complex=True)

    def _istft(self, spectrum: Tensor, length: int) -> Tensor:
        return torch.istft(spectrum, N_FFT, self.hop, window=self.window, length=length)

    def synthesise(
        self,
        log_magnitude: Tensor,
        intensity: Tensor,
        length: int,
        generator: torch.Generator | None = None,
        cancel: Cancel | None = None,
    ) -> Tensor:
        """FOA [B, 4, length] from log |W| [B, BINS, F] and intensity [B, 3, BINS, F];
        ``cancel()`` is asked before every Griffin-Lim iteration (SamplingCancelled)."""
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        magnitude = log_magnitude.float().exp()
        intensity = intensity.float()

        def phases(shape: tuple[int, ...]) -> Tensor:
            drawn = torch.rand(shape, generator=generator, device=generator.device)
            return torch.polar(torch.ones_like(drawn), 2 * math.pi * drawn).to(magnitude.device)

        spectrum = magnitude * phases(tuple(magnitude.shape))
        for _ in range(GRIFFIN_LIM_ITERATIONS):
            if cancel is not None and cancel():
                raise SamplingCancelled("the codec decode was cancelled")
            rebuilt = self._stft(self._istft(spectrum, length))
            spectrum = magnitude * rebuilt / rebuilt.abs().clamp_min(1e-12)
        # Overlap-adding frames of independent noise keeps 1/overlap of their power (the frames
        # of a real signal add coherently), hence the √(N_FFT/hop) on the diffuse part.
        share = (1.0 - intensity.square().sum(1)).clamp_min(0.0) * (N_FFT / self.hop) / 3.0
        diffuse = magnitude * share.sqrt()
        directional = spectrum.unsqueeze(1) * intensity
        velocity = directional + diffuse.unsqueeze(1) * phases(tuple(intensity.shape))
        w = self._istft(spectrum, length).unsqueeze(1)
        yzx = self._istft(velocity.flatten(0, 1), length).unflatten(0, (-1, 3))
        return torch.cat([w, yzx], dim=1)


def spectral_targets(
    audio: Tensor, hop: int, window: Tensor, smoothing: int = 3
) -> tuple[Tensor, Tensor, Tensor]:
    """What the decoder should predict for FOA [B, 4, N]: log |W| [B, BINS, F], the active
    intensity vector [B, 3, BINS, F] (energy-weighted over ``smoothing``² neighbouring cells,
    norm at most 1) and the weight of each cell, |W|² likewise smoothed [B, BINS, F]."""
    batch = audio.shape[0]
    spectrum = torch.stft(
        audio.flatten(0, 1), N_FFT, hop, window=window, return_complex=True
    ).unflatten(0, (batch, 4))
    w = spectrum[:, 0]
    pad = smoothing // 2

    def smooth(x: Tensor) -> Tensor:
        return functional.avg_pool2d(x, smoothing, stride=1, padding=pad, count_include_pad=False)

    power = smooth(w.abs().square())
    flux = smooth((w.conj().unsqueeze(1) * spectrum[:, 1:]).real.flatten(0, 1)).unflatten(
        0, (batch, 3)
    )
    intensity = flux / power.unsqueeze(1).clamp_min(1e-12)
    intensity = intensity / intensity.norm(dim=1, keepdim=True).clamp_min(1.0)
    log_magnitude = (w.abs() + LOG_MAGNITUDE_FLOOR).log()
    return log_magnitude, intensity, power
