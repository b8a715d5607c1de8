"""The whole generator: video features → rectified-flow sampling → latent → FOA waveform."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from models.omniaudio.codec import SpatialVAE, decoded_length, latent_length
from models.omniaudio.config import ModelConfig, SamplerConfig
from models.omniaudio.dit import DualBranchFlowModel
from models.omniaudio.sampler import Inpainting, Progress, initial_noise, sample


class FoaGenerator(nn.Module):
    """The dual-branch flow model and the spatial VAE that decodes its latents to FOA."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.flow = DualBranchFlowModel(config)
        self.codec = SpatialVAE(config.codec)
        # a compiled stand-in for ``flow`` at inference (models.omniaudio.acceleration), None: eager
        self.fast_flow: Callable[..., Tensor] | None = None

    @property
    def latent_frames(self) -> int:
        """Latent frames of one model window (215 for OmniAudio)."""
        return latent_length(self.config.sample_size, self.config.codec)

    @property
    def output_samples(self) -> int:
        """Audio samples one window decodes to (440320 for OmniAudio)."""
        return decoded_length(self.latent_frames, self.config.codec)

    def sample_latents(
        self,
        global_features: Tensor,
        fov_features: Tensor,
        generator: torch.Generator,
        variations: int = 1,
        sampler: SamplerConfig | None = None,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
        use_global: bool = True,
        known: Inpainting | None = None,
    ) -> Tensor:
        """Latents [variations, C, L] for one window's features [T, D] (or [1, T, D]).

        ``use_global=False`` zeros the panorama branch (an ablation for evaluation); to drop
        the FoV branch, pass zero ``fov_features`` and ``cfg_scale`` 1. ``known`` frames are
        inpainted around (see :mod:`models.omniaudio.sampler`).
        """
        device = next(self.parameters()).device
        g = _batched(global_features).to(device)
        f = _batched(fov_features).to(device)
        shape = (variations, self.config.dit.io_channels, self.latent_frames)
        noise = initial_noise(shape, generator, device)

        global_scale = None if use_global else torch.zeros(2 * variations, device=device)
        flow = self.fast_flow or self.flow

        def velocity(x: Tensor, t: Tensor, fov_mask: Tensor) -> Tensor:
            scale = None if global_scale is None else global_scale[: x.shape[0]]
            return flow(x, t, g, f, fov_scale=fov_mask, global_scale=scale)

        return sample(velocity, noise, sampler or self.config.sampler, progress, cancel, known)

    def generate(
        self,
        global_features: Tensor,
        fov_features: Tensor,
        generator: torch.Generator,
        variations: int = 1,
        sampler: SamplerConfig | None = None,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
        use_global: bool = True,
        known: Inpainting | None = None,
    ) -> Tensor:
        """FOA [variations, 4, N] in the model's channel order (AmbiX) for one window."""
        latents = self.sample_latents(
            global_features,
            fov_features,
            generator,
            variations,
            sampler,
            progress,
            cancel,
            use_global,
            known,
        )
        with torch.autocast(latents.device.type, enabled=False):
            # the codec always decodes in fp32; a spectral decoder's phases come from ``generator``
            return self.codec.decode(latents.float(), generator, cancel)


def _batched(features: Tensor) -> Tensor:
    if features.ndim == 2:
        return features.unsqueeze(0)
    if features.ndim == 3 and features.shape[0] == 1:
        return features
    raise ValueError(f"features must be [T, D] or [1, T, D], got {tuple(features.shape)}")
