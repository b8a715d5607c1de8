"""A registered model loaded for generation: its family's model with what the sidecar says of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.device import pick_device
from models.families import load_family_model
from models.family import FamilyModel, LoadSpec, ModelLoadError, WeightsCopy
from plugin_core.errors import InputError
from plugin_core.generation.file_hashes import file_sha256
from plugin_core.generation.model_registry import (
    ModelEntry,
    expected_sha256,
    get_entry,
    require_local,
)


@dataclass
class LoadedModel:
    """A family's model on a device, under the id it was loaded as."""

    model: FamilyModel
    model_id: str
    record: dict[str, Any]  # the registry's facts about the file: id, family, preset, sha256


def load_model(
    model_id: str, device: str = "auto", weights_copy: WeightsCopy = "model"
) -> LoadedModel:
    """Load a registered generator (with its frame encoders) onto the chosen device."""
    entry = get_entry(model_id)
    if entry.kind != "generator" or entry.preset is None:
        raise InputError(f"{model_id} is not a generator; see `omnifoa models list`.")
    path = require_local(entry)
    digest = checked_sha256(entry, path)
    parts = {}
    for role, part_id in entry.requires.items():
        part = get_entry(part_id)
        part_path = require_local(part)
        checked_sha256(part, part_path)
        parts[role] = str(part_path.parent)
    try:
        target = pick_device(device)
        spec = LoadSpec(entry.family, entry.preset, str(path), target, weights_copy, parts)
        model = load_family_model(spec)
    except ModelLoadError as exc:
        raise InputError(str(exc)) from None
    except ValueError as exc:  # an unavailable device
        raise InputError(f"{str(exc).capitalize()}.") from None
    record = {
        "id": entry.id,
        "family": entry.family,
        "preset": entry.preset,
        "sha256": digest,  # of the file actually loaded (checked against the registry's)
        "file": str(path),
    }
    return LoadedModel(model, model_id, record)


def checked_sha256(entry: ModelEntry, path: Path) -> str:
    """The file's SHA-256; InputError when the registry (or, for a part, the hub when it was
    downloaded) gave another."""
    digest = file_sha256(path)
    expected = expected_sha256(entry, path)
    if expected is not None and digest != expected[0]:
        known, whose = expected
        raise InputError(
            f"{path} is not the file registered as {entry.id} (its sha256 is {digest[:12]}…, "
            f"{whose} {known[:12]}…); download it again with "
            f"`omnifoa models download {entry.id}`."
        )
    return digest


def unregistered(model: FamilyModel, model_id: str) -> LoadedModel:
    """A model built in code (tests, evaluation of a fresh training run) under ``model_id``."""
    record = {"id": model_id, "family": model.family, "preset": model.preset, "sha256": None}
    return LoadedModel(model, model_id, record)
