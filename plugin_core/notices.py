"""Warnings in omnifoa's own voice: one line on stderr, each said once per process."""

from __future__ import annotations

import sys

_SAID: set[str] = set()


def warn_once(message: str) -> None:
    """Print ``omnifoa: warning: <message>.`` to stderr, unless it was said already."""
    line = " ".join(message.split()).rstrip(".")
    if line in _SAID:
        return
    _SAID.add(line)
    print(f"omnifoa: warning: {line}.", file=sys.stderr, flush=True)
