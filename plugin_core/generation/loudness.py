"""Loudness of FOA stems: ITU-R BS.1770 integrated loudness of W, and a true-peak ceiling.

W carries the whole field's pressure, so its loudness is the stem's loudness whatever the
direction of the sound. The true peak is read on all four channels at 4× oversampling (as
BS.1770 Annex 2 describes), because X, Y and Z can peak where W does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyloudnorm
from scipy import signal

DEFAULT_TARGET_LUFS = -23.0  # EBU R 128; a stem that sits under a mix rather than on top
DEFAULT_CEILING_DBTP = -1.0
MIN_SECONDS = 0.4  # one BS.1770 gating block
OVERSAMPLE = 4


@dataclass(frozen=True)
class LoudnessResult:
    """What :func:`normalise` measured and did, in LUFS, dB and dBTP."""

    measured_lufs: float  # -inf for silence
    gain_db: float
    output_lufs: float
    true_peak_dbtp: float  # of the output
    limited: bool  # the ceiling, not the target, set the gain

    def as_dict(self) -> dict[str, float | bool | None]:
        """JSON-safe numbers (None where a value is -inf: silence)."""
        return {
            k: (None if isinstance(v, float) and math.isinf(v) else v)
            for k, v in self.__dict__.items()
        }


def integrated_loudness(foa: np.ndarray, sample_rate: int) -> float:
    """BS.1770-4 integrated loudness of W (ACN 0) in LUFS; -inf when it is gated out."""
    if foa.shape[-1] < MIN_SECONDS * sample_rate:
        raise ValueError(f"loudness needs at least {MIN_SECONDS} s of audio")
    meter = pyloudnorm.Meter(sample_rate)
    return float(meter.integrated_loudness(np.asarray(foa[0], dtype=np.float64)))


def true_peak_dbtp(foa: np.ndarray) -> float:
    """The highest 4×-oversampled sample of any channel, in dB relative to full scale."""
    upsampled = signal.resample_poly(np.asarray(foa, dtype=np.float64), OVERSAMPLE, 1, axis=-1)
    top = float(np.max(np.abs(upsampled), initial=0.0))
    return 20 * math.log10(top) if top > 0 else -math.inf


def normalise(
    foa: np.ndarray,
    sample_rate: int,
    target_lufs: float | None = DEFAULT_TARGET_LUFS,
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP,
) -> tuple[np.ndarray, LoudnessResult]:
    """One gain for all four channels: W at ``target_lufs`` (None: the level as it is), unless
    that would push the true peak over ``ceiling_dbtp``, in which case the ceiling sets the
    gain (no limiter: the sound is never distorted). Silence is returned unchanged."""
    measured = integrated_loudness(foa, sample_rate)
    peak = true_peak_dbtp(foa)
    if math.isinf(measured) or math.isinf(peak):
        return foa.copy(), LoudnessResult(measured, 0.0, measured, peak, False)
    gain_db = 0.0 if target_lufs is None else target_lufs - measured
    limited = peak + gain_db > ceiling_dbtp
    if limited:
        gain_db = ceiling_dbtp - peak
    out = foa * 10 ** (gain_db / 20)
    return out, LoudnessResult(measured, gain_db, measured + gain_db, peak + gain_db, limited)
