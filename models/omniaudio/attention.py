"""Pre-norm transformer block of the diffusion transformer: rotary self-attention and SwiGLU.

Parameter names follow the OmniAudio reference (``pre_norm.gamma``, ``self_attn.to_qkv``,
``ff.ff.0.proj``, ...) so that its checkpoint loads without renaming.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional

ROTARY_BASE = 10000.0


def rotary_inv_freq(rotary_dims: int, device: torch.device | str | None = None) -> Tensor:
    """Rotary frequencies 1 / 10000^(2i / rotary_dims), i < rotary_dims / 2, float32."""
    exponents = torch.arange(0, rotary_dims, 2, dtype=torch.float32, device=device) / rotary_dims
    return ROTARY_BASE**-exponents


def rotary_cos_sin(
    positions: int, rotary_dims: int, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor]:
    """cos and sin tables [positions, rotary_dims] (float32) for positions 0..positions-1."""
    pos = torch.arange(positions, dtype=torch.float32, device=device)
    angles = pos[:, None] * rotary_inv_freq(rotary_dims, device)[None, :]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate the first ``cos.shape[-1]`` dims of x [..., N, D] (rotate-half, in float32)."""
    dims = cos.shape[-1]
    rot, rest = x[..., :dims].float(), x[..., dims:]
    first, second = rot.chunk(2, dim=-1)
    rotated = rot * cos + torch.cat([-second, first], dim=-1) * sin
    return torch.cat([rotated.to(x.dtype), rest], dim=-1)


class LayerNorm(nn.Module):
    """LayerNorm with a learned scale ``gamma`` and no bias."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return functional.layer_norm(x, self.gamma.shape, self.gamma, None, self.eps)


class SelfAttention(nn.Module):
    """Multi-head self-attention without biases; rotary embedding on q and k."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        b, n, dim = x.shape
        # Layout of to_qkv's output: [q | k | v], each (heads × head_dim) with heads outermost.
        q, k, v = (
            part.reshape(b, n, self.num_heads, -1).transpose(1, 2)
            for part in self.to_qkv(x).chunk(3, dim=-1)
        )
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        out = functional.scaled_dot_product_attention(q, k, v)
        return self.to_out(out.transpose(1, 2).reshape(b, n, dim))


class SwiGLU(nn.Module):
    """``proj`` to twice the width, split into (value, gate) — gate is the second half."""

    def __init__(self, dim: int, inner_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, 2 * inner_dim)

    def forward(self, x: Tensor) -> Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)
        return value * functional.silu(gate)


class FeedForward(nn.Module):
    """SwiGLU feed-forward; ``ff`` is [SwiGLU, Identity, Linear] to keep the reference indices."""

    def __init__(self, dim: int, mult: int) -> None:
        super().__init__()
        inner = dim * mult
        self.ff = nn.Sequential(SwiGLU(dim, inner), nn.Identity(), nn.Linear(inner, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.ff(x)


class TransformerBlock(nn.Module):
    """Pre-norm block: x + attn(norm(x)), then x + ff(norm(x))."""

    def __init__(self, dim: int, num_heads: int, ff_mult: int, eps: float) -> None:
        super().__init__()
        self.pre_norm = LayerNorm(dim, eps)
        self.self_attn = SelfAttention(dim, num_heads)
        self.ff_norm = LayerNorm(dim, eps)
        self.ff = FeedForward(dim, ff_mult)
        # Residual branches start as zero maps, so each block is the identity at initialisation.
        nn.init.zeros_(self.self_attn.to_out.weight)
        nn.init.zeros_(self.ff.ff[2].weight)
        nn.init.zeros_(self.ff.ff[2].bias)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        x = x + self.self_attn(self.pre_norm(x), cos, sin)
        return x + self.ff(self.ff_norm(x))
