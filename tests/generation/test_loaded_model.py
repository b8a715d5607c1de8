"""Loading a registered model through its family: the reference's weights by default, the
EMA copy on request, and the sidecar says which."""

import json
from pathlib import Path

import pytest
import torch
from cli_runner import run_cli
from model_fixtures import reference_state, tiny_generator
from video_fixtures import indexed_frames

from models.family import SamplingOptions
from plugin_core.errors import InputError
from plugin_core.generation.loaded_model import load_model
from plugin_core.media.video import write_video


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A test registry holding a tiny model saved as a Lightning checkpoint with both copies."""
    state = {"diffusion." + k: v for k, v in reference_state(tiny_generator(0)).items()}
    ema = reference_state(tiny_generator(5))
    state |= {"diffusion_ema.ema_model." + k: v for k, v in ema.items()}
    torch.save({"state_dict": state, "epoch": 1, "global_step": 10}, tmp_path / "tiny.ckpt")
    toml = tmp_path / "extra.toml"
    toml.write_text(
        '[[models]]\nid = "tiny-lightning"\nname = "tiny, two copies"\nkind = "generator"\n'
        'file = "tiny.ckpt"\npath = "tiny.ckpt"\nlicence = "test"\nfamily = "omniaudio"\n'
        'preset = "tiny"\n'
    )
    monkeypatch.setenv("OMNIFOA_EXTRA_MODELS", str(toml))
    return toml


def first_weight(loaded) -> torch.Tensor:
    return loaded.model.generator.flow.dit.transformer.project_in.weight


def test_the_main_weights_load_by_default_and_the_ema_copy_on_request(registry: Path) -> None:
    plain, ema = tiny_generator(0), tiny_generator(5)
    default = load_model("tiny-lightning", "cpu")
    assert torch.equal(first_weight(default), plain.flow.dit.transformer.project_in.weight)
    averaged = load_model("tiny-lightning", "cpu", "ema")
    assert torch.equal(first_weight(averaged), ema.flow.dit.transformer.project_in.weight)
    assert default.model.describe(SamplingOptions())["weights_copy"] == "model"


def test_generate_with_ema_records_the_copy_in_the_sidecar(registry: Path, tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    write_video(video, indexed_frames(12, 256, 128), 8.0)
    out = tmp_path / "s.wav"  # the registry reaches the command through the environment
    done = run_cli(
        "generate", str(video), "-o", str(out), "--model", "tiny-lightning", "--ema",
        "--steps", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    model = json.loads((tmp_path / "s.wav.json").read_text())["model"]
    assert model["weights_copy"] == "ema"
    assert model["family"] == "omniaudio"
    assert model["views"]["fov"]["fov"] == 120.0


@pytest.mark.parametrize("model_id", ["omnifoa-mini", "omniaudio-mini"])
def test_asking_for_an_ema_copy_a_bundled_file_lacks_is_one_sentence(model_id: str) -> None:
    with pytest.raises(InputError, match="no EMA copy"):
        load_model(model_id, "cpu", "ema")


def test_a_registered_file_is_checked_against_its_sha256_once(
    registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plugin_core.generation import file_hashes
    from plugin_core.media.stem_sidecar import sha256_of

    monkeypatch.setenv("OMNIFOA_CACHE_DIR", str(tmp_path / "cache"))
    weights = registry.parent / "tiny.ckpt"
    good = sha256_of(weights)
    text = registry.read_text()
    registry.write_text(text.replace('preset = "tiny"\n', f'preset = "tiny"\nsha256 = "{good}"\n'))
    hashed: list[Path] = []
    monkeypatch.setattr(file_hashes, "sha256_of", lambda p: hashed.append(p) or sha256_of(p))
    assert load_model("tiny-lightning", "cpu").record["sha256"] == good
    load_model("tiny-lightning", "cpu")
    assert len(hashed) == 1  # remembered by size and mtime the second time
    registry.write_text(
        text.replace('preset = "tiny"\n', f'preset = "tiny"\nsha256 = "{"0" * 64}"\n')
    )
    with pytest.raises(InputError, match="is not the file registered as tiny-lightning"):
        load_model("tiny-lightning", "cpu")
