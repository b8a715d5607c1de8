"""Each window's per-frame features and camera directions, with shared frames encoded once.

Windows start a whole number of frames apart (:mod:`plugin_core.generation.window_frames`),
so the features of the frames a window shares with the previous one (the same video frames
at the same camera direction) are taken over, and only its new frames are encoded.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from models.family import FamilyModel
from plugin_core.generation.frame_features import window_features
from plugin_core.generation.window_frames import FrameSpan
from plugin_core.spatial.direction_path import DirectionPath


class WindowConditioning:
    """Features and directions of consecutive windows of one request."""

    def __init__(self, model: FamilyModel, path: DirectionPath, fov: float | None) -> None:
        self._model, self._path, self._fov = model, path, fov
        self._previous: dict[str, Tensor] | None = None
        self._last_frames: dict[str, np.ndarray] | None = None

    def directions(self, span: FrameSpan) -> Tensor:
        """Camera direction [T, 2] (azimuth, elevation in degrees) of each frame of ``span``."""
        window = self._model.window
        times = span.t0 + np.arange(window.frames) / window.frame_rate
        yaw, pitch = self._path.at(times)
        return torch.from_numpy(np.stack([yaw, pitch], axis=1))

    def features(
        self, span: FrameSpan, frames: dict[str, np.ndarray], directions: Tensor
    ) -> dict[str, Tensor]:
        """Features [T, ...] by view of the window ``span`` describes, given its new frames
        (held from the last frame seen when there are none)."""
        count = self._model.window.frames
        if len(next(iter(frames.values()))) == 0:
            assert self._last_frames is not None, "the first window decodes frames"
            frames = self._last_frames
        self._last_frames = {name: f[-1:] for name, f in frames.items()}
        r = span.reused
        yaw, pitch = directions[:, 0].numpy(), directions[:, 1].numpy()
        new = window_features(self._model, frames, yaw[r:], pitch[r:], self._fov, count - r)
        if r and self._previous is not None:
            new = {
                name: torch.cat([self._previous[name][span.shift : span.shift + r], value])
                for name, value in new.items()
            }
        self._previous = new
        return new
