"""Onsets found against a scene's true onsets: how many pair up one-to-one within a tolerance."""

from __future__ import annotations

from collections.abc import Sequence

TOLERANCE_S = 0.05


def matched_onsets(
    truth: Sequence[float], found: Sequence[float], tolerance_s: float = TOLERANCE_S
) -> int:
    """True onsets that have a found onset within ±``tolerance_s``, each found onset used once
    (true onsets in time order, each taking its nearest free one)."""
    free = sorted(float(f) for f in found)
    hits = 0
    for t in sorted(float(x) for x in truth):
        near = [d for d in free if abs(d - t) <= tolerance_s]
        if near:
            free.remove(min(near, key=lambda d: abs(d - t)))
            hits += 1
    return hits
