"""``omnifoa batch --ray``: the same shots on a local Ray cluster (2 CPUs, started here) give
the same stems as a local run; a worker killed mid-shot is restarted and the shot made once;
a video the workers cannot see is shipped through Ray's object store.

On CPU, torch's sums depend on its thread count, and a Ray worker holding one CPU runs one
thread: the local reference runs with one torch thread too ("the same kind of machine").
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from cli_runner import run_main
from hostile_inputs import snapshot

from plugin_core.batch import ray_farm
from plugin_core.batch.farm_worker import ShotWorker, VideoCopy, sees
from plugin_core.batch.plan import plan_batch
from plugin_core.batch.shot_list import Shot
from plugin_core.batch.shot_run import run_shot
from plugin_core.generation.file_hashes import file_sha256
from plugin_core.generation.loaded_model import LoadedModel, load_model
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.video import write_video
from plugin_core.synthsphere import make_scene, render_frames

ray = pytest.importorskip("ray")

SHOTS = "shot,video,seed,yaw,output\nA,a.mp4,1,0,stems/a.wav\nB,b.mp4,2,90,stems/b.wav\n"
CORRUPT = "C,c.mp4,3,0,stems/c.wav\n"


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    """One local Ray instance with 2 CPUs for the module; never a remote address."""
    # the workers unpickle this module's loader by value (they cannot import a test module)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def scene_video(path: Path, scene: int, seconds: float = 1.5) -> Path:
    write_video(path, render_frames(make_scene(scene, seconds), 256, 128, 8.0), 8.0)
    return path


def project(folder: Path, rows: str = SHOTS + CORRUPT) -> Path:
    folder.mkdir(exist_ok=True)
    scene_video(folder / "a.mp4", 3)
    scene_video(folder / "b.mp4", 4)
    (folder / "c.mp4").write_bytes(os.urandom(5000))
    (folder / "stems").mkdir()
    (folder / "shots.csv").write_text(rows)
    return folder


def samples(path: Path) -> np.ndarray:
    return sf.read(str(path), dtype="float32")[0]


def report_rows(path: Path) -> list[tuple[str, str, str | None]]:
    document = json.loads(path.read_text())
    return [(r["shot"], r["status"], r["video_from"]) for r in document["shots"]]


def test_the_farm_makes_the_local_runs_stems_and_reports_the_failure(tmp_path: Path) -> None:
    local, farm = project(tmp_path / "local"), project(tmp_path / "farm")
    with one_thread():
        assert run_main(["batch", str(local / "shots.csv")], timeout=180).status == 3
    done = run_main(["batch", str(farm / "shots.csv"), "--ray", "local"], timeout=180)
    assert done.status == 3, done.stderr
    assert report_rows(farm / "shots.report.json") == [
        ("A", "done", "shared"),
        ("B", "done", "shared"),
        ("C", "failed", None),
    ]
    failed = json.loads((farm / "shots.report.json").read_text())["shots"][2]
    assert failed["reason"].startswith("Cannot read c.mp4 as a video")
    table = done.stdout.splitlines()
    assert table[3].split()[:2] == ["C", "failed"]
    assert "videos: 2 shot(s) read from shared storage, 0 shipped" in done.stdout
    names = ["a.wav", "a.wav.json", "b.wav", "b.wav.json"]
    assert sorted(p.name for p in (farm / "stems").iterdir()) == names
    for stem in ("a.wav", "b.wav"):
        np.testing.assert_array_equal(
            samples(farm / "stems" / stem), samples(local / "stems" / stem)
        )
        made = json.loads((farm / "stems" / f"{stem}.json").read_text())
        here = json.loads((local / "stems" / f"{stem}.json").read_text())
        assert made["request_hash"] == here["request_hash"]
        assert made["request"]["output"] == str(farm / "stems" / stem)

    # a rerun on the farm skips both good shots: no worker is asked for them
    before = snapshot(farm / "stems")
    again = run_main(["batch", str(farm / "shots.csv"), "--ray", "local"], timeout=180)
    assert again.status == 3
    assert [r[:2] for r in report_rows(farm / "shots.report.json")] == [
        ("A", "skipped"),
        ("B", "skipped"),
        ("C", "failed"),
    ]
    assert snapshot(farm / "stems") == before


def test_ship_videos_needs_ray(tmp_path: Path) -> None:
    folder = project(tmp_path, SHOTS)
    before = snapshot(folder)
    done = run_main(["batch", str(folder / "shots.csv"), "--ship-videos"])
    assert done.status == 2
    assert done.messages() == [
        "omnifoa: error: --ship-videos sends videos to Ray workers; give --ray too."
    ]
    assert snapshot(folder) == before


def test_without_ray_the_farm_asks_for_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = project(tmp_path, SHOTS)
    monkeypatch.setitem(sys.modules, "ray", None)  # as where omnifoa[farm] is not installed
    before = snapshot(folder)
    done = run_main(["batch", str(folder / "shots.csv"), "--ray", "local"])
    assert done.status == 2
    assert done.messages() == [f"omnifoa: error: {ray_farm.NO_RAY}"]
    assert snapshot(folder) == before


@pytest.mark.parametrize(
    ("address", "sentence"),
    [
        ("127.0.0.1:1", "Cannot reach the Ray cluster at 127.0.0.1:1 ("),
        ("head", "--ray takes local, auto or HOST:PORT (the Ray head's), not 'head'."),
    ],
)
def test_a_cluster_that_is_not_there_is_one_sentence_before_any_work(
    tmp_path: Path, address: str, sentence: str
) -> None:
    folder = project(tmp_path, SHOTS)
    before = snapshot(folder)
    done = run_main(["batch", str(folder / "shots.csv"), "--ray", address])
    assert done.status == 2
    [message] = done.messages()
    assert message.startswith(f"omnifoa: error: {sentence}")
    assert snapshot(folder) == before


class MarkingLoad:
    """Loads the model in a worker, notes the worker's process in ``folder`` (load-PID), and
    marks the first shot that starts sampling anywhere (sampling-PID), once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, model_id: str, device: str, copy: str) -> LoadedModel:
        loaded = load_model(model_id, device, copy)
        (self.folder / f"load-{os.getpid()}").touch()
        sample = loaded.model.sample
        folder = self.folder

        def marked(*args, **kwargs):
            if not any(folder.glob("sampling-*")):
                (folder / f"sampling-{os.getpid()}").touch()
            return sample(*args, **kwargs)

        loaded.model.sample = marked
        return loaded


