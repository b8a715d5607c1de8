"""Spatial-audio metrics of the papers: OmniAudio's direction errors, ViSAGe's energy maps.

Directions come from ``plugin_core.spatial.foa`` (the only place the FOA conventions live).
Energy maps use a first-order cardioid beam (no rear lobe, so a map never shows a ghost
behind a source) steered at every point of an equal-area (Fibonacci) grid on the sphere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

from plugin_core.spatial.directions import az_el_to_vector, great_circle_deg, wrap_az
from plugin_core.spatial.foa import check_foa, gains_from_vectors

Float = NDArray[np.float64]
# Cardioid: 0.5 + 0.5·cos(angle) between the beam and the arrival direction.
_BEAM_OMNI, _BEAM_DIPOLE = 0.5, 0.5
# Windows ViSAGe evaluates at: the whole clip, 1 s and 200 ms.
VISAGE_WINDOWS: tuple[float | None, ...] = (None, 1.0, 0.2)
# A window quieter than this (dB below the loudest window) is skipped.
SILENCE_DB = -60.0


@dataclass(frozen=True)
class AngularErrors:
    """OmniAudio's direction errors in radians: |Δθ| (circular), |Δφ| and great-circle angle."""

    delta_azimuth: Float
    delta_elevation: Float
    angular: Float


def angular_errors(
    az_est: ArrayLike, el_est: ArrayLike, az_ref: ArrayLike, el_ref: ArrayLike
) -> AngularErrors:
    """Direction errors between estimated and reference directions given in degrees."""
    d_az = np.abs(wrap_az(np.asarray(az_est, dtype=np.float64) - np.asarray(az_ref)))
    d_el = np.abs(np.asarray(el_est, dtype=np.float64) - np.asarray(el_ref))
    angle = great_circle_deg(az_est, el_est, az_ref, el_ref)
    return AngularErrors(np.radians(d_az), np.radians(d_el), np.radians(angle))


def fibonacci_grid(count: int = 1024) -> tuple[Float, Float]:
    """Azimuth and elevation (degrees) of ``count`` points spread with equal area per point."""
    i = np.arange(count) + 0.5
    z = 1.0 - 2.0 * i / count
    az = wrap_az(np.degrees(i * np.pi * (3.0 - np.sqrt(5.0))))
    return az, np.degrees(np.arcsin(z))


def beam_weights(az: ArrayLike, el: ArrayLike) -> Float:
    """AmbiX weights [..., 4] of cardioid beams steered at (az, el) degrees."""
    g = gains_from_vectors(az_el_to_vector(az, el))
    return g * np.array([_BEAM_OMNI, _BEAM_DIPOLE, _BEAM_DIPOLE, _BEAM_DIPOLE])


def windowed_covariance(foa: np.ndarray, sample_rate: float, window_s: float | None) -> Float:
    """Covariance matrices [windows, 4, 4] of consecutive windows (``None``: whole clip)."""
    check_foa(foa)
    x = np.asarray(foa, dtype=np.float64)
    n = x.shape[1]
    window = n if window_s is None else max(1, round(window_s * sample_rate))
    count = max(1, n // window)
    frames = x[:, : count * window].reshape(4, count, window).transpose(1, 0, 2)
    return np.einsum("wcn,wdn->wcd", frames, frames) / window


def energy_maps(
    foa: np.ndarray,
    sample_rate: float,
    window_s: float | None = None,
    az: ArrayLike | None = None,
    el: ArrayLike | None = None,
) -> Float:
    """Beam energy [windows, points] on a direction grid (default: 1024-point Fibonacci)."""
    if az is None or el is None:
        az, el = fibonacci_grid()
    weights = beam_weights(az, el).reshape(-1, 4)
    cov = windowed_covariance(foa, sample_rate, window_s)
    energy = np.einsum("pc,wcd,pd->wp", weights, cov, weights)
    return np.maximum(energy, 0.0).reshape((cov.shape[0], *np.shape(az)))


def map_cc(generated: ArrayLike, reference: ArrayLike) -> float:
    """Pearson correlation between two energy maps on the same equal-area grid."""
    a = np.ravel(generated) - np.mean(generated)
    b = np.ravel(reference) - np.mean(reference)
    denom = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / denom) if denom > 0 else 0.0


def map_auc(generated: ArrayLike, reference: ArrayLike, top_fraction: float = 0.1) -> float:
    """ROC AUC of the generated map at finding the reference map's top ``top_fraction`` points.

    Positives are the grid points holding the reference's highest energies; the generated
    map is the score. 1 = perfect ranking, 0.5 = chance.
    """
    ref = np.ravel(reference)
    gen = np.ravel(generated)
    k = max(1, round(top_fraction * ref.size))
    positive = np.zeros(ref.size, dtype=bool)
    positive[np.argsort(ref)[-k:]] = True
    ranks = rankdata(gen)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class EnergyMapScore:
    """Mean CC and AUC over the non-silent windows of one window length."""

    window_s: float | None
    cc: float
    auc: float
    windows: int


def energy_map_score(
    generated: np.ndarray, reference: np.ndarray, sample_rate: float, window_s: float | None
) -> EnergyMapScore:
    """ViSAGe-style CC and AUC between two FOA signals at one window length."""
    n = min(generated.shape[1], reference.shape[1])
    gen = energy_maps(generated[:, :n], sample_rate, window_s)
    ref = energy_maps(reference[:, :n], sample_rate, window_s)
    level = 10 * np.log10(np.maximum(ref.mean(axis=1), 1e-30))
    active = np.nonzero(level > level.max() + SILENCE_DB)[0]
    ccs = [map_cc(gen[i], ref[i]) for i in active]
    aucs = [map_auc(gen[i], ref[i]) for i in active]
    return EnergyMapScore(window_s, float(np.mean(ccs)), float(np.mean(aucs)), len(active))


def visage_scores(
    generated: np.ndarray, reference: np.ndarray, sample_rate: float
) -> list[EnergyMapScore]:
    """Energy-map CC and AUC at the whole clip, 1 s and 200 ms windows."""
    return [energy_map_score(generated, reference, sample_rate, w) for w in VISAGE_WINDOWS]
