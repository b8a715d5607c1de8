"""A batch killed while it moves a shot's files into place (a real SIGKILL after its N-th
move): the next run finishes that commit, so the shot is whole and up to date, nothing it
left behind remains, and no file of the user's is lost; a service restarted after such a kill
reports the shot done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_runner import run_main

from plugin_core.batch.commit_journal import commit_journal_path
from plugin_core.media.video import write_video
from plugin_core.service.jobs import JobQueue
from plugin_core.synthsphere import make_scene, render_frames

SUPPORT = Path(__file__).resolve().parents[1] / "support"
HEADER = "shot,video,seed,variations,output\n"
# The moves into the stems' folder: 1 the journal, then each take, the stem and the sidecar
# last; a file already there is set aside first (one move more).
CASES = {
    # a first run, killed with the stem in place and no sidecar
    "new stem, no sidecar": (None, 1, 2, ["a.wav", "a.wav.json"]),
    # two takes in place, then killed with the stem moved and no sidecar
    "new takes and stem, no sidecar": (
        None,
        2,
        4,
        ["a.wav", "a.wav.json", "a.wav.takes", "a.wav.takes/take1.wav", "a.wav.takes/take2.wav"],
    ),
    # the shot's seed changed: killed with the previous stem set aside, no stem in place
    "old stem set aside": (1, 1, 2, ["a.wav", "a.wav.json"]),
    # killed with the new stem in place and the previous sidecar set aside
    "old sidecar set aside": (1, 1, 4, ["a.wav", "a.wav.json"]),
}
USER_FILES = {"notes.txt": "mine", ".a.mine.partial.txt": "mine too"}


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "a.mp4"
    write_video(path, render_frames(make_scene(3, 1.5), 256, 128, 8.0), 8.0)
    return path


def project(folder: Path, video: Path, seed: int, variations: int) -> Path:
    """A shot list of one shot of ``video`` into ``folder``/stems; its path."""
    (folder / "stems").mkdir(parents=True, exist_ok=True)
    shots = folder / "shots.csv"
    shots.write_text(f"{HEADER}A,{video},{seed},{variations},stems/a.wav\n")
    return shots


def killed_at(shots: Path, move: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SUPPORT), os.getcwd()]))
    stems = shots.parent / "stems"
    argv = [sys.executable, str(SUPPORT / "killed_batch.py"), str(stems), str(move)]
    return subprocess.run(
        [*argv, str(shots), "--device", "cpu"], env=env, capture_output=True, text=True
    )


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def samples(path: Path) -> np.ndarray:
    return sf.read(str(path), dtype="float32")[0]


def reference(folder: Path, video: Path, variations: int) -> Path:
    """The stems of the same shot made by a run nobody killed."""
    shots = project(folder, video, 7, variations)
    assert run_main(["batch", str(shots), "--device", "cpu"], timeout=300).status == 0
    return folder / "stems"


def cut_commit(tmp_path: Path, video: Path, case: str) -> Path:
    """The shot list whose seed-7 shot a killed batch left half committed."""
    previous, variations, move, _ = CASES[case]
    work = tmp_path / "work"
    work.mkdir()
    if previous is not None:
        shots = project(work, video, previous, variations)
        assert run_main(["batch", str(shots), "--device", "cpu"], timeout=300).status == 0
    shots = project(work, video, 7, variations)
    for name, text in USER_FILES.items():
        (work / "stems" / name).write_text(text)
    done = killed_at(shots, move)
    assert done.returncode == -9, done.stdout + done.stderr  # killed, not finished
    assert commit_journal_path(work / "stems" / "a.wav").is_file()
    return shots


def assert_whole(stems: Path, made: Path, case: str) -> None:
    """The shot in ``stems`` is the one ``made`` holds, with nothing else left but the
    user's files."""
    files = CASES[case][3]
    assert listing(stems) == sorted([*files, *USER_FILES])
    for name, text in USER_FILES.items():
        assert (stems / name).read_text() == text
    for name in files:
        if name.endswith(".wav"):
            np.testing.assert_array_equal(samples(stems / name), samples(made / name))
    sidecar = json.loads((stems / "a.wav.json").read_text())
    assert sidecar["request"]["seed"] == 7
    assert sidecar["request"]["output"] == str(stems / "a.wav")
    assert sidecar["request_hash"] == json.loads((made / "a.wav.json").read_text())["request_hash"]


@pytest.mark.parametrize("case", CASES)
def test_a_batch_killed_mid_commit_is_finished_by_the_next_run(
    tmp_path: Path, video: Path, case: str
) -> None:
    shots = cut_commit(tmp_path, video, case)
    made = reference(tmp_path / "reference", video, CASES[case][1])

    rerun = run_main(["batch", str(shots), "--device", "cpu"], timeout=300)
    assert rerun.status == 0, rerun.messages()
    report = json.loads(shots.with_name("shots.report.json").read_text())
    assert [(r["shot"], r["status"]) for r in report["shots"]] == [("A", "skipped")]
    assert_whole(shots.parent / "stems", made, case)


def test_a_service_restarted_after_a_kill_mid_commit_reports_the_shot_done(
    tmp_path: Path, video: Path
) -> None:
    """The journal record of the killed service's batch names the shot running; its restart
    finishes the commit (before it removes the partial files beside the outputs)."""
    case = "new stem, no sidecar"
    shots = cut_commit(tmp_path, video, case)
    made = reference(tmp_path / "reference", video, 1)
    stems = shots.parent / "stems"
    job_id, stem = uuid.uuid4().hex, stems / "a.wav"
    record = {
        "id": job_id,
        "kind": "batch",
        "state": "running",
        "stage": "shot 1 of 1: A",
        "planned": [str(stem), str(stems / "a.wav.json")],
        "shots": [{"shot": "A", "origin": "shot 1", "output": str(stem), "state": "running"}],
    }
    journal = tmp_path / "jobs"
    journal.mkdir()
    (journal / f"{job_id}.json").write_text(json.dumps(record))

    jobs = JobQueue(journal, lambda *_: pytest.fail("no model is loaded"))
    try:
        recovered = jobs.get(job_id, None)
    finally:
        jobs.close()
    assert recovered is not None
    assert [s["state"] for s in recovered["shots"]] == ["done"]
    assert recovered["outputs"] == [str(stem)]
    assert_whole(stems, made, case)
