"""One shot in two halves (computed into a folder anywhere, then committed all or nothing), and
the local runner: the bundled model, real videos, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hostile_inputs import snapshot

from plugin_core.batch.plan import plan_batch
from plugin_core.batch.runner import NOT_STARTED, run_batch
from plugin_core.batch.shot_list import Shot
from plugin_core.batch.shot_run import commit_shot, run_shot, run_shot_to, shot_files
from plugin_core.batch.warm_models import WarmModels
from plugin_core.errors import InputError
from plugin_core.generation.loaded_model import LoadedModel, load_model
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.video import write_video
from plugin_core.synthsphere import make_scene, render_frames


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    return load_model("omnifoa-mini", "cpu")


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "scene.mp4"
    write_video(path, render_frames(make_scene(5, 1.5), 256, 128, 8.0), 8.0)
    return path


def planned(video: Path, folder: Path, name: str = "shot.wav", **fields) -> Shot:
    request = GenerationRequest(video=video, output=folder / name, **fields)
    [shot] = plan_batch([Shot(name, "test", request)])
    return shot


def sidecar(path: Path) -> dict:
    document = json.loads(path.read_text())
    document.pop("created")
    return document


def test_computed_elsewhere_and_committed_is_what_a_local_run_writes(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    local_dir, remote_dir, worker = tmp_path / "local", tmp_path / "remote", tmp_path / "worker"
    for folder in (local_dir, remote_dir, worker):
        folder.mkdir()
    local = planned(video, local_dir, seed=4, variations=2)
    remote = planned(video, remote_dir, seed=4, variations=2)
    written = run_shot(local, loaded)
    names = run_shot_to(remote, loaded, worker)
    assert (
        names
        == shot_files(remote)
        == [
            "shot.wav",
            "shot.wav.json",
            "shot.wav.takes/take1.wav",
            "shot.wav.takes/take2.wav",
        ]
    )
    assert sorted(p.name for p in remote_dir.iterdir()) == []  # nothing before the commit
    committed = commit_shot(remote, worker)
    assert committed == [remote_dir / n for n in names]
    assert written == [local_dir / n for n in names]
    for name in names:
        if name.endswith(".json"):
            a, b = sidecar(local_dir / name), sidecar(remote_dir / name)
            assert a["request"].pop("output") == str(local_dir / "shot.wav")
            assert b["request"].pop("output") == str(remote_dir / "shot.wav")
            assert a == b
            assert a["request_hash"] == local.request_hash == remote.request_hash
        else:
            # sample for sample (the WAV's PEAK chunk holds the time it was written)
            a, b = (sf.read(str(d / name), dtype="float32")[0] for d in (local_dir, remote_dir))
            np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in local_dir.iterdir()) == [
        "shot.wav",
        "shot.wav.json",
        "shot.wav.takes",
    ]


@pytest.mark.parametrize("damage", ["extra", "missing", "link", "outside"])
def test_a_commit_takes_only_the_files_a_shot_makes(
    loaded: LoadedModel, video: Path, tmp_path: Path, damage: str
) -> None:
    out, worker = tmp_path / "out", tmp_path / "worker"
    out.mkdir()
    worker.mkdir()
    shot = planned(video, out)
    run_shot_to(shot, loaded, worker)
    if damage == "extra":
        (worker / "notes.txt").write_text("x")
    elif damage == "missing":
        (worker / "shot.wav.json").unlink()
    elif damage == "link":
        (worker / "shot.wav").unlink()
        (worker / "shot.wav").symlink_to(video)
    else:
        (worker / "sub").mkdir()
        os.replace(worker / "shot.wav", worker / "sub" / "shot.wav")
    with pytest.raises(InputError, match="not the ones a shot makes"):
        commit_shot(shot, worker)
    assert snapshot(out) == {}


def test_a_cancelled_shot_leaves_nothing(loaded: LoadedModel, video: Path, tmp_path: Path) -> None:
    shot = planned(video, tmp_path)
    before = snapshot(tmp_path)
    asked = iter([False])  # not before the shot starts: the first time it is asked while running
    [result] = run_batch(
        [shot], WarmModels(load=lambda *_: loaded), cancel=lambda s: next(asked, True)
    )
    assert (result.status, result.output) == ("cancelled", None)
    assert result.reason == "Cancelled; nothing of this shot was written."
    assert snapshot(tmp_path) == before  # no stem, no sidecar, no scratch folder


def test_a_stopped_batch_starts_no_further_shot(
    loaded: LoadedModel, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = [tmp_path / "one", tmp_path / "two"]
    for folder in folders:
        folder.mkdir()
    shots = [planned(video, folder) for folder in folders]
    samples = []
    real = loaded.model.sample
    monkeypatch.setattr(loaded.model, "sample", lambda *a, **k: samples.append(1) or real(*a, **k))
    results = run_batch(shots, WarmModels(load=lambda *_: loaded), cancel=lambda s: True)
    assert [(r.status, r.reason) for r in results] == [("cancelled", NOT_STARTED)] * 2
    assert samples == []  # the model never ran
    assert [snapshot(folder) for folder in folders] == [{}, {}]


def test_the_runner_goes_on_after_a_failed_or_cancelled_shot_in_order(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 4000)
    shots = plan_batch(
        [
            Shot("one", "row 1", GenerationRequest(video=video, output=tmp_path / "1.wav")),
            Shot("two", "row 2", GenerationRequest(video=broken, output=tmp_path / "2.wav")),
            Shot("three", "row 3", GenerationRequest(video=video, output=tmp_path / "3.wav")),
        ]
    )
    events: list[tuple[str, str]] = []

    class Recorder:
        def shot_started(self, shot: Shot) -> None:
            events.append(("start", shot.name))

        def shot_step(self, shot: Shot, step: int, steps: int) -> None:
            if step == steps:
                events.append(("last step", shot.name))

        def shot_ended(self, shot: Shot, result) -> None:
            events.append((result.status, shot.name))

    results = run_batch(
        shots, WarmModels(load=lambda *_: loaded), Recorder(), lambda s: s.name == "three"
    )
    assert [r.status for r in results] == ["done", "failed", "cancelled"]
    assert results[1].reason.startswith("Cannot read broken.mp4 as a video")
    assert events == [
        ("start", "one"),
        ("last step", "one"),
        ("done", "one"),
        ("start", "two"),
        ("failed", "two"),
        ("start", "three"),
        ("cancelled", "three"),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.wav", "1.wav.json", "broken.mp4"]


def test_scratch_left_by_a_killed_process_is_removed_when_the_shot_is_planned_again(
    video: Path, tmp_path: Path
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process that has ended: its scratch folder is a leftover
    request = GenerationRequest(video=video, output=tmp_path / "shot.wav")
    left = tmp_path / f".shot.wav.{gone.pid}-abc.batch"
    running = tmp_path / f".shot.wav.{os.getpid()}-def.batch"  # a batch still at work
    other = tmp_path / ".shot.wav.notes.batch"  # not a name a batch gives
    for folder in (left, running, other):
        folder.mkdir()
        (folder / "shot.wav").write_bytes(b"partial")
    plan_batch([Shot("shot", "test", request)])
    assert not left.exists()
    assert running.exists()
    assert other.exists()
