"""ViSAGe's code interleaving: 36 DAC code streams of S frames ↔ 2·S + 1 decoder steps.

Stream ``i = R·c + q``: channel ``c`` (0 W, 1 Y, 2 Z, 3 X), RVQ codebook ``q`` (R = 9).
Frame ``t`` of W's primary codebook sits at step ``2t``; W's residual codebooks and the
spatial channels' primaries at step ``2t + 1``; the spatial residuals at step ``2t + 2``.
So even steps carry W's primary with the previous frame's spatial residuals, odd steps W's
residuals with the spatial primaries, and the last step only spatial residuals. Streams a
step does not carry hold the pad code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from models.visage.config import CHANNELS


@dataclass(frozen=True)
class CodeLayout:
    """The stream groups for ``num_rvq`` codebooks per channel."""

    num_rvq: int
    pad: int

    @property
    def streams(self) -> int:
        return CHANNELS * self.num_rvq

    @cached_property
    def w_primary(self) -> list[int]:
        return [0]

    @cached_property
    def w_residual(self) -> list[int]:
        return list(range(1, self.num_rvq))

    @cached_property
    def spatial_primary(self) -> list[int]:
        return [self.num_rvq * c for c in range(1, CHANNELS)]

    @cached_property
    def spatial_residual(self) -> list[int]:
        return [self.num_rvq * c + q for c in range(1, CHANNELS) for q in range(1, self.num_rvq)]

    @cached_property
    def odd_streams(self) -> list[int]:
        """Streams predicted at odd steps: W residuals and spatial primaries, ascending."""
        return sorted(self.w_residual + self.spatial_primary)

    @cached_property
    def even_streams(self) -> list[int]:
        """Streams predicted at even steps but the first and last: W primary, spatial residuals."""
        return sorted(self.w_primary + self.spatial_residual)

    def streams_at(self, step: int, steps: int) -> list[int]:
        """The streams decoder step ``step`` of ``steps`` predicts."""
        if step == 0:
            return self.w_primary
        if step == steps - 1:
            return self.spatial_residual
        return self.odd_streams if step % 2 else self.even_streams

    def interleave(self, codes: Tensor) -> Tensor:
        """Codes [B, S, streams] → decoder steps [B, 2S + 1, streams], pads elsewhere."""
        batch, frames, streams = codes.shape
        if streams != self.streams:
            raise ValueError(f"codes need {self.streams} streams, got {streams}")
        steps = torch.full((batch, 2 * frames + 1, streams), self.pad, dtype=codes.dtype)
        steps = steps.to(codes.device)
        w, odd, late = self.w_primary, self.odd_streams, self.spatial_residual
        steps[:, 0 : 2 * frames : 2, w] = codes[:, :, w]
        steps[:, 1 : 2 * frames : 2, odd] = codes[:, :, odd]
        steps[:, 2 : 2 * frames + 1 : 2, late] = codes[:, :, late]
        return steps

    def deinterleave(self, steps: Tensor) -> Tensor:
        """Decoder steps [B, 2S + 1, streams] → codes [B, S, streams]."""
        batch, length, streams = steps.shape
        if length % 2 != 1:
            raise ValueError(f"an interleaved sequence has an odd length, got {length}")
        frames = (length - 1) // 2
        codes = torch.full((batch, frames, streams), self.pad, dtype=steps.dtype)
        codes = codes.to(steps.device)
        w, odd, late = self.w_primary, self.odd_streams, self.spatial_residual
        codes[:, :, w] = steps[:, 0 : 2 * frames : 2, w]
        codes[:, :, odd] = steps[:, 1 : 2 * frames : 2, odd]
        codes[:, :, late] = steps[:, 2 : 2 * frames + 1 : 2, late]
        return codes
