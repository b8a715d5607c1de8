"""Where a generation's time goes: seconds per stage, for ``omnifoa generate --timings``.

The stages follow each other on the calling thread: ``loading`` (the model, when the run
loads it; a compiled model compiles during its first ``sampling``), ``frames`` (waiting for
decoded frames, cutting the views, both frame encoders), ``sampling`` (the network passes),
``codec decode`` (latents to FOA) and ``writing`` (joining windows, metering, writing the
stems and their sidecars). Decoding runs on its own thread, overlapping them; its busy
seconds and the caller's wait for it are reported beside them. On a GPU work is queued, so
``sync`` (``torch.cuda.synchronize``) runs at every stage end to charge each stage with the
device work it queued.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

STAGES = ("loading", "frames", "sampling", "codec decode", "writing")


@dataclass
class StageClock:
    """Intervals ``(stage, start, end)`` in seconds since the clock was made."""

    sync: Callable[[], None] | None = None
    intervals: list[tuple[str, float, float]] = field(default_factory=list)
    decode_busy: float = 0.0  # the decoding thread's seconds (they overlap the stages)
    frame_wait: float = 0.0  # seconds of ``frames`` spent waiting for that thread
    timer: Callable[[], float] = time.perf_counter  # where the seconds come from
    origin: float = field(init=False)

    def __post_init__(self) -> None:
        self.origin = self.timer()

    def now(self) -> float:
        """Seconds since the clock was made, after the device's queued work is done."""
        if self.sync is not None:
            self.sync()
        return self.timer() - self.origin

    def record(self, stage: str, start: float) -> float:
        """Charge ``stage`` with the time from ``start`` to now; returns now."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
        end = self.now()
        self.intervals.append((stage, start, end))
        return end

    def totals(self) -> dict[str, float]:
        """Seconds per stage, every stage listed."""
        sums = dict.fromkeys(STAGES, 0.0)
        for stage, start, end in self.intervals:
            sums[stage] += end - start
        return sums

    def table(self, total: float, audio_seconds: float) -> str:
        """The per-stage table ``--timings`` prints for a run of ``total`` seconds that made
        ``audio_seconds`` of FOA."""
        rows = [f"{'stage':<14}{'seconds':>9}{'share':>8}"]
        for stage, seconds in self.totals().items():
            share = seconds / total if total > 0 else 0.0
            rows.append(f"{stage:<14}{seconds:>9.3f}{share:>8.0%}")
        rows.append(
            f"{'total':<14}{total:>9.3f}{'':>8}  {audio_seconds:.1f} s of FOA, "
            f"{audio_seconds / total if total > 0 else 0.0:.2f}x real time"
        )
        rows.append(
            f"decoding thread busy {self.decode_busy:.3f} s; frames waited for it "
            f"{self.frame_wait:.3f} s"
        )
        return "\n".join(rows)
