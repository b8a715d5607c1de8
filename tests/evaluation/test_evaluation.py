"""The evaluation engine: metrics that separate space from content, the probe, onsets, files."""

import csv
import json

import numpy as np
import pytest
import scipy.linalg

from plugin_core.evaluation import (
    HELD_OUT_SEEDS,
    format_table,
    render_clip,
    report_from_json,
    run_evaluation,
)
from plugin_core.evaluation.audio_embedding import frechet_distance
from plugin_core.evaluation.class_probe import TRAIN_SEEDS, cached_probe
from plugin_core.evaluation.log_mel import log_mel
from plugin_core.evaluation.onsets import (
    detect_onsets,
    ground_truth_onsets,
    onset_error_ms,
    onset_f1,
)
from plugin_core.evaluation.report import (
    CLIP_METRICS,
    CLIPS_CSV_NAME,
    JSON_NAME,
    SUMMARY_CSV_NAME,
    TABLE_NAME,
)
from plugin_core.spatial.foa import rotate
from plugin_core.synthsphere import make_scene, render_foa

SEEDS = HELD_OUT_SEEDS[:3]
SECONDS = 3.0
SHIFT = round(0.2 * 44100)


def _rotated(clip):
    """The ground truth turned 180° about the vertical axis."""
    return rotate(clip.foa, 180.0, 0.0, 0.0, frame="scene")


def _late(clip):
    """The ground truth 200 ms late (longer than the clip: the runner trims it)."""
    return np.pad(clip.foa, ((0, 0), (SHIFT, 0)))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("probe_cache")


