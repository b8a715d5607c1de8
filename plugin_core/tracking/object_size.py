"""Find a marked object's outline: the strongest colour edge that rings a point near the mark."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from plugin_core.tracking.gnomonic import Image

MIN_RADIUS_DEG = 1.5
RADIUS_STEP_DEG = 0.5
RAY_COUNT = 48
# Share of the rays that must cross an edge at a radius for it to count as a ring.
RING_SHARE = 0.7
# The outline is the outermost ring at least this fraction as strong as the strongest.
RING_FRACTION = 0.4
# Ring centres tried around the mark, in degrees off the view centre (each way) and their step.
CENTRE_REACH_DEG = 8.0
CENTRE_STEP_DEG = 1.0


@dataclass(frozen=True)
class Outline:
    """The object's centre in view pixels and its angular diameter in degrees."""

    x: float
    y: float
    diameter_deg: float


def find_outline(view: Image, focal_px: float, max_radius_deg: float) -> Outline:
    """The object nearest the centre of a gnomonic ``view`` (focal length ``focal_px``).

    Colours are sampled along rays from candidate centres near the view centre. A ring is a
    radius where most rays cross a colour edge; the largest ring at least half as strong as the
    strongest one is the outline (inner rings are the object's own pattern).
    """
    radii = np.arange(MIN_RADIUS_DEG, max_radius_deg, RADIUS_STEP_DEG)
    angles = np.linspace(0.0, 2.0 * math.pi, RAY_COUNT, endpoint=False)
    offsets = np.arange(-CENTRE_REACH_DEG, CENTRE_REACH_DEG + 1e-9, CENTRE_STEP_DEG)
    shifts = focal_px * np.tan(np.radians(offsets))
    cx, cy = np.meshgrid(shifts, shifts)
    cx, cy = cx.ravel(), cy.ravel()
    reach = focal_px * np.tan(np.radians(radii))
    middle = (view.shape[1] - 1) / 2.0
    ray_x = np.cos(angles)[:, None] * reach[None, :]
    ray_y = np.sin(angles)[:, None] * reach[None, :]
    map_x = (middle + cx[:, None, None] + ray_x[None]).reshape(len(cx) * len(angles), -1)
    map_y = (middle + cy[:, None, None] + ray_y[None]).reshape(len(cx) * len(angles), -1)
    profile = cv2.remap(
        view,
        map_x.astype(np.float32),
        map_y.astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    ).reshape(len(cx), len(angles), len(radii), 3)
    edge = np.linalg.norm(profile[:, :, 2:] - profile[:, :, :-2], axis=-1)
    ring = np.quantile(edge, 1.0 - RING_SHARE, axis=1)  # [centres, radii - 2]
    strong = ring >= RING_FRACTION * ring.max()
    outer = np.where(strong.any(axis=1), len(radii) - 3 - np.argmax(strong[:, ::-1], axis=1), -1)
    candidates = np.nonzero(outer == outer.max())[0]
    best = candidates[np.argmax(ring[candidates, outer.max()])]
    edge_at = int(outer[best])
    while edge_at > 0 and ring[best, edge_at - 1] >= ring[best, edge_at]:
        edge_at -= 1  # from the ring's outer flank in to its crest
    return Outline(middle + cx[best], middle + cy[best], float(2.0 * radii[1 + edge_at]))
