"""The frame-encoder interface and the machinery every encoder shares.

An encoder maps views [T, 3, H, W] in [0, 1] (or uint8) to float32 features [T, D]: it
resizes (shortest edge, bicubic, antialiased) and centre-crops to its native ``input_size``
when the views are not already that size, applies its own normalisation, and runs in chunks
of ``batch_size`` frames under :func:`torch.inference_mode` on its own device.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch.nn import functional

from models.family import ModelLoadError


class EncoderUnavailable(ModelLoadError):
    """A frame encoder cannot be loaded; the message says what to install or download, and where."""


@runtime_checkable
class FrameEncoder(Protocol):
    """A per-frame image encoder: views [T, 3, H, W] in [0, 1] → float32 features [T, D]."""

    name: str
    feature_dim: int
    input_size: int
    device: torch.device

    def encode(self, views: torch.Tensor) -> torch.Tensor:
        """Features [T, feature_dim] (float32, on the views' device) of views [T, 3, H, W]."""
        ...


def resize_center_crop(views: torch.Tensor, size: int) -> torch.Tensor:
    """Shortest edge to ``size`` (bicubic, antialiased, clamped to [0, 1]), then centre crop."""
    h, w = views.shape[-2:]
    if h == size and w == size:
        return views
    scale = size / min(h, w)
    new_h = size if h <= w else max(size, round(h * scale))
    new_w = size if w <= h else max(size, round(w * scale))
    if (new_h, new_w) != (h, w):
        views = functional.interpolate(
            views, size=(new_h, new_w), mode="bicubic", align_corners=False, antialias=True
        ).clamp_(0.0, 1.0)
    top = (new_h - size) // 2
    left = (new_w - size) // 2
    return views[..., top : top + size, left : left + size]


def check_views(views: torch.Tensor) -> None:
    """Raise a clear error unless ``views`` is a [T, 3, H, W] float or uint8 tensor."""
    if not isinstance(views, torch.Tensor):
        raise TypeError(f"views must be a torch tensor, got {type(views).__name__}")
    if views.ndim != 4 or views.shape[1] != 3:
        raise ValueError(f"views must be shaped [T, 3, H, W], got {list(views.shape)}")
    if views.dtype != torch.uint8 and not views.is_floating_point():
        raise ValueError(f"views must be float in [0, 1] (or uint8), got {views.dtype}")
    if views.shape[0] > 0 and min(views.shape[-2:]) < 1:
        raise ValueError(f"views must have a positive size, got {list(views.shape)}")


class ChunkedEncoder:
    """Shared machinery: validation, chunking, resize, normalisation and inference mode."""

    name: str
    feature_dim: int
    input_size: int
    device: torch.device
    batch_size: int

    def __init__(
        self,
        *,
        name: str,
        feature_dim: int,
        input_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        device: torch.device,
        batch_size: int,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.name = name
        self.feature_dim = feature_dim
        self.input_size = input_size
        self.device = device
        self.batch_size = batch_size
        self._mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, feature_dim={self.feature_dim}, "
            f"input_size={self.input_size}, device={str(self.device)!r})"
        )

    def preprocess(self, views: torch.Tensor) -> torch.Tensor:
        """Views [B, 3, H, W] in [0, 1] → normalised network input [B, 3, S, S] on the device."""
        x = views.to(self.device, non_blocking=True)
        x = x.to(torch.float32) / 255.0 if x.dtype == torch.uint8 else x.to(torch.float32)
        x = resize_center_crop(x, self.input_size)
        return (x - self._mean) / self._std

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Network features [B, feature_dim] of normalised pixels [B, 3, S, S]."""
        raise NotImplementedError

    def encode(self, views: torch.Tensor) -> torch.Tensor:
        """Features [T, feature_dim] (float32, on the views' device) of views [T, 3, H, W]."""
        check_views(views)
        # Allocated outside inference mode so callers may feed it to autograd later.
        out = torch.empty(
            views.shape[0], self.feature_dim, dtype=torch.float32, device=views.device
        )
        with torch.inference_mode():
            for start in range(0, views.shape[0], self.batch_size):
                chunk = views[start : start + self.batch_size]
                feats = self._forward(self.preprocess(chunk))
                out[start : start + chunk.shape[0]] = feats.to(out.device, torch.float32)
        return out
