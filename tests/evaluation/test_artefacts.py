"""The buzz and reconstruction measures tell a frame-periodic sound from a natural one."""

from __future__ import annotations

import numpy as np
import pytest

from plugin_core.evaluation.artefacts import (
    CODEC_HOP,
    autocorrelation,
    comb_excess_db,
    frame_rate_artefacts,
    mu_law_round_trip,
    multi_resolution_stft_distance,
    si_sdr_db,
)

SR = 44100


def _noise(seconds: float = 10.0, seed: int = 0) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))


def _buzz(seconds: float = 10.0, period: int = CODEC_HOP) -> np.ndarray:
    """A sound that repeats every ``period`` samples: what a codec makes of a still latent."""
    pattern = 0.1 * np.random.default_rng(1).standard_normal(period)
    return np.tile(pattern, int(seconds * SR) // period + 1)[: int(seconds * SR)]


def test_a_frame_periodic_sound_shows_both_measures_and_noise_shows_neither() -> None:
    buzz, noise = frame_rate_artefacts(_buzz()), frame_rate_artefacts(_noise())
    assert buzz["autocorr_hop"] > 0.95
    assert buzz["autocorr_2hop"] > 0.95
    assert buzz["comb_db"] > 20.0
    assert abs(noise["autocorr_hop"]) < 0.05
    assert abs(noise["autocorr_2hop"]) < 0.05
    assert abs(noise["comb_db"]) < 1.0


def test_the_comb_grows_with_the_share_of_the_buzz() -> None:
    noise, buzz = _noise(), _buzz()
    levels = [comb_excess_db(noise + g * buzz, CODEC_HOP) for g in (0.0, 0.1, 0.3, 1.0)]
    assert levels == sorted(levels)
    assert levels[-1] - levels[0] > 10.0


def test_a_buzz_at_another_period_is_not_this_codecs_comb() -> None:
    other = _buzz(period=1500)
    assert comb_excess_db(other, CODEC_HOP) < 3.0
    assert comb_excess_db(other, 1500) > 20.0
    assert autocorrelation(other, 1500) > 0.95


def test_silence_measures_zero_not_nan() -> None:
    assert frame_rate_artefacts(np.zeros(SR)) == {
        "autocorr_hop": 0.0,
        "autocorr_2hop": 0.0,
        "comb_db": 0.0,
    }


def test_stft_distance_is_zero_for_the_same_sound_and_grows_with_damage() -> None:
    ref = _noise(2.0)
    assert multi_resolution_stft_distance(ref, ref) == pytest.approx(0.0, abs=1e-12)
    mild = multi_resolution_stft_distance(ref + 0.01 * _noise(2.0, 5), ref)
    heavy = multi_resolution_stft_distance(ref + 0.1 * _noise(2.0, 5), ref)
    other = multi_resolution_stft_distance(_buzz(2.0), ref)
    assert 0.0 < mild < heavy < other


def test_si_sdr_reads_the_noise_level_and_ignores_gain() -> None:
    ref = _noise(2.0)
    assert si_sdr_db(3.0 * ref, ref) > 100.0
    assert si_sdr_db(ref + 0.1 * _noise(2.0, 7), ref) == pytest.approx(20.0, abs=0.3)


def test_eight_bit_mu_law_is_a_modest_reference() -> None:
    t = np.arange(SR) / SR
    tone = 0.1 * np.sin(2 * np.pi * 440 * t)
    back = mu_law_round_trip(tone)
    assert 25.0 < si_sdr_db(back, tone) < 45.0
    assert np.max(np.abs(back - tone)) < 0.01
    assert si_sdr_db(mu_law_round_trip(tone, bits=12), tone) > si_sdr_db(back, tone) + 15.0


def test_the_default_period_is_the_bundled_codecs_hop() -> None:
    from models.omniaudio.config import preset

    assert preset("omniaudio-mini").codec.hop == CODEC_HOP
