"""``run_evaluation``: every system on every held-out clip, scored the same way."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from tqdm import tqdm

from plugin_core.evaluation import baselines
from plugin_core.evaluation.artefacts import CODEC_HOP, frame_rate_artefacts
from plugin_core.evaluation.audio_embedding import aisfx_version, embed, frechet_distance
from plugin_core.evaluation.class_probe import cached_probe, class_match, probe_seeds
from plugin_core.evaluation.clips import (
    HELD_OUT_SEEDS,
    SAMPLE_RATE,
    GenerateFn,
    fit_length,
    render_clip,
)
from plugin_core.evaluation.onsets import (
    detect_onsets,
    ground_truth_onsets,
    onset_error_ms,
    onset_f1,
)
from plugin_core.evaluation.report import (
    CLIP_METRICS,
    FD,
    ClipRow,
    EvaluationReport,
    MetricSummary,
    ProbeInfo,
    save_report,
    summarise_metric,
)
from plugin_core.evaluation.sound_measures import onset_envelope_correlation, tonal_share
from plugin_core.evaluation.spatial import spatial_scores
from plugin_core.synthsphere import SOUND_CLASSES

BUILT_IN: dict[str, GenerateFn] = {
    "reference": baselines.reference,
    "front": baselines.front,
    "random": baselines.random_direction,
}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def run_evaluation(
    systems: Mapping[str, GenerateFn],
    seeds: Iterable[int] = HELD_OUT_SEEDS,
    seconds: float = 10.0,
    out_dir: Path | None = None,
    progress: bool = True,
    cache_dir: Path | None = None,
    codec_hop: int = CODEC_HOP,
) -> EvaluationReport:
    """Score the built-in systems (reference, front, random) and ``systems`` on each seed.

    Each clip is rendered once and handed to every system; each output is trimmed or
    padded to the reference length. ``cache_dir`` holds the class probe (default: the
    user cache); ``codec_hop`` is the period the buzz measures look for. With ``out_dir``
    the report is also written there as JSON, CSV and text.
    """
    clash = BUILT_IN.keys() & systems.keys()
    if clash:
        raise ValueError(f"system names {sorted(clash)} are taken by the built-in baselines")
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("the evaluation needs at least one seed")
    shared = probe_seeds() & set(seeds)
    if shared:
        raise ValueError(f"seeds {sorted(shared)[:3]}… are the class probe's; use others")
    everything = {**BUILT_IN, **systems}
    probe = cached_probe(cache_dir, progress)
    rows: list[ClipRow] = []
    segments: dict[str, list[np.ndarray]] = {name: [] for name in everything}
    present = []
    for seed in tqdm(seeds, desc="evaluation clips", disable=not progress):
        clip = render_clip(seed, seconds)
        classes = tuple(o.sound_class for o in clip.scene.objects)
        present.append(len(set(classes)) / len(SOUND_CLASSES))
        truth_onsets = ground_truth_onsets(clip.scene)
        for name, generate in everything.items():
            foa = fit_length(generate(clip), clip.foa.shape[1])
            found = detect_onsets(foa[0], SAMPLE_RATE)
            embeddings = embed(foa[0])
            segments[name].append(embeddings)
            predicted = probe.predict(embeddings)
            metrics: dict[str, float | None] = {
                **spatial_scores(foa, clip.foa, SAMPLE_RATE),
                "class_match_pct": 100.0 if class_match(predicted, clip.scene) else 0.0,
                "onset_error_ms": onset_error_ms(truth_onsets, found),
                "onset_f1": onset_f1(truth_onsets, found),
                "onset_envelope_r": onset_envelope_correlation(foa[0], clip.foa[0], SAMPLE_RATE),
                "tonal_share": tonal_share(foa[0]),
                **frame_rate_artefacts(foa[0], codec_hop),
            }
            metrics = {k: _finite(v) for k, v in metrics.items()}
            rows.append(ClipRow(name, seed, classes, predicted, metrics))
    reference_set = np.concatenate(segments["reference"])
    summary: dict[str, dict[str, MetricSummary]] = {}
    for name in everything:
        own = [r for r in rows if r.system == name]
        summary[name] = {m: summarise_metric([r.metrics[m] for r in own]) for m in CLIP_METRICS}
        generated = np.concatenate(segments[name])
        fd = _finite(frechet_distance(generated, reference_set)) if len(reference_set) > 1 else None
        summary[name][FD] = MetricSummary(fd, None, len(generated))
    report = EvaluationReport(
        seeds=seeds,
        seconds=float(seconds),
        systems=tuple(everything),
        rows=tuple(rows),
        summary=summary,
        probe=ProbeInfo(aisfx_version(), probe.dry_accuracy, probe.bed_accuracy, probe.test_count),
        chance_class_match_pct=100.0 * float(np.mean(present)),
        fd_segments=len(reference_set),
    )
    if out_dir is not None:
        save_report(report, Path(out_dir))
    return report
