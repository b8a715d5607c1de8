"""``omnifoa generate`` itself with the full OmniAudio configuration: seconds and GPU use per stage.

Run (a CUDA machine): ``python benchmarks/bench_generate_gpu.py [--json out.json]``; without a
GPU, ``--smoke`` runs the same code on the CPU with the ``tiny`` preset and a 10 s 1920×960
video (its numbers are not GPU measurements). On CUDA the video is 60 s of 3840×1920 at
30 fps (the 10 s source of :mod:`bench_sources`, its packets repeated), and the model is the
``omniaudio`` preset with random weights and a random MetaCLIP ViT-H/14, saved to a temporary
registry (``OMNIFOA_EXTRA_MODELS``) and Hugging Face cache (``HF_HOME``), so ``load_model``
takes the path ``omnifoa generate`` takes: DiT in bf16, the flow model compiled, conditioners
and codec in fp32. The run is timed by the generation's own stage clock (synchronised at every
stage end, as ``--timings`` does); GPU utilisation is sampled by ``nvidia-smi`` every 100 ms
and averaged per stage. The first run compiles; the second is reported. The reference for the
sampling row is one window's ``sample`` (network passes and codec decode) on the same loaded
model with the same features, alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from bench_memory import repeated
from bench_sources import make_source
from safetensors.torch import save_file
from timing import Table, json_option, median_of

from models.device import synchronizer
from models.encoders.clip import METACLIP_H14_REPO
from models.family import SamplingOptions
from models.omniaudio.config import preset
from models.omniaudio.generator import FoaGenerator
from plugin_core.generation.frame_features import frame_features, view_decode_sizes
from plugin_core.generation.loaded_model import LoadedModel, load_model
from plugin_core.generation.pipeline import generate
from plugin_core.generation.request import GenerationRequest
from plugin_core.generation.stage_clock import STAGES, StageClock
from plugin_core.media.video import probe
from plugin_core.media.video.decode import decode_range_sizes

MODEL_ID = "bench-random-weights"
TARGET_REAL_TIME = 20.0
TARGET_SAMPLING_RATIO = 1.2


def random_metaclip(hf_home: Path) -> None:
    """A MetaCLIP ViT-H/14-sized vision tower with random weights where the hub cache keeps
    the real one (``HF_HOME``/hub/models--…/snapshots/<rev>)."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(
        hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
        image_size=224, patch_size=14, projection_dim=1024, hidden_act="gelu",
    )  # fmt: skip
    repo = hf_home / "hub" / f"models--{METACLIP_H14_REPO.replace('/', '--')}"
    revision = "0" * 40
    CLIPVisionModelWithProjection(config).save_pretrained(repo / "snapshots" / revision)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)


def random_registry(folder: Path, preset_name: str) -> Path:
    """A registry of one generator: ``preset_name`` with random weights (safetensors)."""
    torch.manual_seed(0)
    weights = folder / "random.safetensors"
    save_file(FoaGenerator(preset(preset_name)).state_dict(), str(weights))
    registry = folder / "models.toml"
    registry.write_text(
        f'[[models]]\nid = "{MODEL_ID}"\nname = "random weights (benchmark)"\n'
        f'kind = "generator"\nfile = "{weights.name}"\npath = "{weights.name}"\n'
        f'licence = "none"\nfamily = "omniaudio"\npreset = "{preset_name}"\n'
    )
    return registry


class Utilisation:
    """``nvidia-smi`` GPU utilisation samples (perf_counter time, percent) while running;
    none when ``nvidia-smi`` is missing."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        try:
            self._process: subprocess.Popen[str] | None = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                 "-lms", "100"],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
        except OSError:
            self._process = None
            return
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            first = line.split(",")[0].strip()
            if first.isdigit():
                self.samples.append((time.perf_counter(), float(first)))

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait()

    def per_stage(self, clock: StageClock) -> dict[str, float | None]:
        """Mean utilisation of the samples that fall in each stage's intervals."""
        out: dict[str, float | None] = {}
        for stage in STAGES:
            inside = [
                percent
                for at, percent in self.samples
                for name, start, end in clock.intervals
                if name == stage and start <= at - clock.origin < end
            ]
            out[stage] = float(np.mean(inside)) if inside else None
        return out


