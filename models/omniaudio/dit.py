"""The dual-branch diffusion transformer of OmniAudio and its two video conditioners.

The 360 (global) branch is max-pooled over time into one token prepended to the sequence; the
FoV (local) branch is resampled to the latent length and added to every latent position. The
network predicts the rectified-flow velocity (t = 1 is noise). State-dict names equal the
reference's ``model.model.*`` (DiT) and ``conditioner.conditioners.*`` names, minus the keys
unused at inference (cross-attention, ``to_cond_embed``, LayerNorm betas, rotary ``inv_freq``,
the conditioners' ``proj_out`` and ``global_proj``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor, nn

from models.omniaudio.attention import TransformerBlock, rotary_cos_sin
from models.omniaudio.config import ConfigError, DiTConfig, ModelConfig


@lru_cache(maxsize=32)
def natural_cubic_spline_matrix(n_in: int, n_out: int) -> Tensor:
    """Linear map [n_out, n_in] (float64, CPU) of natural-cubic-spline resampling.

    Knots are n_in equally spaced samples over the clip, queries n_out equally spaced points
    over the same span, so the first and last samples map to the first and last outputs.
    """
    if n_in < 1 or n_out < 1:
        raise ValueError(f"resampling needs at least one sample in and out, got {n_in}→{n_out}")
    if n_in == 1:
        return torch.ones(n_out, 1, dtype=torch.float64, device="cpu")
    eye = torch.eye(n_in, dtype=torch.float64, device="cpu")
    # Second derivatives M (zero at both ends) solve M[i-1] + 4 M[i] + M[i+1] = 6 Δ²y[i].
    moments = torch.zeros(n_in, n_in, dtype=torch.float64, device="cpu")
    if n_in > 2:
        inner = n_in - 2
        tridiag = 4 * torch.eye(inner, dtype=torch.float64, device="cpu")
        tridiag += torch.diag(torch.ones(inner - 1, dtype=torch.float64, device="cpu"), 1)
        tridiag += torch.diag(torch.ones(inner - 1, dtype=torch.float64, device="cpu"), -1)
        second_diff = 6 * (eye[:-2] - 2 * eye[1:-1] + eye[2:])
        moments[1:-1] = torch.linalg.solve(tridiag, second_diff)
    s = torch.linspace(0, n_in - 1, n_out, dtype=torch.float64, device="cpu")
    left = s.floor().long().clamp(max=n_in - 2)
    u = (s - left)[:, None]
    a = 1 - u
    return (
        a * eye[left]
        + u * eye[left + 1]
        + (a**3 - a) / 6 * moments[left]
        + (u**3 - u) / 6 * moments[left + 1]
    )


@lru_cache(maxsize=32)
def _spline_weights(n_in: int, n_out: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """The resampling matrix on ``device`` in ``dtype``, built once per shape (a plain tensor,
    usable by autograd even when first asked for under inference mode)."""
    with torch.inference_mode(False), torch.no_grad():
        return natural_cubic_spline_matrix(n_in, n_out).to(device=device, dtype=dtype)


@torch.compiler.disable
def _weights_for(x: Tensor, length: int) -> Tensor:
    return _spline_weights(x.shape[1], length, x.device, x.dtype)


def resample_time(x: Tensor, length: int) -> Tensor:
    """Resample x [B, T, C] to [B, length, C] along time with a natural cubic spline."""
    if x.shape[1] == length:
        return x
    return _weights_for(x, length) @ x


class FourierFeatures(nn.Module):
    """Learned Fourier features of t [B]: f = 2π·t·wᵀ → [cos f, sin f] [B, 2F]."""

    def __init__(self, frequencies: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(frequencies, 1))

    def forward(self, t: Tensor) -> Tensor:
        # In float32 whatever the weights' dtype: bf16 angles would be far too coarse.
        f = 2 * math.pi * t.float()[:, None] * self.weight.float().T
        return torch.cat([f.cos(), f.sin()], dim=-1).to(self.weight.dtype)


class VideoConditioner(nn.Module):
    """Per-frame Linear [B, T, feature_dim] → [B, T, embed_dim]."""

    def __init__(self, feature_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.embedder = nn.Sequential(nn.Linear(feature_dim, embed_dim))

    def forward(self, features: Tensor) -> Tensor:
        return self.embedder(features)


class ContinuousTransformer(nn.Module):
    """project_in, + local features, prepend the global token, blocks, project_out, drop it."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        if config.embed_dim % config.num_heads:
            raise ConfigError("the DiT's embed_dim must be a multiple of num_heads")
        if config.rotary_dims % 2 or not 0 < config.rotary_dims <= config.head_dim:
            raise ConfigError("rotary_dims must be even and at most the head size")
        self.rotary_dims = config.rotary_dims
        self.project_in = nn.Linear(config.io_channels, config.embed_dim, bias=False)
        self.layers = nn.ModuleList(
            TransformerBlock(config.embed_dim, config.num_heads, config.ff_mult, config.norm_eps)
            for _ in range(config.depth)
        )
        self.project_out = nn.Linear(config.embed_dim, config.io_channels, bias=False)

    def forward(self, x: Tensor, local: Tensor, token: Tensor) -> Tensor:
        """x [B, L, io], local [B, L, E], token [B, E] → [B, L, io]."""
        h = self.project_in(x)
        h = h + local.to(h.dtype)
        h = torch.cat([token.to(h.dtype)[:, None], h], dim=1)
        # Rotary positions 0..L; the global token is position 0.
        cos, sin = rotary_cos_sin(h.shape[1], self.rotary_dims, h.device)
        for layer in self.layers:
            h = layer(h, cos, sin)
        return self.project_out(h[:, 1:])


