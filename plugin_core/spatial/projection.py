"""Views of ERP video frames for the encoders: the global (padded panorama) and FoV branches.

Input convention for every function here: ERP frames as decoded video, a tensor
``[T, H, W, 3]`` (channels last, RGB), either ``uint8`` in [0, 255] or floating point in
[0, 1]. Output: ``[T, 3, h, w]`` in [0, 1], ``float32`` for ``uint8`` input and the input's
dtype for floating-point input, on the input's device.

Directions follow :mod:`plugin_core.spatial.directions`: ``yaw`` is the azimuth of the view
centre in degrees (0 = front = ERP centre, positive counter-clockwise, i.e. to the left),
``pitch`` its elevation (positive up). These are the direction a *camera*
looks at, not a head rotation of the sound field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional

from plugin_core.spatial.directions import camera_basis, view_outline, view_rays

# Columns copied circularly onto each side before bicubic sampling (bicubic reads 2 each way).
_SEAM_PAD = 3
_BICUBIC_REACH = 2  # pixels a bicubic sample reads beyond its nearest one
# Upper bound on float elements materialised at once by ``global_view`` (about 128 MiB).
_GLOBAL_CHUNK_ELEMENTS = 1 << 25

Angles = float | Sequence[float] | np.ndarray | torch.Tensor


def _size_hw(size: int | tuple[int, int]) -> tuple[int, int]:
    """(height, width) of a view size given as one int or a (height, width) pair."""
    if isinstance(size, int):
        h, w = size, size
    else:
        h, w = (int(s) for s in size)
    if h < 1 or w < 1:
        raise ValueError(f"view size must be positive, got {size}")
    return h, w


def _angles(value: Angles, name: str) -> np.ndarray:
    """An angle or per-frame angle path as a 1-D float64 numpy array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().to("cpu", torch.float64).numpy()
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a 1-D sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _directions(yaw: Angles, pitch: Angles) -> tuple[np.ndarray, np.ndarray]:
    """Yaw and pitch broadcast to one common length (1 when both are single numbers)."""
    yaws, pitches = _angles(yaw, "yaw"), _angles(pitch, "pitch")
    if yaws.size != pitches.size and 1 not in (yaws.size, pitches.size):
        raise ValueError(
            f"yaw and pitch paths must have the same length, got {yaws.size} and {pitches.size}"
        )
    return np.broadcast_arrays(yaws, pitches)


