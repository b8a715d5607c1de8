"""What an object-Foley weights file says besides its tensors: its classes and settings.

The file's safetensors metadata holds one JSON document (key ``omnifoa-foley``); the classes,
their kind of sound and every level and time constant the model uses are read from it, so a
retrained model may bring other classes without code changes.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

METADATA_KEY = "omnifoa-foley"
FORMAT_VERSION = 1
# The weights file's keys: the detector's and the event reader's weights, each class's sound
# bank (``bank.<class>.<nn>``) and the FOA bed.
DETECTOR_KEYS, EVENT_KEYS, BANK_KEYS, BED_KEY = "detector.", "events.", "bank.", "bed"


class VocabularyError(ValueError):
    """The file's description is missing or wrong; the message names the field."""


@dataclass(frozen=True)
class SoundClass:
    """One class the model can see and voice."""

    name: str
    continuous: bool  # sounds for stretches (loops) rather than as events (grains)
    level_db: float = 0.0  # brings the class's voice to its level in scenes (calibrated)


@dataclass(frozen=True)
class FoleySettings:
    """Levels and time constants, measured on the training scenes."""

    object_db: float  # level of an object's voice relative to the bank's reference
    bed_db: float  # level of the diffuse bed, same reference
    focus_db: float  # lift of an object the camera looks straight at all the time
    focus_spread: float  # how fast the lift falls off from the view's centre, in half widths
    event_seconds: float  # how long a visual event takes to fade after its onset
    frame_lag: float  # how far after its slot (k / frame rate) a decoded frame shows, s
    event_threshold: float  # event strength above which a frame shows an event
    gap_seconds: float  # silence before a continuous object's next onset
    presence: float  # share of the sphere a class must cover for one frame to count
    fov_presence: float  # share of the camera view a class must cover to count as seen


@dataclass(frozen=True)
class Vocabulary:
    """The classes (in the classifier's channel order after background) and settings."""

    classes: tuple[SoundClass, ...]
    settings: FoleySettings

    def to_metadata(self) -> dict[str, str]:
        """The safetensors metadata that describes this vocabulary."""
        doc = {
            "format": FORMAT_VERSION,
            "classes": [asdict(c) for c in self.classes],
            "settings": asdict(self.settings),
        }
        return {METADATA_KEY: json.dumps(doc)}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str] | None) -> Vocabulary:
        """Parse and check the metadata of a weights file (VocabularyError names the field)."""
        text = (metadata or {}).get(METADATA_KEY)
        if text is None:
            raise VocabularyError(f"it has no {METADATA_KEY!r} description")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            raise VocabularyError(f"its {METADATA_KEY!r} description is not JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT_VERSION:
            raise VocabularyError(f"its description is not format {FORMAT_VERSION}")
        classes = _classes(doc.get("classes"))
        return cls(classes, _settings(doc.get("settings")))


def _classes(value: Any) -> tuple[SoundClass, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= 64:
        raise VocabularyError("its 'classes' are not a list of 1 to 64 classes")
    out = []
    for item in value:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and item["name"].isidentifier()
            and isinstance(item.get("continuous"), bool)
        ):
            raise VocabularyError(f"its class {item!r} needs a 'name' and 'continuous'")
        level = item.get("level_db", 0.0)
        if isinstance(level, bool) or not isinstance(level, int | float) or not -40 <= level <= 40:
            raise VocabularyError(f"its class {item['name']!r} has no level between -40 and 40 dB")
        out.append(SoundClass(item["name"], item["continuous"], float(level)))
    if len({c.name for c in out}) != len(out):
        raise VocabularyError("its class names repeat")
    return tuple(out)


# (low, high) of every setting: anything outside is a broken file, not a choice.
_RANGES: dict[str, tuple[float, float]] = {
    "object_db": (-60.0, 20.0),
    "bed_db": (-80.0, 20.0),
    "focus_db": (0.0, 24.0),
    "focus_spread": (0.01, 10.0),
    "event_seconds": (0.01, 2.0),
    "frame_lag": (0.0, 0.5),
    "event_threshold": (0.01, 0.99),
    "gap_seconds": (0.0, 10.0),
    "presence": (1e-6, 0.5),
    "fov_presence": (1e-6, 1.0),
}


def _settings(value: Any) -> FoleySettings:
    if not isinstance(value, dict):
        raise VocabularyError("its 'settings' are missing")
    checked = {}
    for name, (low, high) in _RANGES.items():
        v = value.get(name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise VocabularyError(f"its setting {name!r} is not a number")
        if not low <= v <= high:
            raise VocabularyError(f"its setting {name!r} = {v} is outside {low:g}…{high:g}")
        checked[name] = float(v)
    return FoleySettings(**checked)
