"""``omnifoa synth``: write a SynthSphere data set."""

from __future__ import annotations

import argparse

from plugin_core.cli.values import number, whole
from plugin_core.synthsphere.compose import MAX_SECONDS, MIN_SECONDS


def _cmd_synth(args: argparse.Namespace) -> int:
    from plugin_core.atomic_files import new_folder
    from plugin_core.synthsphere import write_dataset

    with new_folder(args.out) as out:
        written = write_dataset(
            out,
            args.count,
            args.seconds,
            first_seed=args.seed,
            width=args.width,
            height=args.height,
            fps=args.fps,
            overwrite=args.overwrite,
        )
    print(f"wrote {len(written)} scene(s) to {args.out}")
    return 0


def add_synth_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``synth``."""
    p = sub.add_parser("synth", help="write a SynthSphere data set (ERP video + FOA + JSON)")
    p.add_argument("--count", type=whole("--count", 1, 10_000), default=1)
    seconds = number("--seconds", MIN_SECONDS, MAX_SECONDS, "s")
    p.add_argument("--seconds", type=seconds, default=10.0)
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    p.add_argument(
        "--seed", type=whole("--seed", 0, 2**31 - 1), default=0, help="seed of the first scene"
    )
    p.add_argument("--width", type=whole("--width", 16, 8192), default=512)
    p.add_argument("--height", type=whole("--height", 8, 4096), default=256)
    p.add_argument("--fps", type=number("--fps", 1.0, 120.0, "fps"), default=24.0)
    p.add_argument("--overwrite", action="store_true", help="replace existing scene files")
    p.set_defaults(run=_cmd_synth, transactional=True)
