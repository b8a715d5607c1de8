"""ViSAGe as a model family, end to end: registered with its codec and CLIP, chosen with
``--model``, steered by the camera direction, windows continued into one seamless stem."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import run_cli
from visage_fixtures import tiny_registry

from models.family import Continuation, SamplingOptions
from plugin_core.generation import windowing
from plugin_core.generation.loaded_model import LoadedModel, load_model
from plugin_core.generation.pipeline import generate
from plugin_core.generation.request import GenerationRequest
from plugin_core.generation.stage_clock import STAGES
from plugin_core.media.audio_io import read_foa
from plugin_core.media.video import write_video
from plugin_core.spatial.direction_path import DirectionPath
from plugin_core.synthsphere import make_scene, render_frames


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_registry(tmp_path_factory.mktemp("visage"))


@pytest.fixture
def loaded(registry: Path, monkeypatch: pytest.MonkeyPatch) -> LoadedModel:
    monkeypatch.setenv("OMNIFOA_EXTRA_MODELS", str(registry))
    return load_model("visage-test", "cpu")


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "scene.mp4"
    write_video(path, render_frames(make_scene(5, 12.0), 256, 128, 8.0), 8.0)
    return path


def test_the_family_declares_a_5_s_window_of_90_degree_views_at_4_fps(loaded) -> None:
    model = loaded.model
    assert model.family == "visage"
    assert (model.window.frames, model.window.frame_rate) == (20, 4.0)
    assert model.window.samples == 431 * 512
    assert [(v.name, v.projection, v.size, v.fov) for v in model.views] == [
        ("fov", "perspective", 224, 90.0)
    ]
    with pytest.raises(ValueError, match="leave steps out"):
        model.check_options(SamplingOptions(steps=10))


def test_a_12_s_video_becomes_one_stem_whose_windows_continue_each_other(
    loaded, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows_in: list[np.ndarray] = []
    real_add = windowing.CrossfadeJoiner.add
    continued: list[Continuation | None] = []
    real_sample = loaded.model.sample

    def keep_window(self, audio):
        windows_in.append(audio.copy())
        return real_add(self, audio)

    def keep_continuation(*args, continuation=None, **kwargs):
        continued.append(continuation)
        return real_sample(*args, continuation=continuation, **kwargs)

    monkeypatch.setattr(windowing.CrossfadeJoiner, "add", keep_window)
    monkeypatch.setattr(loaded.model, "sample", keep_continuation)
    out = tmp_path / "v.wav"
    request = GenerationRequest(video=video, output=out, model="visage-test", yaw=45.0, level="off")
    result = generate(request, loaded)
    audio, rate = read_foa(out)
    assert audio.shape[0] == 4
    assert abs(audio.shape[1] / rate - 12.0) < 0.01
    assert len(result.windows) == 3
    # windows start whole DAC frames apart and each continues the one before
    assert all(w.start % 512 == 0 for w in result.windows)
    assert continued[0] is None
    assert all(c is not None for c in continued[1:])
    overlap = result.windows[0].end - result.windows[1].start
    assert continued[1].overlap == overlap
    # the shared codes decode to the same sound: the joins are continuations, not cuts
    for before, after in itertools.pairwise(windows_in):
        shared_before = before[:, -overlap : -overlap // 2]
        shared_after = after[:, : overlap // 2]
        mismatch = np.abs(shared_before - shared_after).mean() / np.abs(shared_before).mean()
        assert mismatch < 0.05  # windows sampled independently differ by ~100 %
    sidecar = json.loads((tmp_path / "v.wav.json").read_text())["model"]
    assert sidecar["family"] == "visage"
    assert "mean of its frames' directions" in sidecar["direction"]
    assert sidecar["views"]["fov"]["fov"] == 90.0


def test_the_camera_direction_reaches_the_model_as_its_unit_vector(
    loaded, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.visage import family as visage_family

    seen: list[torch.Tensor] = []
    real = visage_family.generate_codes
    monkeypatch.setattr(
        visage_family,
        "generate_codes",
        lambda network, conditions, *a, **k: (
            seen.append(conditions.direction) or real(network, conditions, *a, **k)
        ),
    )
    request = GenerationRequest(
        video=video, output=tmp_path / "l.wav", model="visage-test", yaw=90.0, end=4.0
    )
    generate(request, loaded)
    torch.testing.assert_close(seen[0], torch.tensor([-1.0, 0.0, 0.0]), atol=1e-6, rtol=0)


def test_generate_with_visage_through_the_command_line(
    registry: Path, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIFOA_EXTRA_MODELS", str(registry))
    out = tmp_path / "cli.wav"
    done = run_cli(
        "generate", str(video), "-o", str(out), "--model", "visage-test", "--end", "3",
        "--sampler", "dual", "--timings", timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    audio, rate = read_foa(out)
    assert abs(audio.shape[1] / rate - 3.0) < 0.01
    # --timings: seconds per stage on stderr; the decoding steps and the DAC decode both took time
    seconds = {
        line[:14].strip(): float(line[14:23])
        for line in done.stderr.splitlines()
        if line[:14].strip() in STAGES
    }
    assert list(seconds) == list(STAGES)
    assert seconds["sampling"] > 0
    assert seconds["codec decode"] > 0
    assert "3.0 s of FOA" in done.stderr
    guidance = json.loads((tmp_path / "cli.wav.json").read_text())["model"]["guidance"]
    assert guidance["variant"] == "dual"


def test_without_its_weights_visage_says_how_to_get_them_and_writes_nothing(
    video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("OMNIFOA_MODELS", raising=False)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    done = run_cli("generate", str(video), "-o", str(out_dir / "v.wav"), "--model", "visage")
    assert done.returncode == 2
    assert "omnifoa models download visage" in done.stderr
    assert done.stderr.count("\n") == 1
    assert list(out_dir.iterdir()) == []


def test_visage_is_evaluated_on_clips_of_its_window(loaded) -> None:
    from plugin_core.evaluation.clips import render_clip
    from plugin_core.evaluation.model_systems import model_systems

    systems = model_systems(loaded)
    assert set(systems) == {"visage-test", "visage-test no FoV"}  # it has no panorama branch
    clip = render_clip(1_000_000, 5.0)
    foa = systems["visage-test"](clip)
    assert foa.shape == (4, 431 * 512)
    with pytest.raises(ValueError, match="5 s windows"):
        systems["visage-test"](render_clip(1_000_001, 10.0))


def test_the_sidecar_records_each_windows_camera_vector_and_continuation(
    loaded, video: Path, tmp_path: Path
) -> None:
    path = {"format": "omnifoa-direction-path", "version": 1,
            "keys": [{"t": 0, "yaw": 0, "pitch": 0}, {"t": 9, "yaw": 90, "pitch": 0}]}  # fmt: skip
    out = tmp_path / "p.wav"
    request = GenerationRequest(
        video=video, output=out, model="visage-test", end=9.0, path=DirectionPath.from_json(path)
    )
    generate(request, loaded)
    windows = json.loads((tmp_path / "p.wav.json").read_text())["windows"]
    assert len(windows) == 2
    first, second = (np.array(w["direction_vector"]) for w in windows)
    assert first[0] < 0  # the camera turns left from the front
    assert first[2] > 0
    assert second[0] < first[0]  # further left in the second window
    assert windows[0]["continued_frames"] == 0
    assert windows[1]["continued_frames"] > 0
