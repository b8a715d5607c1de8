"""``omnifoa batch`` with the bundled model: a project of shots, one of them a corrupt video;
reruns that redo only what changed; bad rows refused before any work; a folder of videos."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_runner import run_main
from hostile_inputs import snapshot

from plugin_core.batch import warm_models
from plugin_core.generation.loaded_model import LoadedModel, load_model
from plugin_core.media.video import write_video
from plugin_core.synthsphere import make_scene, render_frames

SHOTS = "shot,video,seed,yaw,output\nA,a.mp4,1,0,stems/a.wav\nB,b.mp4,2,90,stems/b.wav\n"
CORRUPT = "C,c.mp4,3,0,stems/c.wav\n"


def scene_video(path: Path, scene: int, seconds: float = 1.5) -> Path:
    write_video(path, render_frames(make_scene(scene, seconds), 256, 128, 8.0), 8.0)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Two short 360 videos, a corrupt one, a stems folder and the shot list of all three."""
    scene_video(tmp_path / "a.mp4", 3)
    scene_video(tmp_path / "b.mp4", 4)
    (tmp_path / "c.mp4").write_bytes(os.urandom(5000))
    (tmp_path / "stems").mkdir()
    (tmp_path / "shots.csv").write_text(SHOTS + CORRUPT)
    return tmp_path


