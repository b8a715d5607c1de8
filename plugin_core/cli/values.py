"""Numbers on the command line, checked at the door: finite and within their range.

Each flag gets a parser built here, so a NaN, an infinity or an absurd value is refused by
the flag's name in one sentence (``--yaw must be a finite number, not nan``) before any file
is touched. The generation flags come from the request's own field specs instead
(:mod:`plugin_core.cli.generate`), with the same wording.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def number(
    flag: str, low: float | None = None, high: float | None = None, unit: str = ""
) -> Callable[[str], float]:
    """A parser of ``flag``'s value: a finite number within [low, high]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a number, not {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{flag} must be a finite number, not {text}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(
                f"{flag} must be between {low:g} and {high:g}{' ' + unit if unit else ''}, "
                f"not {text}"
            )
        return value

    return parse


def whole(flag: str, low: int, high: int) -> Callable[[str], int]:
    """A parser of ``flag``'s value: a whole number within [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{flag} must be a whole number, not {text!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{flag} must be {low} to {high}, not {text}")
        return value

    return parse
