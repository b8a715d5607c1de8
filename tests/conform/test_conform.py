"""Conform: mono/stereo stems placed along a direction path as AmbiX, and its file job / CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_runner import run_cli
from scipy.signal import butter, sosfilt, sosfiltfilt
from video_fixtures import indexed_frames

from plugin_core.conform.encoding import DistanceCue, conform_audio
from plugin_core.conform.job import ConformRequest, conform_stem
from plugin_core.errors import InputError
from plugin_core.media.audio_io import read_foa, write_audio
from plugin_core.media.video import write_video
from plugin_core.spatial.direction_path import DirectionPath, load_path
from plugin_core.spatial.directions import great_circle_deg
from plugin_core.spatial.foa import encode_mono, intensity_directions
from plugin_core.synthsphere import make_scene, render_frames
from plugin_core.synthsphere.soundfield import object_signal

RATE = 48000


def noise(seconds: float, seed: int = 0, channels: int = 1) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal((channels, round(seconds * RATE)))


def direction(foa: np.ndarray, rate: int = RATE) -> tuple[float, float]:
    track = intensity_directions(foa, rate)
    return float(track.az[0]), float(track.el[0])


def band_energy(x: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


# ------------------------------------------------------------------------------------ DSP


def test_mono_at_a_fixed_direction_decodes_there() -> None:
    az, el = direction(conform_audio(noise(1.0), RATE, DirectionPath.constant(90.0, 0.0)))
    assert great_circle_deg(az, el, 90.0, 0.0) < 0.5


def test_path_across_the_seam_is_followed() -> None:
    path = DirectionPath((0.5, 2.5), (150.0, -150.0), (0.0, 20.0))
    start = 0.25  # the stem starts a quarter second into the video
    foa = conform_audio(noise(2.5), RATE, path, start=start)
    track = intensity_directions(foa, RATE, window_s=0.25)
    want_az, want_el = path.at(start + track.times)
    errors = great_circle_deg(track.az, track.el, want_az, want_el)
    assert errors.max() < 3.0
    assert np.any(np.abs(track.az) > 175.0)  # it passed behind the listener, not in front


def test_stereo_channels_sit_left_and_right_of_the_path() -> None:
    front = DirectionPath.constant(0.0, 0.0)
    left, right = noise(1.0, 1), noise(1.0, 2)
    silent = np.zeros_like(left)
    for width in (60.0, 90.0):
        az_l, el_l = direction(conform_audio(np.vstack([left, silent]), RATE, front, width=width))
        az_r, el_r = direction(conform_audio(np.vstack([silent, right]), RATE, front, width=width))
        assert great_circle_deg(az_l, el_l, width / 2, 0.0) < 0.5
        assert great_circle_deg(az_r, el_r, -width / 2, 0.0) < 0.5
    both = conform_audio(np.vstack([left, right]), RATE, front)  # default width: 60
    w, y = both[0], both[1]
    assert np.mean(w * y * (np.abs(left[0]) > np.abs(right[0]))) > 0  # L dominant → left (+Y)
    assert np.mean(w * y * (np.abs(left[0]) < np.abs(right[0]))) < 0


def test_stereo_width_zero_is_the_mono_average() -> None:
    path = DirectionPath((0.0, 1.0), (-30.0, 40.0), (10.0, -5.0))
    stereo = noise(1.0, 3, channels=2)
    np.testing.assert_allclose(
        conform_audio(stereo, RATE, path, width=0.0),
        conform_audio(stereo.mean(axis=0), RATE, path),
        atol=1e-12,
    )


def test_mono_width_spreads_the_source_around_the_same_direction() -> None:
    path = DirectionPath.constant(-60.0, 15.0)
    t = np.arange(2 * RATE) / RATE
    chord = sum(np.sin(2 * np.pi * f * t + f) for f in (110.0, 220.0, 330.0, 445.0))
    for s in (noise(2.0, 4)[0], 0.1 * chord):
        diffuseness = []
        for width in (0.0, 60.0, 120.0, 180.0):
            foa = conform_audio(s, RATE, path, width=width)
            track = intensity_directions(foa, RATE)
            assert great_circle_deg(track.az[0], track.el[0], -60.0, 15.0) < 1.0
            assert np.mean(foa[0] ** 2) == pytest.approx(np.mean(s**2), rel=0.01)  # W's level
            diffuseness.append(float(track.diffuseness[0]))
        assert diffuseness[0] < 1e-6
        assert np.all(np.diff(diffuseness) > 0.02)


def test_half_the_apparent_size_is_six_db_quieter_and_darker() -> None:
    path = DirectionPath.constant(0.0, 0.0)
    cue = DistanceCue((0.0, 1.0, 1.01, 3.0), (20.0, 20.0, 10.0, 10.0), reference=20.0)
    late = slice(round(2.0 * RATE), round(3.0 * RATE))
    early = slice(0, round(0.5 * RATE))
    # Level: a low band, where air absorption does not reach.
    low = sosfilt(butter(6, 2000.0, fs=RATE, output="sos"), noise(3.0, 5))
    near, far = (conform_audio(low, RATE, path, distance=c)[0] for c in (None, cue))
    ratio_db = 10 * np.log10(np.mean(far[late] ** 2) / np.mean(near[late] ** 2))
    assert abs(ratio_db - -6.02) < 0.5
    assert abs(10 * np.log10(np.mean(far[early] ** 2) / np.mean(near[early] ** 2))) < 0.1
    # Colour: white noise loses more above 8 kHz once the source is twice as far.
    white = noise(3.0, 6)
    foa = conform_audio(white, RATE, path, distance=cue)[0]
    share_near = band_energy(foa[early], 8000, 24000) / band_energy(foa[early], 0, 24000)
    share_far = band_energy(foa[late], 8000, 24000) / band_energy(foa[late], 0, 24000)
    assert share_far < 0.8 * share_near


def test_a_distance_step_does_not_click() -> None:
    t = np.arange(3 * RATE) / RATE
    tone = 0.5 * np.sin(2 * np.pi * 500.0 * t + 0.3)
    cue = DistanceCue((0.0, 1.5, 1.5001, 3.0), (40.0, 40.0, 5.0, 5.0), reference=40.0)
    out = conform_audio(tone, RATE, DirectionPath.constant(0.0, 0.0), distance=cue)[0]
    high = butter(8, 4000.0, "highpass", fs=RATE, output="sos")
    inner = slice(round(0.2 * RATE), round(2.8 * RATE))
    hard_step = tone * np.where(t < 1.5, 1.0, 0.125)  # what a click looks like here
    assert np.max(np.abs(sosfiltfilt(high, hard_step)[inner])) > 0.01
    assert np.max(np.abs(sosfiltfilt(high, out)[inner])) < 0.002
    assert (
        abs(np.sqrt(np.mean(out[-RATE:] ** 2)) / np.sqrt(np.mean(tone[-RATE:] ** 2)) - 1 / 8) < 0.01
    )


def test_blocks_give_the_same_stem_as_one_call() -> None:
    from plugin_core.conform.encoding import Conformer

    path = DirectionPath((0.0, 1.0), (0.0, 90.0), (0.0, 0.0))
    cue = DistanceCue((0.0, 0.4, 0.8), (10.0, 25.0, 8.0))
    s = noise(1.0, 7)
    whole = conform_audio(s, RATE, path, width=90.0, distance=cue)
    conformer = Conformer(1, RATE, path, width=90.0, distance=cue)
    parts = [conformer.process(s[:, i : i + 3001]) for i in range(0, s.shape[1], 3001)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-12)


def test_synthsphere_object_conformed_along_its_trajectory_matches_the_truth() -> None:
    scene = make_scene(3, 4.0, objects=1, motions=["seam"], ambience_db=-60.0)
    obj = scene.objects[0]
    traj, rate = obj.trajectory, scene.sample_rate
    signal = object_signal(scene, obj)
    truth = encode_mono(signal, traj.az, traj.el, traj.times, rate)
    ours = conform_audio(signal, rate, DirectionPath(traj.times, traj.az, traj.el))
    a = intensity_directions(truth, rate, window_s=0.5)
    b = intensity_directions(ours, rate, window_s=0.5)
    sounding = a.energy > 1e-3 * a.energy.max()
    assert sounding.sum() >= 4
    errors = great_circle_deg(a.az, a.el, b.az, b.el)[sounding]
    assert errors.max() < 2.0


# ------------------------------------------------------------------------------- file job


def request(tmp_path: Path, stem: Path, **kwargs) -> ConformRequest:
    defaults = {
        "stem": stem,
        "output": tmp_path / "out.wav",
        "path": DirectionPath.constant(90.0, 0.0),
        "end": 1.0,
    }
    return ConformRequest(**{**defaults, **kwargs})


def write_stem(path: Path, audio: np.ndarray, rate: int = RATE) -> Path:
    write_audio(path, audio.astype(np.float32), rate)
    return path


def test_file_job_resamples_writes_and_describes_the_stem(tmp_path: Path) -> None:
    stem = write_stem(tmp_path / "dialogue.wav", noise(1.0, 8)[:, :44100], 44100)
    cue = DistanceCue((0.0, 1.0), (12.0, 12.0))
    req = request(tmp_path, stem, width=30.0, distance=cue, source={"path": "keyed by hand"})
    result = conform_stem(req)
    foa, rate = read_foa(result.path)
    assert (rate, foa.shape) == (RATE, (4, RATE))
    assert result.notes == []
    az, el = direction(foa)
    assert great_circle_deg(az, el, 90.0, 0.0) < 1.0
    side = json.loads(result.sidecar.read_text())
    assert side["job"] == "conform"
    assert side["request"]["path"]["keys"] == [{"t": 0.0, "yaw": 90.0, "pitch": 0.0}]
    assert side["request"]["source"] == {"path": "keyed by hand"}
    assert side["conform"]["width"] == 30.0
    assert side["request"]["distance"]["sizes"] == [12.0, 12.0]
    assert side["conform"]["distance"]["reference_size"] == pytest.approx(12.0)
    assert side["source"]["sample_rate"] == 44100
    assert side["delivery"]["sample_rate"] == RATE


@pytest.mark.parametrize(("seconds", "word"), [(1.5, "cut"), (0.6, "padded")])
def test_a_stem_of_another_length_is_fitted_and_that_is_said(
    tmp_path: Path, seconds: float, word: str
) -> None:
    stem = write_stem(tmp_path / "music.wav", noise(seconds, 9, channels=2))
    result = conform_stem(request(tmp_path, stem, start=2.0, end=3.0, convention="fuma"))
    assert sf.info(str(result.path)).frames == RATE
    assert len(result.notes) == 1
    assert word in result.notes[0]
    assert json.loads(result.sidecar.read_text())["conform"]["notes"] == result.notes
    if word == "padded":
        foa = sf.read(str(result.path))[0]
        assert np.all(foa[round(0.61 * RATE) :] == 0.0)


def test_more_than_two_channels_is_refused(tmp_path: Path) -> None:
    stem = write_stem(tmp_path / "foa.wav", noise(1.0, 10, channels=4))
    with pytest.raises(InputError, match=r"has 4 channels.*mono or stereo.*omnifoa convert"):
        conform_stem(request(tmp_path, stem))
    assert not (tmp_path / "out.wav").exists()


def test_a_corrupt_stem_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    stem = tmp_path / "broken.wav"
    stem.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(100))
    with pytest.raises(InputError, match=r"Cannot read broken\.wav"):
        conform_stem(request(tmp_path, stem))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.wav"]


def test_an_existing_output_is_not_clobbered(tmp_path: Path) -> None:
    stem = write_stem(tmp_path / "s.wav", noise(1.0, 11))
    out = tmp_path / "out.wav"
    out.write_bytes(b"keep me")
    with pytest.raises(InputError, match="exists"):
        conform_stem(request(tmp_path, stem))
    assert out.read_bytes() == b"keep me"
    assert conform_stem(request(tmp_path, stem, overwrite=True)).path == out
    assert sf.info(str(out)).channels == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav", "out.wav.json", "s.wav"]


# ------------------------------------------------------------------------------------ CLI


def test_cli_conforms_a_stem_over_a_video(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    write_video(video, indexed_frames(16, 256, 128), 8.0)  # 2 s
    stem = write_stem(tmp_path / "s.wav", noise(2.0, 12))
    path = tmp_path / "p.csv"
    path.write_text("t,yaw,pitch\n0,-45,10\n")
    out = tmp_path / "out.wav"
    done = run_cli("conform", str(video), str(stem), "-o", str(out), "--path", str(path))
    assert done.returncode == 0, done.stderr
    foa, rate = read_foa(out)
    assert foa.shape == (4, 2 * RATE)
    az, el = direction(foa, rate)
    assert great_circle_deg(az, el, -45.0, 10.0) < 1.0
    again = run_cli("conform", str(video), str(stem), "-o", str(out), "--auto", "--path", str(path))
    assert again.returncode == 2
    assert "in one way" in again.stderr
    half = run_cli("conform", str(video), str(stem), "-o", str(out), "--at", "10,0")
    assert half.returncode == 2
    assert "--time" in half.stderr
    many = write_stem(tmp_path / "quad.wav", noise(1.0, 13, channels=4))
    refused = run_cli(
        "conform", str(video), str(many), "-o", str(tmp_path / "x.wav"), "--path", str(path)
    )
    assert refused.returncode == 2
    assert "4 channels" in refused.stderr
    assert refused.stderr.count("\n") == 1
    assert not (tmp_path / "x.wav").exists()


def test_cli_tracks_a_marked_object_and_places_its_dry_sound_where_it_moves(
    tmp_path: Path,
) -> None:
    # an object passing behind the camera across the seam, marked once mid-clip
    scene = make_scene(5, 4.0, objects=1, motions=["seam"], directions=[(140.0, 5.0)])
    obj = scene.objects[0]
    video = tmp_path / "scene.mp4"
    write_video(video, render_frames(scene, 512, 256, 8.0), 8.0)
    stem = tmp_path / "dry.wav"
    sf.write(stem, object_signal(scene, obj).astype(np.float32), scene.sample_rate)
    times, az, el = (
        np.asarray(v) for v in (obj.trajectory.times, obj.trajectory.az, obj.trajectory.el)
    )
    mark_t = 2.0
    mark = DirectionPath(tuple(times), tuple(az), tuple(el)).at(np.array([mark_t]))
    out, saved = tmp_path / "placed.wav", tmp_path / "path.json"
    done = run_cli(
        "conform",
        str(video),
        str(stem),
        "-o",
        str(out),
        f"--at={mark[0][0]:.1f},{mark[1][0]:.1f}",  # '=' lets a negative azimuth through
        "--time",
        str(mark_t),
        "--distance",
        "--save-path",
        str(saved),
    )
    assert done.returncode == 0, done.stderr
    foa, rate = read_foa(out)
    truth = encode_mono(object_signal(scene, obj), az, el, times, scene.sample_rate)
    ours = intensity_directions(foa, rate, 0.5)
    ref = intensity_directions(truth, scene.sample_rate, 0.5)
    heard = ref.energy > 0.05 * ref.energy.max()
    n = min(len(ours.az), len(ref.az))
    errors = great_circle_deg(ours.az[:n], ours.el[:n], ref.az[:n], ref.el[:n])[heard[:n]]
    assert errors.mean() < 10.0, errors
    doc = json.loads((tmp_path / "placed.wav.json").read_text())
    assert doc["request"]["source"]["direction"] == "tracked"
    assert doc["request"]["distance"] is not None
    path = load_path(saved)
    assert len(path.times) == 32  # one key per tracked frame: 4 s at 8 fps