@pytest.fixture(scope="module")
def run(cache_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluation")
    report = run_evaluation(
        {"rotated": _rotated, "late": _late},
        seeds=SEEDS,
        seconds=SECONDS,
        out_dir=out,
        progress=False,
        cache_dir=cache_dir,
    )
    return report, out


def _mean(report, system, metric):
    return report.summary[system][metric].mean


def test_the_reference_scores_perfectly(run) -> None:
    report, _ = run
    assert report.systems == ("reference", "front", "random", "rotated", "late")
    for metric in ("d_azimuth_rad", "d_elevation_rad", "angular_rad"):
        assert _mean(report, "reference", metric) == pytest.approx(0.0, abs=1e-6)
    for window in ("clip", "1s", "200ms"):
        assert _mean(report, "reference", f"cc_{window}") == pytest.approx(1.0)
        assert _mean(report, "reference", f"auc_{window}") == pytest.approx(1.0)
    assert _mean(report, "reference", "fd") == pytest.approx(0.0, abs=1e-6)
    # The probe's ceiling on these clips: it names one of each clip's classes every time.
    assert _mean(report, "reference", "class_match_pct") == 100.0
    assert report.summary["reference"]["fd"].count == len(SEEDS)


def test_front_loses_the_space_but_keeps_the_sound(run) -> None:
    report, _ = run
    assert _mean(report, "front", "angular_rad") > _mean(report, "reference", "angular_rad") + 0.5
    assert _mean(report, "front", "cc_clip") < 0.5
    # Same W signal, so the content metrics cannot tell it from the reference.
    assert _mean(report, "front", "fd") == pytest.approx(_mean(report, "reference", "fd"), abs=1e-6)
    for metric in ("class_match_pct", "onset_error_ms"):
        assert _mean(report, "front", metric) == _mean(report, "reference", metric)
        assert _mean(report, "random", metric) == _mean(report, "reference", metric)


def test_a_field_turned_half_round_is_far_off_and_anticorrelated(run) -> None:
    report, _ = run
    rows = [r for r in report.rows if r.system == "rotated"]
    # 180° of yaw keeps the elevation: the angle is 180° less twice the elevation.
    assert all(r.metrics["angular_rad"] > 0.8 for r in rows)
    assert _mean(report, "rotated", "angular_rad") > 1.5
    assert _mean(report, "rotated", "d_azimuth_rad") == pytest.approx(np.pi)
    # A scene with a high source can keep some positive correlation (seed 1_000_000 does);
    # on average the turned maps are anticorrelated at every window.
    for window in ("clip", "1s", "200ms"):
        assert _mean(report, "rotated", f"cc_{window}") < 0.0


def test_the_probe_knows_the_classes_on_held_out_sounds(run, cache_dir) -> None:
    report, _ = run
    probe = cached_probe(cache_dir, progress=False)
    assert probe.test_count == 64  # 8 held-out seeds × 8 classes, per condition
    # Measured: 100% dry and 100% over the ambience bed.
    assert probe.dry_accuracy >= 0.95
    assert probe.bed_accuracy >= 0.95
    assert report.probe.dry_accuracy == probe.dry_accuracy
    assert not set(TRAIN_SEEDS) & set(HELD_OUT_SEEDS)
    for row in report.rows:
        assert (row.predicted_class in row.classes) == (row.metrics["class_match_pct"] == 100.0)


def test_onsets_of_the_truth_are_found_and_a_late_copy_is_late(run) -> None:
    report, _ = run
    assert _mean(report, "reference", "onset_error_ms") < 30.0
    assert _mean(report, "late", "onset_error_ms") > _mean(report, "reference", "onset_error_ms")
    # In scenes of sparse events, the error of a copy 200 ms late is the shift itself.
    for seed, sound_class in ((HELD_OUT_SEEDS[3], "bell"), (HELD_OUT_SEEDS[4], "footsteps")):
        scene = make_scene(seed, 4.0, classes=[sound_class])
        w = render_foa(scene)[0]
        truth = ground_truth_onsets(scene)
        assert len(truth) >= 2
        assert onset_error_ms(truth, detect_onsets(w, 44100)) < 30.0
        late = np.concatenate([np.zeros(SHIFT), w[:-SHIFT]])
        assert onset_error_ms(truth, detect_onsets(late, 44100)) == pytest.approx(200.0, abs=25.0)


def test_the_report_is_written_and_reads_back(run) -> None:
    report, out = run
    assert report_from_json((out / JSON_NAME).read_text(encoding="utf-8")) == report
    json.loads((out / JSON_NAME).read_text(encoding="utf-8"))  # strict JSON: no NaN
    with (out / CLIPS_CSV_NAME).open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(SEEDS) * len(report.systems)
    assert set(CLIP_METRICS) <= set(rows[0])
    with (out / SUMMARY_CSV_NAME).open(encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == len(report.systems) * (len(CLIP_METRICS) + 1)
    table = (out / TABLE_NAME).read_text(encoding="utf-8")
    assert table == format_table(report)
    assert "angular (rad)" in table
    assert "FD (aisfx)" in table
    assert all(name in table for name in report.systems)


def test_bad_system_names_and_probe_seeds_are_refused(cache_dir) -> None:
    with pytest.raises(ValueError, match="built-in"):
        run_evaluation({"front": _rotated}, seeds=SEEDS, progress=False, cache_dir=cache_dir)
    with pytest.raises(ValueError, match="probe"):
        run_evaluation({}, seeds=TRAIN_SEEDS[:1], progress=False, cache_dir=cache_dir)


def test_clips_carry_frames_at_eight_fps() -> None:
    clip = render_clip(HELD_OUT_SEEDS[0], 1.0)
    assert clip.frames.shape == (8, 256, 512, 3)
    assert clip.frames.dtype == np.uint8
    assert clip.foa.shape == (4, 44100)


def test_frechet_distance_matches_the_matrix_square_root_form() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((60, 12))
    b = 1.5 * rng.standard_normal((40, 12)) + 0.3
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    cross = np.trace(np.real(scipy.linalg.sqrtm(cov_a @ cov_b)))
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a + cov_b) - 2 * cross
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    small = rng.standard_normal((3, 512))  # fewer samples than dimensions
    assert frechet_distance(small, small) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(small, small + 1.0) == pytest.approx(512.0)


def test_log_mel_cuts_frames_as_essentia_and_puts_a_tone_in_its_band() -> None:
    assert log_mel(np.zeros(20481)).shape == (22, 96)
    assert log_mel(np.zeros(20480)).shape == (21, 96)
    t = np.arange(44100) / 44100
    low, high = log_mel(np.sin(2 * np.pi * 200 * t)), log_mel(np.sin(2 * np.pi * 5000 * t))
    assert np.argmax(low.mean(axis=0)) < np.argmax(high.mean(axis=0))
    assert low.min() >= 0.0
    assert high.max() <= 1.0


def test_onset_f1_counts_each_true_onset_once_within_the_tolerance() -> None:
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    assert onset_f1(truth, truth + 0.03) == pytest.approx(1.0)
    assert onset_f1(truth, truth + 0.08) == pytest.approx(0.0)  # all late past ±50 ms
    # two detections near one onset: one hit, one false alarm; 3 misses
    assert onset_f1(truth, np.array([1.0, 1.01])) == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    assert onset_f1(truth, np.zeros(0)) == pytest.approx(0.0)
    assert onset_f1(np.zeros(0), truth) is None
    # the bell scene's own W finds its onsets; 200 ms late finds none
    scene = make_scene(HELD_OUT_SEEDS[3], 4.0, classes=["bell"])
    w = render_foa(scene)[0]
    assert onset_f1(ground_truth_onsets(scene), detect_onsets(w, 44100)) > 0.8
    late = np.concatenate([np.zeros(SHIFT), w[:-SHIFT]])
    assert onset_f1(ground_truth_onsets(scene), detect_onsets(late, 44100)) < 0.2
