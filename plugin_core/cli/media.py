"""``omnifoa info``, ``convert``, ``analyze`` and ``export-video``: the media commands."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from plugin_core.cli.values import number


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
        ("360 panorama", "yes" if info.is_panorama else "no (see the warning)"),
    ]
    if info.audio_channels:
        rows.append(
            ("audio", f"{info.audio_channels} ch, {info.audio_sample_rate} Hz, {info.audio_codec}")
        )
        rows.append(("spatial audio", info.spatial_audio or "none"))
    else:
        rows.append(("audio", "none"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    if message := aspect_warning(info):
        print(f"omnifoa: warning: {message}", file=sys.stderr)
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from plugin_core.file_checks import output_file
    from plugin_core.media.audio_io import read_foa, resample, write_audio
    from plugin_core.spatial.foa import convert

    output_file(args.output, args.overwrite, [args.input])
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
    from plugin_core.file_checks import output_file
    from plugin_core.media.audio_io import read_foa, resample
    from plugin_core.spatial.analysis import (
        direction_table,
        energy_heatmap,
        overall_line,
        save_png,
    )
    from plugin_core.spatial.foa import intensity_directions

    png = Path(args.png) if args.png else Path(args.foa).with_suffix(".energy.png")
    inputs = [p for p in (args.foa, args.video, args.truth) if p]
    output_file(png, args.overwrite, inputs, "energy map")
    audio, rate = read_foa(args.foa)
    scene = None
    if args.truth:
        from plugin_core.synthsphere import load_scene

        scene = load_scene(args.truth)
        if rate != scene.sample_rate:
            audio = resample(audio, rate, scene.sample_rate)
            rate = scene.sample_rate
    track = intensity_directions(audio, rate, args.window)
    print(overall_line(track))
    print(direction_table(track))
    background = _middle_frame(args.video) if args.video else None
    save_png(energy_heatmap(audio, rate, background, track), png)
    print(f"energy map: {png}")
    if scene is not None:
        from plugin_core.synthsphere.evaluation import error_table, object_direction_errors

        print("\nper-object direction error against the ground truth")
        print(error_table(object_direction_errors(audio, rate, scene)))
    return 0


def _cmd_export_video(args: argparse.Namespace) -> int:
    from plugin_core.media.video_export import export_video

    result = export_video(
        Path(args.video),
        Path(args.foa),
        Path(args.output),
        args.convention,
        args.overwrite,
        assume_360=args.assume_360,
    )
    added = ", ".join(k for k, v in result.metadata.items() if v) or "none (already present)"
    note = " (converted from FuMa)" if result.converted_from_fuma else ""
    print(f"wrote {result.path}: picture copied, FOA as 4-channel {result.audio_codec}{note}")
    print(f"metadata added: {added}")
    return 0


def _middle_frame(video: str) -> np.ndarray:
    from plugin_core.media.video import iter_frames, probe

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        middle = probe(video).duration / 2
    return next(iter_frames(video, middle, None, fps=8.0, size=(512, 256))).image


def _cmd_extract_audio(args: argparse.Namespace) -> int:
    from plugin_core.file_checks import output_file
    from plugin_core.media.audio_io import write_audio
    from plugin_core.media.video import probe, read_audio_stream

    output = output_file(args.output, args.overwrite, [args.video])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = probe(args.video)
    audio, rate = read_audio_stream(args.video, args.start, args.end)
    label = "AmbiX (ACN/SN3D)" if info.spatial_audio and "SN3D" in info.spatial_audio else None
    write_audio(output, audio, rate, args.subtype, comment=label)
    what = f"{info.spatial_audio}" if info.spatial_audio else f"{audio.shape[0]} channel(s)"
    print(f"wrote {output}: {what}, {rate} Hz, {audio.shape[1] / rate:.2f} s")
    return 0


def add_media_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``info``, ``extract-audio``, ``convert``, ``analyze`` and ``export-video``."""
    p = sub.add_parser("info", help="describe a video file")
    p.add_argument("video")
    p.set_defaults(run=_cmd_info)

    p = sub.add_parser(
        "extract-audio", help="write a video's audio track (its recorded FOA, say) to WAV/FLAC"
    )
    p.add_argument("video")
    p.add_argument("-o", "--output", required=True, help="the .wav or .flac to write")
    p.add_argument("--start", type=number("--start", 0, 86400, "s"), default=0.0)
    p.add_argument("--end", type=number("--end", 0, 86400, "s"), default=None)
    p.add_argument("--subtype", default="float32", choices=["float32", "pcm24", "pcm16"])
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(run=_cmd_extract_audio, transactional=True)

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
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(run=_cmd_convert, transactional=True)

    p = sub.add_parser("analyze", help="direction over time and energy map of an FOA file")
    p.add_argument("foa")
    p.add_argument(
        "--window", type=number("--window", 0.01, 60.0, "s"), default=0.5, help="analysis window"
    )
    p.add_argument("--video", help="draw the energy map over the middle frame of this video")
    p.add_argument("--png", help="where to write the heatmap (default: beside the input)")
    p.add_argument("--truth", help="a SynthSphere scene JSON: report per-object direction errors")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(run=_cmd_analyze, transactional=True)

    p = sub.add_parser(
        "export-video", help="mux the picture with an FOA stem and write YouTube 360 metadata"
    )
    p.add_argument("video", help="the source 360 video (its picture is copied, not re-encoded)")
    p.add_argument("foa", help="a 4-channel FOA stem (AmbiX; FuMa if labelled or declared)")
    p.add_argument("-o", "--output", required=True, help="output .mov (PCM) or .mp4 (AAC)")
    p.add_argument("--convention", choices=["ambix", "fuma"], help="declare the stem's format")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument(
        "--assume-360",
        action="store_true",
        help="stamp 360 metadata even though the video does not look like a panorama",
    )
    p.set_defaults(run=_cmd_export_video, transactional=True)
