"""Conform DSP: a mono or stereo stem encoded into AmbiX along a direction path.

The stem's sample ``i`` plays at video time ``start + i / rate``; the path (video seconds)
gives the source direction ``d`` at every sample, and ``t`` is the horizontal tangent that
points to the source's left (``t = (-sin az, cos az, 0)``).

- **Mono, width 0**: a plane wave from ``d`` (W = s, as
  :func:`plugin_core.spatial.foa.encode_mono`).
- **Mono, width w > 0**: the source is spread over an arc of ``w`` degrees along ``t``, with
  the energy an incoherent source spread uniformly over that arc has in each direction. An
  allpass pair turns ``s`` into ``p`` and ``q``, 90° apart at every frequency from 30 Hz to
  21 kHz (both with ``s``'s magnitude spectrum). W = ``p``; along ``d`` goes ``p`` at the
  arc's mean cosine ``a = sin(w/2)/(w/2)`` plus a decorrelated ``p`` (random-phase FIR) for
  the rest of the arc's energy along ``d``; along ``t`` goes ``q``, which carries no active
  intensity because it is in quadrature with W. So the intensity vector keeps pointing at
  ``d`` for tones and noise alike, its diffuseness rises as ``1 - a`` (0.05 at 60°, 0.36 at
  180°), and the directional energy stays that of a plane wave.
- **Stereo**: L from ``d`` turned by ``w/2`` toward ``t`` (to the left), R by ``w/2`` away.
  Each channel enters at half level (W = (L + R) / 2 at every width), so width 0 is exactly
  the mono point source of (L + R) / 2 and changing the width never changes W.
- **Distance** (optional, from a tracker's apparent angular size): the size curve is
  smoothed (median, then Gaussian, in log size), the distance relative to a reference size
  is ``r = size_ref / size``, the level follows ``-20·log10(r)`` dB clamped to [-24, +12] dB
  and air absorption is a second-order low-pass whose cutoff falls log-linearly from 20 kHz
  at r <= 1 to 4 kHz at r >= 8. The gain moves per sample; the cutoff moves every 64
  samples in steps of 1/192 octave, the filter continuing from its last inputs and outputs
  (direct form I), so a change of distance never clicks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d, median_filter
from scipy.signal import butter, fftconvolve, lfilter, sosfilt

from plugin_core.errors import InputError
from plugin_core.spatial.direction_path import DirectionPath
from plugin_core.spatial.directions import az_el_to_vector
from plugin_core.spatial.foa import gains_from_vectors

Float = NDArray[np.float64]
DEFAULT_STEREO_WIDTH = 60.0
MAX_WIDTH = 180.0
GAIN_RANGE_DB = (-24.0, 12.0)
NEAR_CUTOFF_HZ, FAR_CUTOFF_HZ, FAR_DISTANCE = 20000.0, 4000.0, 8.0
CONTROL_RATE = 100.0  # grid of the smoothed size curve, points per second
SIZE_MEDIAN_S, SIZE_SIGMA_S = 0.5, 0.15  # median window and Gaussian sigma on log size
FILTER_BLOCK = 64  # samples per cutoff update
CUTOFF_STEPS_PER_OCTAVE = 192
DECORRELATOR_S = 0.02
DECORRELATOR_SEED = 1
# Allpass pair whose outputs stay 90° (±0.7°) apart from 30 Hz to 21 kHz at 48 kHz: four
# sections in z^-2 per chain, the first chain one sample late (O. Niemitalo's IIR Hilbert pair).
_QUADRATURE_CHAINS = (
    (0.6923878, 0.9360654322959, 0.9882295226860, 0.9987488452737),
    (0.4021921162426, 0.8561710882420, 0.9722909545651, 0.9952884791278),
)
DISTANCE_MODEL = {
    "distance": "r = reference size / apparent size (median then Gaussian smoothed, log size)",
    "level_db": f"-20*log10(r), clamped to [{GAIN_RANGE_DB[0]:g}, {GAIN_RANGE_DB[1]:+g}]",
    "air_lowpass": f"2nd-order Butterworth, {NEAR_CUTOFF_HZ:g} Hz at r <= 1 falling "
    f"log-linearly to {FAR_CUTOFF_HZ:g} Hz at r >= {FAR_DISTANCE:g}",
}


def resolve_width(channels: int, width: float | None) -> float:
    """The arc or pair width in degrees: ``width``, or 60° for stereo and 0° for mono."""
    if width is None:
        return DEFAULT_STEREO_WIDTH if channels == 2 else 0.0
    if not (math.isfinite(width) and 0.0 <= width <= MAX_WIDTH):
        raise InputError(f"The width must be between 0 and {MAX_WIDTH:g} degrees, not {width}.")
    return float(width)


@dataclass(frozen=True)
class DistanceCue:
    """Apparent angular size (degrees, bigger = closer) of the source at video ``times``.

    ``reference`` is the size heard at the stem's own level (r = 1); None takes the median of
    the smoothed size curve.
    """

    times: tuple[float, ...]
    sizes: tuple[float, ...]
    reference: float | None = None

    def __post_init__(self) -> None:
        if not self.times or len(self.times) != len(self.sizes):
            raise InputError("A distance cue needs one apparent size per time, at least one.")
        values = [
            *self.times,
            *self.sizes,
            *([self.reference] if self.reference is not None else []),
        ]
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise InputError("A distance cue holds a value that is not a finite number.")
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise InputError("The times of a distance cue must be strictly rising.")
        if min(self.sizes) <= 0 or (self.reference is not None and self.reference <= 0):
            raise InputError("Apparent sizes of a distance cue must be above 0 degrees.")

    def to_json(self) -> dict[str, Any]:
        """The cue as plain JSON data (for the sidecar)."""
        return {"times": list(self.times), "sizes": list(self.sizes), "reference": self.reference}


def distance_curve(cue: DistanceCue) -> tuple[Float, Float, float]:
    """Smoothed relative distance: grid times (video s), r per grid point, reference size."""
    times = np.asarray(cue.times, dtype=np.float64)
    if len(times) == 1:
        grid = times
        log_size = np.log(np.asarray(cue.sizes, dtype=np.float64))
    else:
        count = int((times[-1] - times[0]) * CONTROL_RATE) + 1
        grid = times[0] + np.arange(count) / CONTROL_RATE
        log_size = np.interp(grid, times, np.log(cue.sizes))
        median = 2 * round(SIZE_MEDIAN_S * CONTROL_RATE / 2) + 1
        log_size = median_filter(log_size, size=median, mode="nearest")
        log_size = gaussian_filter1d(log_size, SIZE_SIGMA_S * CONTROL_RATE, mode="nearest")
    reference = cue.reference if cue.reference is not None else float(np.exp(np.median(log_size)))
    return grid, reference / np.exp(log_size), reference


def distance_gain_db(r: Float) -> Float:
    """Level change in dB at relative distance ``r``: -20·log10(r), clamped."""
    return np.clip(-20.0 * np.log10(r), *GAIN_RANGE_DB)


def air_cutoff_hz(r: Float) -> Float:
    """Air-absorption low-pass cutoff at relative distance ``r`` (20 kHz near, 4 kHz far)."""
    frac = np.clip(np.log2(np.maximum(r, 1e-12)) / np.log2(FAR_DISTANCE), 0.0, 1.0)
    return NEAR_CUTOFF_HZ * (FAR_CUTOFF_HZ / NEAR_CUTOFF_HZ) ** frac


@lru_cache(maxsize=1024)
def _lowpass(step: int, rate: int) -> tuple[Float, Float]:
    """(b, a) of the second-order Butterworth low-pass ``step`` steps below 20 kHz."""
    cutoff = min(NEAR_CUTOFF_HZ * 2.0 ** (-step / CUTOFF_STEPS_PER_OCTAVE), 0.45 * rate)
    b, a = butter(2, cutoff, fs=rate)
    return b, a


class _AirLowpass:
    """A second-order low-pass whose cutoff may change between runs of samples.

    Its state is the last two inputs and outputs (direct form I), so a new cutoff continues
    from real signal values and a small cutoff step leaves no audible transient.
    """

    def __init__(self, channels: int, rate: int) -> None:
        self._rate = rate
        self._x = np.zeros((channels, 2))  # x[n-1], x[n-2] per channel
        self._y = np.zeros((channels, 2))

    def process(self, x: Float, step: int) -> Float:
        """Filter [channels, n] at the cutoff ``step`` steps below 20 kHz."""
        b, a = _lowpass(step, self._rate)
        px, py = self._x, self._y
        zi = np.stack(
            [
                b[1] * px[:, 0] + b[2] * px[:, 1] - a[1] * py[:, 0] - a[2] * py[:, 1],
                b[2] * px[:, 0] - a[2] * py[:, 0],
            ],
            axis=-1,
        )
        y, _ = lfilter(b, a, x, axis=-1, zi=zi)
        self._x = np.concatenate([x[:, -2:][:, ::-1], px], axis=1)[:, :2]
        self._y = np.concatenate([y[:, -2:][:, ::-1], py], axis=1)[:, :2]
        return y


class _Decorrelator:
    """Flat-magnitude random-phase FIR, applied block by block (its tail carried over)."""

    def __init__(self, length: int, seed: int) -> None:
        phase = np.random.default_rng(seed).uniform(-np.pi, np.pi, length // 2 + 1)
        phase[0] = phase[-1] = 0.0
        self._fir = np.fft.irfft(np.exp(1j * phase), length)
        self._tail = np.zeros(length - 1)

    def process(self, x: Float) -> Float:
        """The next ``len(x)`` decorrelated samples."""
        full = np.zeros(len(x) + len(self._tail))
        full[: len(self._tail)] = self._tail
        if len(x):
            full += fftconvolve(x, self._fir)
        self._tail = full[len(x) :]
        return full[: len(x)]


class _Quadrature:
    """Two flat-magnitude allpass chains whose outputs stay 90° apart, block by block."""

    def __init__(self) -> None:
        self._sos = [
            np.array([[c * c, 0, -1, 1, 0, -c * c] for c in k]) for k in _QUADRATURE_CHAINS
        ]
        self._zi = [np.zeros((len(sos), 2)) for sos in self._sos]
        self._held = np.zeros(1)  # the first chain's one-sample delay

    def process(self, x: Float) -> tuple[Float, Float]:
        """(p, q) of the next ``len(x)`` samples, q a quarter period from p."""
        p, self._zi[0] = sosfilt(self._sos[0], x, zi=self._zi[0])
        q, self._zi[1] = sosfilt(self._sos[1], x, zi=self._zi[1])
        delayed = np.concatenate([self._held, p])
        self._held = delayed[-1:]
        return delayed[: len(x)], q


class Conformer:
    """Encodes consecutive blocks of a mono [1, n] or stereo [2, n] stem into AmbiX [4, n]."""

    def __init__(
        self,
        channels: int,
        rate: int,
        path: DirectionPath,
        start: float = 0.0,
        width: float | None = None,
        distance: DistanceCue | None = None,
    ) -> None:
        if channels not in (1, 2):
            raise InputError(f"Conform takes mono or stereo audio, not {channels} channels.")
        self.channels, self.rate, self.path, self.start = channels, rate, path, start
        self.width = resolve_width(channels, width)
        self._offset = 0
        self._distance = None if distance is None else distance_curve(distance)[:2]
        self._air_filter = _AirLowpass(channels, rate)
        half = math.radians(self.width) / 2.0
        self._arc_mean = float(np.sinc(half / math.pi))  # mean cosine over the arc
        mean_cos2 = 0.5 + 0.5 * float(np.sinc(2 * half / math.pi))
        self._extra_along = math.sqrt(max(mean_cos2 - self._arc_mean**2, 0.0))
        self._extra_across = math.sqrt(max(1.0 - mean_cos2, 0.0))
        self._quadrature = _Quadrature()
        self._decorrelator = _Decorrelator(round(DECORRELATOR_S * rate), DECORRELATOR_SEED)

    def process(self, block: np.ndarray) -> Float:
        """AmbiX [4, n] of the next ``n`` samples of the stem (float [channels, n])."""
        x = np.asarray(block, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise ValueError(f"expected [{self.channels}, n] samples, got {x.shape}")
        n = x.shape[1]
        t = self.start + (self._offset + np.arange(n)) / self.rate
        if self._distance is not None:
            x = self._air(x) * 10.0 ** (distance_gain_db(np.interp(t, *self._distance)) / 20.0)
        self._offset += n
        yaw, pitch = self.path.at(t)
        d = az_el_to_vector(yaw, pitch)
        left = np.stack([-np.sin(np.radians(yaw)), np.cos(np.radians(yaw)), np.zeros(n)], -1)
        if self.channels == 2:
            half = math.radians(self.width) / 2.0
            v_left = math.cos(half) * d + math.sin(half) * left
            v_right = math.cos(half) * d - math.sin(half) * left
            directional = v_left * x[0, :, None] + v_right * x[1, :, None]
            return _ambix(0.5 * (x[0] + x[1]), 0.5 * directional)
        s = x[0]
        if self.width == 0.0:
            return _ambix(s, d * s[:, None])
        p, q = self._quadrature.process(s)
        along = self._arc_mean * p + self._extra_along * self._decorrelator.process(p)
        return _ambix(p, d * along[:, None] + left * (self._extra_across * q)[:, None])

    def _air(self, x: Float) -> Float:
        """The air-absorption low-pass, its cutoff following the distance curve."""
        n = x.shape[1]
        if n == 0:
            return x.copy()
        blocks = (self._offset + np.arange(n)) // FILTER_BLOCK
        centres = (
            self.start + (np.arange(blocks[0], blocks[-1] + 1) + 0.5) * FILTER_BLOCK / self.rate
        )
        cutoff = air_cutoff_hz(np.interp(centres, *self._distance))
        steps = np.round(CUTOFF_STEPS_PER_OCTAVE * np.log2(NEAR_CUTOFF_HZ / cutoff)).astype(int)
        per_sample = steps[blocks - blocks[0]]
        bounds = [0, *(np.flatnonzero(np.diff(per_sample)) + 1), n]
        out = np.empty_like(x)
        for a, b in pairwise(bounds):
            out[:, a:b] = self._air_filter.process(x[:, a:b], int(per_sample[a]))
        return out


def _ambix(w: Float, directional: Float) -> Float:
    """AmbiX [4, n] from the W signal [n] and the directional signal vectors [n, 3]."""
    out = gains_from_vectors(directional).T.copy()
    out[0] = w
    return out


def conform_audio(
    audio: np.ndarray,
    rate: int,
    path: DirectionPath,
    start: float = 0.0,
    width: float | None = None,
    distance: DistanceCue | None = None,
) -> Float:
    """Encode a whole mono [N] / [1, N] or stereo [2, N] stem into AmbiX [4, N]."""
    x = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    return Conformer(x.shape[0], rate, path, start, width, distance).process(x)
