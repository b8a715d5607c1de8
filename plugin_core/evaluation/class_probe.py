"""A sound-class probe that judges generated audio without sharing weights with the generator.

A multinomial logistic regression on aisfx embeddings, trained on SynthSphere object sounds
(one object with its level envelope, dry and over its scene's ambience bed) of seeds that
neither the generator's training nor the evaluation split use. It is cached as safetensors,
keyed by the aisfx version and the probe's settings, so it is trained once per machine.

Class-match rule: a clip matches when the probe's top class, from the W channel, is one of
the classes of the clip's ground-truth objects. The mix holds 1–3 objects, and the probe
hears whichever dominates; any of them is a fair answer, so the chance level is the mean
share of the eight classes present in a clip (about 2/8).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors.numpy import load_file, save_file
from tqdm import tqdm

from plugin_core.atomic_files import write_atomic
from plugin_core.evaluation.audio_embedding import aisfx_version, embed, one_torch_thread
from plugin_core.synthsphere import SOUND_CLASSES, Scene, make_scene
from plugin_core.synthsphere.soundfield import ambience, object_signal

Float = NDArray[np.float64]
TRAIN_SEEDS = range(3_000_000, 3_000_008)
TEST_SEEDS = range(3_100_000, 3_100_008)
SOUND_SECONDS = 2.5
WEIGHT_DECAY = 1e-3
# Bump when the probe's training changes, so old cache files are not used.
PROBE_FORMAT = 1


@dataclass(frozen=True)
class ClassProbe:
    """Standardisation and logistic-regression weights over aisfx embeddings."""

    classes: tuple[str, ...]
    mean: Float  # [512]
    scale: Float  # [512]
    weight: Float  # [classes, 512]
    bias: Float  # [classes]
    dry_accuracy: float  # share of held-out dry sounds classified right
    bed_accuracy: float  # the same sounds over their ambience bed
    test_count: int  # held-out sounds per condition

    def probabilities(self, embeddings: np.ndarray) -> Float:
        """Class probabilities [classes] of a sound, averaged over its blocks [blocks, 512]."""
        logits = ((embeddings - self.mean) / self.scale) @ self.weight.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True)).mean(axis=0)

    def predict(self, embeddings: np.ndarray) -> str:
        """The most probable class of a sound from its block embeddings."""
        return self.classes[int(np.argmax(self.probabilities(embeddings)))]


def class_match(predicted: str, scene: Scene) -> bool:
    """Whether ``predicted`` is the class of one of the scene's objects."""
    return predicted in {o.sound_class for o in scene.objects}


def probe_seeds() -> set[int]:
    """Every scene seed the probe is trained or tested on."""
    return set(TRAIN_SEEDS) | set(TEST_SEEDS)


def class_sound(
    sound_class: str, seed: int, seconds: float = SOUND_SECONDS, *, bed: bool = False
) -> Float:
    """The mono sound of a one-object scene of ``sound_class``: dry, or over its ambience bed."""
    scene = make_scene(seed, seconds, classes=[sound_class])
    sound = object_signal(scene, scene.objects[0])
    return sound + ambience(scene)[0] if bed else sound


def _embedded_sounds(seeds: range, bed: bool, progress: bool) -> list[tuple[int, Float]]:
    """(class index, block embeddings) for every class and seed."""
    jobs = [(c, s) for c in range(len(SOUND_CLASSES)) for s in seeds]
    what = f"probe sounds ({'over the bed' if bed else 'dry'}, seeds from {seeds.start})"
    return [
        (c, embed(class_sound(SOUND_CLASSES[c], seed, bed=bed)))
        for c, seed in tqdm(jobs, desc=what, disable=not progress)
    ]


