"""Every benchmark in one run: prints each table and writes one JSON file with all rows.

Run: ``.venv/bin/python benchmarks/run_all.py [--out benchmarks/results]``. Each benchmark runs
in its own process (thread settings do not leak between them). On a CUDA machine the GPU
benchmarks run at full size (the OmniAudio DiT and codec, ViSAGe, and ``omnifoa generate`` on
60 s of 4K with the OmniAudio configuration); elsewhere their code runs on the CPU at the
tiny size (``--smoke``), marked as such. The last table checks the performance targets. The
whole run takes about half an hour on 2 cores (the memory benchmark alone about ten minutes).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
CPU_BENCHMARKS = (
    "bench_core",
    "bench_models",
    "bench_generate",
    "bench_demo_process",
    "bench_sources",
    "bench_pipeline",
    "bench_cancel",
    "bench_binaural",
    "bench_memory",  # about 10 minutes: 1, 5 and 10 minutes of 4K video
)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
    return info


def run(name: str, extra: list[str], folder: Path) -> dict[str, Any] | None:
    """Run one benchmark script with ``--json``; its document, or None when it failed."""
    out = folder / f"{name}.json"
    print(f"\n== {name} {' '.join(extra)}", flush=True)
    done = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *extra, "--json", str(out)])
    if done.returncode != 0 or not out.exists():
        print(f"{name} failed (exit status {done.returncode})", flush=True)
        return None
    return json.loads(out.read_text())


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each of the performance targets this run measured."""

    def row(bench: str, task: str) -> dict[str, Any] | None:
        doc = results.get(bench) or {}
        return next(
            (r for r in doc.get("rows", []) if r.get("task", r.get("variant")) == task), None
        )

    checks: list[tuple[str, str, bool | None]] = []
    for width in (1920, 3840):
        source = row("bench_sources", f"{width}x{width // 2}: generate, file to stem on disk")
        if source:
            rtf = source["real_time_factor"]
            checks.append(
                (
                    f"bundled model, 10 s {width}x{width // 2} source, 2 cores >= 2.5x real time",
                    f"{rtf:.2f}x",
                    rtf >= 2.5,
                )
            )
    demo = row("bench_demo_process", "omnifoa-mini: whole process")
    if demo:
        rtf = demo["real_time_factor"]
        checks.append(
            (
                "omnifoa generate on the demo, whole process, 2 cores >= 1.5x",
                f"{rtf:.2f}x",
                rtf >= 1.5,
            )
        )
    ten, sixty = (
        row("bench_pipeline", "generate 10 s video (reference)"),
        row("bench_pipeline", "generate 60 s video"),
    )
    if ten and sixty:
        ratio = sixty["seconds"] / ten["seconds"]
        checks.append(("60 s video <= 6.3x a 10 s video", f"{ratio:.2f}x", ratio <= 6.3))
    warm = row("bench_pipeline", "2 s job through the warm service")
    if warm:
        ratio = warm["seconds"] / warm["ref_seconds"]
        checks.append(
            ("warm service job <= 1.05x the same call in-process", f"{ratio:.3f}x", ratio <= 1.05)
        )
    for stage in ("decoding", "frame features", "sampling", "codec decode", "writing"):
        cancel = row("bench_cancel", f"cancel while {stage}")
        if cancel:
            late, allowed = cancel["seconds"], cancel["ref_seconds"]
            checks.append(
                (
                    f"cancel heard while {stage} (<= {allowed:.2f} s)",
                    f"{late:.3f} s",
                    late <= allowed,
                )
            )
    memory = (results.get("bench_memory") or {}).get("rows", [])
    if len(memory) > 1:
        ratio = max(r["peak_rss_ratio"] for r in memory)
        peaks = ", ".join(f"{r['peak_rss_mb']:.0f}" for r in memory)
        checks.append(
            ("peak RSS flat from 1 to 10 min of 4K (<= 1.1x)", f"{peaks} MB", ratio <= 1.1)
        )
    for turning in ("steady head", "head turning every block"):
        binaural = row("bench_binaural", turning)
        if binaural:
            rtf = binaural["real_time_factor"]
            checks.append((f"binaural >= 100x real time ({turning})", f"{rtf:.0f}x", rtf >= 100))
    release = row("bench_gpu", "DiT bf16, rest fp32 (the release's)")
    everywhere = row("bench_gpu", "bf16 everywhere (earlier policy)")
    if release and everywhere:
        a, b = release["snr_db_vs_fp32"], everywhere["snr_db_vs_fp32"]
        checks.append(
            ("half precision in the DiT only: closer to fp32", f"{a:.1f} dB vs {b:.1f} dB", a > b)
        )
    gpu = results.get("bench_gpu") or {}
    if gpu and not gpu.get("smoke"):
        best = min(gpu["rows"], key=lambda r: r["total_s"])
        checks.append(
            (
                "full size 10 s clip DiT + VAE <= 0.25 s",
                f"{best['total_s']:.3f} s ({best['fraction_of_floor']:.0%} of the floor)",
                best["total_s"] <= 0.25,
            )
        )
        vit = [v for v in gpu["vit"] if v["ref_seconds"] is not None]
        if vit:
            checks.append(
                (
                    "ViT-H/14 features, 160 frames <= 0.15 s",
                    f"{vit[0]['seconds']:.3f} s",
                    vit[0]["seconds"] <= 0.15,
                )
            )
    else:
        checks.append(
            (
                "GPU targets (DiT + VAE <= 0.25 s, ViT-H <= 0.15 s)",
                "no CUDA GPU here: smoke run only",
                None,
            )
        )
    whole = row("bench_generate_gpu", "generate, end to end (second run)")
    window = row("bench_generate_gpu", "  sampling + codec decode, per window")
    if whole and window and not (results.get("bench_generate_gpu") or {}).get("smoke"):
        rtf, ratio = whole["speed_up"], window["seconds"] / window["ref_seconds"]
        checks.append(("omnifoa generate, 60 s 4K, OmniAudio >= 20x", f"{rtf:.1f}x", rtf >= 20))
        checks.append(
            ("generate's sampling <= 1.2x the isolated window", f"{ratio:.2f}x", ratio <= 1.2)
        )
    elif whole:
        checks.append(
            (
                "omnifoa generate on a GPU (>= 20x; sampling <= 1.2x isolated)",
                "no CUDA GPU here: smoke run only",
                None,
            )
        )
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in CPU_BENCHMARKS:
            results[name] = run(name, [], Path(tmp))
        cuda = torch.cuda.is_available()
        gpu = run("bench_gpu", [] if cuda else ["--smoke"], Path(tmp))
        if gpu is not None:
            gpu["smoke"] = not cuda
        results["bench_gpu"] = gpu
        visage = run("bench_visage", [] if cuda else ["--smoke"], Path(tmp))
        if visage is not None:
            visage["smoke"] = not cuda
        results["bench_visage"] = visage
        whole = run("bench_generate_gpu", [] if cuda else ["--smoke"], Path(tmp))
        if whole is not None:
            whole["smoke"] = not cuda
        results["bench_generate_gpu"] = whole
    checks = targets(results)
    print("\n== targets")
    for target, measured, met in checks:
        verdict = "-" if met is None else ("met" if met else "MISSED")
        print(f"{target:<56} {measured:>28}  {verdict}")
    info = machine()
    kind = "gpu" if info["gpu"] else f"cpu{info['cores']}"
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"all_{kind}_{datetime.date.today().isoformat()}.json"
    document = {"machine": info, "benchmarks": results}
    document["targets"] = [{"target": t, "measured": m, "met": ok} for t, m, ok in checks]
    path.write_text(json.dumps(document, indent=2))
    print(f"\nwrote {path}")
    return 0 if all(r is not None for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
