"""What a listener hears in W: how tonal it is and whether its onsets follow the scene's.

- **Tonal share**: per STFT frame (2048-sample Hann windows, 512-sample hops), the share of
  the frame's energy in its strongest 2 % of bins, averaged over the frames within 40 dB of
  the loudest. A pure tone or a few partials read near 1; broadband noise reads near 0.04.
- **Onset-envelope correlation**: the spectral flux of each W (the onset detector's,
  :func:`plugin_core.evaluation.onsets.onset_strength`) smoothed over 200 ms, then Pearson's
  correlation of the two envelopes: events at the right times read high, noise with the
  right loudness but no events reads low.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import uniform_filter1d
from scipy.signal import stft

from plugin_core.evaluation.onsets import HOP_S, onset_strength

TOP_SHARE = 0.02
WINDOW = 2048
HOP = 512
ACTIVE_RANGE_DB = 40.0
ENVELOPE_SMOOTHING_S = 0.2


def tonal_share(signal: NDArray[np.floating]) -> float:
    """Mean share of each active frame's energy in its top 2 % of STFT bins."""
    x = np.asarray(signal, dtype=np.float64)
    _, _, spec = stft(x, nperseg=WINDOW, noverlap=WINDOW - HOP, boundary=None, padded=False)
    power = np.abs(spec) ** 2  # [bins, frames]
    energy = power.sum(axis=0)
    if not np.any(energy > 0):
        return 0.0
    active = energy >= energy.max() * 10 ** (-ACTIVE_RANGE_DB / 10)
    top = max(1, round(TOP_SHARE * power.shape[0]))
    strongest = np.sort(power[:, active], axis=0)[-top:].sum(axis=0)
    return float(np.mean(strongest / energy[active]))


def onset_envelope(signal: NDArray[np.floating], sample_rate: float) -> NDArray[np.float64]:
    """Spectral flux per 10 ms smoothed over 200 ms."""
    size = max(1, round(ENVELOPE_SMOOTHING_S / HOP_S))
    return uniform_filter1d(onset_strength(signal, sample_rate), size=size, mode="nearest")


def onset_envelope_correlation(
    generated: NDArray[np.floating], truth: NDArray[np.floating], sample_rate: float
) -> float:
    """Pearson correlation of the two signals' onset envelopes (0 when either is flat)."""
    a, b = onset_envelope(generated, sample_rate), onset_envelope(truth, sample_rate)
    n = min(a.size, b.size)
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    scale = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b) / scale) if scale > 0 else 0.0
