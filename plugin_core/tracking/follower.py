"""Frame-by-frame following of one object in gnomonic views re-centred on its prediction."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from plugin_core.spatial.directions import az_el_to_vector, vector_to_az_el
from plugin_core.tracking.gnomonic import (
    Frame,
    Image,
    pixels_per_degree,
    sample_view,
    view_pixel_to_direction,
)
from plugin_core.tracking.template_match import (
    SCALES,
    WIDE_SCALES,
    crop,
    disc_mask,
    find_template,
    resize_square,
)

Vector = NDArray[np.float64]

TEMPLATE_PX = 40  # template side in view pixels at the mark
TEMPLATE_SPAN = 1.1  # the template square covers this many object diameters...
MASK_SPAN = 1.0  # ...and is matched inside a disc of this many diameters
MIN_REACH_DEG = 12.0  # the object is searched at least this far from its predicted direction
MAX_FOV = 120.0
LOST_SCORE = 0.5  # a match scoring below this means the object is not in view
FOUND_SCORE = 0.6  # after a loss, a match must score this much to take the object back
REFRESH_SCORE = 0.8  # matches scoring above this refresh the template...
REFRESH_RATE = 0.1  # ...by this much
SIZE_SMOOTHING = 0.5  # share of a new scale estimate taken per frame
VELOCITY_SMOOTHING = 0.5  # share of the newest frame-to-frame rotation in the velocity


@dataclass(frozen=True)
class ViewPlan:
    """The square gnomonic view searched per frame and the template's size in it."""

    fov: float
    size: int
    template_px: int
    reach_deg: float

    @property
    def centre(self) -> float:
        return (self.size - 1) / 2.0

    @property
    def ppd(self) -> float:
        return pixels_per_degree(self.fov, self.size)

    def widened(self) -> ViewPlan:
        """The widest view at the same pixels per degree, searched while the object is lost."""
        return replace(self, fov=MAX_FOV, size=_view_size(MAX_FOV, self.ppd))


def plan_views(diameter: float, erp_width: int) -> ViewPlan:
    """View and template geometry for an object ``diameter`` degrees across."""
    ppd = min(TEMPLATE_PX / (TEMPLATE_SPAN * diameter), erp_width / 360.0)
    template_px = max(9, round(ppd * TEMPLATE_SPAN * diameter))
    reach = max(MIN_REACH_DEG, 0.8 * diameter)
    fov = min(MAX_FOV, 2.0 * (reach + TEMPLATE_SPAN * diameter))
    return ViewPlan(fov, _view_size(fov, ppd), template_px, reach)


@dataclass(frozen=True)
class Located:
    """The follower's answer for one frame."""

    az: float
    el: float
    score: float
    lost: bool
    size_deg: float


class Follower:
    """Follows one object frame after frame (in either direction of time) from its mark."""

    def __init__(
        self, mark_view: Image, az: float, el: float, diameter: float, plan: ViewPlan, coast: int
    ) -> None:
        self.plan = plan
        self.diameter = diameter
        self.coast = coast  # frames the last velocity is kept up while the object is lost
        self.vector: Vector = az_el_to_vector(az, el)
        self.velocity: Vector = np.zeros(3)  # rotation vector (radians) per frame
        self.template = crop(mark_view, plan.centre, plan.centre, plan.template_px)
        radius = plan.template_px * MASK_SPAN / (2.0 * TEMPLATE_SPAN)
        self.mask = disc_mask(plan.template_px, radius)
        self.scale = 1.0  # apparent size relative to the mark
        self.misses = 0  # frames lost in a row

    def follow(self, frame: Frame) -> Located:
        """Find the object in the next frame and update what is known about it."""
        plan = self.plan if self.misses == 0 else self.plan.widened()
        predicted = _rotate(self.vector, self.velocity)
        yaw, pitch = (float(a) for a in vector_to_az_el(predicted))
        view = sample_view(frame, yaw, pitch, plan.fov, plan.size)
        reach_px = min(
            plan.reach_deg * (1.0 + 0.5 * self.misses) * plan.ppd,
            plan.centre - plan.template_px * self.scale / 2.0,
        )
        centre = (plan.centre, plan.centre)
        steps = SCALES if self.misses == 0 else WIDE_SCALES
        match = find_template(view, self.template, self.mask, self.scale, centre, reach_px, steps)
        if match.score < (LOST_SCORE if self.misses == 0 else FOUND_SCORE):
            return self._missed(predicted, match.score)
        found = view_pixel_to_direction(match.x, match.y, yaw, pitch, plan.fov, plan.size)
        vector = az_el_to_vector(*found)
        if self.misses == 0:
            step = _rotation_between(self.vector, vector)
            self.velocity = (1 - VELOCITY_SMOOTHING) * self.velocity + VELOCITY_SMOOTHING * step
        else:
            self.velocity = np.zeros(3)
        self.vector, self.misses = vector, 0
        self.scale *= (match.scale / self.scale) ** SIZE_SMOOTHING
        if match.score > REFRESH_SCORE:
            patch = crop(view, match.x, match.y, max(5, round(plan.template_px * self.scale)))
            patch = resize_square(patch, plan.template_px)
            self.template = (1.0 - REFRESH_RATE) * self.template + REFRESH_RATE * patch
        az, el = (float(a) for a in found)
        return Located(az, el, match.score, False, self.diameter * self.scale)

    def _missed(self, predicted: Vector, score: float) -> Located:
        """Record a frame without the object: coast on the last velocity for a while."""
        self.misses += 1
        self.vector = predicted
        if self.misses >= self.coast:
            self.velocity = np.zeros(3)
        az, el = (float(a) for a in vector_to_az_el(predicted))
        return Located(az, el, score, True, self.diameter * self.scale)


def _view_size(fov: float, ppd: float) -> int:
    """Odd pixel size of a view of ``fov`` degrees with ``ppd`` pixels per degree at its centre."""
    return 2 * round(math.tan(math.radians(fov / 2.0)) * ppd * 180.0 / math.pi) + 1


def _rotation_between(a: Vector, b: Vector) -> Vector:
    """Rotation vector (axis × angle in radians) turning unit vector ``a`` onto ``b``."""
    axis = np.cross(a, b)
    sine = np.linalg.norm(axis)
    if sine < 1e-12:
        return np.zeros(3)
    return axis / sine * math.atan2(sine, float(np.dot(a, b)))


def _rotate(v: Vector, rotation: Vector) -> Vector:
    """``v`` turned by a rotation vector (Rodrigues' formula)."""
    angle = float(np.linalg.norm(rotation))
    if angle < 1e-12:
        return v
    k = rotation / angle
    return (
        v * math.cos(angle)
        + np.cross(k, v) * math.sin(angle)
        + k * float(np.dot(k, v)) * (1.0 - math.cos(angle))
    )
