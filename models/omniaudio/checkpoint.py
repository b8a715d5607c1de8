"""Checkpoints: read safely, map the reference names onto omnifoa's, load with clear errors.

Accepted inputs: the official Lightning ``model.ckpt`` (tensors under ``["state_dict"]`` with
the prefix ``diffusion.``; EMA weights under ``diffusion_ema.ema_model.``), an exported state
dict without prefix, and safetensors files (reference names or omnifoa's own). Pickled files
are read only with ``torch.load(weights_only=True)``: one that needs more is refused.
"""

from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from models.omniaudio.codec import fold_weight_norm_state


class CheckpointError(ValueError):
    """A checkpoint cannot be used; the message says which file or key and what to do."""


# Reference prefix → omnifoa prefix (the composite generator's submodules).
REFERENCE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("model.model.", "flow.dit."),
    ("conditioner.conditioners.video_fov.", "flow.fov_conditioner."),
    ("conditioner.conditioners.video_360.", "flow.global_conditioner."),
    ("pretransform.model.", "codec."),
)
OWN_PREFIXES: tuple[str, ...] = ("flow.", "codec.")
# Keys of the reference model that inference does not use.
UNUSED_AT_INFERENCE = re.compile(
    r"(\.cross_attn\.|\.cross_attend_norm\.|^model\.model\.to_cond_embed\."
    r"|^conditioner\.conditioners\.[^.]+\.proj_out\.|^conditioner\.conditioners\.video_360\.global_proj\."
    r"|_norm\.beta$|\.rotary_pos_emb\.inv_freq$)"
)
_LIGHTNING_PREFIX = "diffusion."
_EMA_PREFIX = "diffusion_ema.ema_model."
_PICKLE_SUFFIXES = {".ckpt", ".pt", ".pth", ".bin"}


@dataclass(frozen=True)
class LoadReport:
    """What a load did: tensors loaded, reference keys skipped as unused, the source form."""

    loaded: int
    unused: tuple[str, ...]
    source: str


def read_tensors(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """All tensors of a checkpoint file, without running code from it."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"Checkpoint {p} does not exist; download it or fix the path.")
    if p.suffix == ".safetensors":
        try:
            return load_file(str(p), device="cpu")
        except Exception as exc:  # safetensors raises several error types for a bad header
            raise CheckpointError(f"{p.name} is not a readable safetensors file ({exc}).") from None
    if p.suffix not in _PICKLE_SUFFIXES:
        raise CheckpointError(f"{p.name}: use a .safetensors, .ckpt, .pt, .pth or .bin checkpoint.")
    try:
        raw = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{p.name} holds more than tensors (loading it would run code from the file), so "
            "omnifoa refuses it; export its state dict to safetensors with a trusted tool."
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"{p.name} is not a readable checkpoint ({exc}).") from None
    return _tensor_dict(raw, p.name)


def _tensor_dict(raw: object, name: str) -> dict[str, Tensor]:
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict) or not raw:
        raise CheckpointError(f"{name} holds no state dict of tensors.")
    return {k: v for k, v in raw.items() if isinstance(v, Tensor)}


def select_weights(tensors: dict[str, Tensor], ema: bool = True) -> tuple[dict[str, Tensor], str]:
    """Strip the Lightning prefixes, taking the EMA copy when asked and present."""
    ema_keys = {k[len(_EMA_PREFIX) :]: v for k, v in tensors.items() if k.startswith(_EMA_PREFIX)}
    if ema and ema_keys:
        return ema_keys, "lightning (EMA weights)"
    plain = {
        k[len(_LIGHTNING_PREFIX) :]: v
        for k, v in tensors.items()
        if k.startswith(_LIGHTNING_PREFIX)
    }
    if plain:
        return plain, "lightning"
    if any(k.startswith(OWN_PREFIXES) for k in tensors):
        return dict(tensors), "omnifoa"
    return dict(tensors), "exported state dict"


def to_omnifoa_names(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], tuple[str, ...]]:
    """Rename reference keys to omnifoa's, fold weight norm; return (state, unused keys)."""
    ours: dict[str, Tensor] = {}
    unused = []
    for key, value in state.items():
        if key.startswith(OWN_PREFIXES):
            ours[key] = value
            continue
        if UNUSED_AT_INFERENCE.search(key):
            unused.append(key)
            continue
        for ref, own in REFERENCE_PREFIXES:
            if key.startswith(ref):
                ours[own + key[len(ref) :]] = value
                break
        else:
            unused.append(key)
    return fold_weight_norm_state(ours), tuple(sorted(unused))


def load_weights(
    model: nn.Module, path: str | os.PathLike[str], ema: bool = True, strict: bool = True
) -> LoadReport:
    """Load a checkpoint file into ``model``; every used key must be there with its shape."""
    weights, source = select_weights(read_tensors(path), ema=ema)
    return load_state(model, weights, source, strict=strict)


def load_state(
    model: nn.Module, weights: dict[str, Tensor], source: str = "state dict", strict: bool = True
) -> LoadReport:
    """Load tensors (reference or omnifoa names) into ``model`` with clear errors."""
    state, unused = to_omnifoa_names(weights)
    expected = model.state_dict()
    wrong = [
        f"{k} has shape {tuple(state[k].shape)} in the checkpoint but {tuple(v.shape)} in the model"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if wrong:
        raise CheckpointError(
            f"The checkpoint does not fit this model configuration: {wrong[0]}"
            + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else "")
            + "; pick the preset the checkpoint was trained with."
        )
    missing = [k for k in expected if k not in state]
    if missing and strict:
        raise CheckpointError(
            f"The checkpoint lacks {len(missing)} weight(s) the model uses, e.g. {missing[0]}; "
            "it is incomplete or made for another model."
        )
    extra = tuple(sorted(set(state) - set(expected)))
    model.load_state_dict({k: v for k, v in state.items() if k in expected}, strict=strict)
    return LoadReport(len(state) - len(extra), tuple(sorted(unused + extra)), source)


def save_safetensors(state: dict[str, Tensor], path: str | os.PathLike[str]) -> None:
    """Write tensors (contiguous, CPU) to a safetensors file at ``path``."""
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(path))


def convert_to_safetensors(
    source: str | os.PathLike[str], target: str | os.PathLike[str], ema: bool = True
) -> LoadReport:
    """Convert any accepted checkpoint to a safetensors file with omnifoa's names."""
    weights, kind = select_weights(read_tensors(source), ema=ema)
    state, unused = to_omnifoa_names(weights)
    save_safetensors(state, target)
    return LoadReport(len(state), unused, kind)
