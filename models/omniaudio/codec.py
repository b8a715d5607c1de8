"""The spatial VAE: an Oobleck-style convolutional autoencoder with Snake activations.

Module and parameter names follow the released OmniAudio checkpoint (``pretransform.model.*``
with the prefix removed): ``encoder.layers.*`` and ``decoder.layers.*``. Every convolution is a
plain ``nn.Conv1d``/``nn.ConvTranspose1d``; checkpoints store them weight-normalised, and
:func:`fold_weight_norm_state` turns the ``weight_g``/``weight_v`` pairs into plain weights.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from models.family import Cancel
from models.omniaudio.config import CodecConfig
from models.omniaudio.spectral_decoder import SpectralDecoder

RESIDUAL_DILATIONS: tuple[int, ...] = (1, 3, 9)
STD_FLOOR = 1e-4  # added to softplus(scale) so the posterior std is never zero
_SNAKE_EPS = 1e-9


class Snake(nn.Module):
    """y = x + sin²(e^α·x) / (e^β + 1e-9) with per-channel α, β stored in log scale."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        alpha = self.alpha.exp()[None, :, None]
        beta = self.beta.exp()[None, :, None]
        return x + torch.sin(alpha * x).pow(2) / (beta + _SNAKE_EPS)


def _activation(channels: int, use_snake: bool) -> nn.Module:
    return Snake(channels) if use_snake else nn.ELU()


def _resample_geometry(stride: int) -> tuple[int, int]:
    """Kernel size and padding of the strided (transposed) convolution for ``stride``."""
    return 2 * stride, math.ceil(stride / 2)


