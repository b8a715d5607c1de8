"""The overall direction ``omnifoa analyze`` prints first: where the sound is as a whole, and
how widely it moves around."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.spatial.analysis import overall_direction
from plugin_core.spatial.foa import encode_mono, intensity_directions

RATE = 48000


def noise(seconds: float, seed: int) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * RATE))


@pytest.mark.parametrize(("az", "el"), [(60.0, 20.0), (-120.0, -30.0), (179.0, 0.0)])
def test_a_still_source_is_found_where_it_is_with_no_spread(az: float, el: float) -> None:
    track = intensity_directions(encode_mono(noise(2.0, 1), az, el), RATE, 0.1)
    found = overall_direction(track)
    assert found is not None
    assert found.el == pytest.approx(el, abs=2.0)
    assert abs((found.az - az + 180) % 360 - 180) < 2.0
    assert found.spread < 3.0


def test_a_source_that_moves_left_then_right_spreads_ninety_degrees() -> None:
    field = np.concatenate(
        [encode_mono(noise(1.0, 2), 90.0, 0.0), encode_mono(noise(1.0, 3), -90.0, 0.0)], axis=1
    )
    found = overall_direction(intensity_directions(field, RATE, 0.1))
    assert found is not None
    assert found.spread == pytest.approx(90.0, abs=5.0)


def test_silence_has_no_direction() -> None:
    track = intensity_directions(np.zeros((4, RATE)), RATE, 0.1)
    assert overall_direction(track) is None
