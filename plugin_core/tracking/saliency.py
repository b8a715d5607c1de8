"""Where the visual action is, without a mark: motion energy on the sphere, as direction paths.

Motion energy (see :mod:`plugin_core.tracking.motion_energy`) is followed through time by
dynamic programming on a coarse direction grid: the path collects as much energy as it can
while moving no faster than an object plausibly does, distances measured along the sphere (so
a path crossing ±180° is one path). After the strongest path its energy is removed and the
next one is found. Each path can be refined by the marked-object tracker, seeded on the path
at a step of typical energy; the tracker's track replaces the path where the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from plugin_core.errors import InputError
from plugin_core.media.video import iter_frames, probe
from plugin_core.spatial.direction_path import DirectionPath
from plugin_core.spatial.directions import great_circle_deg, vector_to_az_el
from plugin_core.tracking.motion_energy import motion_energy
from plugin_core.tracking.spherical_tracker import track_object
from plugin_core.tracking.track import Track, fill_lost

Float = NDArray[np.float64]
Progress = Callable[[int, int], None]
T = TypeVar("T")
DECODE_WIDTH = 512
MAX_SPEED_DEG_S = 90.0  # fastest motion a path may follow
MOVE_COST = 0.05  # cost of a full-speed step, in units of the strongest cell's energy
BLOB_DEG = 20.0  # energy within this angle of a path belongs to it
MIN_STRENGTH = 0.05  # paths holding less than this share of all motion energy are dropped
QUIET = 0.05  # frames whose energy on a path is below this share of its peak are "lost"
AGREE_DEG = 20.0  # a refined track must stay this close to the motion path...
AGREE_SHARE = 0.6  # ...on at least this share of frames to replace it


@dataclass(frozen=True)
class SalientPath:
    """A direction path where the video moves, and its share of all motion energy."""

    track: Track  # size_deg is NaN unless the tracker refined the path
    strength: float
    refined: bool  # True when the track comes from the marked-object tracker

    def to_direction_path(self) -> DirectionPath:
        """The path as direction-path keys."""
        return self.track.to_direction_path()


def propose_paths(
    video: Path,
    *,
    k: int = 3,
    fps: float = 8.0,
    refine: bool = True,
    progress: Progress | None = None,
    each_frame: Callable[[], None] | None = None,
) -> list[SalientPath]:
    """Up to ``k`` paths of visual action in ``video``, strongest first. ``each_frame`` is
    called for every frame decoded (a caller that may be cancelled raises from it)."""
    if not 1 <= k <= 16:
        raise InputError(f"Ask for 1 to 16 salient paths, not {k}.")
    info = probe(video)
    width = min(DECODE_WIDTH, info.width)
    frames = iter_frames(video, 0.0, None, fps, (width, max(2, width // 2)))
    grid = motion_energy(_calling(frames, each_frame) if each_frame else frames)
    if len(grid.times) == 0:
        raise InputError(f"{Path(video).name} is too short to see motion in; give a longer clip.")
    energy = grid.energy.copy()
    vectors = grid.vectors.reshape(-1, 3)
    moves = _Moves.build(vectors, MAX_SPEED_DEG_S / fps)
    total = float(energy.sum())
    paths: list[SalientPath] = []
    for index in range(k):
        centres, held = _strongest_path(vectors, moves, energy)
        strength = float(held.sum()) / total if total > 0.0 else 0.0
        if strength < MIN_STRENGTH:
            break
        _remove(vectors, energy, centres)
        track = _motion_track(grid.times, centres, held)
        refined = _refined(video, track, fps, each_frame) if refine else None
        paths.append(SalientPath(refined or track, strength, refined is not None))
        if progress is not None:
            progress(index + 1, k)
    return paths


def strongest_path(
    video: Path, *, fps: float = 8.0, each_frame: Callable[[], None] | None = None
) -> DirectionPath:
    """The direction path of the strongest visual action in ``video``."""
    paths = propose_paths(video, k=1, fps=fps, each_frame=each_frame)
    if not paths:
        raise InputError(f"Nothing moves in {Path(video).name}, so there is no salient path.")
    return paths[0].to_direction_path()


@dataclass(frozen=True, eq=False)
class _Moves:
    """For each grid cell, the cells a path may step to in one frame and what that costs."""

    index: NDArray[np.int64]  # [cells, M] the M nearest cells (some out of reach)
    cost: Float  # [cells, M] step costs, inf where out of reach

    @classmethod
    def build(cls, vectors: Float, max_step_deg: float) -> _Moves:
        cosine = vectors @ vectors.T
        reach = cosine >= math.cos(math.radians(max_step_deg))
        width = int(reach.sum(axis=1).max())
        index = np.argpartition(-cosine, width - 1, axis=1)[:, :width]
        step = np.degrees(np.arccos(np.clip(np.take_along_axis(cosine, index, 1), -1.0, 1.0)))
        cost = np.where(step <= max_step_deg, MOVE_COST * (step / max_step_deg) ** 2, np.inf)
        return cls(index, cost)


def _strongest_path(vectors: Float, moves: _Moves, energy: Float) -> tuple[Float, Float]:
    """Unit vectors [T, 3] of the best path through ``energy`` and the energy it holds per step."""
    count = energy.shape[0]
    cells = energy.reshape(count, -1)
    gain = cells / max(float(cells.max()), 1e-12)
    score = gain[0].copy()
    back = np.zeros((count, len(vectors)), dtype=np.int64)
    rows = np.arange(len(vectors))
    for t in range(1, count):
        options = score[moves.index] - moves.cost
        best = np.argmax(options, axis=1)
        back[t] = moves.index[rows, best]
        score = options[rows, best] + gain[t]
    route = np.zeros(count, dtype=np.int64)
    route[-1] = int(np.argmax(score))
    for t in range(count - 1, 0, -1):
        route[t - 1] = back[t, route[t]]
    near = vectors[route] @ vectors.T >= math.cos(math.radians(BLOB_DEG))  # [T, cells]
    weights = np.where(near, cells, 0.0)
    centroid = weights @ vectors
    norm = np.linalg.norm(centroid, axis=1, keepdims=True)
    centres = np.where(norm > 1e-12, centroid / np.maximum(norm, 1e-12), vectors[route])
    return centres, weights.sum(axis=1)


def _remove(vectors: Float, energy: Float, centres: Float) -> None:
    """Zero the energy near a found path (in place) so the next search finds another."""
    near = centres @ vectors.T >= math.cos(math.radians(1.5 * BLOB_DEG))
    energy.reshape(energy.shape[0], -1)[near] = 0.0


def _motion_track(times: Float, centres: Float, held: Float) -> Track:
    """A Track of a motion path; steps with almost no energy on it are lost and filled."""
    confidence = held / max(float(held.max()), 1e-12)
    lost = confidence < QUIET
    az, el = vector_to_az_el(centres)
    az, el = fill_lost(az, el, lost)
    return Track(times, az, el, confidence, lost, np.full(len(times), np.nan))


def _calling(frames: Iterable[T], each: Callable[[], None]) -> Iterator[T]:
    for frame in frames:
        each()
        yield frame


def _refined(
    video: Path, motion: Track, fps: float, each_frame: Callable[[], None] | None = None
) -> Track | None:
    """The tracker's track, seeded at a typical step of the path, when it agrees with the path.

    A typical step (energy nearest the median) rather than the strongest: the strongest is
    often a flash or another sudden change of look, a poor template for the other frames.
    """
    steady = np.nonzero(~motion.lost)[0]
    typical = np.median(motion.confidence[steady])
    seed = int(steady[np.argmin(np.abs(motion.confidence[steady] - typical))])
    track = track_object(
        video,
        float(motion.az[seed]),
        float(motion.el[seed]),
        float(motion.times[seed]),
        fps=fps,
        progress=(lambda done, total: each_frame()) if each_frame else None,
    )
    path = motion.to_direction_path()
    az, el = path.at(track.times)
    close = great_circle_deg(track.az, track.el, az, el) <= AGREE_DEG
    if np.mean(close & ~track.lost) < AGREE_SHARE:
        return None
    return track
