"""A batch's report: the table a user reads at the end, and the same rows as JSON.

The JSON file (``schema`` ``omnifoa-batch-report``) holds the shot list it ran, the counts per
status and one row per shot (shot, origin, status, seconds, output, reason, and video_from:
where a Ray farm's worker read the shot's video, ``shared`` or ``shipped``). A rerun replaces
the report it wrote before; any other existing file is replaced only with ``overwrite``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from plugin_core.atomic_files import write_atomic
from plugin_core.batch.runner import ShotResult, Status
from plugin_core.file_checks import output_file

SCHEMA = "omnifoa-batch-report"
SCHEMA_VERSION = 1


def _is_report(path: Path) -> bool:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(document, dict) and document.get("schema") == SCHEMA


def check_report_path(path: Path, overwrite: bool, inputs: Sequence[Path]) -> Path:
    """``path`` if the report may be written there (new, a previous report, or overwrite)."""
    return output_file(path, overwrite or _is_report(path), inputs, "report")


def report_document(source: Path, results: Sequence[ShotResult]) -> dict[str, Any]:
    """The report as JSON."""
    counts = Counter(r.status for r in results)
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "shots_from": str(source),
        "counts": {status: counts.get(status, 0) for status in get_args(Status)},
        "shots": [dataclasses.asdict(r) for r in results],
    }


def write_report(path: Path, source: Path, results: Sequence[ShotResult]) -> None:
    """Write the JSON report atomically."""
    text = json.dumps(report_document(source, results), indent=1, allow_nan=False) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def report_table(results: Sequence[ShotResult]) -> str:
    """One line per shot: shot, status, seconds, then the stem or why there is none."""
    rows = [("shot", "status", "seconds", "output or reason")]
    rows += [
        (r.shot, r.status, f"{r.seconds:.1f}", r.output if r.ok else r.reason or "")
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}".rstrip() for a, b, c, d in rows
    )
