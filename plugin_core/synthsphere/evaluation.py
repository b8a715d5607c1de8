"""Per-object direction errors of an FOA signal against a scene's ground truth.

Objects sound at the same time, so the broadband intensity vector of the mix points between
them. Instead, each time-frequency bin of the FOA's short-time spectrum is credited to the
object that dominates it: the object whose own sound carries at least ``dominance_db`` more
energy in that bin than everything else in the scene (other objects and the ambience bed).
Per analysis window, the intensity vector summed over an object's bins gives its estimated
direction, compared with the object's ground-truth direction over that window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.signal import stft

from plugin_core.spatial.directions import vector_to_az_el
from plugin_core.spatial.foa import direction_per_sample
from plugin_core.spatial.metrics import angular_errors
from plugin_core.synthsphere.scene import Scene
from plugin_core.synthsphere.soundfield import ambience, object_signal

Float = NDArray[np.float64]


@dataclass(frozen=True)
class ObjectDirectionError:
    """Direction errors of one object over the windows it dominates (degrees)."""

    index: int
    sound_class: str
    motion: str
    windows: int
    mean_deg: float
    median_deg: float
    max_deg: float
    delta_azimuth_deg: float
    delta_elevation_deg: float


_FFT = 1024
_HOP = 512
# A window counts for an object when its bins hold at least this share of its energy there.
_MIN_SHARE = 0.25


def _stft(x: np.ndarray) -> np.ndarray:
    """Short-time spectra [..., bins, frames] (Hann window, no padding at the ends)."""
    _, _, spec = stft(x, nperseg=_FFT, noverlap=_FFT - _HOP, boundary=None, padded=False)
    return spec


def _frame_directions(scene: Scene, index: int, frames: int) -> Float:
    """Ground-truth unit vectors [frames, 3] of an object at the STFT frame centres."""
    traj = scene.objects[index].trajectory
    n = _FFT + _HOP * (frames - 1)
    vec = direction_per_sample(n, traj.az, traj.el, traj.times, scene.sample_rate)
    return vec[_FFT // 2 :: _HOP][:frames]


def object_direction_errors(
    foa: np.ndarray,
    sample_rate: int,
    scene: Scene,
    window_s: float = 0.2,
    dominance_db: float = 10.0,
) -> list[ObjectDirectionError]:
    """Direction errors per object of ``foa`` (the scene's FOA, or one generated for it)."""
    if sample_rate != scene.sample_rate:
        raise ValueError(f"the FOA is at {sample_rate} Hz but the scene at {scene.sample_rate}")
    n = min(foa.shape[1], scene.num_samples)
    spec = _stft(np.asarray(foa[:, :n], dtype=np.float64))
    own = np.stack([np.abs(_stft(object_signal(scene, o)[:n])) ** 2 for o in scene.objects])
    bed = np.abs(_stft(ambience(scene)[0, :n])) ** 2
    total = own.sum(axis=0) + bed
    # Active intensity per bin: Re(conj(W) * (X, Y, Z)).
    w, y, z, x = spec
    intensity = np.stack([np.real(np.conj(w) * c) for c in (x, y, z)], axis=-1)
    frames = spec.shape[-1]
    per_window = max(1, round(window_s * sample_rate / _HOP))
    windows = [slice(s, s + per_window) for s in range(0, frames - per_window + 1, per_window)]
    results = []
    for i, obj in enumerate(scene.objects):
        mask = own[i] > (total - own[i]) * 10 ** (dominance_db / 10)
        truth = _frame_directions(scene, i, frames)
        est, ref = [], []
        for win in windows:
            held = own[i][:, win][mask[:, win]].sum()
            if held <= _MIN_SHARE * own[i][:, win].sum() or held == 0:
                continue
            est.append((intensity[:, win] * mask[:, win, None]).sum(axis=(0, 1)))
            ref.append(truth[win].mean(axis=0))
        if not est:
            nan = float("nan")
            results.append(ObjectDirectionError(i, obj.sound_class, obj.motion, 0, *[nan] * 5))
            continue
        err = angular_errors(*vector_to_az_el(np.array(est)), *vector_to_az_el(np.array(ref)))
        angles = np.degrees(err.angular)
        results.append(
            ObjectDirectionError(
                index=i,
                sound_class=obj.sound_class,
                motion=obj.motion,
                windows=len(est),
                mean_deg=float(np.mean(angles)),
                median_deg=float(np.median(angles)),
                max_deg=float(np.max(angles)),
                delta_azimuth_deg=float(np.degrees(np.mean(err.delta_azimuth))),
                delta_elevation_deg=float(np.degrees(np.mean(err.delta_elevation))),
            )
        )
    return results


def error_table(errors: list[ObjectDirectionError]) -> str:
    """A plain-text table of per-object direction errors."""
    rows = ["  # class      motion   windows  mean deg  median deg  max deg  |dAz| deg  |dEl| deg"]
    for e in errors:
        rows.append(
            f"{e.index:3d} {e.sound_class:<10} {e.motion:<8} {e.windows:7d} {e.mean_deg:9.2f}"
            f" {e.median_deg:11.2f} {e.max_deg:8.2f} {e.delta_azimuth_deg:10.2f}"
            f" {e.delta_elevation_deg:10.2f}"
        )
    return "\n".join(rows)
