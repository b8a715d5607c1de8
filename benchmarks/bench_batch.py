"""Whole projects: shots per minute of ``omnifoa batch`` against a process per shot.

Run: ``.venv/bin/python benchmarks/bench_batch.py [--model omnifoa-mini] [--shots 10]
[--seconds 2] [--repeats 3]``. The same shots (one short synthetic 360 video, a seed each)
are made by each runner, in its own process, every run with ``--overwrite`` so nothing is
skipped: the reference is one ``omnifoa generate`` process per shot (every shot pays the
interpreter start and the model load); ``omnifoa batch`` loads the model once for all of
them. The difference per shot is what a warm model saves. ``omnifoa batch --ray local``
(needs omnifoa[farm]) makes them on a Ray instance it starts on this machine; its overhead per
shot against the warm local batch is given with and without the start of Ray.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from timing import Table, json_option, median_of

from plugin_core.media.video import write_video
from plugin_core.synthsphere import make_scene, render_frames

OMNIFOA = (sys.executable, "-m", "plugin_core.cli")


def _run(*args: str) -> None:
    done = subprocess.run([*OMNIFOA, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"omnifoa {args[0]} failed: {done.stderr.strip()[-500:]}")


def process_per_shot(folder: Path, video: Path, shots: int, model: str) -> None:
    """The reference: ``omnifoa generate`` once per shot."""
    for seed in range(shots):
        out = folder / f"shot{seed}.wav"
        _run("generate", str(video), "-o", str(out), "--seed", str(seed), "--model", model,
             "--device", "cpu", "--overwrite")  # fmt: skip


def local_batch(folder: Path, video: Path, shots: int, model: str, *flags: str) -> None:
    """``omnifoa batch`` of the same shots: one process, one warm model."""
    shot_list = folder / "shots.csv"
    rows = "".join(
        f"shot{seed},{video},{seed},{folder / f'shot{seed}.wav'}\n" for seed in range(shots)
    )
    shot_list.write_text("shot,video,seed,output\n" + rows)
    _run("batch", str(shot_list), "--model", model, "--device", "cpu", "--overwrite", *flags)


def ray_batch(folder: Path, video: Path, shots: int, model: str) -> None:
    """``omnifoa batch --ray local``: a Ray instance started on this machine (one worker per
    CPU: 2 on the 2-core bench machine), each worker one warm model; stems committed here."""
    local_batch(folder, video, shots, model, "--ray", "local")


def ray_start() -> float:
    """Seconds to start (and stop) a local Ray instance, part of every ``--ray local`` run."""
    import ray

    began = time.perf_counter()
    ray.init(address="local", include_dashboard=False, logging_level="WARNING")
    ray.shutdown()
    return time.perf_counter() - began


Runner = Callable[[Path, Path, int, str], None]
LOCAL = "omnifoa batch, one warm model"
RAY = "omnifoa batch --ray local"
# The runners after the reference, each timed on the same shots in the same run.
RUNNERS: list[tuple[str, Runner]] = [(LOCAL, local_batch), (RAY, ray_batch)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="omnifoa-mini")
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each shot")
    parser.add_argument("--repeats", type=int, default=3)
    json_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        video = folder / "shot.mp4"
        scene = render_frames(make_scene(7, args.seconds), 512, 256, 8.0)
        write_video(video, scene, 8.0)

        def timed(runner: Runner) -> float:
            return median_of(lambda: runner(folder, video, args.shots, args.model), args.repeats)

        reference = timed(process_per_shot)
        rows = [(name, timed(runner)) for name, runner in RUNNERS]
        start = median_of(ray_start, args.repeats)
    table = Table(
        f"{args.shots} shots of {args.seconds:g} s, model {args.model} on CPU",
        "one `omnifoa generate` process per shot, in the same run",
    )
    table.add(f"{args.shots} shots, a process per shot (reference)", reference)
    table.notes.append(f"a process per shot: {60 * args.shots / reference:.1f} shots per minute")
    for name, seconds in rows:
        table.add(f"{args.shots} shots, {name}", seconds, reference)
        table.notes.append(f"{name}: {60 * args.shots / seconds:.1f} shots per minute")
        saved = (reference - seconds) / args.shots
        table.notes.append(f"{name}: {1000 * saved:.0f} ms saved per shot")
    measured = dict(rows)
    overhead = (measured[RAY] - measured[LOCAL]) / args.shots
    table.notes.append(
        f"Ray overhead per shot against the warm local batch: {1000 * overhead:.0f} ms, "
        f"{1000 * (overhead - start / args.shots):.0f} ms without starting Ray "
        f"({start:.1f} s a run)"
    )
    table.print()
    table.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
