"""``omnifoa train``: the bundled object-Foley model made from SynthSphere, start to end.

Scene views are cached one file per scene in the work folder, and the classifier and the
reader are kept there once trained, so a rerun after a stop resumes where it was. The weights
file and a training record (seeds, steps, measured settings, minutes) are written at the end.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from models.checkpoint_files import save_safetensors
from models.foley.detector import PixelClassifier
from models.foley.events import EventReader
from models.foley.family import FRAME_RATE, load_weights_file
from models.foley.vocabulary import FoleySettings, SoundClass
from models.training.foley_training import (
    TrainingScene,
    assemble,
    choose_event_timing,
    object_tracks,
    train_classifier,
    train_reader,
)
from plugin_core.atomic_files import write_atomic
from plugin_core.synthsphere import SOUND_CLASSES, make_scene
from plugin_core.synthsphere.catalogue import PROFILES
from plugin_core.synthsphere.onset_matching import matched_onsets
from plugin_core.training.foley_data import (
    SceneViews,
    bed_exemplar,
    cached_scene_views,
    class_levels,
    measured_levels,
    sound_bank,
    training_seeds,
)

Log = Callable[[str], None]
SCENES = 96
CLASSIFIER_STEPS = 1600
READER_STEPS = 1500
EXEMPLARS = 6
# Chosen, not measured (SynthSphere's sound does not depend on the camera): how much an
# object the camera looks straight at all the time is brought forward, and how fast that
# falls off away from the view's centre (in half widths: an object 0.2 half widths off it,
# 19° in a 120° view, gets 72 %; one at 0.4, 35°, gets 27 %).
FOCUS_DB = 4.5
FOCUS_SPREAD = 0.35
PRESENCE = 0.002  # share of the sphere: a third of the smallest object (9° radius)
FOV_PRESENCE = 0.0015  # share of the camera view: 6 pixels of a 64 px view
# Exemplar seeds start far above the scene seeds so no training scene's sound is in the bank.
BANK_SEED = 500_000


def _scene(views: SceneViews) -> TrainingScene:
    return TrainingScene(
        torch.from_numpy(views.band),
        torch.from_numpy(views.labels),
        views.classes,
        torch.from_numpy(views.strength),
        torch.from_numpy(views.camera),
        torch.from_numpy(views.camera_labels),
    )


def _kept(
    path: Path, build: Callable[[], torch.nn.Module], module: torch.nn.Module
) -> torch.nn.Module:
    """``module`` loaded from ``path`` when a previous run kept it, else built and kept."""
    if path.is_file():
        module.load_state_dict(load_file(str(path)))
        return module.eval()
    built = build()
    save_safetensors(built.state_dict(), path)
    return built


def train_foley(
    work: Path,
    weights: Path,
    scenes: int = SCENES,
    classifier_steps: int = CLASSIFIER_STEPS,
    reader_steps: int = READER_STEPS,
    log: Log = print,
) -> dict:
    """Train the bundled model in ``work`` and write it to ``weights``; return the record."""
    started = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    seeds = training_seeds(scenes)
    views = []
    for i, seed in enumerate(seeds):
        views.append(cached_scene_views(seed, work / "scenes"))
        if (i + 1) % 16 == 0 or i + 1 == len(seeds):
            log(f"scene views {i + 1}/{len(seeds)}")
    data = [_scene(v) for v in views]
    classes = len(SOUND_CLASSES)
    classifier = _kept(
        work / "classifier.safetensors",
        lambda: train_classifier(data, classes, classifier_steps, 0, log),
        PixelClassifier(classes),
    )
    tracks = object_tracks(classifier, data)
    reader = _kept(
        work / "reader.safetensors",
        lambda: train_reader(tracks, reader_steps, 0, log),
        EventReader(),
    )
    onsets = [list(obj.onsets) for seed in seeds for obj in make_scene(seed).objects]
    slots = np.arange(len(views[0].shown)) / FRAME_RATE
    lag = float(np.mean([np.mean(v.shown - slots) for v in views]))
    threshold, fade, f1 = choose_event_timing(
        reader, tracks, onsets, FRAME_RATE, lag, matched_onsets
    )
    log(f"event threshold {threshold}, fade {fade} s: training onset F1 {f1:.3f}")
    levels = measured_levels(seeds)
    settings = FoleySettings(
        object_db=round(levels["object_db"], 2),
        bed_db=round(levels["bed_db"], 2),
        focus_db=FOCUS_DB,
        focus_spread=FOCUS_SPREAD,
        event_seconds=fade,
        event_threshold=threshold,
        frame_lag=round(lag, 4),
        gap_seconds=round(levels["gap_seconds"], 3),
        presence=PRESENCE,
        fov_presence=FOV_PRESENCE,
    )
    bank = {
        name: [torch.from_numpy(s) for s in sounds]
        for name, sounds in sound_bank(EXEMPLARS, BANK_SEED).items()
    }
    bed = torch.from_numpy(bed_exemplar(BANK_SEED))
    calibration = class_levels(bank, seeds)
    log(f"class levels (dB): {calibration}")
    vocabulary = tuple(SoundClass(n, PROFILES[n].continuous, calibration[n]) for n in SOUND_CLASSES)

    def write(tmp: Path) -> None:
        assemble(tmp, vocabulary, settings, classifier, reader, bank, bed)
        load_weights_file(tmp, "omnifoa-mini")  # what was written loads

    write_atomic(weights, write)
    record = {
        "model": "omnifoa-mini",
        "family": "foley",
        "training_seeds": [seeds[0], seeds[-1]],
        "bank_seed": BANK_SEED,
        "exemplars_per_class": EXEMPLARS,
        "classifier_steps": classifier_steps,
        "reader_steps": reader_steps,
        "training_onset_f1": round(f1, 4),
        "class_levels_db": calibration,
        "settings": asdict(settings),
        "minutes": round((time.monotonic() - started) / 60.0, 2),
        "cpu_threads": torch.get_num_threads(),
        "bytes": os.path.getsize(weights),
    }
    text = json.dumps(record, indent=1) + "\n"
    write_atomic(work / "training_record.json", lambda tmp: tmp.write_text(text))
    return record
