"""Each window's per-frame features and camera directions, with shared frames encoded once.

Windows start a whole number of frames apart (:mod:`plugin_core.generation.window_frames`),
so the features of the frames a window shares with the previous one (the same video frames
at the same camera direction) are taken over, and only its new frames are encoded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import Tensor

from models.family import Cancel, FamilyModel, SamplingCancelled
from plugin_core.generation.frame_features import frame_features, held_features, window_features
from plugin_core.generation.window_frames import Frames, FrameSpan
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
        self,
        span: FrameSpan,
        chunks: Iterable[Frames],
        directions: Tensor,
        cancel: Cancel | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> dict[str, Tensor]:
        """Features [T, ...] by view of the window ``span`` describes, given its new frames
        chunk by chunk as they are decoded (held from the last frame seen when there are
        none). Each chunk is encoded as it comes; ``cancel()`` is asked after each one
        (SamplingCancelled) and ``progress`` told the share of the new frames done."""
        count = self._model.window.frames
        r = span.reused
        yaw, pitch = directions[:, 0].numpy(), directions[:, 1].numpy()
        needed, done = count - r, 0
        parts: list[dict[str, Tensor]] = []
        for frames in chunks:
            n = min(len(next(iter(frames.values()))), needed - done)
            if n > 0:
                frames = {name: f[:n] for name, f in frames.items()}
                window = slice(r + done, r + done + n)
                parts.append(
                    frame_features(self._model, frames, yaw[window], pitch[window], self._fov)
                )
                self._last_frames = {name: f[-1:] for name, f in frames.items()}
                done += n
            if cancel is not None and cancel():
                raise SamplingCancelled
            if progress is not None:
                progress(done / max(needed, 1))
        if parts:
            new = {name: torch.cat([p[name] for p in parts]) for name in parts[0]}
            held = slice(r + done, count)
            new = held_features(
                self._model, new, self._last_frames, yaw[held], pitch[held], self._fov
            )
        else:
            assert self._last_frames is not None, "the first window decodes frames"
            new = window_features(
                self._model, self._last_frames, yaw[r:], pitch[r:], self._fov, needed
            )
        if r and self._previous is not None:
            new = {
                name: torch.cat([self._previous[name][span.shift : span.shift + r], value])
                for name, value in new.items()
            }
        self._previous = new
        return new
