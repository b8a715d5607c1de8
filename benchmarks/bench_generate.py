"""The bundled model end to end on the demo video: where a 10 s window's time goes.

Run: ``.venv/bin/python benchmarks/bench_generate.py [--model omnifoa-mini] [--threads 2]``.
Stages: decode at 8 fps, frame features (both branches), guided flow sampling, codec decode.
The reference is the same job with the frame encoders fed one view at a time (batch 1), the
straightforward way, measured in the same run. The last line is the real-time factor.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import torch
from timing import Table, json_option, median_of

from plugin_core.generation.frame_features import load_feature_extractor
from plugin_core.generation.pipeline import load_model, sample_window, window_features
from plugin_core.generation.window_frames import DECODE_SIZE
from plugin_core.install_paths import DEMO_DIR
from plugin_core.media.video import decode_range

DEMO = DEMO_DIR / "demo.mp4"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="omnifoa-mini")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    json_option(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    loaded = load_model(args.model, "cpu")
    load_s = time.perf_counter() - start
    cfg = loaded.model.config
    unbatched = replace(loaded, extractor=load_feature_extractor(cfg, "cpu", batch_size=1))

    def decode():
        return decode_range(DEMO, 0.0, cfg.window_seconds, cfg.conditioner.frame_rate, DECODE_SIZE)

    frames = decode().frames
    features = window_features(loaded, frames)

    def sample() -> None:
        sample_window(loaded, features, seed=0)

    with torch.inference_mode():
        rows = [
            ("decode 10 s at 8 fps (PyAV)", median_of(decode, args.repeats), None),
            (
                "frame features, both branches",
                median_of(lambda: window_features(loaded, frames), args.repeats),
                median_of(lambda: window_features(unbatched, frames), args.repeats),
            ),
            ("sampling + codec decode", median_of(sample, args.repeats), None),
        ]
    total = sum(ours for _, ours, _ in rows)
    reference = sum(ref if ref is not None else ours for _, ours, ref in rows)
    seconds = loaded.model.output_samples / cfg.sample_rate
    table = Table(
        f"{args.model} on {args.threads} CPU threads; {cfg.sampler.steps} steps, guidance "
        f"{cfg.sampler.cfg_scale}; model load {load_s:.2f} s (once per process)",
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
