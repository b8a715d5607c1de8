"""An OmniAudio model end to end on the demo video: where a 10 s window's time goes.

Run: ``.venv/bin/python benchmarks/bench_generate.py [--model omniaudio-mini] [--threads 2]``
(the bundled object-Foley model's whole process: ``bench_demo_process.py``).
Stages: decode at 8 fps, frame features (both branches), guided flow sampling, codec decode.
The reference is the same job with the frame encoders fed one view at a time (batch 1), the
straightforward way, measured in the same run. The last line is the real-time factor.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from timing import Table, cpu_benchmark_args, median_of

from models.family import SamplingOptions
from models.omniaudio.family import OmniAudioEncoders
from plugin_core.generation.frame_features import frame_features, view_decode_sizes
from plugin_core.generation.loaded_model import load_model
from plugin_core.install_paths import DEMO_DIR
from plugin_core.media.video import probe
from plugin_core.media.video.decode import decode_range_sizes

DEMO = DEMO_DIR / "demo.mp4"


def main() -> int:
    args = cpu_benchmark_args(__doc__.splitlines()[0], default="omniaudio-mini")
    start = time.perf_counter()
    loaded = load_model(args.model, "cpu")
    load_s = time.perf_counter() - start
    model = loaded.model
    window = model.window
    unbatched = OmniAudioEncoders(model.generator.config, "cpu", batch_size=1)
    info = probe(DEMO)
    sizes = view_decode_sizes(model.views, None, (info.width, info.height))
    distinct = sorted(set(sizes.values()))

    def decode() -> dict[str, np.ndarray]:
        decoded = decode_range_sizes(DEMO, 0.0, window.seconds, window.frame_rate, distinct)
        by_size = {size: d.frames for size, d in zip(distinct, decoded, strict=True)}
        return {name: by_size[size] for name, size in sizes.items()}

    frames = decode()
    yaws, pitches = np.zeros(window.frames), np.zeros(window.frames)
    features = frame_features(model, frames, yaws, pitches)
    directions = torch.zeros(window.frames, 2)

    def sample() -> None:
        model.sample(features, directions, 0, 1, SamplingOptions())

    with torch.inference_mode():
        rows = [
            (
                "decode 10 s at 8 fps (PyAV), each view's size",
                median_of(decode, args.repeats),
                None,
            ),
            (
                "frame features, both branches",
                median_of(lambda: frame_features(model, frames, yaws, pitches), args.repeats),
                median_of(lambda: frame_features(unbatched, frames, yaws, pitches), args.repeats),
            ),
            ("sampling + codec decode", median_of(sample, args.repeats), None),
        ]
    total = sum(ours for _, ours, _ in rows)
    reference = sum(ref if ref is not None else ours for _, ours, ref in rows)
    seconds = window.samples / window.sample_rate
    sampler = model.describe(SamplingOptions())["sampler"]
    table = Table(
        f"{args.model} on {args.threads} CPU threads; {sampler['steps']} steps, guidance "
        f"{sampler['cfg']}; frames decoded at {', '.join(f'{w}x{h}' for w, h in distinct)}; "
        f"model load {load_s:.2f} s (once per process)",
        "the frame encoders fed one frame at a time",
    )
    for name, ours, ref in rows:
        table.add(name, ours, ref)
    table.add("one 10 s window, total", total, reference, real_time_factor=seconds / total)
    table.notes.append(
        f"real-time factor: {seconds / total:.1f}x ({seconds:.2f} s of FOA in {total:.2f} s)"
    )
    table.print()
    table.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