def _fit(features: Float, labels: NDArray[np.int64], classes: int) -> tuple[Float, Float]:
    """Weights [classes, dim] and bias [classes] of an L2-regularised softmax regression."""
    x = torch.from_numpy(features)
    y = torch.from_numpy(labels)
    weight = torch.zeros(classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=500, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        value = torch.nn.functional.cross_entropy(x @ weight.T + bias, y)
        value = value + WEIGHT_DECAY * (weight**2).sum()
        value.backward()
        return value

    with one_torch_thread():
        optimiser.step(loss)
    return weight.detach().numpy(), bias.detach().numpy()


def _accuracy(probe: ClassProbe, sounds: list[tuple[int, Float]]) -> float:
    return sum(probe.predict(e) == probe.classes[c] for c, e in sounds) / len(sounds)


def train_probe(progress: bool = True) -> ClassProbe:
    """Train the probe on sounds of TRAIN_SEEDS and test it on those of TEST_SEEDS.

    It learns from each training sound twice, dry and over its scene's ambience bed (the
    bed alone sounds like water to a probe that never heard it under other classes).
    """
    train = [s for bed in (False, True) for s in _embedded_sounds(TRAIN_SEEDS, bed, progress)]
    features = np.concatenate([e for _, e in train])
    labels = np.concatenate([np.full(len(e), c) for c, e in train])
    mean = features.mean(axis=0)
    scale = np.maximum(features.std(axis=0), 1e-6)
    weight, bias = _fit((features - mean) / scale, labels, len(SOUND_CLASSES))
    probe = ClassProbe(SOUND_CLASSES, mean, scale, weight, bias, float("nan"), float("nan"), 0)
    dry, bed = (_embedded_sounds(TEST_SEEDS, b, progress) for b in (False, True))
    return replace(
        probe,
        dry_accuracy=_accuracy(probe, dry),
        bed_accuracy=_accuracy(probe, bed),
        test_count=len(dry),
    )


def default_cache_dir() -> Path:
    """omnifoa's cache folder: $XDG_CACHE_HOME/omnifoa, or ~/.cache/omnifoa."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "omnifoa"


def probe_cache_path(cache_dir: Path) -> Path:
    """The cache file of the probe for the installed aisfx and the current settings."""
    settings = {
        "format": PROBE_FORMAT,
        "classes": SOUND_CLASSES,
        "train": [TRAIN_SEEDS.start, TRAIN_SEEDS.stop],
        "test": [TEST_SEEDS.start, TEST_SEEDS.stop],
        "seconds": SOUND_SECONDS,
        "weight_decay": WEIGHT_DECAY,
    }
    key = hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:16]
    return cache_dir / f"class_probe_aisfx-{aisfx_version()}_{key}.safetensors"


def save_probe(probe: ClassProbe, path: Path) -> None:
    """Write the probe as safetensors (arrays) with its classes and accuracy as metadata."""
    arrays = {"mean": probe.mean, "scale": probe.scale, "weight": probe.weight, "bias": probe.bias}
    meta = {
        "classes": json.dumps(probe.classes),
        "dry_accuracy": repr(probe.dry_accuracy),
        "bed_accuracy": repr(probe.bed_accuracy),
        "test_count": str(probe.test_count),
        "aisfx": aisfx_version(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: save_file(arrays, str(tmp), metadata=meta))


def load_probe(path: Path) -> ClassProbe:
    """Read a probe written by ``save_probe``."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    arrays = load_file(str(path))
    return ClassProbe(
        tuple(json.loads(meta["classes"])),
        arrays["mean"],
        arrays["scale"],
        arrays["weight"],
        arrays["bias"],
        float(meta["dry_accuracy"]),
        float(meta["bed_accuracy"]),
        int(meta["test_count"]),
    )


def cached_probe(cache_dir: Path | None = None, progress: bool = True) -> ClassProbe:
    """The cached probe, trained and cached first if there is none for this aisfx."""
    path = probe_cache_path(default_cache_dir() if cache_dir is None else cache_dir)
    if path.is_file():
        return load_probe(path)
    probe = train_probe(progress)
    save_probe(probe, path)
    return probe
