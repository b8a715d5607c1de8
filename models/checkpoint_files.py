"""Checkpoint files read without running code from them, and written as safetensors.

Pickled files (``.ckpt``, ``.pt``, ``.pth``, ``.bin``) are read only with
``torch.load(weights_only=True)``. A PyTorch Lightning checkpoint also pickles its
hyper-parameters as Lightning's ``AttributeDict``; that one class is allowed, read as an
ordered dict (:data:`LIGHTNING_GLOBALS`). Anything else a file asks to construct is refused by name.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from collections import OrderedDict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from models.family import ModelLoadError

PICKLE_SUFFIXES = frozenset({".ckpt", ".pt", ".pth", ".bin"})
DDP_PREFIX = "module."  # what DistributedDataParallel puts before every key it saves


class CheckpointError(ModelLoadError):
    """A checkpoint cannot be used; the message says which file or key and what to do."""


# Lightning's AttributeDict (saved hyper-parameters, a dict subclass), wherever the versions
# that write checkpoints keep it, read back as an ordered dict; nothing else is allowed.
LIGHTNING_GLOBALS: list[tuple[type, str]] = [
    (OrderedDict, "lightning.fabric.utilities.data.AttributeDict"),
    (OrderedDict, "lightning_fabric.utilities.data.AttributeDict"),
    (OrderedDict, "pytorch_lightning.utilities.parsing.AttributeDict"),
]
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def read_checkpoint(path: str | os.PathLike[str]) -> object:
    """The object a checkpoint file holds: a tensor dict (safetensors) or what a pickle holds."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"Checkpoint {p} does not exist; download it or fix the path.")
    if p.suffix == ".safetensors":
        try:
            return load_file(str(p), device="cpu")
        except Exception as exc:  # safetensors raises several error types for a bad header
            raise CheckpointError(f"{p.name} is not a readable safetensors file ({exc}).") from None
    if p.suffix not in PICKLE_SUFFIXES:
        raise CheckpointError(f"{p.name}: use a .safetensors, .ckpt, .pt, .pth or .bin checkpoint.")
    try:
        with torch.serialization.safe_globals(LIGHTNING_GLOBALS), warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Detected pickle protocol")  # refused below anyway
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = _REFUSED_GLOBAL.search(str(exc))
        what = f" ({refused.group(1)})" if refused else ""
        raise CheckpointError(
            f"{p.name} holds more than tensors{what}; loading it would run code from the file, "
            "so omnifoa refuses it: export its state dict to safetensors with a trusted tool."
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{p.name} is not a readable checkpoint ({exc}).") from None


def read_tensors(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """All tensors of a checkpoint's state dict (``["state_dict"]`` when it has one): named,
    dense and real, or CheckpointError saying which key is not."""
    name = Path(path).name
    raw = read_checkpoint(path)
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict) or not raw:
        raise CheckpointError(f"{name} holds no state dict of tensors.")
    for key in raw:
        if not isinstance(key, str):
            raise CheckpointError(
                f"{name} is not a state dict: its key {key!r} is not a weight name; export "
                "the model's state_dict() again."
            )
    tensors = {k: v for k, v in raw.items() if isinstance(v, Tensor)}
    if not tensors:
        raise CheckpointError(f"{name} holds no tensors, only other values; it is no model.")
    for key, tensor in tensors.items():
        if tensor.layout != torch.strided:
            raise CheckpointError(
                f"{name} holds {key} as a sparse tensor; save it dense (to_dense()) first."
            )
        if tensor.is_complex():
            raise CheckpointError(
                f"{name} holds {key} as a complex tensor; no omnifoa model has complex weights."
            )
    return tensors


def shared_storage(tensors: dict[str, Tensor]) -> tuple[str, str] | None:
    """Two keys whose tensors share storage (tied or sliced weights), or None."""
    owners: dict[tuple[torch.device, int], str] = {}
    for key, tensor in tensors.items():
        storage = tensor.untyped_storage()
        if storage.nbytes() == 0:
            continue
        where = (tensor.device, storage.data_ptr())
        if where in owners:
            return owners[where], key
        owners[where] = key
    return None


def strip_prefix(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """The tensors with ``prefix`` removed from every key that has it (:data:`DDP_PREFIX`)."""
    return {k.removeprefix(prefix): v for k, v in tensors.items()}


def save_safetensors(
    state: dict[str, Tensor],
    path: str | os.PathLike[str],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write tensors (contiguous, CPU) to a safetensors file at ``path``, with text
    ``metadata`` in its header when given."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    save_file(tensors, str(path), metadata=metadata)
