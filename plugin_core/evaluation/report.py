"""The evaluation report: per-clip rows, the mean ± std table, and its JSON/CSV/text files."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plugin_core.atomic_files import write_atomic
from plugin_core.evaluation.artefacts import ARTEFACT_METRICS
from plugin_core.evaluation.spatial import SPATIAL_METRICS

CLIP_METRICS = (
    *SPATIAL_METRICS,
    "class_match_pct",
    "onset_error_ms",
    "onset_f1",
    "onset_envelope_r",
    "tonal_share",
    *ARTEFACT_METRICS,
)
# Set-level metric: one value per system over all its clips (std left empty).
FD = "fd"
METRICS = (*CLIP_METRICS, FD)
LABELS = {
    "d_azimuth_rad": "|Δθ| (rad)",
    "d_elevation_rad": "|Δφ| (rad)",
    "angular_rad": "angular (rad)",
    "cc_clip": "CC clip",
    "auc_clip": "AUC clip",
    "cc_1s": "CC 1 s",
    "auc_1s": "AUC 1 s",
    "cc_200ms": "CC 200 ms",
    "auc_200ms": "AUC 200 ms",
    "class_match_pct": "class match %",
    "onset_error_ms": "onset error (ms)",
    "onset_f1": "onset F1 ±50 ms",
    "onset_envelope_r": "onset envelope r",
    "tonal_share": "W tonal share",
    "autocorr_hop": "W autocorr 1 hop",
    "autocorr_2hop": "W autocorr 2 hops",
    "comb_db": "frame comb (dB)",
    FD: "FD (aisfx)",
}
JSON_NAME = "evaluation.json"
CLIPS_CSV_NAME = "evaluation_clips.csv"
SUMMARY_CSV_NAME = "evaluation_summary.csv"
TABLE_NAME = "evaluation.txt"


@dataclass(frozen=True)
class ClipRow:
    """One system on one clip; a metric is None where it does not apply (no true onset)."""

    system: str
    seed: int
    classes: tuple[str, ...]  # ground-truth object classes
    predicted_class: str  # the class probe's top class for the W channel
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class MetricSummary:
    """Mean and population std of one metric over the clips that have it."""

    mean: float | None
    std: float | None
    count: int


@dataclass(frozen=True)
class ProbeInfo:
    """The class probe's own accuracy on held-out one-object sounds (fractions)."""

    aisfx_version: str
    dry_accuracy: float
    bed_accuracy: float
    test_count: int


@dataclass(frozen=True)
class EvaluationReport:
    """Everything one evaluation run measured."""

    seeds: tuple[int, ...]
    seconds: float
    systems: tuple[str, ...]
    rows: tuple[ClipRow, ...]
    summary: dict[str, dict[str, MetricSummary]]  # system → metric → summary
    probe: ProbeInfo
    chance_class_match_pct: float  # what guessing one class at random would score
    fd_segments: int  # embeddings (≈2.3 s segments) per set in each FD


def summarise_metric(values: list[float | None]) -> MetricSummary:
    """Mean ± std of the values that are not None."""
    present = [v for v in values if v is not None]
    if not present:
        return MetricSummary(None, None, 0)
    return MetricSummary(float(np.mean(present)), float(np.std(present)), len(present))


def _cell(s: MetricSummary, metric: str) -> str:
    if s.mean is None:
        return "—"
    digits = 1 if metric in ("class_match_pct", "onset_error_ms", FD) else 3
    if s.std is None:
        return f"{s.mean:.{digits}f}"
    return f"{s.mean:.{digits}f} ± {s.std:.{digits}f}"


def _aligned(row: list[str], widths: list[int]) -> list[str]:
    """The first cell padded on the right, the others on the left."""
    return [row[0].ljust(widths[0])] + [
        c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
    ]


def format_table(report: EvaluationReport) -> str:
    """The summary as a plain-text table: one row per metric, one column per system."""
    probe = report.probe
    head = [
        f"{len(report.seeds)} held-out SynthSphere clips of {report.seconds:g} s "
        f"(seeds {min(report.seeds)}…{max(report.seeds)}); mean ± std over clips.",
        f"FD: Fréchet distance of aisfx {probe.aisfx_version} embeddings of W to the "
        f"reference's, {report.fd_segments} segments per set.",
        f"Class probe on {probe.test_count} held-out one-object sounds: "
        f"{100 * probe.dry_accuracy:.1f}% right dry, {100 * probe.bed_accuracy:.1f}% over the "
        f"ambience bed; class match by chance {report.chance_class_match_pct:.1f}%.",
        "",
    ]
    cells = [
        [LABELS[m], *(_cell(report.summary[s][m], m) for s in report.systems)] for m in METRICS
    ]
    table = [["metric", *report.systems], *cells]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(_aligned(row, widths)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(head + lines) + "\n"


def _csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return buffer.getvalue()


def clips_csv(report: EvaluationReport) -> str:
    """Per-clip rows as CSV text."""
    header = ["system", "seed", "classes", "predicted_class", *CLIP_METRICS]
    rows = [
        [r.system, r.seed, " ".join(r.classes), r.predicted_class]
        + [r.metrics.get(m) for m in CLIP_METRICS]
        for r in report.rows
    ]
    return _csv_text(header, rows)


def summary_csv(report: EvaluationReport) -> str:
    """The summary as CSV text: one row per system and metric."""
    rows = [
        [system, metric, s.mean, s.std, s.count]
        for system in report.systems
        for metric, s in report.summary[system].items()
    ]
    return _csv_text(["system", "metric", "mean", "std", "count"], rows)


def report_to_json(report: EvaluationReport) -> str:
    """The report as JSON text (missing values as null)."""
    return json.dumps(asdict(report), indent=1, allow_nan=False) + "\n"


def report_from_json(text: str) -> EvaluationReport:
    """Parse a report written by ``report_to_json``."""
    d = json.loads(text)
    return EvaluationReport(
        seeds=tuple(d["seeds"]),
        seconds=float(d["seconds"]),
        systems=tuple(d["systems"]),
        rows=tuple(
            ClipRow(r["system"], r["seed"], tuple(r["classes"]), r["predicted_class"], r["metrics"])
            for r in d["rows"]
        ),
        summary={
            system: {m: MetricSummary(**s) for m, s in metrics.items()}
            for system, metrics in d["summary"].items()
        },
        probe=ProbeInfo(**d["probe"]),
        chance_class_match_pct=float(d["chance_class_match_pct"]),
        fd_segments=int(d["fd_segments"]),
    )


REPORT_NAMES = (JSON_NAME, CLIPS_CSV_NAME, SUMMARY_CSV_NAME, TABLE_NAME)


def save_report(report: EvaluationReport, out_dir: Path) -> list[Path]:
    """Write the JSON, the two CSVs and the text table into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = {
        JSON_NAME: report_to_json(report),
        CLIPS_CSV_NAME: clips_csv(report),
        SUMMARY_CSV_NAME: summary_csv(report),
        TABLE_NAME: format_table(report),
    }
    paths = []
    for name, text in texts.items():
        path = out_dir / name
        write_atomic(path, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8"))
        paths.append(path)
    return paths
