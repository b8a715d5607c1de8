"""The bundled demo scene and the main job that runs on it."""

from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli

from plugin_core.errors import InputError
from plugin_core.evaluation.artefacts import frame_rate_artefacts
from plugin_core.evaluation.clips import fit_length
from plugin_core.evaluation.demo import DEMO_DIR, run_demo
from plugin_core.evaluation.onsets import detect_onsets, ground_truth_onsets, onset_f1
from plugin_core.evaluation.sound_measures import onset_envelope_correlation, tonal_share
from plugin_core.evaluation.spatial import spatial_scores
from plugin_core.media.audio_io import read_foa, resample
from plugin_core.media.video import probe
from plugin_core.spatial.foa import encode_mono
from plugin_core.synthsphere import load_scene, make_scene


def test_bundled_demo_is_the_seed_0_scene_and_small() -> None:
    scene = load_scene(DEMO_DIR / "demo.json")
    assert scene == make_scene(scene.seed, scene.duration)
    info = probe(DEMO_DIR / "demo.mp4")
    assert (info.width, info.height) == (512, 256)
    assert abs(info.duration - 10.0) < 0.1
    audio, rate = read_foa(DEMO_DIR / "demo.flac")
    assert rate == 44100
    assert audio.shape == (4, 441000)
    total = sum(p.stat().st_size for p in DEMO_DIR.iterdir())
    assert total < 4_000_000


def test_demo_command_generates_analyses_and_scores(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = run_cli("demo", "--out", str(out), timeout=300)
    assert done.returncode == 0, done.stderr
    for name in ("demo_foa.wav", "demo_energy.png", "demo_spectrogram.png", "report.txt"):
        assert (out / name).is_file(), name
    assert (out / "report.txt").read_text().strip() == done.stdout.strip()
    audio, rate = read_foa(out / "demo_foa.wav")
    assert audio.shape[0] == 4
    assert rate == 48000
    assert abs(audio.shape[1] / rate - 10.0) < 0.05
    lines = done.stdout.splitlines()
    # one direction row per 0.5 s window of the 10 s clip
    table = lines.index("direction of arrival per 0.5 s (intensity vector of the generated FOA)")
    rows = lines[table + 2 : lines.index("", table)]
    assert len(rows) == 20
    section = lines.index("against the scene's ground-truth FOA (whole clip):")
    scored = [row.split() for row in lines[section + 2 : lines.index("", section)]]
    scores = {fields[0]: fields for fields in scored}
    assert set(scores) == {"generated", "front-fixed"}
    # the printed scores are those of the files written, against the scene's truth
    truth, truth_rate = read_foa(DEMO_DIR / "demo.flac")
    generated = fit_length(resample(audio, rate, truth_rate), truth.shape[1])
    front = encode_mono(truth[0], 0.0, 0.0)
    for name, foa in (("generated", generated), ("front-fixed", front)):
        expected = spatial_scores(foa, truth, truth_rate)
        fields = scores[name]
        assert float(fields[1]) == pytest.approx(np.degrees(expected["angular_rad"]), abs=0.051)
        assert float(fields[3]) == pytest.approx(expected["cc_clip"], abs=0.0051)
    # the sound section: tonal share, onset envelope, onset F1 and the buzz measures of the
    # stem and of the scene itself
    section = lines.index(next(row for row in lines if row.startswith("sound (W)")))
    sound = {row[:12].strip(): row[12:].split() for row in lines[section + 1 : section + 3]}
    onsets = ground_truth_onsets(load_scene(DEMO_DIR / "demo.json"))
    for name, foa in (("generated", generated), ("scene itself", truth)):
        f1 = onset_f1(onsets, detect_onsets(foa[0], truth_rate))
        buzz = frame_rate_artefacts(foa[0])
        envelope = onset_envelope_correlation(foa[0], truth[0], truth_rate)
        assert float(sound[name][0]) == pytest.approx(tonal_share(foa[0]), abs=0.0051)
        assert float(sound[name][1]) == pytest.approx(envelope, abs=0.0051)
        assert float(sound[name][2]) == pytest.approx(f1, abs=0.0051)
        assert float(sound[name][3]) == pytest.approx(buzz["autocorr_hop"], abs=0.0051)
        assert float(sound[name][5]) == pytest.approx(buzz["comb_db"], abs=0.051)
    assert float(sound["scene itself"][2]) > 0.8  # the detector finds the scene's own events
    assert float(sound["scene itself"][1]) == pytest.approx(1.0)
    # what a newcomer hears: the scene's kind of sound at the scene's moments
    assert float(sound["generated"][0]) >= 0.6
    assert float(sound["generated"][1]) >= 0.5
    assert float(sound["generated"][2]) >= 0.6


def test_demo_with_a_missing_bundle_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing"):
        run_demo(tmp_path / "out", demo_dir=tmp_path / "nowhere")
    assert not (tmp_path / "out").exists()
