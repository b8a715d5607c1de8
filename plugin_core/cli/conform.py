"""``omnifoa conform``: an existing mono or stereo stem placed along a direction over a video."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from plugin_core.atomic_files import write_atomic
from plugin_core.cli.values import number


def _conform(args: argparse.Namespace) -> int:
    import warnings

    from plugin_core.cli.progress import step_bar
    from plugin_core.conform.job import ConformRequest, conform_stem
    from plugin_core.conform.source import SourceQuery, locate_source
    from plugin_core.errors import InputError
    from plugin_core.file_checks import output_file
    from plugin_core.media.audio_io import audio_channels
    from plugin_core.media.video import probe

    query = SourceQuery(
        path_file=None if args.path is None else Path(args.path),
        at=args.at,
        time=args.time,
        auto=args.auto,
        distance=args.distance,
    )
    query.check()
    inputs = [p for p in (args.video, args.stem, args.path) if p is not None]
    output_file(args.output, args.overwrite, inputs)
    if args.save_path is not None:
        output_file(args.save_path, args.overwrite, [*inputs, args.output])
    channels = audio_channels(args.stem)  # before any video analysis
    if channels > 2:
        raise InputError(
            f"{Path(args.stem).name} has {channels} channels; conform takes mono or stereo "
            "stems — for an FOA file use `omnifoa convert`."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a frame that is not 2:1 is warned about elsewhere
        duration = probe(args.video).duration
    end = duration if args.end is None else args.end
    if args.start >= duration:
        raise InputError(f"--start {args.start} s lies past the video's end ({duration:.3f} s).")
    stage = "track" if args.at is not None else "saliency" if args.auto else "path"
    with step_bar(stage) as progress:
        source = locate_source(Path(args.video), query, args.start, end, progress)
    request = ConformRequest(
        stem=Path(args.stem),
        output=Path(args.output),
        path=source.path,
        start=args.start,
        end=end,
        width=args.width,
        distance=source.distance,
        sample_rate=args.rate,
        subtype=args.subtype,
        convention=args.convention,
        overwrite=args.overwrite,
        source={"video": str(args.video), **source.record},
    )
    with step_bar("conform") as progress:
        result = conform_stem(request, progress=progress)
    if args.save_path is not None:
        text = json.dumps(source.path.to_json(), indent=1)
        write_atomic(args.save_path, lambda tmp: tmp.write_text(text))
    for note in [*source.notes, *result.notes]:
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
    p.add_argument(
        "--at",
        type=_az_el,
        metavar="AZ,EL",
        help="track what is seen there (write --at=-40,10 for a negative azimuth)",
    )
    p.add_argument("--time", type=number("--time", 0.0, 86400.0, "s"), help="video time of --at")
    p.add_argument("--auto", action="store_true", help="follow the strongest visual action")
    p.add_argument(
        "--distance",
        action="store_true",
        help="level and air absorption from the tracked object's apparent size (--at/--auto)",
    )
    p.add_argument("--save-path", help="also write the direction path used (.json)")
    p.add_argument(
        "--start", type=number("--start", 0.0, 86400.0, "s"), default=0.0, help="stem start"
    )
    p.add_argument(
        "--end", type=number("--end", 0.0, 86400.0, "s"), help="end of the span (default: the end)"
    )
    p.add_argument(
        "--width", type=number("--width", 0.0, 360.0, "deg"), help="default: 60 stereo, 0 mono"
    )
    p.add_argument("--rate", type=int, default=48000, choices=[44100, 48000])
    p.add_argument("--subtype", default="float32", choices=["float32", "pcm24", "pcm16"])
    p.add_argument("--convention", default="ambix", choices=["ambix", "fuma"])
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(run=_conform, transactional=True)
