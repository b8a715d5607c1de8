"""``omnifoa binaural`` (offline headphone render) and ``omnifoa preview`` (the window)."""

from __future__ import annotations

import argparse
from pathlib import Path


def rotation_per_block(path_file: Path, blocks: int, block: int, rate: int):
    """(yaw, pitch, roll) [blocks, 3] at each block's start from a direction-path file."""
    import numpy as np

    from plugin_core.direction_path import load_path

    path = load_path(path_file)
    times = np.arange(blocks) * block / rate
    yaw, pitch = path.at(times)
    return np.stack([yaw, pitch, path.roll_at(times)], axis=-1)


def _binaural(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from plugin_core.audio_io import read_foa, write_audio
    from plugin_core.binaural import DEFAULT_SOFA, BinauralDecoder, BinauralRenderer
    from plugin_core.errors import InputError

    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise InputError(f"{out} exists; choose another name or pass --overwrite.")
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


def add_preview_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``binaural``."""
    p = sub.add_parser("binaural", help="render an FOA file to binaural stereo for headphones")
    p.add_argument("foa", help="4-channel AmbiX file")
    p.add_argument("-o", "--output", required=True, help="stereo .wav or .flac")
    p.add_argument("--yaw", type=float, default=0.0, help="head turned left, degrees")
    p.add_argument("--pitch", type=float, default=0.0, help="head looking up, degrees")
    p.add_argument("--roll", type=float, default=0.0, help="head tilted, right ear down")
    p.add_argument("--path", help="head rotation over time: a direction-path .json/.csv")
    p.add_argument("--sofa", help="HRTF set (.sofa); default: MIT KEMAR")
    p.add_argument("--block", type=int, default=512, choices=[64, 128, 256, 512])
    p.add_argument("--subtype", default="float32", choices=["float32", "pcm24", "pcm16"])
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=_binaural)
