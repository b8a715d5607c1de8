"""An object-Foley weights file loads only when it is whole: its description, every class's
sounds, the bed and finite weights of the right shapes; anything else is one sentence that
names what is wrong."""

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from models.family import ModelLoadError
from models.foley.family import load_weights_file
from models.foley.vocabulary import METADATA_KEY
from plugin_core.generation.model_registry import get_entry, local_path

BUNDLED = local_path(get_entry("omnifoa-mini"))


def _parts() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    assert BUNDLED is not None
    with safe_open(str(BUNDLED), "pt") as handle:
        metadata = handle.metadata()
    return load_file(str(BUNDLED)), metadata


def _write(tmp_path: Path, tensors: dict, metadata: dict | None) -> Path:
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    return path


def test_the_bundled_file_loads_with_its_classes_and_settings() -> None:
    model = load_weights_file(BUNDLED, "omnifoa-mini")
    names = [c.name for c in model.vocabulary.classes]
    assert names == ["engine", "bird", "bell", "drum", "water", "footsteps", "siren", "applause"]
    assert {c.name for c in model.vocabulary.classes if c.continuous} == {
        "engine",
        "water",
        "siren",
        "applause",
    }
    assert all(len(model.bank[n]) >= 4 for n in names)
    assert 0.0 < model.vocabulary.settings.frame_lag < 0.0625


def test_a_file_without_its_description_is_refused(tmp_path: Path) -> None:
    tensors, _ = _parts()
    with pytest.raises(ModelLoadError, match="not an object-Foley model: it has no"):
        load_weights_file(_write(tmp_path, tensors, None), "omnifoa-mini")


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("focus_db", float("nan"), "'focus_db' is not a number"),
        ("event_seconds", 1e308, "'event_seconds' = 1e\\+308 is outside"),
        ("presence", True, "'presence' is not a number"),
    ],
)
def test_a_broken_setting_is_named(tmp_path: Path, setting: str, value, message: str) -> None:
    tensors, metadata = _parts()
    doc = json.loads(metadata[METADATA_KEY])
    doc["settings"][setting] = value
    path = _write(tmp_path, tensors, {METADATA_KEY: json.dumps(doc)})
    with pytest.raises(ModelLoadError, match=message):
        load_weights_file(path, "omnifoa-mini")


def test_a_class_without_sounds_is_refused_by_name(tmp_path: Path) -> None:
    tensors, metadata = _parts()
    kept = {k: v for k, v in tensors.items() if not k.startswith("bank.siren.")}
    with pytest.raises(ModelLoadError, match="no usable sounds for the class 'siren'"):
        load_weights_file(_write(tmp_path, kept, metadata), "omnifoa-mini")


def test_non_finite_or_misshapen_weights_are_refused(tmp_path: Path) -> None:
    tensors, metadata = _parts()
    broken = dict(tensors, **{"events.out.bias": torch.tensor([float("inf")])})
    with pytest.raises(ModelLoadError, match=r"non-finite numbers in events\.out\.bias"):
        load_weights_file(_write(tmp_path, broken, metadata), "omnifoa-mini")
    small = dict(tensors, **{"detector.head.weight": torch.zeros(3, 16, 1, 1)})
    with pytest.raises(ModelLoadError, match="its detector weights do not fit"):
        load_weights_file(_write(tmp_path, small, metadata), "omnifoa-mini")
    no_bed = {k: v for k, v in tensors.items() if k != "bed"}
    with pytest.raises(ModelLoadError, match="no 4-channel bed"):
        load_weights_file(_write(tmp_path, no_bed, metadata), "omnifoa-mini")
