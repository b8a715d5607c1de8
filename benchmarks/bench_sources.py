"""The bundled model end to end on full-size 360 sources: 10 s at 1920×960 and 3840×1920.

Run: ``.venv/bin/python benchmarks/bench_sources.py [--threads 2] [--repeats 3]``.
Each source is a 10 s, 30 fps H.264 file made here from a SynthSphere scene (rendered at
8 fps and scaled up, so its pictures are smoother than camera footage and decode somewhat
faster). Rows per source: ``omnifoa generate`` from the file to the stem on disk (the
reference column is the clip's own 10 s: the speed-up is the real-time factor), then the
stages alone: decoding the frames at each view's size, encoding them, sampling with the
codec decode. The stages overlap inside ``generate`` (frames decode on a worker thread while
the frames before them are encoded), so they add up to more than the whole.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from timing import Table, cpu_benchmark_args, median_of

from models.family import SamplingOptions
from plugin_core.generation.frame_features import frame_features, view_decode_sizes
from plugin_core.generation.loaded_model import load_model
from plugin_core.generation.pipeline import generate
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.video import write_video
from plugin_core.media.video.decode import decode_range_sizes
from plugin_core.synthsphere import make_scene, render_frames

SECONDS, SOURCE_FPS = 10.0, 30.0
WIDTHS = (1920, 3840)


def make_source(folder: Path, width: int) -> Path:
    """A 10 s, 30 fps, ``width``×``width/2`` H.264 panorama of SynthSphere scene 11."""
    path = folder / f"scene_{width}.mp4"
    small = list(render_frames(make_scene(11, SECONDS), 512, 256, 8.0))
    big = [np.asarray(Image.fromarray(f).resize((width, width // 2), Image.BICUBIC)) for f in small]
    count = round(SECONDS * SOURCE_FPS)
    frames = (big[min(len(big) - 1, int(i * 8.0 / SOURCE_FPS))] for i in range(count))
    write_video(path, frames, SOURCE_FPS)
    return path


def main() -> int:
    args = cpu_benchmark_args(__doc__.splitlines()[0])
    loaded = load_model(args.model, "cpu")
    model = loaded.model
    window = model.window
    directions = torch.zeros(window.frames, 2)
    table = Table(
        f"{args.model} on {args.threads} CPU threads, 10 s sources at 30 fps (H.264)",
        "the clip's own 10 s (real time): the speed-up is the real-time factor",
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for width in WIDTHS:
            source = make_source(folder, width)
            size = (width, width // 2)
            sizes = view_decode_sizes(model.views, None, size)
            distinct = sorted(set(sizes.values()))
            request = GenerationRequest(
                source, folder / f"stem_{width}.wav", model=args.model, overwrite=True
            )
            whole = median_of(lambda r=request: generate(r, loaded), args.repeats)
            table.add(
                f"{width}x{width // 2}: generate, file to stem on disk",
                whole,
                SECONDS,
                real_time_factor=SECONDS / whole,
            )

            def decode(src: Path = source, wanted: list = distinct) -> list:
                return decode_range_sizes(src, 0.0, window.seconds, window.frame_rate, wanted)

            decoded = {s: d.frames for s, d in zip(distinct, decode(), strict=True)}
            frames = {name: decoded[s] for name, s in sizes.items()}
            aim = np.zeros(len(next(iter(frames.values()))))
            with torch.inference_mode():
                table.add(f"{width}x{width // 2}:   decode at each view's size", median_of(decode))
                table.add(
                    f"{width}x{width // 2}:   frame features (both encoders)",
                    median_of(lambda f=frames, a=aim: frame_features(model, f, a, a)),
                )
                features = frame_features(model, frames, aim, aim)
                table.add(
                    f"{width}x{width // 2}:   sampling + codec decode",
                    median_of(
                        lambda f=features: model.sample(f, directions, 0, 1, SamplingOptions())
                    ),
                )
            table.notes.append(
                f"{width}x{width // 2}: {SECONDS / whole:.1f}x real time end to end "
                f"(views decoded at {', '.join(f'{w}x{h}' for w, h in distinct)})"
            )
    table.print()
    table.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
