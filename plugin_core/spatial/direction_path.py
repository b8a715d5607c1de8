"""Direction paths: yaw/pitch (and roll) keyframes over video time, read from JSON or CSV.

One small format serves every part that aims something over time: the camera direction of
the generator's FoV branch (keyframed in Blender), rotation paths for the binaural renderer,
and tracked objects. Times are seconds of the video's own timeline; angles are degrees in
omnifoa's convention (yaw 0 = front, positive to the left; pitch positive up).

JSON::

    {"format": "omnifoa-direction-path", "version": 1,
     "keys": [{"t": 0.0, "yaw": 0.0, "pitch": 0.0}, {"t": 4.0, "yaw": 90.0, "pitch": 10.0}]}

CSV: a header ``t,yaw,pitch`` (optionally ``,roll``), then one key per row.

Between keys the direction moves linearly, yaw along the shorter way round (a path from 170°
to -170° crosses the back, not the front); before the first key and after the last it holds.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plugin_core.errors import InputError
from plugin_core.file_checks import input_file

FORMAT = "omnifoa-direction-path"
VERSION = 1
MAX_KEYS = 100_000
MAX_TIME_S = 24 * 3600.0  # a day of video
MAX_TURN_DEG = 36_000.0  # yaw and roll may be unwrapped over a long spin, but not forever
MAX_FILE_BYTES = 16 * 2**20


@dataclass(frozen=True)
class DirectionPath:
    """Keyframes of a direction over time; ``roll`` is kept for rotation paths."""

    times: tuple[float, ...]
    yaw: tuple[float, ...]
    pitch: tuple[float, ...]
    roll: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.times)
        if not 1 <= n <= MAX_KEYS:
            raise InputError(f"A direction path needs 1 to {MAX_KEYS} keys, not {n}.")
        columns = [self.yaw, self.pitch] + ([self.roll] if self.roll is not None else [])
        if any(len(c) != n for c in columns):
            raise InputError("Every key of a direction path needs a time, a yaw and a pitch.")
        limits = {
            "t": (self.times, MAX_TIME_S, "s"),
            "yaw": (self.yaw, MAX_TURN_DEG, "degrees"),
            "pitch": (self.pitch, 90.0, "degrees"),
            "roll": (self.roll or (), MAX_TURN_DEG, "degrees"),
        }
        for name, (column, limit, unit) in limits.items():
            for i, v in enumerate(column):
                if not (isinstance(v, int | float) and math.isfinite(v)):
                    raise InputError(
                        f"The {name} of key {i + 1} of a direction path must be a finite "
                        f"number, not {v!r:.40}."
                    )
                if not -limit <= v <= limit:
                    raise InputError(
                        f"The {name} of key {i + 1} of a direction path must lie between "
                        f"{-limit:g} and {limit:g} {unit}, not {v:g}."
                    )
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise InputError("The keys of a direction path must be in strictly rising time.")

    @classmethod
    def constant(cls, yaw: float, pitch: float) -> DirectionPath:
        return cls((0.0,), (float(yaw),), (float(pitch),))

    def at(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(yaw, pitch) in degrees at ``times`` (seconds); yaw wrapped to (-180, 180]."""
        yaw = _interpolate_angle(times, self.times, self.yaw)
        pitch = np.interp(times, self.times, self.pitch)
        return yaw, pitch

    def roll_at(self, times: np.ndarray) -> np.ndarray:
        """Roll in degrees at ``times`` (0 when the path has none)."""
        if self.roll is None:
            return np.zeros(np.shape(times))
        return _interpolate_angle(times, self.times, self.roll)

    def to_json(self) -> dict[str, Any]:
        keys = []
        for i, t in enumerate(self.times):
            key = {"t": t, "yaw": self.yaw[i], "pitch": self.pitch[i]}
            if self.roll is not None:
                key["roll"] = self.roll[i]
            keys.append(key)
        return {"format": FORMAT, "version": VERSION, "keys": keys}

    @classmethod
    def from_json(cls, data: Any) -> DirectionPath:
        """Read the JSON form (already parsed); any deviation is an InputError."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f'A direction path must be a JSON object with "format": "{FORMAT}".')
        if data.get("version") != VERSION:
            raise InputError(f"This omnifoa reads direction paths of version {VERSION} only.")
        keys = data.get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            raise InputError('A direction path needs "keys": a list of {t, yaw, pitch} objects.')
        return cls.from_rows(keys)

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]]) -> DirectionPath:
        """Keys as mappings with t, yaw, pitch and optionally roll (numbers or numeric text)."""
        try:
            times, yaw, pitch = (_column(rows, name) for name in ("t", "yaw", "pitch"))
        except KeyError as exc:
            raise InputError(f"A direction path key lacks {exc.args[0]!r}.") from None
        has_roll = [r.get("roll") not in (None, "") for r in rows]
        if any(has_roll) and not all(has_roll):
            raise InputError("Give a roll for every key of a direction path or for none.")
        roll = _column(rows, "roll") if rows and all(has_roll) else None
        return cls(times, yaw, pitch, roll)


def _column(rows: list[dict[str, Any]], name: str) -> tuple[float, ...]:
    """Field ``name`` of every key as numbers; InputError naming the key that has none."""
    values = []
    for i, row in enumerate(rows):
        value = row[name]
        try:
            if isinstance(value, bool):
                raise TypeError
            values.append(float(value))
        except (TypeError, ValueError):
            raise InputError(
                f"The {name} of key {i + 1} of a direction path must be a number, "
                f"not {value!r:.40}."
            ) from None
    return tuple(values)


def _interpolate_angle(
    times: np.ndarray, key_times: tuple[float, ...], angles: tuple[float, ...]
) -> np.ndarray:
    unwrapped = np.rad2deg(np.unwrap(np.deg2rad(np.asarray(angles, dtype=np.float64))))
    value = np.interp(times, key_times, unwrapped)
    return 180.0 - np.mod(180.0 - value, 360.0)


def load_path(path: str | os.PathLike[str]) -> DirectionPath:
    """Read a direction path from a .json or .csv file, with one clear error for any fault."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise InputError(f"Give a direction path as a .json or .csv file, not {p.name}.")
    input_file(p, "direction path")
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{p.name} is larger than a direction path can be (16 MiB).")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the direction path {p} ({exc}).") from None
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{p.name} is not valid JSON ({exc.msg}, line {exc.lineno})."
            ) from None
        return DirectionPath.from_json(data)
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"t", "yaw", "pitch"} <= set(rows[0]):
        raise InputError(f"{p.name} needs a header t,yaw,pitch (roll optional) and key rows.")
    return DirectionPath.from_rows(rows)
