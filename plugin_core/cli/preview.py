"""``omnifoa binaural`` (offline headphone render) and ``omnifoa preview`` (the window)."""

from __future__ import annotations

import argparse
from pathlib import Path

from plugin_core.cli.values import number, whole


def rotation_per_block(path_file: Path, blocks: int, block: int, rate: int):
    """(yaw, pitch, roll) [blocks, 3] at each block's start from a direction-path file."""
    import numpy as np

    from plugin_core.spatial.direction_path import load_path

    path = load_path(path_file)
    times = np.arange(blocks) * block / rate
    yaw, pitch = path.at(times)
    return np.stack([yaw, pitch, path.roll_at(times)], axis=-1)


def _binaural(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from plugin_core.file_checks import output_file
    from plugin_core.media.audio_io import read_foa, write_audio
    from plugin_core.spatial.binaural import DEFAULT_SOFA, BinauralDecoder, BinauralRenderer

    inputs = [p for p in (args.foa, args.sofa, args.path) if p]
    out = output_file(args.output, args.overwrite, inputs)
    foa, rate = read_foa(args.foa)
    decoder = BinauralDecoder.from_sofa(Path(args.sofa) if args.sofa else DEFAULT_SOFA, rate)
    renderer = BinauralRenderer(decoder, args.block)
    blocks = -(-foa.shape[1] // args.block)
    if args.path:
        rotations = rotation_per_block(Path(args.path), blocks, args.block, rate)
    else:
        rotations = [(args.yaw, args.pitch, args.roll)] * blocks
    ears = []
    for b in tqdm(range(blocks), desc="binaural", unit="block", mininterval=0.5):
        renderer.set_rotation(*rotations[b])
        ears.append(renderer.process(foa[:, b * args.block : (b + 1) * args.block]))
    stereo = np.concatenate(ears, axis=-1)
    write_audio(out, stereo, rate, args.subtype, comment=f"binaural ({decoder.source})")
    print(f"wrote {out} (binaural, {decoder.source}, {rate} Hz)")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from ui.preview_app import run_preview  # the CLI is the app's entry point: it wires ui in

    paths = [Path(p) for p in args.files]
    video, foa = (paths[0], paths[1]) if len(paths) == 2 else (None, paths[0])
    sofa = Path(args.sofa) if args.sofa else None
    return run_preview(foa, video, sofa, args.osc_port)


def add_preview_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``binaural`` and ``preview``."""
    p = sub.add_parser("preview", help="open the binaural preview window (head rotation)")
    p.add_argument("files", nargs="+", metavar="[VIDEO] FOA", help="optional video, then FOA")
    p.add_argument("--sofa", help="HRTF set (.sofa); default: MIT KEMAR")
    p.add_argument(
        "--osc-port", type=whole("--osc-port", 0, 65535), help="head tracking (SceneRotator OSC)"
    )
    p.set_defaults(run=_preview)

    p = sub.add_parser("binaural", help="render an FOA file to binaural stereo for headphones")
    p.add_argument("foa", help="4-channel AmbiX file")
    p.add_argument("-o", "--output", required=True, help="stereo .wav or .flac")
    p.add_argument(
        "--yaw", type=number("--yaw", -360.0, 360.0, "deg"), default=0.0, help="head turned left"
    )
    p.add_argument(
        "--pitch", type=number("--pitch", -90.0, 90.0, "deg"), default=0.0, help="head looking up"
    )
    p.add_argument(
        "--roll", type=number("--roll", -180.0, 180.0, "deg"), default=0.0, help="right ear down"
    )
    p.add_argument("--path", help="head rotation over time: a direction-path .json/.csv")
    p.add_argument("--sofa", help="HRTF set (.sofa); default: MIT KEMAR")
    p.add_argument("--block", type=int, default=512, choices=[64, 128, 256, 512])
    p.add_argument("--subtype", default="float32", choices=["float32", "pcm24", "pcm16"])
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=_binaural, transactional=True)
