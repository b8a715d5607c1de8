"""The log-mel front end of the aisfx embedding net, computed in numpy.

aisfx was trained on Essentia spectrograms (FrameCutter → Hann → power spectrum → 96 HTK-mel
bands with unit-sum triangles in the mel domain → log10(1e4·x + 1), min-max scaled by the
paper's constants). This reproduces that chain sample for sample (checked against Essentia
2.1b6 to within 1e-5), without Essentia or librosa at run time. Frames are [time, mels].
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

Float = NDArray[np.float64]
SAMPLE_RATE = 44100
FRAME = 2048
HOP = 1024
MEL_BANDS = 96
# aisfx's "original" normalisation: the range of its training spectrograms.
SPEC_MAX = 9.457798957824707


def _hz_to_htk_mel(hz: Float) -> Float:
    return 1127.0 * np.log1p(hz / 700.0)


@cache
def mel_filterbank() -> Float:
    """Weights [bands, bins]: triangles evenly spaced in HTK mel from 0 Hz to Nyquist."""
    edges = np.linspace(0.0, _hz_to_htk_mel(np.float64(SAMPLE_RATE / 2)), MEL_BANDS + 2)
    bins = _hz_to_htk_mel(np.arange(FRAME // 2 + 1) * SAMPLE_RATE / FRAME)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (bins - low) / (centre - low)
    fall = (high - bins) / (high - centre)
    weights = np.maximum(0.0, np.minimum(rise, fall))
    return weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-30)


def _frames(signal: Float) -> Float:
    """Frames [count, FRAME] centred on 0, HOP, 2·HOP, … as Essentia's FrameCutter cuts them."""
    count = (signal.size - 1) // HOP + 2
    padded = np.concatenate([np.zeros(FRAME // 2), signal, np.zeros(FRAME)])
    starts = np.arange(count) * HOP
    return padded[starts[:, None] + np.arange(FRAME)[None, :]]


def log_mel(signal: NDArray[np.floating]) -> Float:
    """Normalised log-mel spectrogram [frames, 96] of a mono 44.1 kHz signal."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"log_mel needs a non-empty mono signal, got shape {x.shape}")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / (FRAME - 1))
    power = np.abs(np.fft.rfft(_frames(x) * window, axis=1)) ** 2
    return np.log10(1e4 * (power @ mel_filterbank().T) + 1.0) / SPEC_MAX