class ModelUse:
    """Counts model loads, and the shots a loaded model sampled (by the request seed's windows)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.loads: list[str] = []
        self.samples = 0
        real = load_model

        def counting_load(model_id: str, device: str, copy: str) -> LoadedModel:
            self.loads.append(model_id)
            loaded = real(model_id, "cpu", copy)
            sample = loaded.model.sample

            def counted(*args, **kwargs):
                self.samples += 1
                return sample(*args, **kwargs)

            loaded.model.sample = counted
            return loaded

        monkeypatch.setattr(warm_models, "load_model", counting_load)


def report_rows(path: Path) -> list[tuple[str, str]]:
    document = json.loads(path.read_text())
    assert document["schema"] == "omnifoa-batch-report"
    return [(row["shot"], row["status"]) for row in document["shots"]]


def state(path: Path) -> tuple[int, bytes]:
    return path.stat().st_mtime_ns, path.read_bytes()


def test_a_corrupt_shot_fails_alone_and_a_rerun_redoes_only_what_changed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use = ModelUse(monkeypatch)
    shots, stems, report = project / "shots.csv", project / "stems", project / "shots.report.json"
    first = run_main(["batch", str(shots)])
    assert first.status == 3, first.stderr
    assert sorted(p.name for p in stems.iterdir()) == ["a.wav", "a.wav.json", "b.wav", "b.wav.json"]
    assert report_rows(report) == [("A", "done"), ("B", "done"), ("C", "failed")]
    failed = json.loads(report.read_text())["shots"][2]
    assert failed["origin"] == "shots.csv line 4"
    assert failed["reason"].startswith("Cannot read c.mp4 as a video")
    assert failed["output"] is None
    table = first.stdout.splitlines()
    assert table[0].split() == ["shot", "status", "seconds", "output", "or", "reason"]
    assert table[3].split()[:2] == ["C", "failed"]
    assert "Cannot read c.mp4 as a video" in table[3]
    assert use.loads == ["omnifoa-mini"]  # one load for the whole batch
    sidecar = json.loads((stems / "a.wav.json").read_text())
    assert sidecar["request"]["output"] == str(stems / "a.wav")
    assert (sidecar["request"]["seed"], sidecar["request"]["yaw"]) == (1, 0.0)
    assert len(sidecar["request_hash"]) == 64

    # the same list again: both stems are up to date, the model samples nothing for them
    before = {p.name: state(p) for p in stems.iterdir()}
    use.samples = 0
    again = run_main(["batch", str(shots)])
    assert again.status == 3
    assert report_rows(report) == [("A", "skipped"), ("B", "skipped"), ("C", "failed")]
    assert use.samples == 0
    assert {p.name: state(p) for p in stems.iterdir()} == before

    # a new seed for B: only B is made again
    shots.write_text(SHOTS.replace("B,b.mp4,2", "B,b.mp4,7") + CORRUPT)
    changed = run_main(["batch", str(shots)])
    assert changed.status == 3
    assert report_rows(report) == [("A", "skipped"), ("B", "done"), ("C", "failed")]
    assert use.samples > 0
    assert state(stems / "a.wav") == before["a.wav"]
    assert (stems / "b.wav").read_bytes() != before["b.wav"][1]
    assert json.loads((stems / "b.wav.json").read_text())["request"]["seed"] == 7

    # A's video replaced by another picture: only A is made again; without C all succeed
    scene_video(project / "a.mp4", 9)
    b_now = state(stems / "b.wav")
    shots.write_text(SHOTS.replace("B,b.mp4,2", "B,b.mp4,7"))
    last = run_main(["batch", str(shots)])
    assert last.status == 0, last.stderr
    assert report_rows(report) == [("A", "done"), ("B", "skipped")]
    assert state(stems / "b.wav") == b_now
    assert (stems / "a.wav").read_bytes() != before["a.wav"][1]


def test_overwrite_makes_every_shot_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ModelUse(monkeypatch)
    shots = project / "shots.csv"
    shots.write_text(SHOTS)
    assert run_main(["batch", str(shots)]).status == 0
    stem = project / "stems" / "a.wav"
    made = sf.read(stem)[0]
    again = run_main(["batch", str(shots), "--overwrite"])
    assert again.status == 0, again.stderr
    assert report_rows(project / "shots.report.json") == [("A", "done"), ("B", "done")]
    np.testing.assert_array_equal(sf.read(stem)[0], made)  # same request, same samples


def test_one_model_load_for_many_shots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use = ModelUse(monkeypatch)
    scene_video(tmp_path / "a.mp4", 3)
    rows = "".join(f"s{i},a.mp4,{i},out{i}.wav\n" for i in range(5))
    (tmp_path / "shots.csv").write_text("shot,video,seed,output\n" + rows)
    done = run_main(["batch", str(tmp_path / "shots.csv"), "--yaw", "45"])
    assert done.status == 0, done.stderr
    assert use.loads == ["omnifoa-mini"]
    assert [status for _, status in report_rows(tmp_path / "shots.report.json")] == ["done"] * 5
    seeds = [json.loads((tmp_path / f"out{i}.wav.json").read_text())["request"] for i in range(5)]
    assert [(r["seed"], r["yaw"]) for r in seeds] == [(i, 45.0) for i in range(5)]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("B,b.mp4,-1,0,stems/b.wav", "shots.csv line 3: seed must be between 0 and"),
        ("B,b.mp4,x,0,stems/b.wav", "shots.csv line 3: seed must be a whole number, not 'x'."),
        ("B,gone.mp4,2,0,stems/b.wav", "shots.csv line 3: The video"),
        ("B,b.mp4,2,0,stems/a.wav", "shots.csv line 3: "),
        ("B,b.mp4,2,0,stems/b.mp3", "shots.csv line 3: Name the output *.wav or *.flac."),
        ("B,b.mp4,2,0,nowhere/b.wav", "shots.csv line 3: The folder"),
        ("B,b.mp4,2", "shots.csv line 3: the row has 3 cells and the header 5."),
    ],
)
def test_a_bad_row_is_named_by_its_line_and_nothing_is_written(
    project: Path, monkeypatch: pytest.MonkeyPatch, row: str, message: str
) -> None:
    use = ModelUse(monkeypatch)
    shots = project / "shots.csv"
    shots.write_text(SHOTS.splitlines()[0] + "\nA,a.mp4,1,0,stems/a.wav\n" + row + "\n")
    before = snapshot(project)
    done = run_main(["batch", str(shots)])
    assert done.status == 2
    [sentence] = done.messages()
    assert sentence.startswith(f"omnifoa: error: {message}")
    assert snapshot(project) == before
    assert use.loads == []


def test_an_existing_file_not_made_by_a_batch_is_kept(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ModelUse(monkeypatch)
    shots = project / "shots.csv"
    shots.write_text(SHOTS)
    (project / "stems" / "b.wav").write_bytes(b"mine")
    before = snapshot(project)
    done = run_main(["batch", str(shots)])
    assert done.status == 2
    [sentence] = done.messages()
    assert sentence.startswith("omnifoa: error: shots.csv line 3: ")
    assert sentence.endswith("(--overwrite).")
    assert snapshot(project) == before
    assert run_main(["batch", str(shots), "--overwrite"]).status == 0
    assert sf.info(str(project / "stems" / "b.wav")).channels == 4


def test_a_toml_shot_list_with_a_direction_path(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ModelUse(monkeypatch)
    (project / "turn.csv").write_text("t,yaw,pitch\n0,0,0\n1.5,90,10\n")
    shots = project / "shots.toml"
    shots.write_text(
        '[[shots]]\nshot = "turn"\nvideo = "a.mp4"\npath = "turn.csv"\nend = 1.0\n'
        'output = "stems/turn.wav"\n\n'
        '[[shots]]\nshot = "still"\nvideo = "b.mp4"\nseed = 4\noutput = "stems/still.flac"\n'
    )
    done = run_main(["batch", str(shots)])
    assert done.status == 0, done.stderr
    turn = json.loads((project / "stems" / "turn.wav.json").read_text())["request"]
    assert turn["end"] == 1.0
    assert [k["yaw"] for k in turn["path"]["keys"]] == [0.0, 90.0]
    assert sf.info(str(project / "stems" / "still.flac")).channels == 4
    assert report_rows(project / "shots.report.json") == [("turn", "done"), ("still", "done")]

    shots.write_text(shots.read_text().replace("seed = 4", "seed = -4"))
    bad = run_main(["batch", str(shots)])
    assert bad.status == 2
    assert "shots.toml line 8: seed must be between 0 and" in bad.stderr


def test_a_folder_of_videos_makes_a_stem_per_video(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use = ModelUse(monkeypatch)
    (project / "c.mp4").unlink()
    out = project / "made"
    done = run_main(["batch", str(project), "-o", str(out), "--seed", "5"])
    assert done.status == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "a.wav",
        "a.wav.json",
        "b.wav",
        "b.wav.json",
        "batch-report.json",
    ]
    assert report_rows(out / "batch-report.json") == [("a.mp4", "done"), ("b.mp4", "done")]
    assert json.loads((out / "b.wav.json").read_text())["request"]["seed"] == 5
    assert use.loads == ["omnifoa-mini"]
    missing = run_main(["batch", str(project)])
    assert missing.status == 2
    assert "-o/--out FOLDER" in missing.stderr


def test_the_report_never_replaces_a_file_it_did_not_write(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use = ModelUse(monkeypatch)
    shots = project / "shots.csv"
    shots.write_text(SHOTS)
    (project / "shots.report.json").write_text("my notes")
    for extra, words in (
        ([], "shots.report.json exists"),
        (["--report", str(project / "stems" / "a.wav.json")], "is also a file of a shot"),
    ):
        before = snapshot(project)
        done = run_main(["batch", str(shots), *extra])
        assert done.status == 2
        [sentence] = done.messages()
        assert words in sentence
        assert snapshot(project) == before
    assert use.loads == []


@pytest.mark.parametrize(
    ("shot_list", "message"),
    [
        ("video,model\na.mp4,omnifoa-mini\nb.mp4,nope\n", "shots.csv line 3: No model 'nope'"),
        ("video,sed\na.mp4,1\n", "shots.csv line 2: 'sed' is not a shot field; use shot, video,"),
        ("video,device\na.mp4,cpu\n", "shots.csv line 2: 'device' is not a shot field"),
        ("video\n", "shots.csv lists no shots; add one row per shot."),
    ],
)
def test_a_bad_list_is_refused_before_any_model_loads(
    project: Path, monkeypatch: pytest.MonkeyPatch, shot_list: str, message: str
) -> None:
    use = ModelUse(monkeypatch)
    (project / "shots.csv").write_text(shot_list)
    before = snapshot(project)
    done = run_main(["batch", str(project / "shots.csv"), "-o", str(project / "stems")])
    assert done.status == 2
    [sentence] = done.messages()
    assert sentence.startswith(f"omnifoa: error: {message}")
    assert snapshot(project) == before
    assert use.loads == []


def test_ctrl_c_stops_the_batch_cleanly_and_still_writes_the_report(tmp_path: Path) -> None:
    """The first Ctrl-C (a real SIGINT to a real process) lets the running shot stop within a
    step, keeps nothing of it, starts no other shot, and writes the report; exit 130."""
    for name, scene in (("a", 3), ("b", 4), ("c", 5)):
        scene_video(tmp_path / f"{name}.mp4", scene, seconds=4.0)
    (tmp_path / "stems").mkdir()
    shots = tmp_path / "shots.csv"
    shots.write_text(
        "shot,video,seed,output\n"
        "first,a.mp4,1,stems/a.wav\nsecond,b.mp4,2,stems/b.wav\nthird,c.mp4,3,stems/c.wav\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "plugin_core.cli", "batch", str(shots)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen = bytearray()
    while b"first:" not in seen:  # the first shot's own bar: the shot is running
        chunk = process.stderr.read1(4096)
        assert chunk, f"the batch ended before its first shot ran: {seen.decode()}"
        seen += chunk
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, (seen + err).decode()
    rows = report_rows(tmp_path / "shots.report.json")
    assert [shot for shot, _ in rows] == ["first", "second", "third"]
    assert rows[0][1] in ("done", "cancelled")  # the press may land after its last step
    assert rows[1:] == [("second", "cancelled"), ("third", "cancelled")]
    reasons = [
        row["reason"] for row in json.loads((tmp_path / "shots.report.json").read_text())["shots"]
    ]
    assert reasons[2].startswith("Not started")
    made = sorted(p.name for p in (tmp_path / "stems").iterdir())  # hidden scratch included
    assert made == ([] if rows[0][1] == "cancelled" else ["a.wav", "a.wav.json"])
    assert b"third" in out  # the table was printed
