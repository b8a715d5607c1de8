"""When objects sound: keyframe times, onset times per class and level envelopes."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from plugin_core.synthsphere.catalogue import PROFILES
from plugin_core.synthsphere.scene import SILENT_DB

Float = NDArray[np.float64]
KEY_RATE = 20.0  # trajectory and level keyframes per second


def keyframe_times(duration: float) -> Float:
    """Keyframe times at KEY_RATE from 0 to ``duration`` inclusive."""
    count = math.ceil(duration * KEY_RATE - 1e-9) + 1
    return np.minimum(np.arange(count) / KEY_RATE, duration)


def _event_onsets(sound_class: str, duration: float, rng: np.random.Generator) -> Float:
    """Onset times of an event-like class, from shortly after the start to before the end."""
    t = min(rng.uniform(0.1, 0.6), duration / 3.0)
    last = max(duration - 0.2, t)
    onsets: list[float] = []
    if sound_class == "drum":
        period = rng.uniform(0.3, 0.6)
        while t <= last:
            if not onsets or rng.random() < 0.75:
                onsets.append(t)
            t += period
    elif sound_class == "footsteps":
        period = rng.uniform(0.45, 0.6)
        steps_left = rng.integers(4, 11)
        while t <= last:
            onsets.append(t)
            steps_left -= 1
            if steps_left == 0:
                steps_left = rng.integers(4, 11)
                t += rng.uniform(0.5, 1.5)
            t += period + rng.uniform(-0.02, 0.02)
    else:
        low, high = {"bird": (0.5, 1.6), "bell": (1.4, 3.0)}[sound_class]
        while t <= last:
            onsets.append(t)
            t += rng.uniform(low, high)
    return np.array(onsets)


def _stretches(count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Sounding stretches of a continuous class as keyframe pairs (rise after k0, silent at k1).

    Half the time the sound runs the whole scene; otherwise it stops and starts with gaps.
    ``k1 == count`` means the stretch runs to the end.
    """
    if rng.random() < 0.5:
        return [(0, count)]
    result = []
    k0 = round(rng.uniform(0.0, 0.5) * KEY_RATE)
    while k0 < count - 4:
        k1 = min(k0 + round(rng.uniform(1.5, 5.0) * KEY_RATE), count)
        result.append((k0, k1))
        k0 = k1 + round(rng.uniform(0.4, 1.5) * KEY_RATE)
    return result


def onsets_and_levels(
    sound_class: str, times: Float, rng: np.random.Generator
) -> tuple[Float, Float]:
    """Onset times and a level envelope (dB, one per keyframe) for one object.

    The level drifts slowly around a base level; continuous classes drop to SILENT_DB in
    their gaps, with one onset at the start of each sounding stretch.
    """
    base = rng.uniform(-4.0, 0.0)
    periods, phases = rng.uniform(3.0, 9.0, 2), rng.uniform(0.0, 2 * np.pi, 2)
    drift = 1.5 * np.sin(2 * np.pi * times / periods[0] + phases[0])
    drift += 1.0 * np.sin(2 * np.pi * times / periods[1] + phases[1])
    level = base + drift
    if not PROFILES[sound_class].continuous:
        return _event_onsets(sound_class, float(times[-1]), rng), level
    active = np.zeros(times.shape, dtype=bool)
    stretches = _stretches(times.size, rng)
    for k0, k1 in stretches:
        active[k0 + 1 : k1] = True
    return times[[k0 for k0, _ in stretches]], np.where(active, level, SILENT_DB)
