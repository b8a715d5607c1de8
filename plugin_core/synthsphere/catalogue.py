"""The vocabulary of synthetic scenes: sound classes, motions, patterns and visual events."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClassProfile:
    """How objects of one sound class behave in time, where they sit and how they look."""

    continuous: bool  # sounds for stretches (one onset per stretch) rather than as events
    elevation: tuple[float, float]  # usual elevation range of the start direction, degrees
    color: tuple[int, int, int]  # RGB of the drawn object
    pattern: str  # one of PATTERNS, drawn in the object's own tangent plane


PROFILES: dict[str, ClassProfile] = {
    "engine": ClassProfile(True, (-10.0, 10.0), (205, 35, 30), "stripes"),
    "bird": ClassProfile(False, (20.0, 70.0), (245, 215, 40), "spots"),
    "bell": ClassProfile(False, (10.0, 45.0), (185, 60, 215), "rings"),
    "drum": ClassProfile(False, (-15.0, 15.0), (245, 125, 20), "checker"),
    "water": ClassProfile(True, (-45.0, -10.0), (20, 205, 225), "waves"),
    "footsteps": ClassProfile(False, (-35.0, -5.0), (55, 55, 70), "stripes"),
    "siren": ClassProfile(True, (-5.0, 20.0), (40, 225, 90), "rings"),
    "applause": ClassProfile(True, (-10.0, 20.0), (255, 140, 190), "spots"),
}
SOUND_CLASSES: tuple[str, ...] = tuple(PROFILES)
PATTERNS: tuple[str, ...] = ("stripes", "spots", "rings", "checker", "waves")
# Motions: fixed; slow circular pan; a pass behind the camera across the ±180° seam;
# a climb to (or descent from) a high elevation.
MOTIONS: tuple[str, ...] = ("static", "pan", "seam", "climb")
# What the drawn object does for a moment after each sound onset: brightness boost,
# growth, or a hop upward.
VISUAL_EVENTS: tuple[str, ...] = ("flash", "pulse", "bounce")
