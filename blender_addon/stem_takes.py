"""A stem's takes, as its sidecar lists them, for the panel and *Use take*.

The format is defined in ``plugin_core/media/stem_takes.py`` (the add-on cannot import it);
only its two sidecar fields are read here: ``takes`` (each with ``number``, ``file`` relative
to the stem's folder, ``seed`` and ``made``) and ``chosen``, the number of the take the stem
file is a copy of. A sidecar without ``takes`` means one take, the stem itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Take:
    """One version of a stem's audio."""

    number: int
    path: Path  # absolute
    seed: int
    made: str  # how, in a few words: "generate", or "regenerate 3.0–6.0 s"


def how_made(made: dict) -> str:
    """A take's ``made`` record in a few words."""
    by = str(made.get("by", "generate"))
    span = made.get("range")
    return f"{by} {float(span[0]):.1f}–{float(span[1]):.1f} s" if span else by


def stem_takes(stem: Path) -> tuple[list[Take], int]:
    """The takes ``stem``'s sidecar lists and the chosen one's number; no takes (and 0) when
    the sidecar lists none or cannot be read."""
    try:
        document = json.loads(stem.with_name(stem.name + ".json").read_text(encoding="utf-8"))
        listed = document.get("takes") if isinstance(document, dict) else None
        if not isinstance(listed, list):
            return [], 0
        takes = [
            Take(int(t["number"]), stem.parent / t["file"], int(t["seed"]), how_made(t["made"]))
            for t in listed
        ]
        return takes, int(document["chosen"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return [], 0
