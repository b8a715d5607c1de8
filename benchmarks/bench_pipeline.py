"""Any-length generation and the warm service, timed on this machine.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--model omnifoa-mini] [--threads 2]``.
Rows: ``omnifoa generate`` of a 10 s and a 60 s synthetic 360 video (the 10 s run is the
reference: the ratio shows how cost grows with length; one window per 9 s of video beyond
the first, so about 7× is linear), then one short job through a warm in-process service
against the same job called directly on the same loaded model (the difference is the
service's overhead per job), and the first job of a fresh service (which pays the load).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from plugin_core.generation import GenerationRequest, generate, load_model
from plugin_core.service.client import ServiceClient
from plugin_core.service.http_server import serve
from plugin_core.synthsphere import make_scene, render_frames
from plugin_core.video import write_video


def _video(folder: Path, seconds: float) -> Path:
    path = folder / f"scene_{seconds:g}s.mp4"
    write_video(path, render_frames(make_scene(11, seconds), 512, 256, 8.0), 8.0)
    return path


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="omnifoa-mini")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        short, long = _video(folder, 10.0), _video(folder, 60.0)
        loaded = load_model(args.model, "cpu")

        def run(video: Path, name: str, **kw) -> None:
            request = GenerationRequest(video, folder / name, model_id=args.model, **kw)
            generate(request, loaded)

        run(short, "warm.wav")  # warm-up: first-call allocations
        ten = _timed(lambda: run(short, "ten.wav"))
        sixty = _timed(lambda: run(long, "sixty.wav"))
        direct = _timed(lambda: run(short, "direct.wav", end=2.0))

        state = folder / "state"
        state.mkdir()
        ready = threading.Event()
        threading.Thread(
            target=serve, args=(0, state, "cpu", ready), daemon=True, name="service"
        ).start()
        ready.wait(60)
        client = ServiceClient.from_state(state)
        job = {"video": str(short), "output_dir": str(folder), "model": args.model, "end": 2.0}

        def via_service(name: str) -> None:
            record = client.wait(client.submit({**job, "name": name})["id"], 600, poll=0.02)
            assert record["state"] == "done", record["error"]

        cold = _timed(lambda: via_service("cold.wav"))
        warm = min(_timed(lambda i=i: via_service(f"warm{i}.wav")) for i in range(3))
    rows = [
        ("generate 10 s video (reference)", ten, None),
        ("generate 60 s video", sixty, ten),
        ("2 s job, direct call on a loaded model", direct, None),
        ("2 s job through the warm service", warm, direct),
        ("2 s job, first of a fresh service (loads)", cold, warm),
    ]
    print(f"model {args.model} on CPU, {args.threads} threads")
    print(f"{'task':<44} {'seconds':>9} {'ref s':>9} {'ratio':>7}")
    for name, seconds, ref in rows:
        tail = "" if ref is None else f" {ref:9.2f} {seconds / ref:6.2f}x"
        print(f"{name:<44} {seconds:9.2f}{tail}")
    print(f"warm-service overhead per job: {1000 * (warm - direct):.0f} ms")
    print(f"60 s video: {60 / sixty:.1f}x real time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
