"""How fast a running ``generate`` stops when cancelled, in each of its stages.

Run: ``.venv/bin/python benchmarks/bench_cancel.py [--threads 2]``. The job is the small
OmniAudio model (``omniaudio-mini``: it has every stage) on a 10 s 1920×960, 30 fps source
(:mod:`bench_sources` makes it). For each stage, the cancel is pressed the moment the stage
starts (decoding: the first frame converted; frame features: the first chunk given to the
encoders; sampling: after the first step; codec decode: as the codec starts; writing: as the
stem's second pass starts) and the time until ``generate`` raises is measured. The reference
column is what is allowed: one sampling step or 0.5 s, whichever is longer; a speed-up of 1
or more meets it.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_sources import make_source
from timing import Table, cpu_benchmark_args

from models.family import SamplingCancelled
from plugin_core.generation import pipeline
from plugin_core.generation.loaded_model import load_model
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.video import decode

ALLOWED_S = 0.5  # or one sampling step, when that is longer
WIDTH = 1920


class Button:
    """The user's cancel button: pressed once, read by ``generate``."""

    def __init__(self) -> None:
        self.pressed_at: float | None = None

    def press(self) -> None:
        if self.pressed_at is None:
            self.pressed_at = time.perf_counter()

    def __call__(self) -> bool:
        return self.pressed_at is not None


def pressing(owner: object, name: str, button: Button) -> Callable[[], None]:
    """Wrap ``owner.name`` so that its first call presses ``button``; returns the undo."""
    real = getattr(owner, name)

    def wrapped(*args, **kwargs):
        button.press()
        return real(*args, **kwargs)

    setattr(owner, name, wrapped)
    return lambda: setattr(owner, name, real)


def main() -> int:
    # the OmniAudio family's small model: it has every stage, a codec decode among them
    args = cpu_benchmark_args(__doc__.splitlines()[0], default="omniaudio-mini")
    loaded = load_model(args.model, "cpu")
    model = loaded.model
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = make_source(folder, WIDTH)
        request = GenerationRequest(source, folder / "stem.wav", model=args.model)
        # one whole run, timing the sampling steps of the window
        ticks: list[float] = []
        steps = model.steps(pipeline.sampling_options(request))
        pipeline.generate(request, loaded, lambda i, n: ticks.append(time.perf_counter()))
        (folder / "stem.wav").unlink()
        (folder / "stem.wav.json").unlink()
        step = statistics.median(b - a for a, b in itertools.pairwise(ticks[-steps:]))
        allowed = max(ALLOWED_S, step)

        def on_progress(button: Button) -> Callable[[int, int], None]:
            def progress(i: int, n: int) -> None:
                if i > steps:  # the first sampling step is done
                    button.press()

            return progress

        stages: dict[str, Callable[[Button], tuple[Callable[[], None], object]]] = {
            "decoding": lambda b: (pressing(decode, "_to_rgb", b), None),
            "frame features": lambda b: (pressing(model, "encode", b), None),
            "sampling": lambda b: ((lambda: None), on_progress(b)),
            "codec decode": lambda b: (pressing(model.generator.codec, "decode", b), None),
            "writing": lambda b: (pressing(pipeline.StemWriter, "finish", b), None),
        }
        table = Table(
            f"{args.model} on {args.threads} CPU threads, a 10 s {WIDTH}x{WIDTH // 2} source; "
            f"one sampling step {step * 1000:.0f} ms",
            f"the latency allowed: one sampling step or {ALLOWED_S} s, whichever is longer",
        )
        for stage, arm in stages.items():
            latencies = []
            for _ in range(args.repeats):
                button = Button()
                undo, progress = arm(button)
                try:
                    pipeline.generate(request, loaded, progress, button)
                    latencies.append(float("inf"))  # the cancel was not heard at all
                    for written in (folder / "stem.wav", folder / "stem.wav.json"):
                        written.unlink(missing_ok=True)
                except SamplingCancelled:
                    assert button.pressed_at is not None
                    latencies.append(time.perf_counter() - button.pressed_at)
                finally:
                    undo()
                assert not (folder / "stem.wav").exists() or latencies[-1] == float("inf")
            table.add(f"cancel while {stage}", statistics.median(latencies), allowed)
    table.print()
    table.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
