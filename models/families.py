"""The registry of model families: the one place a new family is added.

Each family names the module that builds its models (``load(spec) -> FamilyModel``),
converts its checkpoints (``convert(source, target, weights_copy) -> ConversionReport``),
checks sampling options before a model is loaded (``check_options(options)``), says its
camera view's default field of view (``camera_fov()``) and the key prefixes its checkpoints
are known by (``CHECKPOINT_PREFIXES``, what :func:`checkpoint_family` reads); the module is
imported only when it is needed.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from models.checkpoint_files import DDP_PREFIX, CheckpointError, read_tensors, shared_storage
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


def checkpoint_family(keys: Iterable[str]) -> str | None:
    """The family whose checkpoint prefixes most of ``keys`` start with (a DDP prefix aside);
    None when no family knows any of them."""
    names = [key.removeprefix(DDP_PREFIX) for key in keys]
    prefixes = {family: _family(family).CHECKPOINT_PREFIXES for family in FAMILIES}
    counts = {
        family: sum(name.startswith(known) for name in names) for family, known in prefixes.items()
    }
    best = max(counts, key=lambda family: counts[family])
    return best if counts[best] else None


def convert_checkpoint(
    family: str | None,
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    weights_copy: WeightsCopy = "model",
) -> ConversionReport:
    """Convert a checkpoint to safetensors with omnifoa's names, as the family its keys say
    (``family``, when given, must agree); CheckpointError, a ModelLoadError, when the file
    cannot be used, and nothing is written."""
    name = Path(source).name
    tensors = read_tensors(source)
    shared = shared_storage(tensors)
    if shared is not None:
        raise CheckpointError(
            f"{name} holds weights that share their storage ({' and '.join(shared)}), which a "
            "safetensors file cannot hold; save each as a tensor of its own (a clone) first."
        )
    found = checkpoint_family(tensors)
    if found is None:
        first = ", ".join(sorted(tensors)[:3])
        raise CheckpointError(
            f"{name} holds no weights of a model family omnifoa knows ({', '.join(FAMILIES)}): "
            f"its keys begin {first}; give a checkpoint of one of those families."
        )
    if family is not None and family != found:
        raise CheckpointError(
            f"{name} holds {found} weights, not {family} ones; convert it as {found} (or leave "
            "the family out)."
        )
    del tensors  # the family reads the file its own way
    report: ConversionReport = _family(found).convert(source, target, weights_copy)
    return report
