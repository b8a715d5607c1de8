"""Onsets: spectral-flux detection on the W channel, and the alignment error to the truth.

The detector takes the log-magnitude short-time spectrum (23 ms Hann windows, 10 ms hops),
sums each bin's rise over the previous frame's maximum of its three neighbour bins (so a
gliding tone is no onset), and picks peaks that top their ±30 ms neighbourhood and rise
above the ±100 ms mean by a fifth of the flux's 99th percentile.

The alignment error looks only from the true onsets, so it does not punish extra
detections: in textured scenes (applause, water bubbles) a time-shifted copy still finds
detections near the truth. Read it beside the ground truth's own floor.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.signal import stft

from plugin_core.synthsphere.catalogue import PROFILES
from plugin_core.synthsphere.onset_matching import matched_onsets
from plugin_core.synthsphere.scene import Scene

Float = NDArray[np.float64]
WINDOW_S = 1024 / 44100
HOP_S = 0.01
# Distances past this count as this (a missed onset), seconds.
ERROR_CAP_S = 0.5
_PEAK_HALF_WIDTH = 3  # frames either side a peak must top
_MEAN_HALF_WIDTH = 10  # frames either side of the local mean
_THRESHOLD = 0.2  # rise above the local mean, as a share of the flux's 99th percentile
_COMPRESSION = 100.0


def onset_strength(signal: NDArray[np.floating], sample_rate: float) -> Float:
    """Spectral flux per 10 ms frame; frame ``k`` is centred at ``k·HOP_S`` seconds."""
    x = np.asarray(signal, dtype=np.float64)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    window = round(WINDOW_S * sample_rate)
    hop = round(HOP_S * sample_rate)
    _, _, spec = stft(
        x / peak if peak > 0 else x,
        nperseg=window,
        noverlap=window - hop,
        boundary="zeros",
        padded=True,
    )
    level = np.log1p(_COMPRESSION * np.abs(spec))
    previous = maximum_filter1d(level[:, :-1], size=3, axis=0)
    flux = np.maximum(level[:, 1:] - previous, 0.0).sum(axis=0)
    return np.concatenate([[0.0], flux])


def detect_onsets(signal: NDArray[np.floating], sample_rate: float) -> Float:
    """Onset times in seconds of a mono signal."""
    flux = onset_strength(signal, sample_rate)
    if not np.any(flux > 0):
        return np.zeros(0)
    local_max = maximum_filter1d(flux, size=2 * _PEAK_HALF_WIDTH + 1, mode="constant")
    local_mean = uniform_filter1d(flux, size=2 * _MEAN_HALF_WIDTH + 1, mode="nearest")
    threshold = local_mean + _THRESHOLD * np.percentile(flux, 99)
    picked = np.nonzero((flux == local_max) & (flux > threshold))[0]
    return picked * HOP_S


def ground_truth_onsets(scene: Scene) -> Float:
    """Sorted onset times of the scene's event-like objects (continuous classes left out)."""
    times = [
        t
        for obj in scene.objects
        if not PROFILES[obj.sound_class].continuous
        for t in obj.onsets
        if 0.0 <= t < scene.duration
    ]
    return np.sort(np.array(times, dtype=np.float64))


def onset_error_ms(truth: np.ndarray, detected: np.ndarray) -> float | None:
    """Mean distance (ms) from each true onset to the nearest detection, capped at 0.5 s.

    None when there is no true onset to align to.
    """
    if len(truth) == 0:
        return None
    if len(detected) == 0:
        return 1000.0 * ERROR_CAP_S
    distance = np.abs(np.asarray(truth)[:, None] - np.asarray(detected)[None, :]).min(axis=1)
    return float(1000.0 * np.mean(np.minimum(distance, ERROR_CAP_S)))


def onset_f1(truth: np.ndarray, detected: np.ndarray, tolerance_s: float = 0.05) -> float | None:
    """F1 of detections matched one-to-one to true onsets within ±``tolerance_s`` (earliest
    pairs first); None when there is no true onset."""
    if len(truth) == 0:
        return None
    hits = matched_onsets(truth, detected, tolerance_s)
    if hits == 0:
        return 0.0
    precision, recall = hits / len(detected), hits / len(truth)
    return 2 * precision * recall / (precision + recall)
