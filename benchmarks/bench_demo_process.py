"""The whole ``omnifoa generate`` process on the demo video, as a user runs it.

Run: ``.venv/bin/python benchmarks/bench_demo_process.py [--repeats 3] [--json PATH]``.
Each run is a fresh process (Python start, imports, model load, decoding, the model, the
stem written): the bundled ``omnifoa-mini`` against the reference, the previous default
``omniaudio-mini``, measured in the same run on the same file, runs alternating. Torch uses
every core the process finds (2 on this project's machines). The last column of each row is
its real-time factor: 10 s of FOA over the median wall time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import Table, json_option

from plugin_core.install_paths import DEMO_DIR

DEMO = DEMO_DIR / "demo.mp4"
SECONDS = 10.0
MODELS = ("omnifoa-mini", "omniaudio-mini")  # the bundled model, then the reference


def _run(model: str, out: Path) -> float:
    """Wall seconds of one ``omnifoa generate`` process on the demo."""
    command = [sys.executable, "-m", "plugin_core.cli", "generate", str(DEMO), "-o", str(out),
               "--model", model, "--overwrite"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    json_option(parser)
    args = parser.parse_args()
    times: dict[str, list[float]] = {m: [] for m in MODELS}
    with tempfile.TemporaryDirectory() as tmp:
        for model in MODELS:  # warm the file cache and the sha256 record, untimed
            _run(model, Path(tmp) / f"{model}.wav")
        for _ in range(args.repeats):
            for model in MODELS:
                times[model].append(_run(model, Path(tmp) / f"{model}.wav"))
    ours, ref = (statistics.median(times[m]) for m in MODELS)
    table = Table(
        f"omnifoa generate on the demo (10 s, 512x256, 24 fps), a fresh process each, "
        f"median of {args.repeats}",
        "the same command with omniaudio-mini (the previous default), in the same run",
    )
    table.add("omnifoa-mini: whole process", ours, ref, real_time_factor=SECONDS / ours)
    table.add("omniaudio-mini: whole process", ref, None, real_time_factor=SECONDS / ref)
    table.notes.append(
        f"real-time factor: omnifoa-mini {SECONDS / ours:.2f}x, omniaudio-mini {SECONDS / ref:.2f}x"
    )
    table.print()
    table.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