def wait_for(folder: Path, pattern: str, runner: threading.Thread) -> Path:
    """The first file matching ``pattern`` once a worker has written it."""
    while runner.is_alive():
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"the batch ended before any worker wrote {pattern}")


def test_a_worker_killed_mid_shot_is_restarted_and_the_shot_made_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = scene_video(tmp_path / "a.mp4", 3)
    (tmp_path / "marks").mkdir()
    (tmp_path / "stems").mkdir()
    [shot] = plan_batch(
        [Shot("A", "row 1", GenerationRequest(video, tmp_path / "stems" / "a.wav", seed=1))]
    )
    commits: list[str] = []
    real_commit = ray_farm.commit_shot
    monkeypatch.setattr(
        ray_farm, "commit_shot", lambda s, folder: commits.append(s.name) or real_commit(s, folder)
    )
    results: list = []
    runner = threading.Thread(
        target=lambda: results.extend(
            ray_farm.run_on_ray([shot], "cpu", load=MarkingLoad(tmp_path / "marks"))
        )
    )
    runner.start()
    sampling = wait_for(tmp_path / "marks", "sampling-*", runner)
    killed = int(sampling.name.split("-")[1])
    os.kill(killed, signal.SIGKILL)
    runner.join()

    [result] = results
    assert (result.status, result.output) == ("done", str(shot.request.output))
    assert commits == ["A"]  # committed once, by the driver
    loads = sorted(int(p.name.split("-")[1]) for p in (tmp_path / "marks").glob("load-*"))
    assert killed in loads  # the killed worker, then its restart
    assert len(loads) == 2
    assert sorted(p.name for p in (tmp_path / "stems").iterdir()) == ["a.wav", "a.wav.json"]
    reference = tmp_path / "reference"
    reference.mkdir()
    with one_thread():
        run_shot(
            replace(shot, request=replace(shot.request, output=reference / "a.wav")),
            load_model("omnifoa-mini", "cpu"),
        )
    np.testing.assert_array_equal(
        samples(tmp_path / "stems" / "a.wav"), samples(reference / "a.wav")
    )