class ResidualUnit(nn.Module):
    """Activation, dilated k7 conv, activation, k1 conv; added to the input."""

    def __init__(self, channels: int, dilation: int, use_snake: bool) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            _activation(channels, use_snake),
            nn.Conv1d(channels, channels, 7, dilation=dilation, padding=3 * dilation),
            _activation(channels, use_snake),
            nn.Conv1d(channels, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layers(x)


class EncoderBlock(nn.Module):
    """Three residual units, an activation, then a strided conv that downsamples by ``stride``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, use_snake: bool) -> None:
        super().__init__()
        kernel, padding = _resample_geometry(stride)
        self.layers = nn.Sequential(
            *(ResidualUnit(in_channels, d, use_snake) for d in RESIDUAL_DILATIONS),
            _activation(in_channels, use_snake),
            nn.Conv1d(in_channels, out_channels, kernel, stride=stride, padding=padding),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class DecoderBlock(nn.Module):
    """An activation, a transposed conv that upsamples by ``stride``, three residual units."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, use_snake: bool) -> None:
        super().__init__()
        kernel, padding = _resample_geometry(stride)
        self.layers = nn.Sequential(
            _activation(in_channels, use_snake),
            nn.ConvTranspose1d(in_channels, out_channels, kernel, stride=stride, padding=padding),
            *(ResidualUnit(out_channels, d, use_snake) for d in RESIDUAL_DILATIONS),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def _channel_widths(config: CodecConfig) -> list[int]:
    """Channel width at each resolution: ``channels·m`` for m in ``[1, *c_mults]``."""
    if len(config.c_mults) != len(config.strides):
        raise ValueError(
            f"codec needs one channel multiplier per stride, got {len(config.c_mults)} "
            f"multipliers and {len(config.strides)} strides"
        )
    return [config.channels * m for m in (1, *config.c_mults)]


class Encoder(nn.Module):
    """Audio [B, io_channels, N] → posterior parameters [B, 2·latent_dim, L] (mean ‖ scale)."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        widths = _channel_widths(config)
        self.layers = nn.Sequential(
            nn.Conv1d(config.io_channels, widths[0], 7, padding=3),
            *(
                EncoderBlock(widths[i], widths[i + 1], s, config.use_snake)
                for i, s in enumerate(config.strides)
            ),
            _activation(widths[-1], config.use_snake),
            nn.Conv1d(widths[-1], 2 * config.latent_dim, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class Decoder(nn.Module):
    """Latents [B, latent_dim, L] → audio [B, io_channels, decoded_length(L)]."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        widths = _channel_widths(config)
        n = len(config.strides)
        layers: list[nn.Module] = [nn.Conv1d(config.latent_dim, widths[-1], 7, padding=3)]
        layers += [
            DecoderBlock(widths[n - i], widths[n - i - 1], s, config.use_snake)
            for i, s in enumerate(reversed(config.strides))
        ]
        layers += [
            _activation(widths[0], config.use_snake),
            nn.Conv1d(widths[0], config.io_channels, 7, padding=3, bias=False),
        ]
        if config.final_tanh:
            layers.append(nn.Tanh())
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def split_posterior(latent: Tensor) -> tuple[Tensor, Tensor]:
    """Encoder output [B, 2D, L] → (mean, std), std = softplus(scale) + 1e-4, each [B, D, L]."""
    mean, scale = latent.chunk(2, dim=1)
    return mean, nn.functional.softplus(scale) + STD_FLOOR


def sample_posterior(mean: Tensor, std: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """mean + std·ε with ε ~ N(0, 1) drawn from ``generator`` (the global RNG when None)."""
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + std * noise


def gaussian_kl(mean: Tensor, std: Tensor) -> Tensor:
    """KL(N(mean, std²) ‖ N(0, 1)): 0.5·Σ(mean² + var − log var − 1) over all non-batch
    dimensions (channels and time), then the mean over the batch; a scalar."""
    var = std.pow(2)
    per_element = mean.pow(2) + var - var.log() - 1
    return 0.5 * per_element.flatten(1).sum(dim=1).mean()


class SpatialVAE(nn.Module):
    """The FOA codec: ``encoder`` and ``decoder`` with a VAE bottleneck between them."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder: Decoder | SpectralDecoder = make_decoder(config)

    def encode(
        self, audio: Tensor, sample: bool = False, generator: torch.Generator | None = None
    ) -> Tensor:
        """Audio [B, C, N] → latents [B, latent_dim, latent_length(N)]; the mean unless
        ``sample``."""
        mean, std = split_posterior(self.encoder(audio))
        return sample_posterior(mean, std, generator) if sample else mean

    def encode_with_kl(
        self, audio: Tensor, sample: bool = True, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Latents as :meth:`encode` (sampled by default) and the scalar :func:`gaussian_kl`."""
        mean, std = split_posterior(self.encoder(audio))
        latent = sample_posterior(mean, std, generator) if sample else mean
        return latent, gaussian_kl(mean, std)

    def decode(
        self,
        latent: Tensor,
        generator: torch.Generator | None = None,
        cancel: Cancel | None = None,
    ) -> Tensor:
        """Latents [B, latent_dim, L] → audio [B, C, decoded_length(L)]; a spectral decoder
        draws its phases from ``generator`` (seed 0 when None) and hears ``cancel()`` between
        its iterations."""
        if isinstance(self.decoder, SpectralDecoder):
            return self.decoder(latent, generator, cancel)
        return self.decoder(latent)


def make_decoder(config: CodecConfig) -> Decoder | SpectralDecoder:
    """The decoder ``config.decoder`` names."""
    if config.decoder == "oobleck":
        return Decoder(config)
    if config.decoder == "spectral":
        return SpectralDecoder(config)
    raise ValueError(f"unknown codec decoder {config.decoder!r} (oobleck or spectral)")


def _conv_length(length: int, kernel: int, stride: int, padding: int) -> int:
    return (length + 2 * padding - kernel) // stride + 1


def _conv_transpose_length(length: int, kernel: int, stride: int, padding: int) -> int:
    return (length - 1) * stride - 2 * padding + kernel


def latent_length(num_samples: int, config: CodecConfig) -> int:
    """Latent frames the encoder yields for ``num_samples`` audio samples."""
    length = _conv_length(num_samples, 7, 1, 3)
    for stride in config.strides:
        kernel, padding = _resample_geometry(stride)
        length = _conv_length(length, kernel, stride, padding)
        if length < 1:
            raise ValueError(f"{num_samples} samples are too few for the codec (hop {config.hop})")
    return _conv_length(length, 3, 1, 1)


def decoded_length(num_latents: int, config: CodecConfig) -> int:
    """Audio samples the decoder yields for ``num_latents`` latent frames."""
    if num_latents < 1:
        raise ValueError(f"the decoder needs at least one latent frame, got {num_latents}")
    if config.decoder == "spectral":
        return num_latents * config.hop
    length = _conv_length(num_latents, 7, 1, 3)
    for stride in reversed(config.strides):
        kernel, padding = _resample_geometry(stride)
        length = _conv_transpose_length(length, kernel, stride, padding)
    return _conv_length(length, 7, 1, 3)


def fold_weight_norm(g: Tensor, v: Tensor) -> Tensor:
    """W = g·v/‖v‖, the norm over every dim but 0 (``weight_norm(dim=0)``).

    The same for Conv1d (v [out, in, k], g [out, 1, 1]) and ConvTranspose1d (v [in, out, k],
    g [in, 1, 1]): dim 0 is normalised in both, whatever it means for the layer.
    """
    if g.shape[0] != v.shape[0] or g.numel() != v.shape[0]:
        raise ValueError(f"weight_g {tuple(g.shape)} does not match weight_v {tuple(v.shape)}")
    norm = v.norm(dim=tuple(range(1, v.dim())), keepdim=True)
    return g * v / norm


def fold_weight_norm_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A copy of ``state`` with every ``X.weight_g``/``X.weight_v`` pair replaced by
    ``X.weight``; other entries keep their place."""
    folded: dict[str, Tensor] = {}
    for key, value in state.items():
        if key.endswith("weight_v"):
            if key.removesuffix("weight_v") + "weight_g" not in state:
                raise ValueError(f"{key} has no matching weight_g")
            continue
        if key.endswith("weight_g"):
            stem = key.removesuffix("weight_g")
            if stem + "weight_v" not in state:
                raise ValueError(f"{key} has no matching weight_v")
            folded[stem + "weight"] = fold_weight_norm(value, state[stem + "weight_v"])
        else:
            folded[key] = value
    return folded
