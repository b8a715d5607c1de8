"""Per-frame features of ERP frames: the views a family asks for, cut and encoded.

The one place views are made, for generation and training alike: a panorama view (the frame
padded to a square, :func:`global_view`) or a perspective crop aimed along a direction per
frame (:func:`erp_to_perspective`), each cut from frames decoded at the size that view needs
(:func:`decode_size`), then encoded by the family's frame encoders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from models.family import FrameEncoding, ViewSpec
from plugin_core.spatial.directions import view_plane_extent
from plugin_core.spatial.projection import erp_to_perspective, global_view

# ERP frame pixels (× 3 channels) turned into float views at once; bounds memory for 4K frames.
_CHUNK_ELEMENTS = 1 << 24
_SIZE_STEP = 32  # decode widths are rounded up to this many pixels


def perspective_decode_width(fov: float, size: int) -> int:
    """ERP width at which no pixel of a ``fov``-degree, ``size``-pixel view is upsampled.

    A gnomonic view samples most finely at its left and right edges: there one view pixel
    spans ``(2 / (size - 1)) · z / (z² + 1)`` radians (``z`` the image-plane distance), so the
    panorama needs 2π over that many pixels across.
    """
    _, _, z = view_plane_extent(fov, size, size)
    finest = (2.0 / (size - 1)) * z / (z * z + 1.0)
    return math.ceil(2 * math.pi / finest / _SIZE_STEP) * _SIZE_STEP


def decode_size(view: ViewSpec, fov: float, source: tuple[int, int]) -> tuple[int, int]:
    """(width, height) to decode a 2:1 panorama at for ``view``: the panorama view at twice
    its encoder's input, a perspective view at :func:`perspective_decode_width`; never
    larger than the ``source`` (width, height)."""
    if view.projection == "panorama":
        width = 2 * view.size
    else:
        width = perspective_decode_width(fov, view.size)
    width = min(width, source[0])
    height = min(max(1, round(width * source[1] / source[0])), source[1])
    return width, height


def view_decode_sizes(
    views: Sequence[ViewSpec], fov: float | None, source: tuple[int, int]
) -> dict[str, tuple[int, int]]:
    """(width, height) each view's frames are decoded at, by view name (:func:`decode_size`
    with the request's FoV, else the family's)."""
    return {
        v.name: decode_size(v, view_fov(v, fov) if v.projection != "panorama" else 0.0, source)
        for v in views
    }


def view_fov(view: ViewSpec, fov: float | None) -> float:
    """The field of view a perspective view is cut with: the request's, else the family's."""
    chosen = fov if fov is not None else view.fov
    if chosen is None:
        raise ValueError(f"the perspective view {view.name!r} has no field of view")
    return chosen


def cut_views(
    frames: Mapping[str, Tensor],
    views: Sequence[ViewSpec],
    yaws: np.ndarray,
    pitches: np.ndarray,
    fov: float | None = None,
) -> dict[str, Tensor]:
    """Views [T, 3, S, S] in [0, 1] by name, each cut from its own ERP frames [T, H, W, 3]."""
    out = {}
    for view in views:
        erp = frames[view.name]
        if view.projection == "panorama":
            out[view.name] = global_view(erp, view.size)
        else:
            out[view.name] = erp_to_perspective(erp, yaws, pitches, view_fov(view, fov), view.size)
    return out


def frame_features(
    model: FrameEncoding,
    frames: Mapping[str, np.ndarray],
    yaws: np.ndarray,
    pitches: np.ndarray,
    fov: float | None = None,
    views: Sequence[ViewSpec] | None = None,
) -> dict[str, Tensor]:
    """Features [T, ...] by view name of ERP frames [T, H, W, 3] (per view name), the
    perspective views aimed at (``yaws``, ``pitches``) degrees per frame. Frames are taken a
    few at a time so full-size video fits in memory."""
    views = tuple(views if views is not None else model.views)
    count = len(yaws)
    largest = max(3 * int(np.prod(frames[v.name].shape[1:3])) for v in views)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, largest))
    parts: list[dict[str, Tensor]] = []
    for s in range(0, count, chunk):
        part = {v.name: torch.from_numpy(frames[v.name][s : s + chunk]) for v in views}
        cut = cut_views(part, views, yaws[s : s + chunk], pitches[s : s + chunk], fov)
        parts.append(model.encode(cut))
    return {name: torch.cat([p[name] for p in parts]) for name in parts[0]}


def view_of(feature: str, views: Sequence[ViewSpec]) -> ViewSpec:
    """The view a feature comes from: the one named like it, or like its part before a dot."""
    name = feature.split(".", 1)[0]
    return next(v for v in views if v.name == name)


def window_features(
    model: FrameEncoding,
    frames: Mapping[str, np.ndarray],
    yaws: np.ndarray,
    pitches: np.ndarray,
    fov: float | None,
    count: int,
) -> dict[str, Tensor]:
    """Features of ``count`` frames from fewer decoded ones: frames past the last decoded one
    hold it (:func:`held_features`)."""
    real = min(len(next(iter(frames.values()))), count)
    yaws = np.broadcast_to(np.asarray(yaws, np.float64), (count,))
    pitches = np.broadcast_to(np.asarray(pitches, np.float64), (count,))
    taken = {name: f[:real] for name, f in frames.items()}
    features = frame_features(model, taken, yaws[:real], pitches[:real], fov)
    last = {name: f[real - 1 : real] for name, f in frames.items()}
    return held_features(model, features, last, yaws[real:], pitches[real:], fov)


def held_features(
    model: FrameEncoding,
    features: Mapping[str, Tensor],
    last: Mapping[str, np.ndarray],
    yaws: np.ndarray,
    pitches: np.ndarray,
    fov: float | None,
) -> dict[str, Tensor]:
    """``features`` [T, ...] of decoded frames followed by those of frames that hold the last
    one (``last``: [1, H, W, 3] by view name) aimed at ``yaws``/``pitches``. A held frame's
    panorama features repeat the last frame's; its perspective views are encoded once per
    distinct direction, not once per held frame."""
    held_count = len(yaws)
    if held_count == 0:
        return dict(features)
    held = np.stack([yaws, pitches], axis=1)
    directions, which = np.unique(held, axis=0, return_inverse=True)
    aimed_views = [v for v in model.views if v.projection == "perspective"]
    repeated = {v.name: np.repeat(last[v.name], len(directions), 0) for v in aimed_views}
    aimed = (
        frame_features(model, repeated, directions[:, 0], directions[:, 1], fov, aimed_views)
        if aimed_views
        else {}
    )
    index = torch.from_numpy(which.reshape(-1))
    out = {}
    for name, value in features.items():
        if view_of(name, model.views).projection == "perspective":
            tail = aimed[name][index]
        else:
            tail = value[-1:].expand(held_count, *value.shape[1:])
        out[name] = torch.cat([value, tail])
    return out
