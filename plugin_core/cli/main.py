"""The ``omnifoa`` command line."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from plugin_core import __version__
from plugin_core.cli.conform import add_conform_commands
from plugin_core.cli.models import add_model_commands
from plugin_core.cli.preview import add_preview_commands
from plugin_core.cli.reaper import add_reaper_commands
from plugin_core.cli.service import add_service_commands
from plugin_core.cli.training import add_training_commands
from plugin_core.errors import OmnifoaError

Command = Callable[[argparse.Namespace], int]


def _cmd_info(args: argparse.Namespace) -> int:
    from plugin_core.media.video import aspect_warning, probe

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = probe(args.video)
    rows = [
        ("file", str(args.video)),
        ("size", f"{info.width}x{info.height}"),
        ("frame rate", f"{info.fps:.3f} fps"),
        ("duration", f"{info.duration:.3f} s"),
        ("video codec", f"{info.video_codec} ({info.pixel_format})"),
        ("rotation", f"{info.rotation:g} deg"),
        ("spherical metadata", str(info.spherical or "none")),
        ("equirectangular 2:1", "yes" if info.is_equirectangular_shape else "no"),
    ]
    if info.audio_channels:
        rows.append(
            ("audio", f"{info.audio_channels} ch, {info.audio_sample_rate} Hz, {info.audio_codec}")
        )
    else:
        rows.append(("audio", "none"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    if message := aspect_warning(info):
        print(f"omnifoa: warning: {message}", file=sys.stderr)
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from plugin_core.media.audio_io import read_foa, resample, write_audio
    from plugin_core.spatial.foa import convert

    source = args.source or ("fuma" if args.to == "ambix" else "ambix")
    audio, rate = read_foa(args.input)
    out = convert(audio, source, args.to)
    if args.rate and args.rate != rate:
        out, rate = resample(out, rate, args.rate), args.rate
    label = {"ambix": "AmbiX (ACN/SN3D)", "fuma": "FuMa (W X Y Z, W at -3 dB)", "n3d": "ACN/N3D"}
    write_audio(args.output, out, rate, subtype=args.subtype, comment=label[args.to])
    print(f"wrote {args.output}: {label[args.to]}, {rate} Hz, converted from {label[source]}")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from plugin_core.media.audio_io import read_foa, resample
    from plugin_core.spatial.analysis import direction_table, energy_heatmap, save_png
    from plugin_core.spatial.foa import intensity_directions

    audio, rate = read_foa(args.foa)
    scene = None
    if args.truth:
        from plugin_core.synthsphere import load_scene

        scene = load_scene(args.truth)
        if rate != scene.sample_rate:
            audio = resample(audio, rate, scene.sample_rate)
            rate = scene.sample_rate
    track = intensity_directions(audio, rate, args.window)
    print(direction_table(track))
    background = _middle_frame(args.video) if args.video else None
    png = Path(args.png) if args.png else Path(args.foa).with_suffix(".energy.png")
    save_png(energy_heatmap(audio, rate, background, track), png)
    print(f"energy map: {png}")
    if scene is not None:
        from plugin_core.synthsphere.evaluation import error_table, object_direction_errors

        print("\nper-object direction error against the ground truth")
        print(error_table(object_direction_errors(audio, rate, scene)))
    return 0


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


def _cmd_generate(args: argparse.Namespace) -> int:
    from plugin_core.cli.progress import step_bar
    from plugin_core.generation.pipeline import GenerationRequest, generate
    from plugin_core.spatial.direction_path import load_path

    request = GenerationRequest(
        video=Path(args.video),
        output=Path(args.output),
        start=args.start,
        end=args.end,
        model_id=args.model,
        seed=args.seed,
        variations=args.variations,
        steps=args.steps,
        cfg_scale=args.cfg,
        sampler=args.sampler,
        yaw=args.yaw,
        pitch=args.pitch,
        path=load_path(args.path) if args.path else None,
        aim=args.aim_action,
        fov=args.fov,
        sample_rate=args.rate,
        subtype=args.subtype,
        convention=args.convention,
        loudness_lufs=None if args.no_loudness else args.loudness,
        ceiling_dbtp=args.ceiling,
        overwrite=args.overwrite,
        device=args.device,
    )
    request.validate()
    with step_bar() as progress:
        result = generate(request, progress=progress)
    for path in result.paths:
        print(f"wrote {path} (and {path.name}.json)")
    return 0


def _cmd_export_video(args: argparse.Namespace) -> int:
    from plugin_core.media.video_export import export_video

    result = export_video(
        Path(args.video), Path(args.foa), Path(args.output), args.convention, args.overwrite
    )
    added = ", ".join(k for k, v in result.metadata.items() if v) or "none (already present)"
    note = " (converted from FuMa)" if result.converted_from_fuma else ""
    print(f"wrote {result.path}: picture copied, FOA as 4-channel {result.audio_codec}{note}")
    print(f"metadata added: {added}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from plugin_core.evaluation.demo import run_demo

    run_demo(Path(args.out))
    return 0


def _middle_frame(video: str) -> np.ndarray:
    from plugin_core.media.video import iter_frames, probe

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        middle = probe(video).duration / 2
    return next(iter_frames(video, middle, None, fps=8.0, size=(512, 256))).image


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``omnifoa`` command."""
    parser = argparse.ArgumentParser(
        prog="omnifoa", description="First-Order Ambisonics for 360° video."
    )
    parser.add_argument("--version", action="version", version=f"omnifoa {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="describe a video file")
    p.add_argument("video")
    p.set_defaults(run=_cmd_info)

    p = sub.add_parser("convert", help="convert an FOA file between AmbiX, FuMa and N3D")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--to", required=True, choices=["ambix", "fuma", "n3d"])
    p.add_argument(
        "--from",
        dest="source",
        choices=["ambix", "fuma", "n3d"],
        help="convention of the input (default: fuma when converting to ambix, else ambix)",
    )
    p.add_argument("--rate", type=int, choices=[44100, 48000], help="resample the output")
    p.add_argument("--subtype", default="float32", choices=["float32", "pcm24", "pcm16"])
    p.set_defaults(run=_cmd_convert)

    p = sub.add_parser("analyze", help="direction over time and energy map of an FOA file")
    p.add_argument("foa")
    p.add_argument("--window", type=float, default=0.5, help="analysis window in seconds")
    p.add_argument("--video", help="draw the energy map over the middle frame of this video")
    p.add_argument("--png", help="where to write the heatmap (default: beside the input)")
    p.add_argument("--truth", help="a SynthSphere scene JSON: report per-object direction errors")
    p.set_defaults(run=_cmd_analyze)

    p = sub.add_parser("synth", help="write a SynthSphere data set (ERP video + FOA + JSON)")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first scene")
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--fps", type=float, default=24.0)
    p.set_defaults(run=_cmd_synth)

    p = sub.add_parser("generate", help="generate FOA for a 360 video with a registered model")
    p.add_argument("video")
    p.add_argument("-o", "--output", required=True, help="output .wav or .flac")
    p.add_argument("--start", type=float, default=0.0, help="start time in seconds")
    p.add_argument("--end", type=float, help="end time in seconds (default: end of the video)")
    p.add_argument("--model", default="omnifoa-mini", help="model id (see `omnifoa models list`)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variations", type=int, default=1, help="seeds in one run, one file each")
    p.add_argument("--steps", type=int, help="sampling steps (default: the model's)")
    p.add_argument("--cfg", type=float, help="guidance scale (default: the model's)")
    p.add_argument("--sampler", choices=["euler", "heun"])
    p.add_argument("--yaw", type=float, default=0.0, help="FoV direction azimuth, degrees")
    p.add_argument("--pitch", type=float, default=0.0, help="FoV direction elevation, degrees")
    p.add_argument("--path", help="FoV direction over time: a direction-path .json or .csv")
    p.add_argument(
        "--aim-action",
        action="store_true",
        help="aim the FoV along the strongest visual action (motion saliency)",
    )
    p.add_argument("--fov", type=float, default=120.0, help="FoV width, degrees")
    p.add_argument("--rate", type=int, default=48000, choices=[44100, 48000])
    p.add_argument("--subtype", default="float32", choices=["float32", "pcm24"])
    p.add_argument("--convention", default="ambix", choices=["ambix", "fuma"])
    p.add_argument("--loudness", type=float, default=-23.0, help="target LUFS, measured on W")
    p.add_argument("--no-loudness", action="store_true", help="keep the model's own level")
    p.add_argument("--ceiling", type=float, default=-1.0, help="true-peak ceiling, dBTP")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    p.set_defaults(run=_cmd_generate)

    p = sub.add_parser(
        "export-video", help="mux the picture with an FOA stem and write YouTube 360 metadata"
    )
    p.add_argument("video", help="the source 360 video (its picture is copied, not re-encoded)")
    p.add_argument("foa", help="a 4-channel FOA stem (AmbiX; FuMa if labelled or declared)")
    p.add_argument("-o", "--output", required=True, help="output .mov (PCM) or .mp4 (AAC)")
    p.add_argument("--convention", choices=["ambix", "fuma"], help="declare the stem's format")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(run=_cmd_export_video)

    add_model_commands(sub)
    add_training_commands(sub)
    add_service_commands(sub)
    add_reaper_commands(sub)
    add_conform_commands(sub)
    add_preview_commands(sub)

    p = sub.add_parser("demo", help="the main job on the bundled demo scene")
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.set_defaults(run=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``omnifoa`` command; user errors print one sentence and return 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except OmnifoaError as exc:
        print(f"omnifoa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("omnifoa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