class DiffusionTransformer(nn.Module):
    """The OmniAudio DiT: velocity [B, io, L] from x_t, t, global and local conditioning."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        e, g = config.embed_dim, config.global_cond_dim
        self.timestep_features = FourierFeatures(config.timestep_frequencies)
        self.to_timestep_embed = nn.Sequential(
            nn.Linear(2 * config.timestep_frequencies, e), nn.SiLU(), nn.Linear(e, e)
        )
        self.to_global_embed = nn.Sequential(
            nn.Linear(g, e, bias=False), nn.SiLU(), nn.Linear(e, e, bias=False)
        )
        self.transformer = ContinuousTransformer(config)
        io = config.io_channels
        self.preprocess_conv = nn.Conv1d(io, io, 1, bias=False)
        self.postprocess_conv = nn.Conv1d(io, io, 1, bias=False)
        # The residual 1×1 convs start as identities.
        nn.init.zeros_(self.preprocess_conv.weight)
        nn.init.zeros_(self.postprocess_conv.weight)

    def forward(self, x: Tensor, t: Tensor, global_cond: Tensor, local_cond: Tensor) -> Tensor:
        """x [B, io, L], t [B] (or scalar), global_cond [B, T, G], local_cond [B, T, E]."""
        t = t.reshape(-1).expand(x.shape[0])
        token = self.to_global_embed(global_cond).amax(dim=1)
        token = token + self.to_timestep_embed(self.timestep_features(t))
        local = resample_time(local_cond, x.shape[-1])
        h = x + self.preprocess_conv(x)
        h = self.transformer(h.transpose(1, 2), local, token).transpose(1, 2)
        return h + self.postprocess_conv(h)


def _tile(features: Tensor, batch: int) -> Tensor:
    if batch % features.shape[0]:
        raise ValueError(
            f"feature batch {features.shape[0]} does not divide the latent batch {batch}"
        )
    return features.repeat(batch // features.shape[0], 1, 1)


class DualBranchFlowModel(nn.Module):
    """The two video conditioners and the DiT: rectified-flow velocity from video features.

    Precision is the model's own, as the reference runs it: the conditioners in fp32 and the
    DiT in ``dit_precision`` (autocast; None keeps fp32), whatever autocast surrounds it.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        cond, dit = config.conditioner, config.dit
        if cond.embed_dim != dit.global_cond_dim or cond.embed_dim != dit.embed_dim:
            raise ConfigError(
                "the conditioners' embed_dim must equal the DiT's global_cond_dim and embed_dim"
            )
        self.dit = DiffusionTransformer(dit)
        self.fov_conditioner = VideoConditioner(cond.feature_dim, cond.embed_dim)
        self.global_conditioner = VideoConditioner(cond.feature_dim, cond.embed_dim)
        # Half precision for the DiT only (None: fp32); the conditioners always run in fp32.
        self.dit_precision: torch.dtype | None = None

    def forward(
        self,
        x: Tensor,
        t: Tensor,
        global_features: Tensor,
        fov_features: Tensor,
        fov_scale: Tensor | None = None,
        global_scale: Tensor | None = None,
    ) -> Tensor:
        """Velocity [B, io, L] from x [B, io, L], t [B], features [B', T, D] (B' divides B).

        ``fov_scale`` [B] multiplies the FoV conditioner's output per sample: 1 is the
        conditional pass, 0 the guidance null condition (the global branch is always kept), so
        one call can hold both passes. ``global_scale`` [B] does the same for the panorama
        branch (an ablation: 0 leaves only the timestep in the global token). Features with a
        smaller batch are tiled to B, matching a batch built as ``cat([x, x])``.
        """
        batch = x.shape[0]
        device = x.device.type
        with torch.autocast(device, enabled=False):
            global_cond = self.global_conditioner(_tile(global_features, batch).float())
            local_cond = self.fov_conditioner(_tile(fov_features, batch).float())
            if fov_scale is not None:
                local_cond = local_cond * fov_scale.to(local_cond.dtype).reshape(-1, 1, 1)
            if global_scale is not None:
                global_cond = global_cond * global_scale.to(global_cond.dtype).reshape(-1, 1, 1)
        half = self.dit_precision
        with torch.autocast(device, dtype=half or torch.bfloat16, enabled=half is not None):
            velocity = self.dit(x, t, global_cond, local_cond)
        return velocity.float()


def count_parameters(module: nn.Module) -> int:
    """Number of parameter elements (buffers excluded; works on the meta device)."""
    return sum(p.numel() for p in module.parameters())
