"""The full OmniAudio configuration on a CUDA GPU: one 10 s clip, 24 guided steps + decode.

Run (a CUDA machine): ``python benchmarks/bench_gpu.py [--json out.json]``. Random weights
(the cost does not depend on them). The reference is the straightforward fp32 run; the rows
below it are bf16 autocast, then bf16 with the flow model compiled (``torch.compile``,
CUDA graphs), each with its output error against the reference. Achieved TFLOP/s uses FLOPs
counted by ``torch.utils.flop_counter`` and is set against an 8192³ bf16 matmul measured in
the same run. The last rows time frame features at the MetaCLIP ViT-H/14 size for 160
frames (both branches of one clip) with ``transformers``' CLIP vision tower, fp32 and bf16.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from models.config import preset
from models.generator import FoaGenerator
from models.sampler import guided


def median_time(fn: Callable[[], Any], repeats: int = 5, warm_ups: int = 2) -> float:
    """Median wall time of ``fn`` in seconds, device synchronised, after warm-ups."""
    for _ in range(warm_ups):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak_tflops(n: int = 8192) -> float:
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    seconds = median_time(lambda: a @ b, repeats=10, warm_ups=3)
    return 2 * n**3 / seconds / 1e12


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("this benchmark needs a CUDA GPU", file=sys.stderr)
        return 1
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    cfg = preset("omniaudio")
    model = FoaGenerator(cfg).cuda().eval()
    frames, dim = cfg.frames_per_window, cfg.conditioner.feature_dim
    g = torch.randn(1, frames, dim, device="cuda")
    f = torch.randn(1, frames, dim, device="cuda")
    peak = matmul_peak_tflops()

    def run(flow: Callable[..., torch.Tensor], bf16: bool) -> tuple[float, float, torch.Tensor]:
        generator = torch.Generator("cuda")
        noise = torch.randn(
            1, cfg.dit.io_channels, model.latent_frames, device="cuda", generator=generator
        )

        def velocity(x, t, mask):
            return flow(x, t, g, f, fov_scale=mask)

        step = guided(velocity, cfg.sampler.cfg_scale)
        grid = torch.linspace(1, 0, cfg.sampler.steps + 1, device="cuda")
        out: dict[str, torch.Tensor] = {}

        def sample() -> None:
            x = noise.clone()
            with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=bf16):
                for i in range(cfg.sampler.steps):
                    x = x + (grid[i + 1] - grid[i]) * step(x, grid[i].expand(1)).float()
            out["latents"] = x

        def decode() -> None:
            with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=bf16):
                out["audio"] = model.codec.decode(out["latents"]).float()

        dit_s = median_time(sample)
        decode_s = median_time(decode)
        return dit_s, decode_s, out["audio"]

    x = torch.randn(2, cfg.dit.io_channels, model.latent_frames, device="cuda")
    t = torch.full((2,), 0.5, device="cuda")
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.flow(x, t, g, f, fov_scale=torch.tensor([1.0, 0.0], device="cuda"))
    dit_flops = counter.get_total_flops() * cfg.sampler.steps
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.codec.decode(x[:1])
    vae_flops = counter.get_total_flops()

    rows = []
    torch.cuda.reset_peak_memory_stats()
    ref_dit, ref_dec, ref_audio = run(model.flow, bf16=False)
    ref_mem = torch.cuda.max_memory_allocated() / 2**30
    rows.append(("fp32 (reference)", ref_dit, ref_dec, 0.0, ref_mem))
    torch.cuda.reset_peak_memory_stats()
    dit, dec, audio = run(model.flow, bf16=True)
    error = float((audio - ref_audio).norm() / ref_audio.norm())
    rows.append(("bf16 autocast", dit, dec, error, torch.cuda.max_memory_allocated() / 2**30))
    if not args.no_compile:
        compiled = torch.compile(model.flow, mode="reduce-overhead", fullgraph=False)
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        try:
            dit, dec, audio = run(compiled, bf16=True)
        except Exception as exc:  # report, keep the other rows
            print(f"torch.compile failed ({type(exc).__name__}: {exc}); row skipped")
        else:
            error = float((audio - ref_audio).norm() / ref_audio.norm())
            mem = torch.cuda.max_memory_allocated() / 2**30
            rows.append(("bf16 + torch.compile (CUDA graphs)", dit, dec, error, mem))
            print(f"compile and warm-up took {time.perf_counter() - start:.0f} s in all")

    print(f"{torch.cuda.get_device_name()}; bf16 matmul peak measured {peak:.0f} TFLOP/s")
    print(
        f"one 10 s clip, {cfg.sampler.steps} guided steps: DiT {dit_flops / 1e12:.1f} TFLOP, "
        f"VAE decode {vae_flops / 1e12:.2f} TFLOP; floor at peak "
        f"{(dit_flops + vae_flops) / peak / 1e12 * 1e3:.0f} ms"
    )
    head = f"{'variant':<36} {'DiT s':>7} {'VAE s':>7} {'total s':>8} {'vs ref':>7}"
    print(head + f" {'TFLOP/s':>8} {'of peak':>8} {'rel err':>8} {'GiB':>6}")
    ref_total = ref_dit + ref_dec
    results = []
    for name, dit, dec, err, mem in rows:
        total = dit + dec
        achieved = (dit_flops + vae_flops) / total / 1e12
        print(
            f"{name:<36} {dit:7.3f} {dec:7.3f} {total:8.3f} {ref_total / total:6.2f}x"
            f" {achieved:8.1f} {achieved / peak:7.1%} {err:8.1e} {mem:6.1f}"
        )
        results.append({"variant": name, "dit_s": dit, "vae_s": dec, "rel_error": err})

    vit_rows = vit_features()
    for name, seconds, ref in vit_rows:
        ratio = "" if ref is None else f" {ref / seconds:6.2f}x"
        print(f"{name:<52} {seconds:8.3f} s{ratio}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "device": torch.cuda.get_device_name(),
                    "matmul_peak_tflops": peak,
                    "dit_tflop": dit_flops / 1e12,
                    "vae_tflop": vae_flops / 1e12,
                    "rows": results,
                    "vit": [{"variant": n, "seconds": s} for n, s, _ in vit_rows],
                },
                indent=2,
            )
        )
    return 0


def vit_features() -> list[tuple[str, float, float | None]]:
    """ViT-H/14 (MetaCLIP size, random weights) on 160 frames at 224 px: fp32, then bf16."""
    try:
        from transformers import CLIPVisionConfig, CLIPVisionModel
    except ImportError:
        print("transformers is not installed: ViT rows skipped")
        return []
    config = CLIPVisionConfig(
        hidden_size=1280,
        intermediate_size=5120,
        num_hidden_layers=32,
        num_attention_heads=16,
        patch_size=14,
        image_size=224,
        projection_dim=1024,
    )
    vit = CLIPVisionModel(config).cuda().eval()
    images = torch.randn(160, 3, 224, 224, device="cuda")

    def forward(bf16: bool) -> Callable[[], Any]:
        def run() -> None:
            with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=bf16):
                vit(pixel_values=images).pooler_output.float()

        return run

    ref = median_time(forward(False), repeats=3)
    ours = median_time(forward(True), repeats=5)
    return [
        ("ViT-H/14, 160 frames, fp32 (reference)", ref, None),
        ("ViT-H/14, 160 frames, bf16 autocast", ours, ref),
    ]


if __name__ == "__main__":
    sys.exit(main())
