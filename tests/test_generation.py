"""Generation from a real video file with a (tiny, untrained) model: files, lengths, errors."""

from pathlib import Path

import numpy as np
import pytest
import torch
from model_fixtures import tiny_generator

from plugin_core.audio_io import read_foa
from plugin_core.errors import InputError
from plugin_core.generation import GenerationRequest, LoadedModel, generate, output_paths
from plugin_core.synthsphere import make_scene, render_frames
from plugin_core.training_data.features import load_feature_extractor
from plugin_core.video import write_video


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    model = tiny_generator(0)
    extractor = load_feature_extractor(model.config)
    return LoadedModel(model, extractor, torch.device("cpu"), "tiny-test")


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "scene.mp4"
    write_video(path, render_frames(make_scene(3, 2.0), 256, 128, 12.0), 12.0)
    return path


def test_generate_writes_one_ambix_window_at_48k(loaded: LoadedModel, video: Path, tmp_path: Path):
    out = tmp_path / "stem.wav"
    steps: list[int] = []
    paths = generate(
        GenerationRequest(video=video, output=out, seed=3, steps=2),
        loaded=loaded,
        progress=lambda i, n: steps.append(i),
    )
    assert paths == [out]
    assert steps == [1, 2]
    audio, rate = read_foa(out)
    assert rate == 48000
    # the tiny model's window is 1 s; its decoded length is within one hop of it
    hop_48k = loaded.model.config.codec.hop * 48000 / 44100
    assert 48000 - hop_48k - 2 <= audio.shape[1] <= 48000
    assert np.max(np.abs(audio)) == pytest.approx(10 ** (-1 / 20), rel=0.05)


def test_same_seed_same_file_and_variations_get_their_own_files(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    a = generate(GenerationRequest(video=video, output=tmp_path / "a.wav", steps=2), loaded)[0]
    b = generate(GenerationRequest(video=video, output=tmp_path / "b.wav", steps=2), loaded)[0]
    np.testing.assert_array_equal(read_foa(a)[0], read_foa(b)[0])
    several = generate(
        GenerationRequest(video=video, output=tmp_path / "v.wav", steps=2, variations=2, seed=5),
        loaded,
    )
    assert several == output_paths(tmp_path / "v.wav", 5, 2)
    first, second = (read_foa(p)[0] for p in several)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start": 30.0}, "past the end of the video"),
        ({"fov": 200.0}, "field of view"),
        ({"variations": 0}, "at least one variation"),
        ({"sampler": "rk4"}, "euler or heun"),
    ],
)
def test_bad_requests_write_nothing(
    loaded: LoadedModel, video: Path, tmp_path: Path, changes: dict, message: str
) -> None:
    out = tmp_path / "stem.wav"
    request = GenerationRequest(video=video, output=out, steps=1, **changes)
    with pytest.raises(InputError, match=message):
        generate(request, loaded)
    assert not any(tmp_path.iterdir())
