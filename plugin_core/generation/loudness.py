"""Level of FOA stems: ITU-R BS.1770 loudness of W, peaks, and one gain per stem.

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
DEFAULT_PEAK_DBFS = -1.0
GATE_SECONDS = 0.4  # one BS.1770 gating block
GATE_STEP = 0.25  # blocks start every quarter block (75 % overlap)
MIN_SECONDS = GATE_SECONDS
ABSOLUTE_GATE_LUFS = -70.0
OVERSAMPLE = 4
_PEAK_CONTEXT = 64  # input samples kept between blocks for the oversampling filter


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


class StemMeter:
    """BS.1770 integrated loudness of W, true peak and sample peak of all four channels,
    measured over a whole stem fed block by block (the same numbers as measuring it whole).

    W is K-weighted with filter state carried across blocks; its energy is kept per 100 ms
    (a quarter of a gating block), so memory grows by one number per 100 ms of audio.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        meter = pyloudnorm.Meter(sample_rate)
        self._stages = [
            (stage.passband_gain, stage.b, stage.a, np.zeros(len(stage.a) - 1))
            for stage in meter._filters.values()  # the K-weighting pyloudnorm itself applies
        ]
        self._hop = round(sample_rate * GATE_SECONDS * GATE_STEP)
        self._energies: list[float] = []  # per finished 100 ms
        self._partial = 0.0  # energy of the unfinished 100 ms
        self._filled = 0  # its samples
        # the true peak of the last samples waits for the samples after them
        self._settled_peak = 0.0
        self._tail_peak = 0.0
        self._history = np.zeros((4, 0))  # samples before the unsettled ones
        self._pending = np.zeros((4, 0))  # the unsettled last samples
        self.samples = 0
        self.sample_peak = 0.0  # linear

    def add(self, foa: np.ndarray) -> None:
        """Measure the next samples of the stem, AmbiX [4, n]."""
        block = np.asarray(foa, dtype=np.float64)
        if block.shape[-1] == 0:
            return
        self.samples += block.shape[-1]
        self.sample_peak = max(self.sample_peak, float(np.max(np.abs(block))))
        joined = np.concatenate([self._history, self._pending, block], axis=-1)
        upsampled = np.abs(signal.resample_poly(joined, OVERSAMPLE, 1, axis=-1))
        settle_to = OVERSAMPLE * max(self._history.shape[-1], joined.shape[-1] - _PEAK_CONTEXT)
        settled = upsampled[:, OVERSAMPLE * self._history.shape[-1] : settle_to]
        self._settled_peak = max(self._settled_peak, float(np.max(settled, initial=0.0)))
        self._tail_peak = float(np.max(upsampled[:, settle_to:], initial=0.0))
        self._history = joined[:, -2 * _PEAK_CONTEXT : -_PEAK_CONTEXT]
        self._pending = joined[:, -_PEAK_CONTEXT:]
        w = block[0]
        for gain, b, a, state in self._stages:
            w, state[:] = signal.lfilter(b, a, w, zi=state)
            w = gain * w
        squares = w * w
        at = 0
        while at < len(squares):
            take = min(self._hop - self._filled, len(squares) - at)
            self._partial += float(np.sum(squares[at : at + take]))
            self._filled += take
            at += take
            if self._filled == self._hop:
                self._energies.append(self._partial)
                self._partial, self._filled = 0.0, 0

    @property
    def true_peak(self) -> float:
        """The highest 4×-oversampled sample of any channel so far (linear)."""
        return max(self._settled_peak, self._tail_peak)

    @property
    def integrated_lufs(self) -> float:
        """Gated loudness of W so far (-inf when gated out or shorter than one block)."""
        if self.samples < MIN_SECONDS * self.sample_rate:
            return -math.inf
        quarters = np.array([*self._energies, self._partial])
        count = int(np.round((self.samples / self.sample_rate - GATE_SECONDS) / 0.1)) + 1
        sums = np.array([quarters[j : j + 4].sum() for j in range(count)])
        z = sums / (GATE_SECONDS * self.sample_rate)
        with np.errstate(divide="ignore"):
            blocks = -0.691 + 10 * np.log10(z)
        gated = z[blocks >= ABSOLUTE_GATE_LUFS]
        if gated.size == 0:
            return -math.inf
        relative = -0.691 + 10 * math.log10(gated.mean()) - 10.0
        kept = z[(blocks > relative) & (blocks > ABSOLUTE_GATE_LUFS)]
        return -0.691 + 10 * math.log10(kept.mean()) if kept.size else -math.inf


@dataclass(frozen=True)
class StemLevel:
    """The one gain a whole stem gets, and why."""

    mode: str  # "loudness", "peak" or "off"
    gain_db: float
    measured_lufs: float  # of W before the gain; -inf for silence
    output_lufs: float
    true_peak_dbtp: float  # of the output, all four channels
    sample_peak_dbfs: float  # of the output
    limited: bool  # the ceiling, not the target, set the gain

    def as_dict(self) -> dict[str, float | str | bool | None]:
        """JSON-safe numbers (None where a value is -inf: silence)."""
        return {
            k: (None if isinstance(v, float) and math.isinf(v) else v)
            for k, v in self.__dict__.items()
        }


def _db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else -math.inf


def stem_level(
    meter: StemMeter,
    mode: str = "loudness",
    loudness_lufs: float = DEFAULT_TARGET_LUFS,
    peak_dbfs: float = DEFAULT_PEAK_DBFS,
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP,
) -> StemLevel:
    """The gain for all four channels of the measured stem: W to ``loudness_lufs``
    (``loudness``), the highest sample of any channel to ``peak_dbfs`` (``peak``, as the
    reference release normalises), or none (``off``). In ``loudness`` and ``off`` the true
    peak never crosses ``ceiling_dbtp``: the ceiling then sets the gain (no limiter, so the
    sound is never distorted). Silence keeps gain 0."""
    measured, peak, sample = meter.integrated_lufs, _db(meter.true_peak), _db(meter.sample_peak)
    if math.isinf(peak):
        return StemLevel(mode, 0.0, measured, measured, peak, sample, False)
    if mode == "peak":
        gain = peak_dbfs - sample
        limited = False
    else:
        gain = loudness_lufs - measured if mode == "loudness" and not math.isinf(measured) else 0.0
        limited = peak + gain > ceiling_dbtp
        if limited:
            gain = ceiling_dbtp - peak
    return StemLevel(mode, gain, measured, measured + gain, peak + gain, sample + gain, limited)
