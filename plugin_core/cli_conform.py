"""``omnifoa conform``: an existing mono or stereo stem placed along a direction over a video."""

from __future__ import annotations

import argparse
from pathlib import Path


def _conform(args: argparse.Namespace) -> int:
    import warnings

    from plugin_core.conform import ConformRequest, conform_stem
    from plugin_core.direction_path import load_path
    from plugin_core.errors import InputError
    from plugin_core.step_progress import step_bar
    from plugin_core.video import probe

    # HOOK(tracking): `--at az,el --time t` (follow what is seen there) and `--auto` (the most
    # salient source) become a DirectionPath and distance cue from plugin_core.tracking.
    if args.at is not None or args.time is not None:
        raise InputError("Tracking a source from --at/--time is not available yet; use --path.")
    if args.auto:
        raise InputError("Finding the source automatically (--auto) is not available yet.")
    if args.path is None:
        raise InputError("Say where the sound is: give --path P.json or P.csv.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the picture is not used: its shape does not matter
        duration = probe(args.video).duration
    path_file = Path(args.path)
    request = ConformRequest(
        stem=Path(args.stem),
        output=Path(args.output),
        path=load_path(path_file),
        start=args.start,
        end=duration if args.end is None else args.end,
        width=args.width,
        sample_rate=args.rate,
        subtype=args.subtype,
        convention=args.convention,
        overwrite=args.overwrite,
        source={"video": str(args.video), "direction": f"path file {path_file}"},
    )
    if request.start >= duration:
        raise InputError(f"--start {request.start} s lies past the video's end ({duration:.3f} s).")
    with step_bar("conform") as progress:
        result = conform_stem(request, progress=progress)
    for note in result.notes:
        print(f"note: {note}")
    print(f"wrote {result.path} (and {result.sidecar.name})")
    return 0


def _az_el(text: str) -> tuple[float, float]:
    """``az,el`` in degrees, for argparse."""
    try:
        az, el = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"give az,el in degrees, not {text!r}") from None
    return az, el


def add_conform_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``conform``."""
    p = sub.add_parser("conform", help="place a mono/stereo stem along a direction as FOA")
    p.add_argument("video", help="the 360 video the stem belongs to (its duration is the span)")
    p.add_argument("stem", help="mono or stereo .wav/.flac")
    p.add_argument("-o", "--output", required=True, help="output .wav or .flac (4 channels)")
    p.add_argument("--path", help="the source's direction over video time: .json or .csv")
    p.add_argument("--at", type=_az_el, metavar="AZ,EL", help="track what is seen there")
    p.add_argument("--time", type=float, help="video time of --at, seconds")
    p.add_argument("--auto", action="store_true", help="find the sounding source by saliency")
    p.add_argument("--start", type=float, default=0.0, help="video time the stem starts at")
    p.add_argument("--end", type=float, help="end of the span (default: end of the video)")
    p.add_argument("--width", type=float, help="degrees (default: 60 stereo, 0 mono)")
    p.add_argument("--rate", type=int, default=48000, choices=[44100, 48000])
    p.add_argument("--subtype", default="float32", choices=["float32", "pcm24", "pcm16"])
    p.add_argument("--convention", default="ambix", choices=["ambix", "fuma"])
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(run=_conform)