def isolated_sample_seconds(loaded: LoadedModel, video: Path) -> float:
    """One window's ``sample`` alone, on features of the video's first window."""
    model = loaded.model
    window = model.window
    with torch.inference_mode():
        info = probe(video)
        sizes = view_decode_sizes(model.views, None, (info.width, info.height))
        distinct = sorted(set(sizes.values()))
        decoded = decode_range_sizes(video, 0.0, window.seconds, window.frame_rate, distinct)
        by_size = {s: d.frames for s, d in zip(distinct, decoded, strict=True)}
        aim = np.zeros(window.frames)
        features = frame_features(model, {n: by_size[s] for n, s in sizes.items()}, aim, aim)
        directions = torch.zeros(window.frames, 2)
        return median_of(
            lambda: model.sample(features, directions, 0, 1, SamplingOptions()),
            5,
            sync=synchronizer(model.device),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny preset: the code runs")
    json_option(parser)
    args = parser.parse_args()
    if not args.smoke and not torch.cuda.is_available():
        print("this benchmark needs a CUDA GPU (or --smoke on the CPU)", file=sys.stderr)
        return 1
    device = "cpu" if args.smoke else "cuda"
    seconds, width, preset_name = (10, 1920, "tiny") if args.smoke else (60, 3840, "omniaudio")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = make_source(folder, width)
        video = source if seconds == 10 else repeated(source, seconds // 10, folder / "long.mp4")
        os.environ["OMNIFOA_EXTRA_MODELS"] = str(random_registry(folder, preset_name))
        if not args.smoke:
            os.environ["HF_HOME"] = str(folder / "hf")
            random_metaclip(folder / "hf")
        began = time.perf_counter()
        loaded = load_model(MODEL_ID, device)
        load_s = time.perf_counter() - began
        request = GenerationRequest(video, folder / "stem.wav", model=MODEL_ID, overwrite=True)
        runs = []
        for _ in range(2):  # the first compiles (on CUDA) and warms every cache
            clock = StageClock()
            usage = None if args.smoke else Utilisation()
            began = time.perf_counter()
            result = generate(request, loaded, clock=clock)
            total = clock.now()
            if usage is not None:
                usage.stop()
            runs.append((clock, total, usage, time.perf_counter() - began))
        isolated = isolated_sample_seconds(loaded, video)
    clock, total, usage, _ = runs[-1]
    windows = len(result.windows)
    totals = clock.totals()
    busy = usage.per_stage(clock) if usage is not None else dict.fromkeys(STAGES)
    where = "CPU smoke run, tiny preset" if args.smoke else torch.cuda.get_device_name()
    table = Table(
        f"omnifoa generate on {where}: {seconds} s of {width}x{width // 2} at 30 fps, "
        f"preset {preset_name} with random weights, {windows} windows; model load {load_s:.1f} s",
        "the video's own length (real time) for the whole run; the window's sample alone "
        "for sampling + codec decode per window",
    )
    table.add("generate, end to end (second run)", total, seconds)
    table.add("generate, first run (compiles)", runs[0][1], seconds)
    for stage in STAGES:
        table.add(f"  {stage}", totals[stage], stage_gpu_percent=busy[stage])
    per_window = (totals["sampling"] + totals["codec decode"]) / windows
    table.add("  sampling + codec decode, per window", per_window, isolated)
    table.add("  decoding thread busy (overlaps the stages)", clock.decode_busy)
    table.notes.append(
        f"end to end {seconds / total:.1f}x real time (target >= {TARGET_REAL_TIME:g}x); "
        f"sampling per window {per_window / isolated:.2f}x its isolated time "
        f"(target <= {TARGET_SAMPLING_RATIO:g}x)"
    )
    if not args.smoke:
        table.notes.append(
            "GPU utilisation per stage (%): "
            + json.dumps({k: None if v is None else round(v) for k, v in busy.items()})
        )
    table.print()
    table.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
