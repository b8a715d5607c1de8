"""Frame encoders by name: the one factory (offline, on a device, with a batch size)."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from models.encoders.base import EncoderUnavailable, FrameEncoder
from models.encoders.clip import METACLIP_H14, METACLIP_H14_REPO, load_metaclip
from models.encoders.efficientnet import (
    EFFICIENTNET_LITE0,
    EFFICIENTNET_LITE0_SECTORS,
    EfficientNetLite0SectorEncoder,
    load_efficientnet_lite0,
)


def default_batch_size(name: str, device: torch.device | str) -> int:
    """Frames per forward pass: small on CPU (cache-friendly, measured), larger on accelerators."""
    on_cpu = torch.device(device).type == "cpu"
    if name == METACLIP_H14:
        return 4 if on_cpu else 32
    return 4 if on_cpu else 64


_LOADERS: dict[str, Callable[..., FrameEncoder]] = {
    EFFICIENTNET_LITE0: lambda device, source, batch_size: load_efficientnet_lite0(
        device,
        weights=source,
        batch_size=batch_size or default_batch_size(EFFICIENTNET_LITE0, device),
    ),
    EFFICIENTNET_LITE0_SECTORS: lambda device, source, batch_size: EfficientNetLite0SectorEncoder(
        load_efficientnet_lite0(device, weights=source).model,
        torch.device(device),
        batch_size=batch_size or default_batch_size(EFFICIENTNET_LITE0_SECTORS, device),
    ),
    METACLIP_H14: lambda device, source, batch_size: load_metaclip(
        device,
        source=source or METACLIP_H14_REPO,
        batch_size=batch_size or default_batch_size(METACLIP_H14, device),
    ),
}

FRAME_ENCODER_NAMES: tuple[str, ...] = tuple(_LOADERS)


def load_frame_encoder(
    name: str,
    device: torch.device | str = "cpu",
    *,
    source: str | os.PathLike[str] | None = None,
    batch_size: int | None = None,
) -> FrameEncoder:
    """The frame encoder called ``name``, offline, on ``device``.

    ``source`` overrides where the weights come from: a ``.pth`` state dict for
    EfficientNet-Lite0 (either variant), a hub repo id (looked up in the local cache) or a local
    directory for MetaCLIP. ``batch_size`` bounds the frames run through the network at once.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in _LOADERS:
        raise EncoderUnavailable(
            f"Unknown frame encoder {name!r}: choose one of {', '.join(FRAME_ENCODER_NAMES)}."
        )
    return _LOADERS[key](device, source, batch_size)
