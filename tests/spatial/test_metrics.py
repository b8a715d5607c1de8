"""The papers' metrics: OmniAudio direction errors and ViSAGe energy-map CC/AUC."""

import numpy as np
import pytest

from plugin_core.spatial import foa
from plugin_core.spatial.directions import az_el_to_vector, great_circle_deg
from plugin_core.spatial.metrics import (
    angular_errors,
    energy_map_score,
    energy_maps,
    fibonacci_grid,
    map_auc,
    map_cc,
    visage_scores,
)

RATE = 8000


def scene(directions: list[tuple[float, float]], seconds: float = 2.0, seed: int = 1):
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    return sum(foa.encode_mono(rng.standard_normal(n), az, el) for az, el in directions)


def test_angular_errors_are_circular_and_in_radians() -> None:
    err = angular_errors([179.0, 10.0], [0.0, 40.0], [-179.0, 10.0], [0.0, 10.0])
    np.testing.assert_allclose(err.delta_azimuth, np.radians([2.0, 0.0]), atol=1e-12)
    np.testing.assert_allclose(err.delta_elevation, np.radians([0.0, 30.0]), atol=1e-12)
    np.testing.assert_allclose(err.angular, np.radians([2.0, 30.0]), atol=1e-9)
    opposite = angular_errors(0.0, 0.0, 180.0, 0.0)
    assert opposite.angular == pytest.approx(np.pi)


def test_fibonacci_grid_is_equal_area() -> None:
    az, el = fibonacci_grid(2000)
    v = az_el_to_vector(az, el)
    # Each octant of the sphere holds an eighth of the points.
    octant = (v[:, 0] > 0).astype(int) * 4 + (v[:, 1] > 0) * 2 + (v[:, 2] > 0)
    counts = np.bincount(octant, minlength=8)
    assert np.all(np.abs(counts - 250) < 10)
    # and the points near the pole are no denser than at the equator
    assert abs(np.mean(np.abs(v[:, 2]) > 0.5) - 0.5) < 0.01


@pytest.mark.parametrize(("az", "el"), [(0, 0), (120, 30), (-60, -45), (180, 70)])
def test_energy_map_peaks_at_the_source(az: float, el: float) -> None:
    grid_az, grid_el = fibonacci_grid()
    energy = energy_maps(scene([(az, el)]), RATE)[0]
    peak = np.argmax(energy)
    assert great_circle_deg(grid_az[peak], grid_el[peak], az, el) < 5.0


def test_cc_with_itself_is_one_and_with_a_turned_copy_is_low() -> None:
    field = scene([(30, 10), (100, -20)])
    turned = foa.rotate(field, 180, 0, 0, frame="scene")
    for window in (None, 1.0, 0.2):
        same = energy_map_score(field, field, RATE, window)
        assert same.cc == pytest.approx(1.0)
        assert same.auc == pytest.approx(1.0)
        other = energy_map_score(turned, field, RATE, window)
        assert other.cc < 0.0
        assert other.auc < 0.3


def test_auc_of_a_random_map_is_near_chance() -> None:
    rng = np.random.default_rng(3)
    reference = rng.random(4000)
    assert abs(map_auc(rng.random(4000), reference) - 0.5) < 0.05
    assert map_cc(reference, reference) == pytest.approx(1.0)


def test_short_windows_see_a_source_that_moves() -> None:
    # Reference: a source jumping from left to right halfway; the "generated" one stays left.
    rng = np.random.default_rng(0)
    n = 2 * RATE
    s = rng.standard_normal(n)
    reference = np.concatenate(
        [foa.encode_mono(s[: n // 2], 90, 0), foa.encode_mono(s[n // 2 :], -90, 0)], axis=1
    )
    generated = foa.encode_mono(s, 90, 0)
    _, one_s, short = visage_scores(generated, reference, RATE)
    # The static guess is right in the first second only: per-window scores see it,
    # averaging a perfect window with a wrong one.
    assert short.windows == 10
    assert one_s.windows == 2
    first = energy_map_score(generated[:, : n // 2], reference[:, : n // 2], RATE, None)
    second = energy_map_score(generated[:, n // 2 :], reference[:, n // 2 :], RATE, None)
    assert first.cc == pytest.approx(1.0)
    assert second.cc < -0.5
    assert one_s.cc == pytest.approx((first.cc + second.cc) / 2)
    assert short.cc == pytest.approx(one_s.cc, abs=0.05)
    assert one_s.auc == pytest.approx((first.auc + second.auc) / 2)


def test_silent_windows_are_skipped() -> None:
    field = scene([(0, 0)])
    field[:, :RATE] = 0.0
    score = energy_map_score(field, field, RATE, 0.2)
    assert score.windows == 5
