"""Procedural mono sounds, one synthesiser per sound class.

Each synthesiser draws everything from its own generator, so a class, a seed and the onset
times give the same samples every time. Output is normalised to an active RMS of -20 dBFS
(RMS over the 50 ms frames within 30 dB of the loudest), lowered where needed to keep the
peak at or below -1 dBFS.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import butter, sosfilt

from plugin_core.synthsphere.catalogue import SOUND_CLASSES

Float = NDArray[np.float64]
REFERENCE_RMS = 0.1  # active RMS of an object at 0 dB
PEAK_LIMIT = 10 ** (-1 / 20)
_ACTIVE_RANGE_DB = 30.0


def synthesize(
    sound_class: str, onsets: ArrayLike, num_samples: int, sample_rate: int, seed: int
) -> Float:
    """The mono sound [num_samples] of one object, normalised to the reference level."""
    if sound_class not in _SYNTHS:
        raise ValueError(f"unknown sound class {sound_class!r}; use one of {SOUND_CLASSES}")
    rng = np.random.default_rng(seed)
    starts = np.round(np.asarray(onsets, dtype=np.float64) * sample_rate).astype(np.int64)
    raw = _SYNTHS[sound_class](num_samples, sample_rate, starts, rng)
    return _normalise(raw, sample_rate)


def _normalise(x: Float, sample_rate: int) -> Float:
    frame = max(1, int(0.05 * sample_rate))
    usable = x[: x.size // frame * frame].reshape(-1, frame) if x.size >= frame else x[None, :]
    power = np.mean(usable**2, axis=1)
    if not np.any(power > 0):
        return x
    active = power >= power.max() * 10 ** (-_ACTIVE_RANGE_DB / 10)
    gain = REFERENCE_RMS / np.sqrt(np.mean(power[active]))
    return x * min(gain, PEAK_LIMIT / np.max(np.abs(x)))


# --------------------------------------------------------------------------- building blocks


def _bandpass(x: Float, low: float, high: float, sample_rate: int, order: int = 2) -> Float:
    sos = butter(order, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    return sosfilt(sos, x)


def _lowpass(x: Float, cutoff: float, sample_rate: int, order: int = 2) -> Float:
    return sosfilt(butter(order, cutoff, fs=sample_rate, output="sos"), x)


def _wander(n: int, sample_rate: int, rate_hz: float, rng: np.random.Generator) -> Float:
    """A slow random curve in [-1, 1], changing direction about ``rate_hz`` times a second."""
    keys = max(2, int(n / sample_rate * rate_hz) + 2)
    values = rng.uniform(-1.0, 1.0, keys)
    return np.interp(np.linspace(0.0, keys - 1, n), np.arange(keys), values)


def _phase(freq: Float, sample_rate: int) -> Float:
    """Running phase (radians) of a tone whose frequency follows ``freq`` per sample."""
    return 2 * np.pi * np.cumsum(freq) / sample_rate


def _add(out: Float, start: int, grain: Float) -> None:
    """Mix ``grain`` into ``out`` at ``start``, cutting whatever falls off the end."""
    if start >= out.size:
        return
    stop = min(out.size, start + grain.size)
    out[start:stop] += grain[: stop - start]


def _poisson_times(n: int, sample_rate: int, rate_hz: float, rng: np.random.Generator) -> Float:
    """Sample indices of random events at ``rate_hz`` on average."""
    count = rng.poisson(rate_hz * n / sample_rate)
    return np.sort(rng.integers(0, max(n, 1), count))


# --------------------------------------------------------------------------- classes


def _engine(n: int, sr: int, starts: NDArray[np.int64], rng: np.random.Generator) -> Float:
    """Low harmonic hum whose pitch wanders, pulsing at the firing rate, plus rumble."""
    f0 = rng.uniform(35.0, 70.0) * (1.0 + 0.08 * _wander(n, sr, 0.3, rng))
    phase = _phase(f0, sr)
    tone = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k**0.7 for k in range(1, 11))
    firing = 0.55 + 0.45 * (0.5 + 0.5 * np.sin(phase / 2.0)) ** 2
    rumble = _lowpass(rng.standard_normal(n), 400.0, sr)
    return firing * (tone + 1.5 * rumble)


def _bird(n: int, sr: int, starts: NDArray[np.int64], rng: np.random.Generator) -> Float:
    """Calls of 2–5 fast frequency-modulated chirps between 2.5 and 7 kHz."""
    out = np.zeros(n)
    base = rng.uniform(2500.0, 4500.0)
    for start in starts:
        at = int(start)
        for _ in range(rng.integers(2, 6)):
            length = int(rng.uniform(0.04, 0.12) * sr)
            t = np.arange(length) / sr
            sweep = base * rng.uniform(0.9, 1.1) * (1 + rng.uniform(-0.3, 0.6) * t / t[-1])
            vibrato = rng.uniform(150.0, 400.0) * np.sin(2 * np.pi * rng.uniform(25, 50) * t)
            _add(out, at, np.sin(_phase(sweep + vibrato, sr)) * np.hanning(length))
            at += length + int(rng.uniform(0.02, 0.08) * sr)
    return out


# Partials of a church bell relative to its strike note (hum, prime, tierce, quint, nominal…).
_BELL_RATIOS = np.array([0.5, 1.0, 1.19, 1.5, 2.0, 2.74, 3.76, 5.4])


def _bell(n: int, sr: int, starts: NDArray[np.int64], rng: np.random.Generator) -> Float:
    """Inharmonic partials that ring out, the higher ones dying faster."""
    out = np.zeros(n)
    strike = rng.uniform(280.0, 800.0)
    amps = rng.uniform(0.4, 1.0, _BELL_RATIOS.size)
    t = np.arange(int(3.0 * sr)) / sr
    ring = sum(
        a * np.sin(2 * np.pi * strike * r * t) * np.exp(-t * r**0.8 / 1.2)
        for a, r in zip(amps, _BELL_RATIOS, strict=True)
    )
    click = np.zeros_like(t)
    click[: int(0.003 * sr)] = rng.standard_normal(int(0.003 * sr)) * 0.5
    for start in starts:
        _add(out, int(start), ring + click)
    return out


def _drum(n: int, sr: int, starts: NDArray[np.int64], rng: np.random.Generator) -> Float:
    """A sine whose pitch drops fast after each hit, plus a short bright noise burst."""
    out = np.zeros(n)
    high, low = rng.uniform(120.0, 180.0), rng.uniform(45.0, 65.0)
    decay = rng.uniform(0.15, 0.35)
    t = np.arange(int(0.8 * sr)) / sr
    body = np.sin(_phase(low + (high - low) * np.exp(-t / 0.04), sr)) * np.exp(-t / decay)
    for start in starts:
        burst = _bandpass(rng.standard_normal(t.size), 1000.0, 5000.0, sr) * np.exp(-t / 0.01)
        _add(out, int(start), body + 0.6 * burst)
    return out


def _water(n: int, sr: int, starts: NDArray[np.int64], rng: np.random.Generator) -> Float:
    """Band-passed rushing noise with many small rising bubble chirps."""
    flow = _bandpass(rng.standard_normal(n), 300.0, 2500.0, sr)
    flow *= 0.7 + 0.3 * _wander(n, sr, 2.0, rng)
    bubbles = np.zeros(n)
    for at in _poisson_times(n, sr, rng.uniform(8.0, 20.0), rng):
        length = int(rng.uniform(0.02, 0.05) * sr)
        t = np.arange(length) / sr
        freq = rng.uniform(500.0, 1500.0) * (1.0 + 8.0 * t)
        grain = np.sin(_phase(freq, sr)) * np.exp(-t / rng.uniform(0.006, 0.02))
        _add(bubbles, int(at), grain * rng.uniform(0.5, 1.5))
    return 0.5 * flow + bubbles


def _footsteps(n: int, sr: int, starts: NDArray[np.int64], rng: np.random.Generator) -> Float:
    """Each step a heel and a toe scuff (short filtered noise bursts) over a soft thump."""
    scuff = np.zeros(n)
    thump = np.zeros(n)
    t = np.arange(int(0.15 * sr)) / sr
    knock = np.sin(2 * np.pi * rng.uniform(60.0, 90.0) * t) * np.exp(-t / 0.03)
    for start in starts:
        _add(scuff, int(start), rng.standard_normal(t.size) * np.exp(-t / 0.02))
        toe = int(start) + int(rng.uniform(0.05, 0.08) * sr)
        _add(scuff, toe, 0.5 * rng.standard_normal(t.size) * np.exp(-t / 0.012))
        _add(thump, int(start), knock)
    return _bandpass(scuff, 200.0, 1500.0, sr) + 0.8 * thump


def _siren(n: int, sr: int, starts: NDArray[np.int64], rng: np.random.Generator) -> Float:
    """A tone with a few odd harmonics, its pitch swept slowly up and down (a wail)."""
    t = np.arange(n) / sr
    centre, depth = rng.uniform(700.0, 1000.0), rng.uniform(250.0, 450.0)
    freq = centre + depth * np.sin(2 * np.pi * rng.uniform(0.15, 0.4) * t + rng.uniform(0, 6.3))
    phase = _phase(freq, sr)
    return np.sin(phase) + 0.3 * np.sin(3 * phase) + 0.15 * np.sin(5 * phase)


def _applause(n: int, sr: int, starts: NDArray[np.int64], rng: np.random.Generator) -> Float:
    """Dense random claps, each a few-millisecond noise burst in one of four bands."""
    bands = [(800.0, 1600.0), (1200.0, 2400.0), (1800.0, 3600.0), (2500.0, 5000.0)]
    excitation = np.zeros((len(bands), n))
    t = np.arange(int(0.015 * sr)) / sr
    for at in _poisson_times(n, sr, rng.uniform(25.0, 60.0), rng):
        clap = rng.standard_normal(t.size) * np.exp(-t / rng.uniform(0.002, 0.006))
        _add(excitation[rng.integers(len(bands))], int(at), clap * rng.uniform(0.3, 1.0))
    return sum(
        _bandpass(e, low, high, sr) for e, (low, high) in zip(excitation, bands, strict=True)
    )


_SYNTHS: dict[str, Callable[[int, int, NDArray[np.int64], np.random.Generator], Float]] = {
    "engine": _engine,
    "bird": _bird,
    "bell": _bell,
    "drum": _drum,
    "water": _water,
    "footsteps": _footsteps,
    "siren": _siren,
    "applause": _applause,
}
