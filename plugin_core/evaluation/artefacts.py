"""What a codec does to a sound: frame-rate buzz (autocorrelation and spectral comb at the
codec's hop) and reconstruction quality (multi-resolution STFT distance, SI-SDR)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

# The bundled codec's hop (43.1 Hz at 44.1 kHz; a test holds it to the preset); OmniAudio's is
# twice it, so the lags measured (one and two hops) cover both codecs' frame periods.
CODEC_HOP = 1024
ARTEFACT_METRICS = ("autocorr_hop", "autocorr_2hop", "comb_db")
COMB_HARMONICS = 60  # multiples of the frame rate inspected (up to about 2.6 kHz)
_LINE_BINS = 2  # a line's cells on each side of its bin (10 s: 0.1 Hz per bin)
_NEIGHBOUR_BINS = (8, 60)  # the neighbouring cells' distance from the line, in bins
STFT_RESOLUTIONS = (512, 1024, 2048)
_LOG_FLOOR = 1e-5


def autocorrelation(signal: NDArray[np.floating], lag: int) -> float:
    """Normalised autocorrelation of the mean-removed ``signal`` at ``lag`` samples (0 when
    silent)."""
    x = np.asarray(signal, dtype=np.float64)
    x = x - x.mean()
    energy = float(np.dot(x, x))
    if energy <= 0.0 or lag >= x.size:
        return 0.0
    return float(np.dot(x[:-lag], x[lag:]) / energy)


def comb_excess_db(signal: NDArray[np.floating], period: int) -> float:
    """How far the power at multiples of sample_rate/``period`` stands above the bins around
    them, in dB: 0 for noise, tens of dB for a signal that repeats every ``period`` samples."""
    x = np.asarray(signal, dtype=np.float64)
    power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    bins_per_line = x.size / period
    lines, around = 0.0, 0.0
    near, far = _NEIGHBOUR_BINS
    for k in range(1, COMB_HARMONICS + 1):
        centre = round(k * bins_per_line)
        if centre + far >= power.size:
            break
        lines += power[centre - _LINE_BINS : centre + _LINE_BINS + 1].mean()
        around += np.r_[
            power[centre - far : centre - near], power[centre + near + 1 : centre + far + 1]
        ].mean()
    if lines <= 0.0 or around <= 0.0:
        return 0.0
    return float(10.0 * np.log10(lines / around))


def frame_rate_artefacts(w: NDArray[np.floating], hop: int = CODEC_HOP) -> dict[str, float]:
    """The buzz measures of one W channel: autocorrelation at one and two hops, comb excess."""
    return {
        "autocorr_hop": autocorrelation(w, hop),
        "autocorr_2hop": autocorrelation(w, 2 * hop),
        "comb_db": comb_excess_db(w, hop),
    }


def _magnitudes(signal: NDArray[np.floating], n_fft: int) -> NDArray[np.float64]:
    x = np.asarray(signal, dtype=np.float64)
    hop = n_fft // 4
    count = 1 + max(0, x.size - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][:count]
    return np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1))


def multi_resolution_stft_distance(
    estimate: NDArray[np.floating], reference: NDArray[np.floating]
) -> float:
    """Mean over three STFT sizes of spectral convergence plus mean |log-magnitude difference|
    (0 for identical sounds; phase is ignored). Signals [N] or [C, N] of equal shape."""
    est, ref = np.atleast_2d(estimate), np.atleast_2d(reference)
    if est.shape != ref.shape:
        raise ValueError(f"shapes differ: {est.shape} and {ref.shape}")
    total = 0.0
    for n_fft in STFT_RESOLUTIONS:
        for a, b in zip(est, ref, strict=True):
            ma, mb = _magnitudes(a, n_fft), _magnitudes(b, n_fft)
            convergence = np.linalg.norm(ma - mb) / max(np.linalg.norm(mb), 1e-12)
            log_distance = np.abs(np.log(ma + _LOG_FLOOR) - np.log(mb + _LOG_FLOOR)).mean()
            total += convergence + log_distance
    return float(total / (len(STFT_RESOLUTIONS) * len(est)))


def si_sdr_db(estimate: NDArray[np.floating], reference: NDArray[np.floating]) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (waveform fidelity, phase included)."""
    est = np.asarray(estimate, dtype=np.float64).ravel()
    ref = np.asarray(reference, dtype=np.float64).ravel()
    scale = np.dot(est, ref) / max(np.dot(ref, ref), 1e-20)
    target = scale * ref
    noise = est - target
    return float(
        10.0 * np.log10(max(np.dot(target, target), 1e-20) / max(np.dot(noise, noise), 1e-20))
    )


def mu_law_round_trip(signal: NDArray[np.floating], bits: int = 8) -> NDArray[np.float64]:
    """``signal`` (full scale ±1) through a ``bits``-bit mu-law quantiser and back: the simple
    reference a codec's numbers are read against."""
    mu = 2**bits - 1
    x = np.clip(np.asarray(signal, dtype=np.float64), -1.0, 1.0)
    compressed = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    quantised = np.round((compressed + 1.0) / 2.0 * mu) / mu * 2.0 - 1.0
    return np.sign(quantised) * ((1.0 + mu) ** np.abs(quantised) - 1.0) / mu
