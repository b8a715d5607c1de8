"""OmniAudio checkpoints: the reference names mapped onto omnifoa's, loaded with clear errors.

Accepted inputs: the official Lightning ``model.ckpt`` (tensors under ``["state_dict"]`` with
the prefix ``diffusion.``; an EMA copy under ``diffusion_ema.ema_model.``), an exported state
dict without prefix, and safetensors files (reference names or omnifoa's own). Files are read
by :mod:`models.checkpoint_files` (no code from the file ever runs). As the reference's
inference does, the ``diffusion.`` weights are loaded; the EMA copy only when asked for.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor, nn

from models.checkpoint_files import CheckpointError, read_tensors, save_safetensors
from models.omniaudio.codec import fold_weight_norm_state

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
# The codec's encoder: generating never runs it, so a checkpoint may leave it out (then a
# regenerated range is crossfaded instead of inpainted).
ENCODER_PREFIX = "codec.encoder."
LIGHTNING_PREFIX = "diffusion."
EMA_PREFIX = "diffusion_ema.ema_model."


@dataclass(frozen=True)
class LoadReport:
    """What a load did: tensors loaded, reference keys skipped as unused, the source form,
    and whether the file had the codec's encoder."""

    loaded: int
    unused: tuple[str, ...]
    source: str
    encoder: bool = True


def select_weights(tensors: dict[str, Tensor], ema: bool = False) -> tuple[dict[str, Tensor], str]:
    """Strip the Lightning prefixes: the ``diffusion.`` weights, or the EMA copy when asked
    (CheckpointError when the file has none)."""
    ema_keys = {k[len(EMA_PREFIX) :]: v for k, v in tensors.items() if k.startswith(EMA_PREFIX)}
    if ema:
        if not ema_keys:
            raise CheckpointError(
                "The checkpoint has no EMA copy of its weights; leave out the EMA option."
            )
        return ema_keys, "lightning (EMA weights)"
    plain = {
        k[len(LIGHTNING_PREFIX) :]: v for k, v in tensors.items() if k.startswith(LIGHTNING_PREFIX)
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
    model: nn.Module, path: str | os.PathLike[str], ema: bool = False, strict: bool = True
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
    encoder = any(k.startswith(ENCODER_PREFIX) for k in state)
    if not encoder:  # left out as a whole: the model runs without it
        missing = [k for k in missing if not k.startswith(ENCODER_PREFIX)]
    if missing and strict:
        raise CheckpointError(
            f"The checkpoint lacks {len(missing)} weight(s) the model uses, e.g. {missing[0]}; "
            "it is incomplete or made for another model."
        )
    extra = tuple(sorted(set(state) - set(expected)))
    model.load_state_dict(
        {k: v for k, v in state.items() if k in expected}, strict=strict and encoder
    )
    return LoadReport(len(state) - len(extra), tuple(sorted(unused + extra)), source, encoder)


def convert_to_safetensors(
    source: str | os.PathLike[str], target: str | os.PathLike[str], ema: bool = False
) -> LoadReport:
    """Convert any accepted checkpoint to a safetensors file with omnifoa's names; a file
    holding none of the weights inference uses is refused, and nothing is written."""
    weights, kind = select_weights(read_tensors(source), ema=ema)
    state, unused = to_omnifoa_names(weights)
    if not state:
        raise CheckpointError(
            f"{Path(source).name} holds none of the weights OmniAudio's inference uses (it "
            f"leaves out all {len(unused)}); nothing to convert."
        )
    save_safetensors(state, target)
    return LoadReport(len(state), unused, kind)