def test_a_video_the_workers_cannot_see_is_shipped(tmp_path: Path) -> None:
    """The driver reads its video through /proc/self/fd/N, a path that names another file (or
    none) in a worker's process: the workers do not see it, so the driver ships it."""
    video = scene_video(tmp_path / "a.mp4", 3)
    descriptor = os.open(video, os.O_RDONLY)
    try:
        hidden = Path(f"/proc/self/fd/{descriptor}")
        shots = plan_batch(
            [
                Shot("hidden", "row 1", GenerationRequest(hidden, tmp_path / "hidden.wav", seed=2)),
                Shot("shared", "row 2", GenerationRequest(video, tmp_path / "shared.wav", seed=2)),
            ]
        )
        results = ray_farm.run_on_ray(shots, "cpu")
    finally:
        os.close(descriptor)
    assert [(r.status, r.video_from) for r in results] == [("done", "shipped"), ("done", "shared")]
    np.testing.assert_array_equal(
        samples(tmp_path / "hidden.wav"), samples(tmp_path / "shared.wav")
    )
    sidecar = json.loads((tmp_path / "hidden.wav.json").read_text())
    assert sidecar["request"]["video"] == sidecar["source"]["video"] == str(hidden)


def test_ship_videos_sends_every_video(tmp_path: Path) -> None:
    folder = project(tmp_path, SHOTS)
    done = run_main(
        ["batch", str(folder / "shots.csv"), "--ray", "local", "--ship-videos"], timeout=180
    )
    assert done.status == 0, done.stderr
    assert report_rows(folder / "shots.report.json") == [
        ("A", "done", "shipped"),
        ("B", "done", "shipped"),
    ]
    assert "videos: 0 shot(s) read from shared storage, 2 shipped" in done.stdout
    assert json.loads((folder / "stems" / "a.wav.json").read_text())["request"]["video"] == str(
        folder / "a.mp4"
    )


def test_a_worker_sees_only_the_same_bytes_at_the_same_path(tmp_path: Path) -> None:
    video = scene_video(tmp_path / "a.mp4", 3)
    size, digest = video.stat().st_size, file_sha256(video)
    assert sees(VideoCopy(video, size, digest))
    assert not sees(VideoCopy(tmp_path / "gone.mp4", size, digest))
    assert not sees(VideoCopy(video, size + 1, digest))
    assert not sees(VideoCopy(video, size, "0" * 64))  # same size, other bytes
    worker = ShotWorker("cpu")
    [shot] = plan_batch([Shot("A", "row 1", GenerationRequest(video, tmp_path / "a.wav"))])
    assert worker.make(shot, VideoCopy(video, size, "0" * 64)) is None  # nothing to read: ask


class DyingLoad:
    """Loads the model in a worker whose process is killed whenever it starts sampling."""

    def __call__(self, model_id: str, device: str, copy: str) -> LoadedModel:
        loaded = load_model(model_id, device, copy)
        loaded.model.sample = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
        return loaded


def test_a_shot_whose_worker_dies_on_every_retry_fails_and_leaves_nothing(tmp_path: Path) -> None:
    video = scene_video(tmp_path / "a.mp4", 3)
    (tmp_path / "stems").mkdir()
    [shot] = plan_batch(
        [Shot("A", "row 1", GenerationRequest(video, tmp_path / "stems" / "a.wav", seed=1))]
    )
    [result] = ray_farm.run_on_ray([shot], "cpu", load=DyingLoad())
    assert (result.status, result.output) == ("failed", None)
    assert result.reason == (
        "The Ray worker making this shot died, and again on each of 2 retries; "
        "nothing of it was written."
    )
    assert snapshot(tmp_path / "stems") == {}
