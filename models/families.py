"""The registry of model families: the one place a new family is added.

Each family names the module that builds its models (``load(spec) -> FamilyModel``),
converts its checkpoints (``convert(source, target, weights_copy) -> ConversionReport``),
checks sampling options before a model is loaded (``check_options(options)``) and says its
camera view's default field of view (``camera_fov()``); the module is imported only when it
is needed.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from models.family import (
    ConversionReport,
    FamilyModel,
    LoadSpec,
    ModelLoadError,
    SamplingOptions,
    WeightsCopy,
)

FAMILIES: dict[str, str] = {
    "foley": "models.foley.family",
    "omniaudio": "models.omniaudio.family",
    "visage": "models.visage.family",
}


def _family(name: str) -> ModuleType:
    if name not in FAMILIES:
        raise ModelLoadError(
            f"Unknown model family {name!r}; known families: {', '.join(FAMILIES)}."
        )
    return importlib.import_module(FAMILIES[name])


def load_family_model(spec: LoadSpec) -> FamilyModel:
    """The model ``spec`` describes, loaded; ModelLoadError names what is wrong."""
    model: FamilyModel = _family(spec.family).load(spec)
    return model


def camera_fov(family: str) -> float:
    """The field of view a family's camera view has unless a request sets one (degrees)."""
    fov: float = _family(family).camera_fov()
    return fov


def check_options(family: str, options: SamplingOptions) -> None:
    """ValueError (one sentence) for sampling options the family cannot use, before loading."""
    _family(family).check_options(options)


def convert_checkpoint(
    family: str,
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    weights_copy: WeightsCopy = "model",
) -> ConversionReport:
    """Convert a family's checkpoint to safetensors with omnifoa's names (CheckpointError,
    a ModelLoadError, when the file cannot be used)."""
    report: ConversionReport = _family(family).convert(source, target, weights_copy)
    return report
