"""Where each class is in a frame: a per-pixel classifier and what it measures on the sphere.

The classifier looks at each pixel with its 5×5 neighbourhood (wrapping across the panorama's
±180° seam) and says background or one of the classes. On the panorama, each class's pixels,
weighted by the solid angle they cover, give per frame its share of the sphere, its mean
direction (a unit vector, so the seam needs no care) and its mean brightness; on the camera
view, the share of the view it fills and how far from the view's centre it sits.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional

HIDDEN = 16
# A pixel counts for a class in proportion to how far its probability is above this.
_FLOOR = 0.3


def _padded(x: Tensor, wrap: bool) -> Tensor:
    """One pixel of border: across the seam when ``wrap``, else repeated; rows repeated."""
    x = functional.pad(x, (1, 1, 0, 0), mode="circular" if wrap else "replicate")
    return functional.pad(x, (0, 0, 1, 1), mode="replicate")


class PixelClassifier(nn.Module):
    """Background-or-class logits [B, 1 + classes, H, W] of images [B, 3, H, W] in [0, 1]:
    two 3×3 layers (a 5×5 neighbourhood: colour and the start of a pattern), then a 1×1."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.context = nn.Conv2d(3, HIDDEN, 3)
        self.mix = nn.Conv2d(HIDDEN, HIDDEN, 3)
        self.head = nn.Conv2d(HIDDEN, 1 + classes, 1)

    def forward(self, images: Tensor, wrap: bool = False) -> Tensor:
        x = functional.relu(self.context(_padded(images - 0.5, wrap)), inplace=True)
        return self.head(functional.relu(self.mix(_padded(x, wrap)), inplace=True))


def class_weights(logits: Tensor) -> Tensor:
    """How much each pixel counts for each class [B, classes, H, W], background left out."""
    probs = torch.softmax(logits, dim=1)[:, 1:]
    return ((probs - _FLOOR) / (1.0 - _FLOOR)).clamp_(min=0.0)


def panorama_band(view: Tensor) -> Tensor:
    """The ERP frame [T, 3, S/2, S] inside a square panorama view [T, 3, S, S] (a 2:1 frame
    padded top and bottom)."""
    size = view.shape[-1]
    top = size // 4
    return view[..., top : top + size // 2, :]


def _pixel_geometry(height: int, width: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """Solid-angle weights [H, W] (summing to 1) and unit vectors [3, H, W] of ERP pixels."""
    u = (torch.arange(width, dtype=like.dtype, device=like.device) + 0.5) / width
    v = (torch.arange(height, dtype=like.dtype, device=like.device) + 0.5) / height
    az = (0.5 - u) * 2.0 * math.pi
    el = (0.5 - v) * math.pi
    cos_el = torch.cos(el)[:, None]
    vectors = torch.stack(
        [
            cos_el * torch.cos(az)[None, :],
            cos_el * torch.sin(az)[None, :],
            torch.sin(el)[:, None].expand(height, width),
        ],
        dim=0,
    ).expand(3, height, width)
    area = cos_el.expand(height, width)
    return area / area.sum(), vectors


def panorama_measures(band: Tensor, weights: Tensor) -> Tensor:
    """Per frame and class [T, classes, 5]: share of the sphere, mean direction (x, y, z;
    zeros where the class is absent) and mean brightness, of ERP frames [T, 3, H, W] whose
    pixels count ``weights`` [T, classes, H, W] for each class."""
    area, vectors = _pixel_geometry(band.shape[-2], band.shape[-1], band)
    w = weights * area  # [T, C, H, W]
    share = w.sum(dim=(-2, -1))
    total = share.clamp(min=1e-12)[..., None]
    direction = torch.einsum("tchw,khw->tck", w, vectors) / total
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp(min=1e-9)
    direction = torch.where(share[..., None] > 0, direction, torch.zeros_like(direction))
    brightness = torch.einsum("tchw,thw->tc", w, band.mean(dim=1)) / total[..., 0]
    return torch.cat([share[..., None], direction, brightness[..., None]], dim=-1)


def view_measures(weights: Tensor) -> Tensor:
    """Per frame and class of a camera view [T, classes, 2]: the share of the view it fills
    and where it sits, as the mean distance of its pixels from the view's centre in half
    widths (0 at the centre, 1 at the left and right edges; 0 where the class is absent)."""
    size = weights.shape[-1]
    x = (torch.arange(size, dtype=weights.dtype, device=weights.device) + 0.5) / size * 2 - 1
    distance = torch.hypot(x[None, :], x[:, None])
    share = weights.mean(dim=(-2, -1))
    where = (weights * distance).mean(dim=(-2, -1)) / share.clamp(min=1e-12)
    return torch.stack([share, torch.where(share > 0, where, torch.zeros_like(where))], dim=-1)
