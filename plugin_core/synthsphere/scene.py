"""The scene description: a tree of frozen dataclasses, and its JSON ground-truth form.

Everything a renderer needs is here, so a scene loaded from its JSON renders the same
video and the same FOA samples. Directions follow ``plugin_core.spatial.directions``; levels are dB
relative to an object at 0 dB (active RMS of -20 dBFS before the final peak normalisation).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from plugin_core.atomic_files import write_atomic
from plugin_core.errors import InputError
from plugin_core.file_checks import input_file
from plugin_core.synthsphere.catalogue import MOTIONS, PATTERNS, SOUND_CLASSES, VISUAL_EVENTS

SCHEMA_VERSION = 1
# Level of an object while it is silent (the gaps of continuous classes), dB.
SILENT_DB = -80.0


@dataclass(frozen=True)
class Trajectory:
    """Direction keyframes: azimuth and elevation in degrees at ``times`` seconds."""

    times: tuple[float, ...]
    az: tuple[float, ...]
    el: tuple[float, ...]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trajectory:
        return cls(_floats(d["times"]), _floats(d["az"]), _floats(d["el"]))


@dataclass(frozen=True)
class Look:
    """How an object is drawn and what it does visually after each onset."""

    color: tuple[int, int, int]
    pattern: str
    radius_deg: float  # angular radius on the sphere
    pattern_scale: float  # pattern repeats per radius, relative to the class default
    pattern_angle: float  # rotation of the pattern in the tangent plane, degrees
    event: str  # one of VISUAL_EVENTS
    event_s: float  # how long the visual event lasts after an onset, seconds

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Look:
        r, g, b = (int(c) for c in d["color"])
        return cls(
            (r, g, b),
            _choice(d["pattern"], PATTERNS, "pattern"),
            float(d["radius_deg"]),
            float(d["pattern_scale"]),
            float(d["pattern_angle"]),
            _choice(d["event"], VISUAL_EVENTS, "visual event"),
            float(d["event_s"]),
        )


@dataclass(frozen=True)
class SceneObject:
    """One sounding, visible object; ``level_db`` has one value per trajectory keyframe."""

    sound_class: str
    motion: str
    sound_seed: int
    trajectory: Trajectory
    level_db: tuple[float, ...]
    onsets: tuple[float, ...]  # seconds; continuous classes: start of each sounding stretch
    look: Look

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SceneObject:
        return cls(
            _choice(d["sound_class"], SOUND_CLASSES, "sound class"),
            _choice(d["motion"], MOTIONS, "motion"),
            int(d["sound_seed"]),
            Trajectory.from_dict(d["trajectory"]),
            _floats(d["level_db"]),
            _floats(d["onsets"]),
            Look.from_dict(d["look"]),
        )


@dataclass(frozen=True)
class Backdrop:
    """The static sky/ground panorama behind the objects."""

    sun_az: float
    sun_el: float
    cloud_cover: float  # 0 = clear sky, 1 = overcast
    ground_tone: float  # 0 = grass, 1 = sand
    texture_seed: int

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Backdrop:
        return cls(
            float(d["sun_az"]),
            float(d["sun_el"]),
            float(d["cloud_cover"]),
            float(d["ground_tone"]),
            int(d["texture_seed"]),
        )


@dataclass(frozen=True)
class VideoFormat:
    """Size and frame rate of the rendered ERP video."""

    width: int = 512
    height: int = 256
    fps: float = 24.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VideoFormat:
        return cls(int(d["width"]), int(d["height"]), float(d["fps"]))


@dataclass(frozen=True)
class Scene:
    """A whole synthetic 360 scene: objects, ambience bed, backdrop and output formats."""

    schema_version: int
    seed: int
    duration: float  # seconds
    sample_rate: int
    video: VideoFormat
    backdrop: Backdrop
    ambience_db: float  # level of the diffuse bed relative to an object at 0 dB
    ambience_seed: int
    objects: tuple[SceneObject, ...]

    @property
    def num_samples(self) -> int:
        return round(self.duration * self.sample_rate)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scene:
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise InputError(
                f"This scene has schema version {version}, but this omnifoa reads version "
                f"{SCHEMA_VERSION}; regenerate it from its seed."
            )
        return cls(
            SCHEMA_VERSION,
            int(d["seed"]),
            float(d["duration"]),
            int(d["sample_rate"]),
            VideoFormat.from_dict(d["video"]),
            Backdrop.from_dict(d["backdrop"]),
            float(d["ambience_db"]),
            int(d["ambience_seed"]),
            tuple(SceneObject.from_dict(o) for o in d["objects"]),
        )


def scene_to_json(scene: Scene) -> str:
    """The scene as indented JSON text."""
    return json.dumps(asdict(scene), indent=1) + "\n"


def scene_from_json(text: str) -> Scene:
    """Parse a scene written by ``scene_to_json``."""
    try:
        return Scene.from_dict(json.loads(text))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"This is not a synthsphere scene description ({exc}).") from None


def save_scene(scene: Scene, path: str | os.PathLike[str]) -> None:
    """Write the scene's JSON to ``path`` atomically."""
    text = scene_to_json(scene)
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def load_scene(path: str | os.PathLike[str]) -> Scene:
    """Read a scene's JSON file."""
    p = input_file(path, "scene file")
    return scene_from_json(p.read_text(encoding="utf-8"))


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}")
    return str(value)
