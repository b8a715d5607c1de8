"""A registered model loaded for generation: its family's model with what the sidecar says of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.device import pick_device
from models.families import load_family_model
from models.family import FamilyModel, LoadSpec, ModelLoadError, WeightsCopy
from plugin_core.errors import InputError
from plugin_core.generation.model_registry import get_entry, require_local


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
    parts = {
        role: str(require_local(get_entry(part)).parent) for role, part in entry.requires.items()
    }
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
        "sha256": entry.sha256,
    }
    return LoadedModel(model, model_id, record)


def unregistered(model: FamilyModel, model_id: str) -> LoadedModel:
    """A model built in code (tests, evaluation of a fresh training run) under ``model_id``."""
    record = {"id": model_id, "family": model.family, "preset": model.preset, "sha256": None}
    return LoadedModel(model, model_id, record)
