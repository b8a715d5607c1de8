"""ViSAGe weights: read safely, ``module.`` prefixes stripped, every key accounted for.

The release saves a transformers-style folder: ``config.json`` (``model_type: "bart"``) and
``model.safetensors`` or ``pytorch_model.bin``; a file written by accelerate under DDP has
every key prefixed ``module.``. Loading requires zero missing and zero unexpected keys and
every shape to match; anything else is refused with the keys named and nothing loaded.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import torch
from torch import Tensor

from models.checkpoint_files import (
    DDP_PREFIX,
    CheckpointError,
    read_tensors,
    save_safetensors,
    strip_prefix,
)
from models.visage.config import VisageConfig, from_release_config
from models.visage.network import VisageNetwork

CONFIG_NAME = "config.json"


def release_config(weights: str | os.PathLike[str], fallback: VisageConfig) -> VisageConfig:
    """The config.json beside a weights file, read as ViSAGe's; ``fallback`` when there is none.

    Looked at before it is opened: a folder or a pipe in its place is refused, never read."""
    path = Path(weights).with_name(CONFIG_NAME)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return fallback
    except OSError as exc:
        raise CheckpointError(f"Cannot look at {path} ({exc.strerror}).") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a pipe, device or socket"
        raise CheckpointError(
            f"{path} is {kind}, not a file; put the config.json released with the weights there."
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return from_release_config(document, fallback.name)
    except UnicodeDecodeError:
        reason = "it is not UTF-8 text"
    except (OSError, ValueError, RecursionError) as exc:  # JSON, a field, the file system
        reason = str(exc)
    raise CheckpointError(
        f"{path} cannot be used as ViSAGe's config ({reason}); put the config.json released "
        "with the weights there."
    )


def _names(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(sorted(keys)[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def check_state(network: VisageNetwork, state: dict[str, Tensor], source: str) -> None:
    """CheckpointError unless ``state`` holds exactly the network's keys with its shapes."""
    expected = network.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"lacks {len(missing)} weight(s) ViSAGe has ({_names(missing)})")
        if unexpected:
            parts.append(f"holds {len(unexpected)} ViSAGe does not ({_names(unexpected)})")
        raise CheckpointError(
            f"{source} is not a ViSAGe checkpoint of this size: it {' and '.join(parts)}."
        )
    wrong = [
        f"{k} is {tuple(state[k].shape)} but ViSAGe has {tuple(v.shape)}"
        for k, v in expected.items()
        if state[k].shape != v.shape
    ]
    if wrong:
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        raise CheckpointError(f"{source} does not fit this ViSAGe configuration: {wrong[0]}{more}.")


def load_visage_weights(network: VisageNetwork, weights: str | os.PathLike[str]) -> None:
    """Load a released (or converted) weights file into ``network``, exactly."""
    state = strip_prefix(read_tensors(weights), DDP_PREFIX)
    check_state(network, state, Path(weights).name)
    network.load_state_dict(state, strict=True)


def convert_visage(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> int:
    """Write a checkpoint's weights (prefix stripped, checked) to safetensors; tensors written."""
    state = strip_prefix(read_tensors(source), DDP_PREFIX)
    config = release_config(source, VisageConfig())
    with torch.device("meta"):
        network = VisageNetwork(config)
    check_state(network, state, Path(source).name)
    save_safetensors(state, target)
    return len(state)