def perspective_grid(
    yaw: Angles,
    pitch: Angles,
    fov: float = 120.0,
    size: int | tuple[int, int] = (224, 224),
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """ERP fractions (u across, v down) [N, h, w, 2] sampled by views aimed at (yaw, pitch)."""
    h, w = _size_hw(size)
    yaws, pitches = _directions(yaw, pitch)
    bases = np.stack([camera_basis(y, p) for y, p in zip(yaws, pitches, strict=True)])
    basis = torch.as_tensor(bases, dtype=dtype, device=device)  # [N, 3, 3] world <- camera
    grid = view_rays(fov, w, h, np.arange(w)[None, :], np.arange(h)[:, None])
    rays = torch.as_tensor(grid / np.linalg.norm(grid, axis=-1, keepdims=True), dtype=dtype)
    rays = rays.to(device)
    world = torch.einsum("nij,hwj->nhwi", basis, rays)
    # Same mapping as directions.vector_to_az_el + az_el_to_erp_uv, in radians and in torch.
    az = torch.atan2(world[..., 1], world[..., 0])
    el = torch.atan2(world[..., 2], torch.hypot(world[..., 0], world[..., 1]))
    u = 0.5 - az / (2.0 * math.pi)
    v = 0.5 - el / math.pi
    return torch.stack([u, v], dim=-1)


def _check_frames(erp: torch.Tensor) -> None:
    """Raise a clear error unless ``erp`` is a [T, H, W, 3] frame stack."""
    if not isinstance(erp, torch.Tensor):
        raise TypeError(f"ERP frames must be a torch tensor, got {type(erp).__name__}")
    if erp.ndim != 4 or erp.shape[-1] != 3:
        raise ValueError(f"ERP frames must be shaped [T, H, W, 3], got {list(erp.shape)}")
    if erp.dtype != torch.uint8 and not erp.is_floating_point():
        raise ValueError(f"ERP frames must be uint8 or floating point, got {erp.dtype}")


def _to_unit_channels_first(frames: torch.Tensor) -> torch.Tensor:
    """[T, H, W, 3] uint8 or float frames as [T, 3, H, W] floats in [0, 1]."""
    if frames.dtype == torch.uint8:
        return frames.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    return frames.permute(0, 3, 1, 2)


def _reach(fractions: torch.Tensor, pixels: int) -> tuple[int, int]:
    """[first, last + 1) of the pixel indices bicubic sampling at ``fractions`` of a
    ``pixels``-long axis reads (the kernel's reach either side; may lie outside the axis)."""
    low = math.floor(float(fractions.min()) * pixels - 0.5) - _BICUBIC_REACH
    high = math.ceil(float(fractions.max()) * pixels - 0.5) + _BICUBIC_REACH + 1
    return low, high


def erp_to_perspective(
    erp: torch.Tensor,
    yaw: Angles,
    pitch: Angles,
    fov: float = 120.0,
    size: int | tuple[int, int] = (224, 224),
) -> torch.Tensor:
    """Gnomonic views [T, 3, h, w] of ERP frames [T, H, W, 3] aimed at (yaw, pitch) per frame."""
    _check_frames(erp)
    t, _, width, _ = erp.shape
    if width < _SEAM_PAD:
        raise ValueError(f"ERP frames must be at least {_SEAM_PAD} pixels wide, got {width}")
    yaws, pitches = _directions(yaw, pitch)
    if yaws.size not in (1, t):
        raise ValueError(f"a direction path needs one entry per frame ({t}), got {yaws.size}")

    height = erp.shape[1]
    dtype = erp.dtype if erp.is_floating_point() else torch.float32
    grid = perspective_grid(yaws, pitches, fov, size, device=erp.device, dtype=dtype)
    # Only the rows and columns the views sample (with the bicubic kernel's reach) are
    # converted to float: a 90° view of a 4K panorama reads about a tenth of it.
    low, high = _reach(grid[..., 1], height)
    rows = (max(low, 0), min(high, height))  # beyond the poles the border rows repeat
    columns = _reach(grid[..., 0], width)
    if columns[0] >= 0 and columns[1] <= width:  # no view crosses the ±180° seam
        left, cut = columns[0], erp[:, rows[0] : rows[1], columns[0] : columns[1]]
    else:
        left = -_SEAM_PAD
        cut = erp[:, rows[0] : rows[1]]
        cut = torch.cat([cut[:, :, -_SEAM_PAD:], cut, cut[:, :, :_SEAM_PAD]], dim=2)
    frames = _to_unit_channels_first(cut)
    # Fractions -> grid_sample coordinates (align_corners=False) in the cut-out frame.
    gx = (grid[..., 0] * width - left) * (2.0 / cut.shape[2]) - 1.0
    gy = (grid[..., 1] * height - rows[0]) * (2.0 / cut.shape[1]) - 1.0
    coords = torch.stack([gx, gy], dim=-1).expand(t, -1, -1, -1)
    views = functional.grid_sample(
        frames, coords, mode="bicubic", padding_mode="border", align_corners=False
    )
    return views.clamp_(0.0, 1.0)


def global_view(erp: torch.Tensor, size: int = 224) -> torch.Tensor:
    """Global-branch views [T, 3, size, size]: pad to square, bicubic shortest edge, centre crop."""
    _check_frames(erp)
    if size < 1:
        raise ValueError(f"view size must be positive, got {size}")
    t, height, width, _ = erp.shape
    side = max(height, width)
    # Black bars: half the difference before, the rest (one more row when odd) after.
    pad_h, pad_w = side - height, side - width
    padding = (0, 0, pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
    # Padded image is square, so the shortest-edge resize lands on size x size.
    chunk = max(1, _GLOBAL_CHUNK_ELEMENTS // (3 * side * side))
    views = []
    for start in range(0, t, chunk):
        square = functional.pad(erp[start : start + chunk], padding)
        resized = functional.interpolate(
            _to_unit_channels_first(square),
            size=(size, size),
            mode="bicubic",
            align_corners=False,
            antialias=True,
        )
        views.append(resized.clamp_(0.0, 1.0))
    return torch.cat(views, dim=0)


def view_outline_pixels(
    yaw: float,
    pitch: float,
    fov: float,
    erp_width: int,
    erp_height: int,
    aspect: float = 1.0,
    points_per_side: int = 32,
) -> list[np.ndarray]:
    """Outline of a view on an ERP image as [K, 2] (x, y) pixel polylines, pixel i centred at i."""
    return [
        np.stack([u * erp_width - 0.5, v * erp_height - 0.5], axis=-1)
        for u, v in view_outline(yaw, pitch, fov, aspect, points_per_side)
    ]
