"""Wall-clock timing and the result table shared by the benchmarks."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def median_of(
    fn: Callable[[], object],
    repeats: int = 3,
    warm_up: bool = True,
    sync: Callable[[], object] | None = None,
) -> float:
    """Median wall time of ``repeats`` runs (after one untimed run if ``warm_up``), seconds;
    ``sync`` (e.g. ``torch.cuda.synchronize``) runs before the clock is read."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        if sync is not None:
            sync()
        start = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cpu_benchmark_args(
    description: str, name_flag: str = "--model", default: str = "omnifoa-mini"
) -> argparse.Namespace:
    """The flags every CPU benchmark of a model takes (``name_flag`` naming it, ``default``
    the bundled model; ``--threads``, ``--repeats``, ``--json``), parsed, with torch's thread
    count set from them."""
    import torch  # the timing helpers themselves do not need it

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(name_flag, default=default)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    json_option(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    return args


def json_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--json PATH``: where :meth:`Table.save` writes the rows."""
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")


@dataclass
class Table:
    """Rows of (task, seconds, reference seconds) printed with their ratio and saved as JSON."""

    title: str
    reference: str  # what the reference column measures
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, task: str, seconds: float, ref: float | None = None, **extra: Any) -> None:
        """One timing; ``ref`` is the reference's time of the same task in the same run."""
        row = {"task": task, "seconds": seconds, "ref_seconds": ref}
        row["speed_up"] = None if ref is None else ref / seconds
        self.rows.append({**row, **extra})

    def print(self) -> None:
        """The table on stdout, then the notes."""
        print(self.title)
        print(f"{'task':<52} {'seconds':>9} {'ref s':>9} {'speed-up':>9}")
        for row in self.rows:
            ref = row["ref_seconds"]
            tail = "" if ref is None else f" {ref:9.4f} {row['speed_up']:8.2f}x"
            print(f"{row['task']:<52} {row['seconds']:9.4f}{tail}")
        print(f"reference: {self.reference}")
        for note in self.notes:
            print(note)

    def save(self, path: Path | None) -> None:
        """Write title, rows and notes to ``path`` (nothing when None)."""
        if path is not None:
            document = {"title": self.title, "reference": self.reference}
            document |= {"rows": self.rows, "notes": self.notes}
            path.write_text(json.dumps(document, indent=2))
