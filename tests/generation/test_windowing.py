"""Any-length joins: windows cover the span, seeds are stable, crossfades keep power and
direction, and the streamed join equals a whole-buffer overlap-add."""

import itertools

import numpy as np
import pytest

from plugin_core.generation.loudness import true_peak_dbtp
from plugin_core.generation.windowing import (
    CrossfadeJoiner,
    equal_power_fades,
    plan_windows,
    window_seed,
)
from plugin_core.spatial.foa import encode_mono, intensity_directions

RATE = 1000


def test_windows_cover_the_span_with_the_overlap() -> None:
    windows = plan_windows(total=3500, window=1000, overlap=200)
    assert windows[0].start == 0
    assert windows[-1].end == 3500
    for a, b in itertools.pairwise(windows):
        assert a.length == 1000
        assert a.end - b.start == 200
    assert all(w.length <= 1000 for w in windows)
    assert plan_windows(total=600, window=1000, overlap=200) == [windows[0].__class__(0, 0, 600)]


@pytest.mark.parametrize(("total", "window", "overlap"), [(0, 10, 2), (100, 10, 10), (100, 10, -1)])
def test_impossible_plans_are_refused(total: int, window: int, overlap: int) -> None:
    with pytest.raises(ValueError, match=r"span|overlap"):
        plan_windows(total, window, overlap)


def test_window_seeds_are_stable_distinct_and_independent_of_the_span() -> None:
    seeds = [window_seed(7, i) for i in range(50)]
    assert len(set(seeds)) == 50
    assert seeds == [window_seed(7, i) for i in range(50)]
    assert window_seed(8, 0) != seeds[0]
    assert all(0 <= s < 2**63 for s in seeds)


def test_fades_are_equal_power() -> None:
    out, into = equal_power_fades(257)
    np.testing.assert_allclose(out**2 + into**2, 1.0, atol=1e-12)
    assert out[0] > 0.99
    assert into[-1] > 0.99


def join_streamed(chunks: list[np.ndarray], windows, limit_join_peaks: bool = True) -> np.ndarray:
    joiner = CrossfadeJoiner(windows, limit_join_peaks)
    parts = [joiner.add(chunk) for chunk in chunks]
    assert joiner.done
    return np.concatenate(parts, axis=-1)


def test_streamed_join_equals_a_whole_buffer_overlap_add() -> None:
    windows = plan_windows(total=4321, window=1000, overlap=250)
    rng = np.random.default_rng(0)
    chunks = [rng.standard_normal((4, w.length)) for w in windows]
    expected = np.zeros((4, 4321))
    for i, (w, chunk) in enumerate(zip(windows, chunks, strict=True)):
        gain = np.ones(w.length)
        if i > 0:
            gain[:250] = np.sin((np.arange(250) + 0.5) / 250 * np.pi / 2)
        if i < len(windows) - 1:
            gain[-250:] = np.cos((np.arange(250) + 0.5) / 250 * np.pi / 2)
        expected[:, w.start : w.end] += chunk * gain
    np.testing.assert_allclose(
        join_streamed(chunks, windows, limit_join_peaks=False), expected, atol=1e-12
    )


def test_independent_windows_join_without_a_dip_or_bump_in_power() -> None:
    rate = 8000
    windows = plan_windows(total=20 * rate, window=5 * rate, overlap=rate)
    rng = np.random.default_rng(1)
    chunks = [encode_mono(rng.standard_normal(w.length), 90.0, 0.0) for w in windows]
    joined = join_streamed(chunks, windows)
    power = np.mean(joined[0].reshape(-1, rate // 10) ** 2, axis=-1)  # 0.1 s blocks
    assert power.min() > 0.75
    assert power.max() < 1.25
    in_fades = np.concatenate([joined[0, w.start : w.start + rate] for w in windows[1:]])
    assert np.mean(in_fades**2) == pytest.approx(1.0, abs=0.05)
    # the source stays at 90° through the joins
    track = intensity_directions(joined, rate, window_s=0.5)
    assert np.all(np.abs(track.az - 90.0) < 1.0)


def test_a_window_of_the_wrong_length_or_one_too_many_is_refused() -> None:
    windows = plan_windows(total=1500, window=1000, overlap=100)
    joiner = CrossfadeJoiner(windows)
    with pytest.raises(ValueError, match="must have 1000 samples"):
        joiner.add(np.zeros((4, 900)))
    joiner.add(np.zeros((4, 1000)))
    joiner.add(np.zeros((4, windows[1].length)))
    with pytest.raises(ValueError, match="already been added"):
        joiner.add(np.zeros((4, 10)))


def test_a_join_that_would_peak_above_both_windows_switches_to_an_amplitude_crossfade() -> None:
    rate = 8000
    windows = plan_windows(total=6 * rate, window=4 * rate, overlap=rate)
    t = np.arange(4 * rate) / rate
    # the same tone in both windows: correlated, so an equal-power join peaks 3 dB higher
    tone = encode_mono(0.8 * np.sin(2 * np.pi * 50 * t), 0.0, 0.0)
    loud = CrossfadeJoiner(windows, limit_join_peaks=False)
    plain = np.concatenate([loud.add(tone), loud.add(tone[:, : windows[1].length])], axis=-1)
    assert true_peak_dbtp(plain) > 20 * np.log10(0.8) + 2.5
    capped = CrossfadeJoiner(windows)
    joined = np.concatenate([capped.add(tone), capped.add(tone[:, : windows[1].length])], axis=-1)
    assert capped.amplitude_joins == 1
    assert true_peak_dbtp(joined) <= 20 * np.log10(0.8) + 0.1
    # outside the join nothing changed
    np.testing.assert_array_equal(joined[:, : 3 * rate], plain[:, : 3 * rate])


def test_a_few_samples_past_the_last_full_window_are_padded_not_generated() -> None:
    # a 10 s span with a model window that decodes 680 samples short of 10 s
    assert len(plan_windows(441000, 440320, 44100)) == 2
    padded = plan_windows(441000, 440320, 44100, max_pad=2205)
    assert padded == [plan_windows(440320, 440320, 44100)[0]]
    # a real remainder still gets its window
    assert len(plan_windows(441000 + 5000, 440320, 44100, max_pad=2205)) == 2
