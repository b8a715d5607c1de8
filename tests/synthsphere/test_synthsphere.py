"""synthsphere: procedural 360 scenes whose video, FOA and JSON ground truth agree."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from plugin_core.errors import InputError
from plugin_core.spatial.directions import (
    az_el_to_vector,
    erp_pixel_directions,
    great_circle_deg,
    vector_to_az_el,
)
from plugin_core.spatial.foa import direction_per_sample, intensity_directions
from plugin_core.synthsphere import (
    MOTIONS,
    SOUND_CLASSES,
    load_scene,
    make_scene,
    render_foa,
    render_frames,
    render_scene,
    save_scene,
    scene_from_json,
    scene_to_json,
    write_dataset,
)
from plugin_core.synthsphere import dataset as dataset_module
from plugin_core.synthsphere.backdrop import render_backdrop
from plugin_core.synthsphere.scene import Scene, VideoFormat
from plugin_core.synthsphere.sounds import synthesize

SR = 44100


def single(
    seed: int,
    seconds: float,
    sound_class: str,
    motion: str,
    az: float,
    el: float,
    event: str = "flash",
) -> Scene:
    return make_scene(
        seed,
        seconds,
        classes=[sound_class],
        motions=[motion],
        directions=[(az, el)],
        events=[event],
    )


# --------------------------------------------------------------------------- description


def test_same_seed_same_scene_and_bit_identical_foa() -> None:
    a, b = make_scene(11, 2.0), make_scene(11, 2.0)
    assert scene_to_json(a) == scene_to_json(b)
    foa_a, foa_b = render_foa(a), render_foa(b)
    assert foa_a.dtype == np.float32
    assert foa_a.tobytes() == foa_b.tobytes()


def test_different_seeds_give_different_scenes() -> None:
    a, b = make_scene(11, 2.0), make_scene(12, 2.0)
    assert scene_to_json(a) != scene_to_json(b)
    assert not np.array_equal(render_foa(a), render_foa(b))


def test_json_round_trip_gives_an_equal_scene(tmp_path: Path) -> None:
    scene = make_scene(5, 3.0)
    assert scene_from_json(scene_to_json(scene)) == scene
    save_scene(scene, tmp_path / "scene.json")
    assert load_scene(tmp_path / "scene.json") == scene
    data = json.loads(scene_to_json(scene))
    assert data["schema_version"] == 1
    assert data["sample_rate"] == SR
    obj = data["objects"][0]
    assert {"sound_class", "trajectory", "level_db", "onsets", "look"} <= obj.keys()
    assert len(obj["level_db"]) == len(obj["trajectory"]["times"]) == 61  # 20 Hz over 3 s


def test_wrong_schema_version_and_bad_options_are_one_sentence_errors() -> None:
    data = json.loads(scene_to_json(make_scene(1, 1.0)))
    data["schema_version"] = 99
    with pytest.raises(InputError, match="schema version 99"):
        scene_from_json(json.dumps(data))
    with pytest.raises(InputError, match="Unknown sound class 'cat'"):
        make_scene(1, 2.0, classes=["cat"])
    with pytest.raises(InputError, match="agree"):
        make_scene(1, 2.0, classes=["bird", "bell"], motions=["static"])
    with pytest.raises(InputError, match="seed"):
        make_scene(-1)


def test_random_scenes_mix_classes_motions_and_the_seam() -> None:
    scenes = [make_scene(seed, 10.0) for seed in range(40)]
    objects = [o for s in scenes for o in s.objects]
    assert {len(s.objects) for s in scenes} == {1, 2, 3}
    assert {o.sound_class for o in objects} == set(SOUND_CLASSES)
    assert {o.motion for o in objects} == set(MOTIONS)
    for o in objects:
        az, el = np.array(o.trajectory.az), np.array(o.trajectory.el)
        steps = great_circle_deg(az[:-1], el[:-1], az[1:], el[1:])
        assert steps.max() < 6.0  # smooth: under 120°/s between 20 Hz keyframes
        assert o.onsets
        assert min(o.onsets) >= 0.0
        assert max(o.onsets) < 10.0
        if o.motion == "seam":
            assert np.any(np.abs(az) > 170.0)
            assert az.min() < 0.0 < az.max()
    assert max(max(o.trajectory.el) for o in objects if o.motion == "climb") > 55.0


# --------------------------------------------------------------------------- sound field


def _active_samples(scene: Scene, below_max_db: float = 10.0) -> np.ndarray:
    obj = scene.objects[0]
    level = np.interp(np.arange(scene.num_samples) / SR, obj.trajectory.times, obj.level_db)
    return level > level.max() - below_max_db


@pytest.mark.parametrize(
    ("sound_class", "az", "el"),
    [("engine", 60.0, 20.0), ("bell", -135.0, -30.0), ("applause", 180.0, 65.0)],
)
def test_static_object_is_heard_from_its_direction(sound_class: str, az: float, el: float) -> None:
    scene = single(3, 2.0, sound_class, "static", az, el)
    foa = render_foa(scene)
    track = intensity_directions(foa[:, _active_samples(scene)], SR)
    assert great_circle_deg(track.az[0], track.el[0], az, el) < 3.0


@pytest.mark.parametrize(("sound_class", "motion"), [("water", "pan"), ("engine", "seam")])
def test_moving_object_is_tracked_window_by_window(sound_class: str, motion: str) -> None:
    scene = single(8, 3.0, sound_class, motion, 150.0, 10.0)
    traj = scene.objects[0].trajectory
    foa = render_foa(scene)
    track = intensity_directions(foa, SR, window_s=0.2)
    truth = direction_per_sample(scene.num_samples, traj.az, traj.el, traj.times, SR)
    centres = np.minimum(np.round(track.times * SR).astype(int), scene.num_samples - 1)
    active = _active_samples(scene)[centres]
    gt_az, gt_el = vector_to_az_el(truth[centres])
    errors = great_circle_deg(track.az, track.el, gt_az, gt_el)[active]
    assert active.sum() >= 5
    assert np.median(errors) < 5.0
    assert great_circle_deg(traj.az[0], traj.el[0], traj.az[-1], traj.el[-1]) > 20.0


def test_ambience_is_quiet_diffuse_and_peak_is_safe() -> None:
    scene = make_scene(4, 2.0, ambience_db=-20.0)
    foa = render_foa(scene)
    assert np.all(np.isfinite(foa))
    assert np.max(np.abs(foa)) == pytest.approx(10 ** (-1 / 20), rel=1e-5)
    bed_only = replace(scene, objects=())
    bed = render_foa(bed_only)
    assert np.median(intensity_directions(bed, SR, window_s=0.5).diffuseness) > 0.7


def _features(x: np.ndarray) -> np.ndarray:
    """log2 spectral centroid, fraction of loud 25 ms frames, log2 flatness, level spread (dB)."""
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    band = (freqs > 50) & (freqs < 10000)
    flatness = np.exp(np.mean(np.log(power[band] + 1e-20))) / np.mean(power[band])
    frames = x[: x.size // 1102 * 1102].reshape(-1, 1102)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    level = 20 * np.log10(np.maximum(rms / rms.max(), 1e-3))
    centroid = np.sum(freqs * power) / np.sum(power)
    return np.array(
        [np.log2(centroid), np.mean(rms > 0.3 * rms.max()), np.log2(flatness), np.std(level)]
    )


def test_the_eight_classes_sound_different_and_none_clips() -> None:
    sounds = {c: synthesize(c, [0.2, 0.9, 1.6], 2 * SR, SR, seed=21) for c in SOUND_CLASSES}
    for name, x in sounds.items():
        assert np.all(np.isfinite(x)), name
        assert np.sqrt(np.mean(x**2)) > 0.01, name
        assert np.max(np.abs(x)) <= 10 ** (-1 / 20) + 1e-9, name
    features = {c: _features(x) for c, x in sounds.items()}
    # Half an octave of centroid, a fifth of the time loud, 2x flatness or 3 dB level spread.
    scale = np.array([0.5, 0.2, 1.0, 3.0])
    for a, b in itertools.combinations(SOUND_CLASSES, 2):
        assert np.max(np.abs(features[a] - features[b]) / scale) > 1.0, (a, b)
    assert features["engine"][0] < features["siren"][0] < features["bird"][0]


# --------------------------------------------------------------------------- pictures


def _object_cap(scene: Scene, frame: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """Centre (az, el) and angular radius of the pixels that differ from the backdrop."""
    height, width = frame.shape[:2]
    background = render_backdrop(scene.backdrop, width, height).astype(int)
    mask = np.abs(frame.astype(int) - background).max(axis=2) > 12
    az, el = erp_pixel_directions(width, height)
    weight = np.cos(np.radians(el)) * mask  # solid angle of each ERP pixel
    centre = (az_el_to_vector(az, el) * weight[..., None]).sum(axis=(0, 1))
    c_az, c_el = vector_to_az_el(centre)
    area = weight.sum() * (2 * np.pi / width) * (np.pi / height)
    return float(c_az), float(c_el), math.degrees(math.acos(1 - area / (2 * np.pi))), mask


@pytest.mark.parametrize(("az", "el"), [(40.0, 10.0), (180.0, 0.0), (-100.0, 75.0)])
def test_drawn_object_sits_where_the_ground_truth_says(az: float, el: float) -> None:
    scene = single(2, 1.0, "bell", "static", az, el)
    frame = next(iter(render_frames(scene, 512, 256, 24.0)))
    c_az, c_el, radius, mask = _object_cap(scene, frame)
    assert great_circle_deg(c_az, c_el, az, el) < 3.0
    # Round on the sphere, wherever it is: the same angular radius as asked for.
    assert radius == pytest.approx(scene.objects[0].look.radius_deg, rel=0.15)
    if az == 180.0:
        assert mask[:, 0].any()
        assert mask[:, -1].any()


def test_flash_lights_up_at_each_onset_and_not_in_between() -> None:
    fps = 24.0
    scene = single(5, 3.0, "drum", "static", 0.0, 0.0)
    frames = np.stack(list(render_frames(scene, 128, 64, fps))).astype(float)
    radius = scene.objects[0].look.radius_deg
    az, el = erp_pixel_directions(128, 64)
    region = great_circle_deg(az, el, 0.0, 0.0) < 0.7 * radius
    brightness = frames[:, region].mean(axis=(1, 2))
    onsets = np.array(scene.objects[0].onsets)
    times = np.arange(len(frames)) / fps
    since = times[:, None] - onsets[None, :]
    quiet = ~np.any((since >= -1e-6) & (since < 0.2), axis=1)
    onset_frames = np.ceil(onsets * fps - 1e-6).astype(int)
    base = np.median(brightness[quiet])
    assert len(onsets) >= 4
    assert quiet.sum() >= 10
    assert np.all(brightness[onset_frames] > base + 40.0)
    assert np.all(np.abs(brightness[quiet] - base) < 2.0)
    # The sound starts there too: the drum's energy jumps at each onset.
    w = render_foa(scene)[0].astype(float)
    span = int(0.04 * SR)
    for start in np.round(onsets * SR).astype(int):
        before = np.mean(w[max(0, start - span) : start] ** 2) if start > 0 else 0.0
        assert np.mean(w[start : start + span] ** 2) > 3.0 * before


# --------------------------------------------------------------------------- files


def test_render_scene_writes_decodable_mp4_wav_and_json(tmp_path: Path) -> None:
    scene = make_scene(9, 2.0)
    paths = render_scene(scene, tmp_path, "clip", width=128, height=64, fps=12.0)
    with av.open(str(paths.video)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 24
    assert decoded[0].shape == (64, 128, 3)
    expected = list(render_frames(scene, 128, 64, 12.0))
    assert np.mean(np.abs(decoded[5].astype(float) - expected[5])) < 8.0
    info = sf.info(str(paths.audio))
    assert (info.channels, info.samplerate, info.frames, info.subtype) == (4, SR, 2 * SR, "FLOAT")
    audio, _ = sf.read(str(paths.audio), dtype="float32", always_2d=True)
    assert np.array_equal(audio.T, render_foa(scene))
    assert load_scene(paths.metadata) == replace(scene, video=VideoFormat(128, 64, 12.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "clip.mp4", "clip.wav"]


def test_a_failure_midway_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(dataset_module, "write_audio", disk_full)
    with pytest.raises(OSError, match="disk full"):
        render_scene(make_scene(1, 1.0), tmp_path, "clip", width=64, height=32, fps=8.0)
    assert list(tmp_path.iterdir()) == []


def test_write_dataset_names_scenes_by_seed(tmp_path: Path) -> None:
    written = write_dataset(
        tmp_path / "set", 2, seconds=1.0, first_seed=3, progress=False, width=64, height=32, fps=8.0
    )
    assert [p.metadata.name for p in written] == ["scene_000003.json", "scene_000004.json"]
    assert len(list((tmp_path / "set").iterdir())) == 6
    assert load_scene(written[1].metadata).seed == 4
