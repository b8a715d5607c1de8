"""The engine behind ``omnifoa eval``: systems scored on held-out SynthSphere clips.

Spatial metrics of OmniAudio and ViSAGe against the ground-truth FOA, a Fréchet distance
and a class probe on pretrained aisfx embeddings, onset alignment, and baselines that keep
the sound but lose the space. ``run_evaluation`` runs them all; ``format_table`` prints.
"""

from plugin_core.evaluation.clips import HELD_OUT_SEEDS, EvalClip, GenerateFn, render_clip
from plugin_core.evaluation.report import (
    EvaluationReport,
    format_table,
    report_from_json,
    save_report,
)
from plugin_core.evaluation.runner import run_evaluation

__all__ = [
    "HELD_OUT_SEEDS",
    "EvalClip",
    "EvaluationReport",
    "GenerateFn",
    "format_table",
    "render_clip",
    "report_from_json",
    "run_evaluation",
    "save_report",
]
