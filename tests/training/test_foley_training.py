"""Training the object-Foley model: labels that sit on the drawn objects, event truth at the
onsets, a cache that resumes, a bank at the objects' level, and a run that writes a model
that loads and a record of what it did."""

from pathlib import Path

import numpy as np
import pytest
import torch

from models.foley.family import FRAME_RATE, load_weights_file
from plugin_core.spatial.directions import vector_to_az_el
from plugin_core.synthsphere import SOUND_CLASSES, make_scene
from plugin_core.synthsphere.splits import DEMO_SEED, HELD_OUT_SEEDS
from plugin_core.training.foley_data import (
    cached_scene_views,
    class_levels,
    scene_views,
    sound_bank,
    training_seeds,
)
from plugin_core.training.foley_run import train_foley


@pytest.fixture(scope="module")
def views():
    return scene_views(7)


def test_training_never_draws_the_demo_or_a_held_out_scene() -> None:
    seeds = training_seeds(500)
    assert DEMO_SEED not in seeds
    assert not set(seeds) & set(HELD_OUT_SEEDS)


def test_pixel_labels_sit_on_each_object_and_events_peak_at_onsets(views) -> None:
    scene = make_scene(7)
    height, width = views.labels.shape[1:]
    for index, obj in enumerate(scene.objects):
        label = 1 + SOUND_CLASSES.index(obj.sound_class)
        quiet = int(np.nonzero(views.strength[index] == 0.0)[0][0])  # a frame with no event
        rows, cols = np.nonzero(views.labels[quiet] == label)
        assert rows.size > 20, obj.sound_class
        # the labelled pixels' mean direction (by area) is the object's in the frame shown
        az = np.radians((0.5 - (cols + 0.5) / width) * 360.0)
        el = np.radians((0.5 - (rows + 0.5) / height) * 180.0)
        vectors = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        got_az, got_el = vector_to_az_el((vectors * np.cos(el)).sum(axis=1))
        t = views.shown[quiet]
        want_az = np.interp(t, obj.trajectory.times, obj.trajectory.az)
        want_el = np.interp(t, obj.trajectory.times, obj.trajectory.el)
        assert abs((got_az - want_az + 180) % 360 - 180) < 4.0
        assert abs(got_el - want_el) < 4.0
        strength = views.strength[index]
        for onset in obj.onsets[:3]:
            k = int(np.searchsorted(views.shown, onset))  # the first frame showing it
            assert strength[k] > 0.0
            assert strength[k] == pytest.approx(1.0 - (views.shown[k] - onset) / 0.15, abs=1e-4)
    # camera views carry labels of the same classes
    assert set(np.unique(views.camera_labels)) <= {0} | {
        1 + SOUND_CLASSES.index(o.sound_class) for o in scene.objects
    }
    assert (views.camera_labels[::2] > 0).mean() > 0.005  # half are aimed near an object
    assert np.allclose(np.diff(views.shown), 1 / FRAME_RATE)


def test_the_scene_cache_gives_back_what_it_kept(tmp_path: Path, views) -> None:
    first = cached_scene_views(7, tmp_path)
    again = cached_scene_views(7, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["scene_0000007.npz"]
    for name in ("band", "labels", "strength", "shown", "camera", "camera_labels"):
        assert np.array_equal(getattr(first, name), getattr(views, name)), name
        assert np.array_equal(getattr(again, name), getattr(views, name)), name
    assert again.classes == views.classes


def test_the_bank_holds_each_class_at_the_objects_level_and_never_clips() -> None:
    bank = sound_bank(2, 900_000)
    assert set(bank) == set(SOUND_CLASSES)
    for name, sounds in bank.items():
        assert len(sounds) == 2
        assert not np.array_equal(sounds[0], sounds[1]), name
        frames = sounds[0][: sounds[0].size // 2205 * 2205].reshape(-1, 2205)
        power = (frames.astype(np.float64) ** 2).mean(axis=1)
        active = power >= power.max() * 1e-3
        # the reference level of a scene's object (0.1), lower only where a peaky class is
        # held under -1 dBFS, as the scenes' own objects are
        assert 0.03 < np.sqrt(power[active].mean()) <= 0.1001, name
        assert np.abs(sounds[0]).max() <= 10 ** (-1 / 20) + 1e-6, name


def test_a_short_run_writes_a_model_that_loads_and_resumes(tmp_path: Path) -> None:
    lines: list[str] = []
    weights = tmp_path / "m.safetensors"
    record = train_foley(tmp_path / "work", weights, 4, 10, 10, lines.append)
    model = load_weights_file(weights, "omnifoa-mini")
    assert [c.name for c in model.vocabulary.classes] == list(SOUND_CLASSES)
    assert record["training_seeds"] == [1, 4]
    assert (tmp_path / "work" / "training_record.json").is_file()
    assert any(line.startswith("classifier step 10/10") for line in lines)
    kept = (tmp_path / "work" / "classifier.safetensors").stat().st_mtime_ns
    weights.unlink()
    lines.clear()
    train_foley(tmp_path / "work", weights, 4, 10, 10, lines.append)
    assert not any(line.startswith("classifier step") for line in lines)  # resumed
    assert (tmp_path / "work" / "classifier.safetensors").stat().st_mtime_ns == kept


def test_class_levels_follow_the_bank_and_the_scenes() -> None:
    bank = {k: [torch.from_numpy(x) for x in v] for k, v in sound_bank(2, 900_000).items()}
    seeds = [1, 2, 3, 4]
    present = {o.sound_class for s in seeds for o in make_scene(s).objects}
    levels = class_levels(bank, seeds)
    louder = class_levels({k: [2.0 * x for x in v] for k, v in bank.items()}, seeds)
    for name in SOUND_CLASSES:
        if name in present:
            # a bank twice as loud is brought down by 6 dB more
            assert louder[name] == pytest.approx(levels[name] - 6.02, abs=0.05), name
        else:
            assert levels[name] == 0.0, name
