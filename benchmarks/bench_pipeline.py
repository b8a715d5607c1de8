"""Any-length generation and the warm service, timed on this machine.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--model omnifoa-mini] [--threads 2]``.
Rows: ``omnifoa generate`` of a 10 s and a 60 s synthetic 360 video (the 10 s run is the
reference: the ratio shows how cost grows with length; 7 model windows against 1, but the
frames windows share are encoded once, so the frame features grow only 6×), then one short
job through a warm service (``omnifoa serve`` in its own process) against the same job
called directly on a loaded model (the difference is the service's overhead per job; the
two alternate, seven times each, and the medians are compared), and the first job of a
fresh service (which pays the load).
"""

from __future__ import annotations

import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import Table, cpu_benchmark_args, median_of

from plugin_core.generation.loaded_model import load_model
from plugin_core.generation.pipeline import generate
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.video import write_video
from plugin_core.service.client import ServiceClient
from plugin_core.synthsphere import make_scene, render_frames


def _video(folder: Path, seconds: float) -> Path:
    path = folder / f"scene_{seconds:g}s.mp4"
    write_video(path, render_frames(make_scene(11, seconds), 512, 256, 8.0), 8.0)
    return path


PAIRS = 7  # direct call and service job, alternating
SERVE = (sys.executable, "-m", "plugin_core.cli", "serve", "--device", "cpu")


def main() -> int:
    args = cpu_benchmark_args(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        short, long = _video(folder, 10.0), _video(folder, 60.0)
        loaded = load_model(args.model, "cpu")

        def run(video: Path, name: str, **kw) -> None:
            request = GenerationRequest(
                video, folder / name, model=args.model, overwrite=True, **kw
            )
            generate(request, loaded)

        ten = median_of(lambda: run(short, "ten.wav"), args.repeats)  # warm-up run first
        sixty = median_of(lambda: run(long, "sixty.wav"), args.repeats, warm_up=False)

        state = folder / "state"
        state.mkdir()
        service = subprocess.Popen(
            [*SERVE, "--state-dir", str(state)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while not (state / "service.json").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            client = ServiceClient.from_state(state)
            job = {"video": str(short), "output_dir": str(folder), "model": args.model}
            job["end"] = 2.0

            def via_service(name: str) -> None:
                record = client.wait(client.submit({**job, "name": name})["id"], 600)
                assert record["state"] == "done", record["error"]

            cold = median_of(lambda: via_service("cold.wav"), 1, warm_up=False)
            names = (f"job{i}.wav" for i in itertools.count())
            # the direct call and the service's job alternate, so a busy moment of the
            # machine slows both alike; medians of PAIRS each
            direct_times, warm_times = [], []
            run(short, next(names), end=2.0)
            for _ in range(PAIRS):
                direct_times.append(median_of(lambda: run(short, next(names), end=2.0), 1, False))
                warm_times.append(median_of(lambda: via_service(next(names)), 1, False))
            direct, warm = statistics.median(direct_times), statistics.median(warm_times)
        finally:
            service.terminate()
            service.wait(30)
    table = Table(
        f"model {args.model} on CPU, {args.threads} threads",
        "the 10 s video (cost against length); the same job called directly (service "
        "overhead); a warm service's job (first job's load)",
    )
    table.add("generate 10 s video (reference)", ten)
    table.add("generate 60 s video", sixty, ten)
    table.add("2 s job, direct call on a loaded model", direct)
    table.add("2 s job through the warm service", warm, direct)
    table.add("2 s job, first of a fresh service (loads)", cold, warm)
    table.notes.append(f"60 s video costs {sixty / ten:.2f}x a 10 s video")
    table.notes.append(f"warm-service overhead per job: {1000 * (warm - direct):.0f} ms")
    table.notes.append(f"60 s video: {60 / sixty:.1f}x real time")
    table.print()
    table.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
