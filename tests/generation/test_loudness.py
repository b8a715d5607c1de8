"""Stem loudness: BS.1770 on W, gain to a target, a true-peak ceiling that is never crossed."""

import math

import numpy as np
import pytest

from plugin_core.generation.loudness import integrated_loudness, normalise, true_peak_dbtp
from plugin_core.spatial.foa import encode_mono, intensity_directions

RATE = 48000


def sine(amplitude: float, hz: float = 997.0, seconds: float = 3.0, phase: float = 0.0):
    t = np.arange(round(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * np.pi * hz * t + phase)


def test_a_997_hz_sine_reads_its_bs1770_loudness_on_w() -> None:
    # BS.1770: a full-scale 997 Hz sine reads -3.01 LUFS; level follows amplitude in dB.
    foa = encode_mono(sine(0.1), 60.0, 20.0)
    assert integrated_loudness(foa, RATE) == pytest.approx(-3.01 - 20.0, abs=0.1)


def test_true_peak_sees_the_peak_between_samples() -> None:
    # fs/4 at 45° phase: every sample sits at 0.707 of the waveform's real peak.
    wave = sine(0.5, hz=RATE / 4, seconds=0.5, phase=np.pi / 4)
    foa = encode_mono(wave, 0.0, 0.0)
    sample_peak = 20 * math.log10(np.max(np.abs(foa)))
    assert sample_peak == pytest.approx(20 * math.log10(0.5 * 0.7071), abs=0.05)
    assert true_peak_dbtp(foa) == pytest.approx(20 * math.log10(0.5), abs=0.2)


def test_normalise_reaches_the_target_and_keeps_the_direction() -> None:
    rng = np.random.default_rng(3)
    foa = encode_mono(0.01 * rng.standard_normal(3 * RATE), -120.0, 10.0)
    out, result = normalise(foa, RATE, target_lufs=-18.0, ceiling_dbtp=-1.0)
    assert not result.limited
    assert integrated_loudness(out, RATE) == pytest.approx(-18.0, abs=0.05)
    assert result.output_lufs == pytest.approx(-18.0, abs=1e-9)
    track = intensity_directions(out, RATE)
    assert track.az[0] == pytest.approx(-120.0, abs=0.5)
    assert track.el[0] == pytest.approx(10.0, abs=0.5)


def test_the_ceiling_wins_over_the_target_for_a_peaky_stem() -> None:
    clicks = np.zeros(2 * RATE)
    clicks[:: RATE // 4] = 0.5  # sparse clicks: very high crest factor
    foa = encode_mono(clicks + 0.001 * np.sin(np.arange(2 * RATE)), 30.0, 0.0)
    out, result = normalise(foa, RATE, target_lufs=-14.0, ceiling_dbtp=-1.0)
    assert result.limited
    assert true_peak_dbtp(out) == pytest.approx(-1.0, abs=0.01)
    assert integrated_loudness(out, RATE) < -14.0


def test_silence_is_left_alone() -> None:
    foa = np.zeros((4, RATE))
    out, result = normalise(foa, RATE)
    assert np.array_equal(out, foa)
    assert result.gain_db == 0.0
    assert result.as_dict()["measured_lufs"] is None


def test_too_short_a_stem_is_refused() -> None:
    with pytest.raises(ValueError, match=r"at least 0\.4 s"):
        integrated_loudness(np.zeros((4, RATE // 10)), RATE)


def test_without_a_target_the_level_stays_unless_the_ceiling_is_crossed() -> None:
    quiet = encode_mono(sine(0.05), 0.0, 0.0)
    out, result = normalise(quiet, RATE, target_lufs=None, ceiling_dbtp=-1.0)
    np.testing.assert_array_equal(out, quiet)
    assert result.gain_db == 0.0
    hot = encode_mono(sine(1.2), 0.0, 0.0)
    out, result = normalise(hot, RATE, target_lufs=None, ceiling_dbtp=-1.0)
    assert result.limited
    assert true_peak_dbtp(out) == pytest.approx(-1.0, abs=0.01)
