"""``omnifoa synth``: write a SynthSphere data set."""

from __future__ import annotations

import argparse


def _cmd_synth(args: argparse.Namespace) -> int:
    from plugin_core.synthsphere import write_dataset

    written = write_dataset(
        args.out,
        args.count,
        args.seconds,
        first_seed=args.seed,
        width=args.width,
        height=args.height,
        fps=args.fps,
    )
    print(f"wrote {len(written)} scene(s) to {args.out}")
    return 0


def add_synth_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``synth``."""
    p = sub.add_parser("synth", help="write a SynthSphere data set (ERP video + FOA + JSON)")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first scene")
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--fps", type=float, default=24.0)
    p.set_defaults(run=_cmd_synth)
