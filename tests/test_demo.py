"""The bundled demo scene and the main job that runs on it."""

from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli

from plugin_core.audio_io import read_foa
from plugin_core.demo import DEMO_DIR, run_demo
from plugin_core.errors import InputError
from plugin_core.synthsphere import load_scene, make_scene
from plugin_core.video import probe


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


def test_demo_command_renders_analyses_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = run_cli("demo", "--out", str(out), timeout=300)
    assert done.returncode == 0, done.stderr
    for name in ("demo.mp4", "demo.wav", "demo.json", "demo_energy.png", "report.txt"):
        assert (out / name).is_file(), name
    assert (out / "report.txt").read_text().strip() == done.stdout.strip()
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("# class")) + 1
    rows = [line.split() for line in lines[start:] if line.strip()]
    scene = load_scene(DEMO_DIR / "demo.json")
    assert [r[1] for r in rows] == [o.sound_class for o in scene.objects]
    medians = np.array([float(r[5]) for r in rows])
    windows = np.array([int(r[3]) for r in rows])
    # every object is heard in most windows, and its own bins point where the truth says
    assert np.all(windows >= 20)
    assert np.all(medians < 2.0)


def test_demo_with_a_missing_bundle_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing"):
        run_demo(tmp_path / "out", demo_dir=tmp_path / "nowhere")
    assert not (tmp_path / "out").exists()
