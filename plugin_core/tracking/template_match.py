"""Find a template in a view image: multi-scale normalised cross-correlation, sub-pixel peak."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from plugin_core.tracking.gnomonic import Image

# Template scales tried per frame, relative to the current apparent size: while following,
# and (a wider set) while searching for a lost object whose size may have changed meanwhile.
SCALES = (1.0 / 1.08, 1.0, 1.08)
WIDE_SCALES = (0.75, 0.87, 1.0, 1.15, 1.33)


@dataclass(frozen=True)
class Match:
    """Where the template's centre lies in the view (pixels), its NCC score and scale."""

    x: float
    y: float
    score: float
    scale: float


def find_template(
    view: Image,
    template: Image,
    mask: Image,
    scale: float,
    centre: tuple[float, float],
    reach: float,
    steps: tuple[float, ...] = SCALES,
) -> Match:
    """Best masked NCC match of ``template`` at ``scale`` × ``steps``, within ``reach`` px."""
    best = Match(centre[0], centre[1], -1.0, scale)
    for step in steps:
        side = max(5, round(template.shape[0] * scale * step))
        if side >= min(view.shape[:2]):
            continue
        scaled = resize_square(template, side)
        scores = cv2.matchTemplate(
            view, scaled, cv2.TM_CCOEFF_NORMED, mask=resize_square(mask, side)
        )
        offset = (side - 1) / 2.0
        rows, cols = np.mgrid[: scores.shape[0], : scores.shape[1]]
        near = np.hypot(cols + offset - centre[0], rows + offset - centre[1]) <= reach
        masked = np.where(near & np.isfinite(scores), scores, -1.0)
        row, col = np.unravel_index(int(np.argmax(masked)), masked.shape)
        score = float(masked[row, col])
        if score > best.score:
            dx = _vertex(masked[row, col - 1 : col + 2]) if 0 < col < masked.shape[1] - 1 else 0.0
            dy = _vertex(masked[row - 1 : row + 2, col]) if 0 < row < masked.shape[0] - 1 else 0.0
            best = Match(col + dx + offset, row + dy + offset, score, scale * step)
    return best


def crop(view: Image, x: float, y: float, side: int) -> Image:
    """A ``side`` × ``side`` patch of ``view`` centred at (x, y), bilinear, border replicated."""
    return cv2.getRectSubPix(view, (side, side), (x, y))


def disc_mask(side: int, radius: float) -> Image:
    """A ``side`` × ``side`` float32 mask, 1 inside a centred disc of ``radius`` pixels."""
    grid = np.arange(side) - (side - 1) / 2.0
    return (np.hypot(grid[None, :], grid[:, None]) <= radius).astype(np.float32)


def resize_square(image: Image, side: int) -> Image:
    """``image`` resized to ``side`` × ``side`` pixels."""
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)


def _vertex(values: NDArray[np.float32]) -> float:
    """Offset in [-0.5, 0.5] of the top of the parabola through three neighbouring scores."""
    left, mid, right = (float(v) for v in values)
    curve = left - 2.0 * mid + right
    if curve >= 0.0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / curve, -0.5, 0.5))
