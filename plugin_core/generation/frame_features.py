"""Per-frame conditioning features of ERP frames: the one place both views are computed.

Training (the dataset cache) and generation call :func:`clip_features` with the same
:class:`FeatureExtractor`, so the model never sees features made any other way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models.encoders.frame_encoders import FrameEncoder, load_frame_encoder
from models.omniaudio.config import ModelConfig
from plugin_core.spatial.projection import Angles, erp_to_perspective, global_view

# Frame pixels (× 3 channels) turned into float views at once; bounds memory for large frames.
_CHUNK_ELEMENTS = 1 << 24


@dataclass(frozen=True)
class FeatureExtractor:
    """The two frozen frame encoders: the panorama (global) branch and the FoV branch."""

    global_encoder: FrameEncoder
    fov_encoder: FrameEncoder

    @property
    def names(self) -> tuple[str, str]:
        """(global encoder name, FoV encoder name), as recorded beside cached features."""
        return self.global_encoder.name, self.fov_encoder.name


def load_feature_extractor(
    config: ModelConfig, device: torch.device | str = "cpu", batch_size: int | None = None
) -> FeatureExtractor:
    """The encoders ``config`` names (``global_frame_encoder`` falls back to ``frame_encoder``)."""
    global_name = config.global_frame_encoder or config.frame_encoder
    extractor = FeatureExtractor(
        global_encoder=load_frame_encoder(global_name, device, batch_size=batch_size),
        fov_encoder=load_frame_encoder(config.frame_encoder, device, batch_size=batch_size),
    )
    expected = config.conditioner.feature_dim
    for encoder in (extractor.global_encoder, extractor.fov_encoder):
        if encoder.feature_dim != expected:
            raise ValueError(
                f"frame encoder {encoder.name!r} gives {encoder.feature_dim}-d features but "
                f"model {config.name!r} expects {expected}-d"
            )
    return extractor


def clip_features(
    frames: torch.Tensor,
    extractor: FeatureExtractor,
    fov_yaw: Angles = 0.0,
    fov_pitch: Angles = 0.0,
    fov: float = 120.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Global and FoV features ([T, D] float32 each) of ERP frames [T, H, W, 3].

    The global view is the frame padded to a square (:func:`global_view`); the FoV view is a
    gnomonic crop aimed at (``fov_yaw``, ``fov_pitch``) degrees — one direction, or one per
    frame — with a ``fov``-degree field of view, at the FoV encoder's input size. Frames are
    taken a few at a time, so full-size decoded video fits in memory.
    """
    t, height, width = frames.shape[:3]
    yaws = _per_frame(fov_yaw, t, "fov_yaw")
    pitches = _per_frame(fov_pitch, t, "fov_pitch")
    chunk = max(1, _CHUNK_ELEMENTS // max(1, 3 * height * width))
    glob, local = extractor.global_encoder, extractor.fov_encoder
    global_parts, fov_parts = [], []
    for s in range(0, t, chunk):
        part = frames[s : s + chunk]
        global_parts.append(glob.encode(global_view(part, glob.input_size)))
        views = erp_to_perspective(
            part, yaws[s : s + chunk], pitches[s : s + chunk], fov, local.input_size
        )
        fov_parts.append(local.encode(views))
    return torch.cat(global_parts), torch.cat(fov_parts)


def _per_frame(angles: Angles, count: int, name: str) -> np.ndarray:
    """One angle per frame from a single angle or a path of ``count`` angles."""
    if isinstance(angles, torch.Tensor):
        angles = angles.detach().cpu().numpy()
    values = np.atleast_1d(np.asarray(angles, dtype=np.float64))
    if values.ndim != 1 or values.size not in (1, count):
        raise ValueError(f"{name} needs one angle or one per frame ({count}), got {values.shape}")
    return np.broadcast_to(values, (count,))
