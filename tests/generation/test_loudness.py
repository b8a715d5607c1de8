"""Stem loudness: BS.1770 on W, gain to a target, a true-peak ceiling that is never crossed."""

import math

import numpy as np
import pytest

from plugin_core.generation.loudness import (
    StemLevel,
    StemMeter,
    integrated_loudness,
    stem_level,
    true_peak_dbtp,
)
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


def measured(foa: np.ndarray, chunk: int | None = None) -> StemMeter:
    """A StemMeter fed the stem whole, or in chunks of random lengths up to ``chunk``."""
    meter = StemMeter(RATE)
    if chunk is None:
        meter.add(foa)
        return meter
    rng = np.random.default_rng(7)
    at = 0
    while at < foa.shape[-1]:
        n = int(rng.integers(1, chunk))
        meter.add(foa[:, at : at + n])
        at += n
    return meter


def test_the_stem_meter_fed_in_pieces_reads_what_measuring_the_whole_stem_reads() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(7 * RATE) / RATE
    foa = rng.standard_normal((4, t.size)) * (0.02 + 0.4 * t / t[-1])  # rising, then a gap
    foa[:, 3 * RATE : 4 * RATE] *= 1e-3
    meter = measured(foa, chunk=30_000)
    assert meter.integrated_lufs == pytest.approx(integrated_loudness(foa, RATE), abs=1e-6)
    assert 20 * math.log10(meter.true_peak) == pytest.approx(true_peak_dbtp(foa), abs=1e-6)
    assert meter.sample_peak == pytest.approx(np.abs(foa).max())


def gained(foa: np.ndarray, level: StemLevel) -> np.ndarray:
    return foa * 10 ** (level.gain_db / 20)


def test_one_gain_brings_the_stem_to_the_target_and_keeps_the_direction() -> None:
    rng = np.random.default_rng(3)
    foa = encode_mono(0.01 * rng.standard_normal(3 * RATE), -120.0, 10.0)
    level = stem_level(measured(foa), "loudness", -18.0, ceiling_dbtp=-1.0)
    assert not level.limited
    out = gained(foa, level)
    assert integrated_loudness(out, RATE) == pytest.approx(-18.0, abs=0.05)
    assert level.output_lufs == pytest.approx(-18.0, abs=1e-9)
    track = intensity_directions(out, RATE)
    assert track.az[0] == pytest.approx(-120.0, abs=0.5)
    assert track.el[0] == pytest.approx(10.0, abs=0.5)


def test_one_gain_for_the_whole_stem_keeps_its_dynamics() -> None:
    # a quiet first half and a loud second half: per-window levelling would flatten them
    quiet, loud = encode_mono(sine(0.01), 0.0, 0.0), encode_mono(sine(0.3), 0.0, 0.0)
    foa = np.concatenate([quiet, loud], axis=-1)
    out = gained(foa, stem_level(measured(foa), "loudness", -23.0))
    half = quiet.shape[-1]
    difference = integrated_loudness(out[:, half:], RATE) - integrated_loudness(out[:, :half], RATE)
    assert difference == pytest.approx(20 * math.log10(30), abs=0.1)


def test_the_peak_mode_puts_the_highest_sample_of_any_channel_at_the_target() -> None:
    foa = encode_mono(sine(0.2), 0.0, 80.0)  # Z carries nearly all of W
    foa[3, 1000] = 0.5  # and X one spike above everything
    level = stem_level(measured(foa), "peak", peak_dbfs=-3.0)
    assert np.abs(gained(foa, level)).max() == pytest.approx(10 ** (-3 / 20), rel=1e-6)
    assert level.mode == "peak"


def test_the_ceiling_wins_over_the_target_for_a_peaky_stem() -> None:
    clicks = np.zeros(2 * RATE)
    clicks[:: RATE // 4] = 0.5  # sparse clicks: very high crest factor
    foa = encode_mono(clicks + 0.001 * np.sin(np.arange(2 * RATE)), 30.0, 0.0)
    level = stem_level(measured(foa), "loudness", -14.0, ceiling_dbtp=-1.0)
    assert level.limited
    out = gained(foa, level)
    assert true_peak_dbtp(out) == pytest.approx(-1.0, abs=0.01)
    assert integrated_loudness(out, RATE) < -14.0


def test_silence_is_left_alone() -> None:
    level = stem_level(measured(np.zeros((4, RATE))))
    assert level.gain_db == 0.0
    assert level.as_dict()["measured_lufs"] is None


def test_too_short_a_stem_is_refused() -> None:
    with pytest.raises(ValueError, match=r"at least 0\.4 s"):
        integrated_loudness(np.zeros((4, RATE // 10)), RATE)


def test_off_keeps_the_level_unless_the_ceiling_is_crossed() -> None:
    quiet = encode_mono(sine(0.05), 0.0, 0.0)
    assert stem_level(measured(quiet), "off", ceiling_dbtp=-1.0).gain_db == 0.0
    hot = encode_mono(sine(1.2), 0.0, 0.0)
    level = stem_level(measured(hot), "off", ceiling_dbtp=-1.0)
    assert level.limited
    assert true_peak_dbtp(gained(hot, level)) == pytest.approx(-1.0, abs=0.01)
