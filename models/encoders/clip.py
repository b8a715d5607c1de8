"""MetaCLIP ViT-H/14, the frame encoder of the official OmniAudio release, and CLIP's
image normalisation.

``"metaclip-h14"`` (``facebook/metaclip-h14-fullcc2.5b``): 1024-d projected image embedding,
not L2-normalised. Loaded with Hugging Face ``transformers`` (the optional ``official`` extra)
strictly from the local Hugging Face cache or a local directory; never downloaded here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.encoders.base import (
    ChunkedEncoder,
    EncoderUnavailable,
    check_views,
    resize_center_crop,
)
from models.hub_cache import hub_cache_dir
from models.pretrained_parts import load_part, part_config, quiet_transformers

# CLIP image normalisation (RGB, values in [0, 1]); the same numbers as the reference extractor.
CLIP_MEAN: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)

METACLIP_H14 = "metaclip-h14"
METACLIP_H14_REPO = "facebook/metaclip-h14-fullcc2.5b"

_DOWNLOAD_HINT = (
    f"`hf download {METACLIP_H14_REPO}` (older huggingface_hub: "
    f"`huggingface-cli download {METACLIP_H14_REPO}`) or `omnifoa models download`"
)


class MetaClipEncoder(ChunkedEncoder):
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


def _top_level_projection(vision: Any, document: dict[str, Any]) -> None:
    """Give a vision config the projection size of its folder's config.json: in a full CLIP
    checkpoint (as on the hub) that is the top-level one."""
    if "vision_config" in document and "projection_dim" in document:
        vision.projection_dim = int(document["projection_dim"])


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
        cache = hub_cache_dir()
        kwargs = {"local_files_only": True, "cache_dir": str(cache)}
        where = f"the Hugging Face cache {cache}"
        load_from = source

    missing = EncoderUnavailable(
        f"MetaCLIP weights {source!r} are not in {where}: fetch them once with "
        f"{_DOWNLOAD_HINT}, with HF_HOME pointing at the cache omnifoa should use."
    )
    try:
        with quiet_transformers():
            vision = CLIPVisionConfig.from_pretrained(load_from, **kwargs)
            _top_level_projection(vision, PretrainedConfig.get_config_dict(load_from, **kwargs)[0])
            model, info = CLIPVisionModelWithProjection.from_pretrained(
                load_from, config=vision, output_loading_info=True, **kwargs
            )
    except OSError as exc:
        raise missing from exc
    if info.get("missing_keys"):
        raise EncoderUnavailable(
            f"MetaCLIP checkpoint {source!r} lacks vision weights "
            f"({sorted(info['missing_keys'])[:3]}…): re-fetch it with {_DOWNLOAD_HINT}."
        )
    return MetaClipEncoder(model, torch.device(device), batch_size=batch_size)


CLIP_B32_REPO = "openai/clip-vit-base-patch32"
CLIP_B32_PART = "CLIP ViT-B/32 frame encoder"
CLIP_B32_FETCH = "fetch it again with `omnifoa models download visage`"


class ClipPatchEncoder:
    """CLIP ViT-B/32 as ViSAGe reads it: per view, the projected image embedding (512-d, not
    normalised) and the patch tokens before the final LayerNorm (7×7 × 768, the class token
    dropped), both rounded to fp16 as the release stores its features."""

    def __init__(self, model: nn.Module, device: torch.device, batch_size: int = 8) -> None:
        self.model = model.to(device).eval().requires_grad_(False)
        self.device = device
        self.batch_size = batch_size
        self.input_size = int(model.config.image_size)
        self._mean = torch.tensor(CLIP_MEAN, device=device).view(1, 3, 1, 1)
        self._std = torch.tensor(CLIP_STD, device=device).view(1, 3, 1, 1)

    def encode(self, views: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(embeddings [T, 512], patches [T, 49, 768]) of views [T, 3, H, W] in [0, 1]."""
        check_views(views)
        embeds, patches = [], []
        with torch.inference_mode(), torch.autocast(self.device.type, enabled=False):
            for start in range(0, views.shape[0], self.batch_size):
                chunk = views[start : start + self.batch_size].to(self.device, torch.float32)
                chunk = resize_center_crop(chunk, self.input_size)
                out = self.model(pixel_values=(chunk - self._mean) / self._std)
                embeds.append(out.image_embeds.half().float().cpu())
                patches.append(out.last_hidden_state[:, 1:].half().float().cpu())
        return torch.cat(embeds), torch.cat(patches)


def clip_b32_config(source: str | os.PathLike[str]) -> Any:
    """The vision config of the CLIP ViT-B/32 saved in ``source`` (its embedding width is
    ``projection_dim``), read without loading a weight; ModelLoadError naming the file."""
    from transformers import CLIPVisionConfig, PretrainedConfig

    vision = part_config(CLIPVisionConfig, source, CLIP_B32_PART, CLIP_B32_FETCH)
    document, _ = PretrainedConfig.get_config_dict(os.fspath(source), local_files_only=True)
    _top_level_projection(vision, document)
    return vision


def load_clip_patch_encoder(
    source: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> ClipPatchEncoder:
    """CLIP ViT-B/32 (vision tower + projection) from a local folder, every weight present;
    never downloaded."""
    from transformers import CLIPVisionModelWithProjection

    config = clip_b32_config(source)
    model = load_part(
        CLIPVisionModelWithProjection, source, CLIP_B32_PART, CLIP_B32_FETCH, config=config
    )
    return ClipPatchEncoder(model, torch.device(device))
