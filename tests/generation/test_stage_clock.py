"""The stage clock: queued device work is charged to the stage that queued it."""

from __future__ import annotations

import time

import pytest

from plugin_core.generation.stage_clock import STAGES, StageClock


class QueuedDevice:
    """Work that returns at once and finishes later, as CUDA kernels do."""

    def __init__(self) -> None:
        self.busy_until = time.perf_counter()

    def queue(self, seconds: float) -> None:
        self.busy_until = max(self.busy_until, time.perf_counter()) + seconds

    def synchronize(self) -> None:
        time.sleep(max(0.0, self.busy_until - time.perf_counter()))


def test_queued_work_is_charged_to_the_stage_that_queued_it() -> None:
    device = QueuedDevice()
    clock = StageClock(sync=device.synchronize)

    began = clock.now()
    device.queue(0.3)  # returns at once
    began = clock.record("sampling", began)
    device.queue(0.05)
    clock.record("codec decode", began)

    totals = clock.totals()
    assert totals["sampling"] == pytest.approx(0.3, abs=0.05)
    assert totals["codec decode"] == pytest.approx(0.05, abs=0.04)


def test_without_a_sync_queued_work_lands_in_the_next_stage() -> None:
    # why the clock syncs: this is the wrong attribution it prevents
    device = QueuedDevice()
    clock = StageClock()

    began = clock.now()
    device.queue(0.3)
    began = clock.record("sampling", began)
    device.synchronize()
    clock.record("codec decode", began)

    assert clock.totals()["sampling"] < 0.05
    assert clock.totals()["codec decode"] > 0.25


def test_the_table_lists_every_stage_and_the_real_time_factor() -> None:
    clock = StageClock()
    clock.intervals += [("frames", 0.0, 1.5), ("sampling", 1.5, 2.0), ("frames", 2.0, 2.5)]

    table = clock.table(total=2.5, audio_seconds=10.0)

    lines = table.splitlines()
    assert [line.split()[0] for line in lines[1 : 1 + len(STAGES)]] == [
        s.split()[0] for s in STAGES
    ]
    frames = next(line for line in lines if line.startswith("frames"))
    assert frames.split()[1:] == ["2.000", "80%"]
    assert "4.00x real time" in table


def test_an_unknown_stage_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown stage"):
        StageClock().record("thinking", 0.0)
