"""The 7×7 patch energy map of each CLIP frame: where the picture stands out, in space and
in time (a self-dissimilarity of CLIP ViT-B/32 patch tokens; no text involved).

For each frame's L2-normalised patch features f̂ (tokens before the final LayerNorm, the
class token dropped, 7×7 row-major from the top left): the spatial score is
‖f̂ − normalise(mean of the 4-connected neighbours' raw features)‖ and the temporal score
‖f̂ − normalise(mean of the same patch's raw features in the frames before and after)‖.
The energy is the mean of the two scores' softmaxes at temperature 0.1; the least energetic
patches holding 30 % of it (top-p 0.7) are dropped from both scores and the softmaxes taken
again, so each frame's map sums to one.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional

GRID = 7
TEMPERATURE = 0.1
TOP_P = 0.7


def _neighbour_mean(patches: Tensor) -> Tensor:
    """Mean of each patch's up/down/left/right neighbours' features, [T, 7, 7, C]."""
    total = torch.zeros_like(patches)
    count = torch.zeros((*patches.shape[:3], 1), dtype=patches.dtype, device=patches.device)
    total[:, 1:] += patches[:, :-1]
    count[:, 1:] += 1
    total[:, :-1] += patches[:, 1:]
    count[:, :-1] += 1
    total[:, :, 1:] += patches[:, :, :-1]
    count[:, :, 1:] += 1
    total[:, :, :-1] += patches[:, :, 1:]
    count[:, :, :-1] += 1
    return total / count


def _temporal_mean(patches: Tensor) -> Tensor:
    """Mean of each patch's features in the frames before and after ([T, 49, C]; zero for a
    single frame)."""
    frames = patches.shape[0]
    if frames == 1:
        return torch.zeros_like(patches)
    total = torch.zeros_like(patches)
    count = torch.zeros(frames, 1, 1, dtype=patches.dtype, device=patches.device)
    total[1:] += patches[:-1]
    count[1:] += 1
    total[:-1] += patches[1:]
    count[:-1] += 1
    return total / count


def dissimilarity_scores(patches: Tensor) -> tuple[Tensor, Tensor]:
    """(spatial, temporal) scores [T, 49] of patch tokens [T, 49, C]."""
    raw = patches.float()
    unit = functional.normalize(raw, dim=-1)
    grid = raw.view(raw.shape[0], GRID, GRID, -1)
    spatial_ref = functional.normalize(_neighbour_mean(grid).reshape(raw.shape), dim=-1)
    temporal_ref = functional.normalize(_temporal_mean(raw), dim=-1)
    spatial = torch.linalg.vector_norm(unit - spatial_ref, dim=-1)
    temporal = torch.linalg.vector_norm(unit - temporal_ref, dim=-1)
    return spatial, temporal


def _energy(spatial: Tensor, temporal: Tensor) -> Tensor:
    return 0.5 * (
        torch.softmax(spatial / TEMPERATURE, dim=-1) + torch.softmax(temporal / TEMPERATURE, dim=-1)
    )


def energy_maps(patches: Tensor) -> Tensor:
    """Energy maps [T, 49] (each row sums to 1) of CLIP patch tokens [T, 49, C]."""
    spatial, temporal = dissimilarity_scores(patches)
    energy = _energy(spatial, temporal)
    ordered, order = torch.sort(energy, dim=-1)
    dropped_sorted = torch.cumsum(ordered, dim=-1) <= 1.0 - TOP_P
    dropped = torch.zeros_like(dropped_sorted).scatter(-1, order, dropped_sorted)
    spatial = spatial.masked_fill(dropped, float("-inf"))
    temporal = temporal.masked_fill(dropped, float("-inf"))
    return _energy(spatial, temporal)
