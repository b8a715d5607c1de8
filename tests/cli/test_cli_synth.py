"""``omnifoa synth``: a SynthSphere data set from the command line."""

import json
from pathlib import Path

from cli_runner import run_cli

from plugin_core.media.audio_io import read_foa
from plugin_core.media.video import probe


def test_synth_writes_scenes_with_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "set"
    done = run_cli(
        "synth",
        "--count",
        "2",
        "--seconds",
        "1.5",
        "--out",
        str(out),
        "--seed",
        "7",
        "--width",
        "128",
        "--height",
        "64",
    )
    assert done.returncode == 0, done.stderr
    assert "scenes" in done.stderr  # the progress bar
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"scene_00000{s}.{ext}" for s in (7, 8) for ext in ("json", "mp4", "wav")]
    truth = json.loads((out / "scene_000007.json").read_text())
    assert truth["seed"] == 7
    assert truth["objects"]
    audio, rate = read_foa(out / "scene_000008.wav")
    assert (rate, audio.shape) == (44100, (4, 66150))
    info = probe(out / "scene_000008.mp4")
    assert (info.width, info.height) == (128, 64)


def test_synth_refuses_a_bad_length_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "set"
    done = run_cli("synth", "--count", "1", "--seconds", "0", "--out", str(out))
    assert done.returncode == 2
    assert done.stderr.startswith("omnifoa: error: --seconds must be between 0.5 and 600 s")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())
