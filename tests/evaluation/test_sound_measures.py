"""The two measures of what W sounds like: a tone reads tonal and noise does not, however it
is shaped; events at the scene's moments correlate and the same events late do not."""

import numpy as np
import pytest

from plugin_core.evaluation.sound_measures import (
    onset_envelope,
    onset_envelope_correlation,
    tonal_share,
)

RATE = 44100
T = np.arange(4 * RATE) / RATE


def _clicks(times: list[float]) -> np.ndarray:
    out = np.zeros(T.size)
    rng = np.random.default_rng(0)
    for t in times:
        at = round(t * RATE)
        out[at : at + 2000] += rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    return out


def test_a_tone_and_a_few_partials_read_tonal_and_noise_does_not() -> None:
    sweep = np.sin(2 * np.pi * np.cumsum(800 + 300 * np.sin(2 * np.pi * 0.25 * T)) / RATE)
    assert tonal_share(sweep) > 0.9
    bell = sum(np.sin(2 * np.pi * f * T) * np.exp(-T / 2) for f in (400.0, 800.0, 1100.0))
    assert tonal_share(bell) > 0.8
    noise = np.random.default_rng(1).standard_normal(T.size)
    assert tonal_share(noise) < 0.1
    # noise given a tone's loudness contour is still noise
    assert tonal_share(noise * np.abs(sweep)) < 0.1
    assert tonal_share(np.zeros(T.size)) == 0.0


def test_onset_envelopes_correlate_when_events_share_their_moments() -> None:
    truth = _clicks([0.5, 1.1, 1.9, 2.6, 3.3])
    other_sound = _clicks([0.5, 1.1, 1.9, 2.6, 3.3]) * 0.3 + 0.01 * np.sin(2 * np.pi * 300 * T)
    assert onset_envelope_correlation(truth, truth, RATE) == pytest.approx(1.0)
    assert onset_envelope_correlation(other_sound, truth, RATE) > 0.8
    late = _clicks([0.9, 1.5, 2.3, 3.0, 3.7])
    assert onset_envelope_correlation(late, truth, RATE) < 0.3
    steady = np.random.default_rng(2).standard_normal(T.size) * 0.1
    assert abs(onset_envelope_correlation(steady, truth, RATE)) < 0.3
    assert onset_envelope(truth, RATE).size == pytest.approx(T.size / RATE * 100, abs=2)
