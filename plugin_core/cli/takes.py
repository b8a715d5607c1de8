"""``omnifoa takes`` (list a stem's takes, choose one) and ``omnifoa regenerate`` (new audio
in a time range of a stem, as a new take)."""

from __future__ import annotations

import argparse
from pathlib import Path

from plugin_core.cli.values import number, whole
from plugin_core.generation.request import MAX_SEED, MAX_TAKES


def _takes(args: argparse.Namespace) -> int:
    from plugin_core.media.stem_takes import choose_take, how_made, read_sidecar, stem_takes

    stem = Path(args.stem)
    if args.choose is not None:
        source = choose_take(stem, args.choose)
        print(f"{stem.name} now plays take {args.choose} ({source.name})")
    takes, chosen = stem_takes(stem, read_sidecar(stem))
    for take in takes:
        mark = "*" if take.number == chosen else " "
        print(f"{mark} take {take.number}: {take.file}, seed {take.seed}, {how_made(take.made)}")
    return 0


def _regenerate(args: argparse.Namespace) -> int:
    from plugin_core.cli.progress import step_bar
    from plugin_core.generation.regenerate import RangeEdit, regenerate

    edit = RangeEdit(Path(args.stem), args.start, args.end, args.seed, args.takes)
    with step_bar("regenerating") as progress:
        made = regenerate(edit, progress=progress, device=args.device)
    numbers = ", ".join(str(t.number) for t in made)
    print(f"{edit.stem.name}: new take(s) {numbers}; it now plays take {made[0].number}")
    return 0


def add_takes_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``takes`` and ``regenerate``."""
    p = sub.add_parser("takes", help="a stem's takes (* the one it plays); --choose K plays K")
    p.add_argument("stem")
    p.add_argument(
        "--choose",
        type=whole("--choose", 1, 10_000),
        metavar="K",
        help="make take K the one it plays",
    )
    p.set_defaults(run=_takes, transactional=True)

    p = sub.add_parser(
        "regenerate", help="new audio in a time range of a stem, as a new take (the chosen one)"
    )
    p.add_argument("stem")
    seconds = 24 * 3600.0
    p.add_argument(
        "--from",
        dest="start",
        type=number("--from", 0.0, seconds, "s"),
        required=True,
        metavar="S",
        help="start of the range, seconds into the stem",
    )
    p.add_argument(
        "--to",
        dest="end",
        type=number("--to", 0.0, seconds, "s"),
        required=True,
        metavar="S",
        help="end of the range, seconds into the stem",
    )
    p.add_argument(
        "--seed",
        type=whole("--seed", 0, MAX_SEED),
        default=None,
        help="seed of the new take(s) (default: one no take of the stem used)",
    )
    p.add_argument(
        "--takes",
        type=whole("--takes", 1, MAX_TAKES),
        default=1,
        help="how many new takes (default 1)",
    )
    p.add_argument("--device", default="auto", choices=("auto", "cuda", "mps", "cpu"))
    p.set_defaults(run=_regenerate, transactional=True)
