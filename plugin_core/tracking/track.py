"""A tracked direction over video time, with confidence, lost frames and apparent size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from plugin_core.spatial.direction_path import DirectionPath
from plugin_core.spatial.directions import az_el_to_vector, vector_to_az_el

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Track:
    """Per-frame direction of an object; lost frames hold or interpolate the good ones."""

    times: Float  # seconds of the video's timeline, rising
    az: Float  # degrees, (-180, 180]
    el: Float  # degrees
    confidence: Float  # per frame, 1 = best: match score, or motion share for saliency paths
    lost: Bool  # True where the object was not found and the direction is filled in
    size_deg: Float  # apparent angular diameter in degrees

    def lost_spans(self) -> list[tuple[float, float]]:
        """(first, last) times of each run of lost frames."""
        edges = np.diff(np.concatenate([[0], self.lost.astype(np.int8), [0]]))
        starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1
        return [
            (float(self.times[a]), float(self.times[b])) for a, b in zip(starts, stops, strict=True)
        ]

    def to_direction_path(self) -> DirectionPath:
        """The track as direction-path keys, one per frame (yaw = az, pitch = el)."""
        return DirectionPath(
            tuple(float(t) for t in self.times),
            tuple(float(a) for a in self.az),
            tuple(float(e) for e in self.el),
        )


def fill_lost(az: Float, el: Float, lost: Bool) -> tuple[Float, Float]:
    """Directions with lost frames replaced: slerp between good neighbours, else hold one."""
    good = np.nonzero(~lost)[0]
    if len(good) == 0 or len(good) == len(lost):
        return az.copy(), el.copy()
    vectors = az_el_to_vector(az, el)
    index = np.arange(len(lost))
    after = np.clip(np.searchsorted(good, index), 0, len(good) - 1)
    before = np.clip(after - 1, 0, len(good) - 1)
    before = np.where(good[after] <= index, after, before)
    i0, i1 = good[before], good[after]
    frac = np.where(i1 > i0, (index - i0) / np.maximum(i1 - i0, 1), 0.0)[:, None]
    filled = _slerp(vectors[i0], vectors[i1], frac)
    new_az, new_el = vector_to_az_el(np.where(lost[:, None], filled, vectors))
    return new_az, new_el


def _slerp(a: Float, b: Float, frac: Float) -> Float:
    """Great-circle interpolation between unit vectors a and b (rows) at fractions ``frac``."""
    omega = np.arccos(np.clip(np.sum(a * b, axis=-1, keepdims=True), -1.0, 1.0))
    sin_omega = np.sin(omega)
    safe = np.where(sin_omega > 1e-9, sin_omega, 1.0)
    curved = (np.sin((1.0 - frac) * omega) * a + np.sin(frac * omega) * b) / safe
    straight = (1.0 - frac) * a + frac * b
    return np.where(sin_omega > 1e-9, curved, straight)
