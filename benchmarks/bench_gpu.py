"""The full OmniAudio configuration on a CUDA GPU: one 10 s clip, 24 guided steps + decode.

Run (a CUDA machine): ``python benchmarks/bench_gpu.py [--json out.json]``; without a GPU,
``--smoke`` runs the same code on the CPU at the ``tiny`` size to show it works (its numbers
are not GPU measurements). Random weights
(the cost does not depend on them). The reference is the straightforward fp32 run; the rows
below it are the reference release's precision (only the DiT under bf16 autocast; the video
conditioners and the codec decode in fp32: what omnifoa runs), everything under bf16 autocast
(conditioners and codec too: omnifoa's earlier policy), and the release's precision with the
flow model compiled (``torch.compile``, CUDA graphs), each with the SNR of its output against
the fp32 reference. Achieved TFLOP/s uses FLOPs
counted by ``torch.utils.flop_counter`` and is set against an 8192³ bf16 matmul measured in
the same run. The last rows time frame features at the MetaCLIP ViT-H/14 size for 160
frames (both branches of one clip) with ``transformers``' CLIP vision tower, fp32 and bf16.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from timing import median_of
from torch.utils.flop_counter import FlopCounterMode

from models.omniaudio.config import preset
from models.omniaudio.generator import FoaGenerator
from models.omniaudio.sampler import guided


def matmul_peak_tflops(device: str, n: int) -> float:
    """bf16 matmul throughput of an n x n product, TFLOP/s."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    seconds = median_of(lambda: a @ b, repeats=10, sync=_sync(device))
    return 2 * n**3 / seconds / 1e12


