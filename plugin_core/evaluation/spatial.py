"""OmniAudio's and ViSAGe's spatial metrics of one generated FOA clip against its reference."""

from __future__ import annotations

import numpy as np

from plugin_core.spatial.foa import intensity_directions
from plugin_core.spatial.metrics import angular_errors, visage_scores

# Names of the ViSAGe windows, in the order of spatial_metrics.VISAGE_WINDOWS.
WINDOW_NAMES = ("clip", "1s", "200ms")
SPATIAL_METRICS = (
    "d_azimuth_rad",
    "d_elevation_rad",
    "angular_rad",
    *(f"{m}_{w}" for w in WINDOW_NAMES for m in ("cc", "auc")),
)


def whole_clip_direction(foa: np.ndarray, sample_rate: float) -> tuple[float, float]:
    """Azimuth and elevation (degrees) of the whole clip's active intensity."""
    track = intensity_directions(foa, sample_rate)
    return float(track.az[0]), float(track.el[0])


def spatial_scores(
    generated: np.ndarray, reference: np.ndarray, sample_rate: float
) -> dict[str, float]:
    """Whole-clip direction errors (radians) and energy-map CC/AUC at the three windows.

    Both signals are AmbiX [4, N] of the same length and rate.
    """
    gen = intensity_directions(generated, sample_rate)
    ref = intensity_directions(reference, sample_rate)
    errors = angular_errors(gen.az[0], gen.el[0], ref.az[0], ref.el[0])
    scores = {
        "d_azimuth_rad": float(errors.delta_azimuth),
        "d_elevation_rad": float(errors.delta_elevation),
        "angular_rad": float(errors.angular),
    }
    for name, score in zip(
        WINDOW_NAMES, visage_scores(generated, reference, sample_rate), strict=True
    ):
        scores[f"cc_{name}"] = score.cc
        scores[f"auc_{name}"] = score.auc
    return scores
