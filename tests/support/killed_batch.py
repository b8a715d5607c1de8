"""Run ``omnifoa batch ARGS`` in this process and SIGKILL it right after its N-th file move
into the stems' FOLDER (its takes folders included, its scratch folders not): a crash in the
middle of a shot's commit.

Usage: python killed_batch.py FOLDER N ARGS...
"""

import os
import signal
import sys
from pathlib import Path

from plugin_core.batch.shot_run import SCRATCH_SUFFIX
from plugin_core.cli.main import main as omnifoa


def main() -> None:
    folder, kill_after, *argv = sys.argv[1:]
    stems = Path(folder).resolve()
    real_replace = os.replace
    moves = 0

    def replace_then_maybe_die(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal moves
        real_replace(src, dst, *args, **kwargs)
        target = Path(dst).resolve()
        if stems in target.parents:
            inside = target.relative_to(stems).parts[:-1]
            if not any(part.endswith(SCRATCH_SUFFIX) for part in inside):
                moves += 1
                if moves == int(kill_after):
                    os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace_then_maybe_die
    status = omnifoa(["batch", *argv])
    print(f"finished after {moves} moves")
    sys.exit(status)


if __name__ == "__main__":
    main()
