"""Build a scene description deterministically from a seed, with optional forced choices."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from plugin_core.errors import InputError
from plugin_core.spatial.directions import great_circle_deg
from plugin_core.synthsphere.catalogue import MOTIONS, PROFILES, SOUND_CLASSES, VISUAL_EVENTS
from plugin_core.synthsphere.motion import MAX_ELEVATION, path, seam_start_az
from plugin_core.synthsphere.scene import (
    SCHEMA_VERSION,
    Backdrop,
    Look,
    Scene,
    SceneObject,
    Trajectory,
    VideoFormat,
)
from plugin_core.synthsphere.schedule import keyframe_times, onsets_and_levels

SAMPLE_RATE = 44100
MAX_OBJECTS = 8
MIN_SECONDS = 0.5
MAX_SECONDS = 600.0
EVENT_SECONDS = 0.15
# Randomly placed objects start at least this far apart (when they can), degrees.
MIN_SEPARATION = 45.0


def check_seconds(seconds: float) -> None:
    """Raise InputError unless ``seconds`` is a scene length omnifoa can render."""
    if not (math.isfinite(seconds) and MIN_SECONDS <= seconds <= MAX_SECONDS):
        raise InputError(
            f"A scene lasts between {MIN_SECONDS:g} and {MAX_SECONDS:g} seconds; {seconds} was "
            "asked for."
        )


def make_scene(
    seed: int,
    seconds: float = 10.0,
    *,
    objects: int | None = None,
    classes: Sequence[str] | None = None,
    motions: Sequence[str] | None = None,
    directions: Sequence[tuple[float, float]] | None = None,
    events: Sequence[str] | None = None,
    ambience_db: float | None = None,
) -> Scene:
    """A random scene of 1–3 objects from ``seed``; the same seed gives the same scene.

    The keyword options force choices (one entry per object): ``classes`` from SOUND_CLASSES,
    ``motions`` from MOTIONS, start ``directions`` as (az, el) degrees, visual ``events`` from
    VISUAL_EVENTS; ``ambience_db`` sets the diffuse bed relative to an object at 0 dB.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"The scene seed must be a whole number of 0 or more, not {seed!r}.")
    check_seconds(seconds)
    rng = np.random.default_rng(seed)
    count = _object_count(rng, objects, classes, motions, directions, events)
    _check_names(classes, SOUND_CLASSES, "sound class")
    _check_names(motions, MOTIONS, "motion")
    _check_names(events, VISUAL_EVENTS, "visual event")
    chosen = list(classes) if classes else list(rng.choice(SOUND_CLASSES, count, replace=False))
    backdrop = Backdrop(
        sun_az=_r(rng.uniform(-180.0, 180.0)),
        sun_el=_r(rng.uniform(15.0, 60.0)),
        cloud_cover=_r(rng.uniform(0.1, 0.7)),
        ground_tone=_r(rng.uniform(0.0, 1.0)),
        texture_seed=int(rng.integers(2**31)),
    )
    bed_db = rng.uniform(-25.0, -17.0) if ambience_db is None else ambience_db
    if not math.isfinite(bed_db):
        raise InputError(f"The ambience level must be a number of dB, not {ambience_db}.")
    ambience_seed = int(rng.integers(2**31))
    times = keyframe_times(float(seconds))
    built: list[SceneObject] = []
    for i, sound_class in enumerate(chosen):
        obj_rng = np.random.default_rng([seed, i])
        motion = motions[i] if motions else str(obj_rng.choice(MOTIONS, p=[0.3, 0.3, 0.2, 0.2]))
        if directions:
            az0, el0 = (float(a) for a in directions[i])
        else:
            az0, el0 = _free_direction(sound_class, motion, built, obj_rng)
        az, el = path(motion, times, az0, el0, obj_rng)
        onsets, level = onsets_and_levels(sound_class, times, obj_rng)
        profile = PROFILES[sound_class]
        look = Look(
            color=profile.color,
            pattern=profile.pattern,
            radius_deg=_r(obj_rng.uniform(9.0, 15.0)),
            pattern_scale=_r(obj_rng.uniform(0.8, 1.3)),
            pattern_angle=_r(obj_rng.uniform(0.0, 180.0)),
            event=events[i] if events else str(obj_rng.choice(VISUAL_EVENTS)),
            event_s=EVENT_SECONDS,
        )
        built.append(
            SceneObject(
                sound_class=str(sound_class),
                motion=motion,
                sound_seed=int(obj_rng.integers(2**31)),
                trajectory=Trajectory(_rs(times), _rs(az), _rs(el)),
                level_db=_rs(level, 2),
                onsets=_rs(onsets),
                look=look,
            )
        )
    return Scene(
        schema_version=SCHEMA_VERSION,
        seed=int(seed),
        duration=float(seconds),
        sample_rate=SAMPLE_RATE,
        video=VideoFormat(),
        backdrop=backdrop,
        ambience_db=_r(bed_db, 2),
        ambience_seed=ambience_seed,
        objects=tuple(built),
    )


def _object_count(rng: np.random.Generator, objects: int | None, *forced: Sequence | None) -> int:
    """The number of objects: asked for, implied by the forced lists, or 1–3 at random."""
    lengths = {len(f) for f in forced if f}
    if objects is not None:
        lengths.add(objects)
    if len(lengths) > 1:
        raise InputError(
            "The object count and the lists of classes, motions, directions and events "
            "must all agree on the number of objects."
        )
    count = lengths.pop() if lengths else int(rng.integers(1, 4))
    if not 1 <= count <= MAX_OBJECTS:
        raise InputError(f"A scene holds 1 to {MAX_OBJECTS} objects, not {count}.")
    return count


def _check_names(names: Sequence[str] | None, allowed: tuple[str, ...], what: str) -> None:
    for name in names or ():
        if name not in allowed:
            raise InputError(f"Unknown {what} {name!r}; use one of {', '.join(allowed)}.")


def _free_direction(
    sound_class: str, motion: str, placed: list[SceneObject], rng: np.random.Generator
) -> tuple[float, float]:
    """A start direction typical of the class, away from the objects already placed."""
    low, high = PROFILES[sound_class].elevation
    for _ in range(20):
        az = seam_start_az(rng) if motion == "seam" else rng.uniform(-180.0, 180.0)
        el = float(np.clip(rng.uniform(low, high), -MAX_ELEVATION, MAX_ELEVATION))
        starts = [(o.trajectory.az[0], o.trajectory.el[0]) for o in placed]
        if all(great_circle_deg(az, el, a, e) >= MIN_SEPARATION for a, e in starts):
            break
    return float(az), el


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def _rs(values: np.ndarray, digits: int = 4) -> tuple[float, ...]:
    return tuple(round(float(v), digits) for v in values)
