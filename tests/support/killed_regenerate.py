"""Regenerate a range of a stem with the tiny OmniAudio model and SIGKILL this process right
after its N-th file move in the stem's folder (a crash in the middle of the commit).

Usage: python killed_regenerate.py STEM FROM TO SEED N
"""

import os
import signal
import sys
from pathlib import Path

from model_fixtures import tiny_family_model

from plugin_core.generation.loaded_model import unregistered
from plugin_core.generation.regenerate import RangeEdit, regenerate


def main() -> None:
    stem, start, end, seed, kill_after = sys.argv[1:]
    folder = Path(stem).resolve().parent
    real_replace = os.replace
    moves = 0

    def replace_then_maybe_die(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal moves
        real_replace(src, dst, *args, **kwargs)
        if folder in Path(dst).resolve().parents:
            moves += 1
            if moves == int(kill_after):
                os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace_then_maybe_die
    loaded = unregistered(tiny_family_model(), "tiny-test")
    regenerate(RangeEdit(Path(stem), float(start), float(end), seed=int(seed)), loaded)
    print(f"finished after {moves} moves")


if __name__ == "__main__":
    main()