def _sync(device: str) -> Callable[[], None] | None:
    return torch.cuda.synchronize if device == "cuda" else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny sizes: the code runs")
    args = parser.parse_args()
    if not args.smoke and not torch.cuda.is_available():
        print("this benchmark needs a CUDA GPU (or --smoke on the CPU)", file=sys.stderr)
        return 1
    device = "cpu" if args.smoke else "cuda"
    sync = _sync(device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    cfg = preset("tiny" if args.smoke else "omniaudio")
    model = FoaGenerator(cfg).to(device).eval()
    frames, dim = cfg.frames_per_window, cfg.conditioner.feature_dim
    g = torch.randn(1, frames, dim, device=device)
    f = torch.randn(1, frames, dim, device=device)
    peak = matmul_peak_tflops(device, 1024 if args.smoke else 8192)

    def run(
        flow: Callable[..., torch.Tensor], half_everywhere: bool = False
    ) -> tuple[float, float, torch.Tensor]:
        """Sampling and decode times and the audio; ``half_everywhere`` runs the conditioners,
        the DiT and the codec under bf16 autocast (the flow model's own precision otherwise)."""
        generator = torch.Generator(device)
        noise = torch.randn(
            1, cfg.dit.io_channels, model.latent_frames, device=device, generator=generator
        )
        flow_model = model.flow

        def velocity(x, t, mask):
            if not half_everywhere:
                return flow(x, t, g, f, fov_scale=mask)
            batch = x.shape[0]
            global_cond = flow_model.global_conditioner(g.expand(batch, -1, -1))
            local_cond = flow_model.fov_conditioner(f.expand(batch, -1, -1)) * mask[:, None, None]
            return flow_model.dit(x, t, global_cond, local_cond).float()

        step = guided(velocity, cfg.sampler.cfg_scale)
        grid = torch.linspace(1, 0, cfg.sampler.steps + 1, device=device)
        out: dict[str, torch.Tensor] = {}
        autocast = {"device_type": device, "dtype": torch.bfloat16, "enabled": half_everywhere}

        def sample() -> None:
            x = noise.clone()
            with torch.inference_mode(), torch.autocast(**autocast):
                for i in range(cfg.sampler.steps):
                    x = x + (grid[i + 1] - grid[i]) * step(x, grid[i].expand(1)).float()
            out["latents"] = x

        def decode() -> None:
            with torch.inference_mode(), torch.autocast(**autocast):
                out["audio"] = model.codec.decode(out["latents"]).float()

        dit_s = median_of(sample, 5, sync=sync)
        decode_s = median_of(decode, 5, sync=sync)
        return dit_s, decode_s, out["audio"]

    x = torch.randn(2, cfg.dit.io_channels, model.latent_frames, device=device)
    t = torch.full((2,), 0.5, device=device)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.flow(x, t, g, f, fov_scale=torch.tensor([1.0, 0.0], device=device))
    dit_flops = counter.get_total_flops() * cfg.sampler.steps
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.codec.decode(x[:1])
    vae_flops = counter.get_total_flops()

    def peak_memory_gib() -> float | None:
        return torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None

    def reset_memory() -> None:
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()

    def snr_db(audio: torch.Tensor) -> float:
        return float(20 * torch.log10(ref_audio.norm() / (audio - ref_audio).norm()))

    rows = []
    reset_memory()
    ref_dit, ref_dec, ref_audio = run(model.flow)
    rows.append(("fp32 (reference)", ref_dit, ref_dec, float("inf"), peak_memory_gib()))
    model.flow.dit_precision = torch.bfloat16
    reset_memory()
    dit, dec, audio = run(model.flow)
    rows.append(("DiT bf16, rest fp32 (the release's)", dit, dec, snr_db(audio), peak_memory_gib()))
    reset_memory()
    dit, dec, audio = run(model.flow, half_everywhere=True)
    rows.append(("bf16 everywhere (earlier policy)", dit, dec, snr_db(audio), peak_memory_gib()))
    if not args.no_compile and device == "cuda":
        compiled = torch.compile(model.flow, mode="reduce-overhead", fullgraph=False)
        reset_memory()
        start = time.perf_counter()
        try:
            dit, dec, audio = run(compiled)
        except Exception as exc:  # report, keep the other rows
            print(f"torch.compile failed ({type(exc).__name__}: {exc}); row skipped")
        else:
            rows.append(("release's + torch.compile (CUDA graphs)", dit, dec, snr_db(audio),
                         peak_memory_gib()))  # fmt: skip
            print(f"compile and warm-up took {time.perf_counter() - start:.0f} s in all")

    machine = "CPU smoke run, tiny preset" if args.smoke else torch.cuda.get_device_name()
    print(f"{machine}; bf16 matmul peak measured {peak:.2f} TFLOP/s")
    print(
        f"one 10 s clip, {cfg.sampler.steps} guided steps: DiT {dit_flops / 1e12:.1f} TFLOP, "
        f"VAE decode {vae_flops / 1e12:.2f} TFLOP; floor at peak "
        f"{(dit_flops + vae_flops) / peak / 1e12 * 1e3:.0f} ms"
    )
    head = f"{'variant':<36} {'DiT s':>7} {'VAE s':>7} {'total s':>8} {'vs ref':>7}"
    print(head + f" {'TFLOP/s':>8} {'of peak':>8} {'SNR dB':>8} {'GiB':>6} {'of floor':>8}")
    floor = (dit_flops + vae_flops) / peak / 1e12
    ref_total = ref_dit + ref_dec
    results = []
    for name, dit, dec, err, mem in rows:
        total = dit + dec
        achieved = (dit_flops + vae_flops) / total / 1e12
        memory = f"{mem:6.1f}" if mem is not None else f"{'-':>6}"
        print(
            f"{name:<36} {dit:7.3f} {dec:7.3f} {total:8.3f} {ref_total / total:6.2f}x"
            f" {achieved:8.1f} {achieved / peak:7.1%} {err:8.1f} {memory} {floor / total:8.1%}"
        )
        results.append(
            {
                "variant": name,
                "dit_s": dit,
                "vae_s": dec,
                "total_s": total,
                "speed_up": ref_total / total,
                "tflops": achieved,
                "fraction_of_floor": floor / total,
                "snr_db_vs_fp32": None if err == float("inf") else err,
                "peak_gib": mem,
            }
        )

    vit_rows = vit_features(device, args.smoke)
    for name, seconds, ref in vit_rows:
        ratio = "" if ref is None else f" {ref / seconds:6.2f}x"
        print(f"{name:<52} {seconds:8.3f} s{ratio}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "device": machine,
                    "torch": torch.__version__,
                    "cuda": torch.version.cuda,
                    "driver": _driver() if device == "cuda" else None,
                    "matmul_peak_tflops": peak,
                    "dit_tflop": dit_flops / 1e12,
                    "vae_tflop": vae_flops / 1e12,
                    "rows": results,
                    "floor_s": floor,
                    "vit": [{"variant": n, "seconds": s, "ref_seconds": r} for n, s, r in vit_rows],
                },
                indent=2,
            )
        )
    return 0


def _driver() -> str | None:
    """The NVIDIA driver version, as nvidia-smi reports it."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip() or None


def vit_features(device: str, smoke: bool) -> list[tuple[str, float, float | None]]:
    """ViT-H/14 (MetaCLIP size, random weights) on 160 frames at 224 px: fp32, then bf16
    (``smoke``: 2 layers and 2 frames)."""
    try:
        from transformers import CLIPVisionConfig, CLIPVisionModel
    except ImportError:
        print("transformers is not installed: ViT rows skipped")
        return []
    config = CLIPVisionConfig(
        hidden_size=1280,
        intermediate_size=5120,
        num_hidden_layers=2 if smoke else 32,
        num_attention_heads=16,
        patch_size=14,
        image_size=224,
        projection_dim=1024,
    )
    vit = CLIPVisionModel(config).to(device).eval()
    count = 2 if smoke else 160
    images = torch.randn(count, 3, 224, 224, device=device)

    def forward(bf16: bool) -> Callable[[], Any]:
        def run() -> None:
            with torch.inference_mode(), torch.autocast(device, torch.bfloat16, enabled=bf16):
                vit(pixel_values=images).pooler_output.float()

        return run

    ref = median_of(forward(False), 3, sync=_sync(device))
    ours = median_of(forward(True), 5, sync=_sync(device))
    return [
        (f"ViT-H/14, {count} frames, fp32 (reference)", ref, None),
        (f"ViT-H/14, {count} frames, bf16 autocast", ours, ref),
    ]


if __name__ == "__main__":
    sys.exit(main())
