"""A regeneration killed while it moves its files: the next command that reads the stem
finishes the commit (when every new take was in place) or undoes it, and never removes a take
the sidecar lists or a file omnifoa did not make."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_runner import run_main
from hostile_inputs import snapshot

from plugin_core.generation.loaded_model import LoadedModel
from plugin_core.generation.pipeline import generate
from plugin_core.generation.regenerate import RangeEdit, regenerate
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.stem_takes import read_sidecar, stem_takes
from plugin_core.media.takes_journal import journal_path
from plugin_core.media.video import write_video
from plugin_core.synthsphere import make_scene, render_frames

SUPPORT = Path(__file__).resolve().parents[1] / "support"
# The moves in the stem's folder: 1 the journal, 2 take 1 (the stem's audio), 3 take 2, 4 the
# stem set aside, 5 the new stem, 6 the sidecar set aside, 7 the new sidecar. Killed after 4
# there is no stem, after 6 no sidecar.
UNDONE, FINISHED = (1, 2), (4, 6)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "scene.mp4"
    write_video(path, render_frames(make_scene(3, 2.5), 256, 128, 12.0), 12.0)
    return path


def killed_at(stem: Path, move: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SUPPORT), os.getcwd()]))
    argv = [sys.executable, str(SUPPORT / "killed_regenerate.py"), str(stem), "0.5", "1.5", "5"]
    return subprocess.run([*argv, str(move)], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("move", [*UNDONE, *FINISHED])
def test_a_regeneration_killed_between_its_moves_is_finished_or_undone_by_the_next_command(
    loaded: LoadedModel, video: Path, tmp_path: Path, move: int
) -> None:
    stem = tmp_path / "shot.wav"
    generate(GenerationRequest(video=video, output=stem, steps=2, seed=3, end=2.0), loaded)
    original = sf.read(str(stem), dtype="float32")[0]
    (tmp_path / "notes.txt").write_text("mine")  # a user's files beside the stem
    (tmp_path / ".shot.mine.partial.txt").write_text("mine too")
    before = snapshot(tmp_path)

    done = killed_at(stem, move)
    assert done.returncode == -9, done.stderr  # killed, not finished
    assert journal_path(stem).exists()  # the interrupted commit's journal is left

    listed = run_main(["takes", str(stem)])  # the next command that reads the stem
    assert listed.status == 0, listed.messages()
    if move in UNDONE:
        assert snapshot(tmp_path) == before  # as if the regeneration never ran
        assert listed.stdout.splitlines() == ["* take 1: shot.wav, seed 3, generated"]
    else:
        takes, chosen = stem_takes(stem, read_sidecar(stem))
        assert [t.number for t in takes] == [1, 2]
        assert chosen == 2
        assert stem.read_bytes() == (tmp_path / takes[1].file).read_bytes()
        rate = sf.info(str(stem)).samplerate
        new, _ = sf.read(str(stem), dtype="float32")
        old, _ = sf.read(str(tmp_path / takes[0].file), dtype="float32")
        np.testing.assert_array_equal(old, original)  # the stem's audio kept as take 1
        np.testing.assert_array_equal(new[: round(0.5 * rate)], old[: round(0.5 * rate)])
        inside = slice(round(0.6 * rate), round(1.4 * rate))
        assert np.mean(new[inside] != old[inside]) > 0.99
        left = set(snapshot(tmp_path)) - set(before)
        assert left == {"shot.wav.takes", "shot.wav.takes/take1.wav", "shot.wav.takes/take2.wav"}
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / ".shot.mine.partial.txt").read_text() == "mine too"
    # and the stem takes the next regeneration
    regenerate(RangeEdit(stem, 0.5, 1.5, seed=6), loaded)
    assert read_sidecar(stem)["chosen"] == (2 if move in UNDONE else 3)


def test_a_commit_still_running_in_another_process_is_left_alone(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    """A journal whose process is alive is not touched: that commit is not over."""
    stem = tmp_path / "shot.wav"
    generate(GenerationRequest(video=video, output=stem, steps=2, seed=3, end=2.0), loaded)
    done = killed_at(stem, 2)
    assert done.returncode == -9
    journal = journal_path(stem)
    record = json.loads(journal.read_text())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        journal.write_text(json.dumps({**record, "pid": sleeper.pid}))
        state = snapshot(tmp_path)
        assert run_main(["takes", str(stem)]).status == 0
        assert snapshot(tmp_path) == state
    finally:
        sleeper.kill()
        sleeper.wait()
