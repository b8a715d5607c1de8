"""Model files that are not what they claim: a pickle that would run code, random bytes, a cut
safetensors file, weights of the wrong shape or holding NaN, a file swapped since it was
registered. ``generate`` with such a model, and ``models convert`` of such a checkpoint, says
so in one sentence (exit 2), runs nothing from the file and writes nothing."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import run_main
from hostile_inputs import snapshot
from model_fixtures import reference_state, tiny_generator

from models.checkpoint_files import save_safetensors
from plugin_core.media.video import write_video
from plugin_core.synthsphere import make_scene, render_frames


class RunsCode:
    """Unpickling this would create a file: the proof that a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def good_state() -> dict[str, torch.Tensor]:
    return tiny_generator(0).state_dict()


def make_model_file(kind: str, folder: Path, marker: Path) -> Path:
    """A hostile model file of ``kind`` in ``folder``."""
    if kind == "pickle that runs code":
        path = folder / "model.ckpt"
        with path.open("wb") as f:
            pickle.dump({"state_dict": {"x": torch.zeros(1)}, "hook": RunsCode(marker)}, f)
    elif kind == "torch file that runs code":
        path = folder / "model.ckpt"
        torch.save({"state_dict": reference_state(tiny_generator(0)), "x": RunsCode(marker)}, path)
    elif kind == "random bytes":
        path = folder / "model.safetensors"
        path.write_bytes(np.random.default_rng(3).bytes(50_000))
    elif kind == "empty":
        path = folder / "model.safetensors"
        path.write_bytes(b"")
    elif kind == "cut short":
        path = folder / "model.safetensors"
        save_safetensors(good_state(), path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "wrong shapes":
        path = folder / "model.safetensors"
        state = good_state()
        name = next(iter(state))
        state[name] = torch.zeros(3, 3)
        save_safetensors(state, path)
    elif kind == "NaN weights":
        path = folder / "model.safetensors"
        state = {k: torch.full_like(v, float("nan")) for k, v in good_state().items()}
        save_safetensors(state, path)
    elif kind == "header claims a huge tensor":
        path = folder / "model.safetensors"
        header = b'{"w": {"dtype": "F32", "shape": [100000, 100000], "data_offsets": [0, 40]}}'
        path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 40)
    else:
        raise ValueError(kind)
    return path


KINDS = [
    "pickle that runs code",
    "torch file that runs code",
    "random bytes",
    "empty",
    "cut short",
    "wrong shapes",
    "NaN weights",
    "header claims a huge tensor",
]


def registry(folder: Path, model: Path, sha256: str | None = None) -> Path:
    text = (
        '[[models]]\nid = "hostile"\nname = "hostile"\nkind = "generator"\n'
        f'licence = "Apache-2.0"\nfile = "{model.name}"\npath = "{model.name}"\n'
        'preset = "tiny"\nframe_encoder = "efficientnet-lite0"\n'
    )
    if sha256 is not None:
        text += f'sha256 = "{sha256}"\n'
    path = folder / "models.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "scene.mp4"
    write_video(path, render_frames(make_scene(2, 1.5), 128, 64, 8.0), 8.0)
    return path


def assert_refused_cleanly(tmp_path: Path, argv: list[str], marker: Path) -> str:
    before = snapshot(tmp_path)
    done = run_main(argv, timeout=120)
    assert done.status == 2, done.stderr
    lines = done.messages()
    assert len(lines) == 1, lines
    assert "Traceback" not in done.stderr
    assert not marker.exists()  # nothing in the file ran
    assert snapshot(tmp_path) == before
    return lines[0]


@pytest.mark.parametrize("kind", KINDS)
def test_generate_with_a_hostile_model_file_is_refused(
    tmp_path: Path, video: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"
    model = make_model_file(kind, tmp_path, marker)
    monkeypatch.setenv("OMNIFOA_EXTRA_MODELS", str(registry(tmp_path, model)))
    out = tmp_path / "take.wav"
    argv = ["generate", str(video), "-o", str(out), "--model", "hostile", "--steps", "1"]
    sentence = assert_refused_cleanly(tmp_path, argv, marker)
    says = {"wrong shapes": "has shape", "NaN weights": "not numbers"}.get(kind, model.name)
    assert says in sentence


def test_a_model_file_swapped_since_registration_is_refused(
    tmp_path: Path, video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model.safetensors"
    save_safetensors(good_state(), model)
    registered = hashlib.sha256(model.read_bytes()).hexdigest()
    save_safetensors(tiny_generator(1).state_dict(), model)  # another model under the same name
    monkeypatch.setenv("OMNIFOA_EXTRA_MODELS", str(registry(tmp_path, model, registered)))
    argv = ["generate", str(video), "-o", str(tmp_path / "t.wav"), "--model", "hostile"]
    sentence = assert_refused_cleanly(tmp_path, argv, tmp_path / "pwned")
    assert "not the file registered" in sentence


@pytest.mark.parametrize("kind", KINDS[:5] + KINDS[-1:])  # shapes and values are not its job
def test_converting_a_hostile_checkpoint_is_refused(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "pwned"
    model = make_model_file(kind, tmp_path, marker)
    argv = ["models", "convert", str(model), str(tmp_path / "converted.safetensors")]
    assert_refused_cleanly(tmp_path, argv, marker)
