"""The registry of model families: the one place a new family is added.

Each family names the module whose ``load(spec) -> FamilyModel`` builds its model; the
module is imported only when a model of that family is loaded.
"""

from __future__ import annotations

import importlib

from models.family import FamilyModel, LoadSpec, ModelLoadError

FAMILIES: dict[str, str] = {
    "omniaudio": "models.omniaudio.family",
}


def load_family_model(spec: LoadSpec) -> FamilyModel:
    """The model ``spec`` describes, loaded; ModelLoadError names what is wrong."""
    if spec.family not in FAMILIES:
        raise ModelLoadError(
            f"Unknown model family {spec.family!r}; known families: {', '.join(FAMILIES)}."
        )
    module = importlib.import_module(FAMILIES[spec.family])
    model: FamilyModel = module.load(spec)
    return model
