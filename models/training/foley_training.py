"""Training the object-Foley model: the pixel classifier, then the event reader on what the
trained classifier measures, then the reader's threshold and fade chosen for onset F1.

Torch only: the scenes arrive as tensors (panorama bands, labels, event strengths); the sound
bank and the levels arrive ready. ``assemble`` writes one safetensors file with the
vocabulary and settings in its metadata.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional

from models.checkpoint_files import save_safetensors
from models.foley.detector import PixelClassifier, class_weights, panorama_measures
from models.foley.events import EventReader, object_changes, onsets_from_strength
from models.foley.vocabulary import (
    BANK_KEYS,
    BED_KEY,
    DETECTOR_KEYS,
    EVENT_KEYS,
    FoleySettings,
    SoundClass,
    Vocabulary,
)

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainingScene:
    """One scene: band [T, 3, H, W] uint8, labels [T, H, W] (0 background, 1 + class),
    the class of each object, its event strength per frame [objects, T], and a camera view
    of each frame [T, 3, S, S] uint8 with its labels [T, S, S]."""

    band: Tensor
    labels: Tensor
    classes: tuple[int, ...]
    strength: Tensor
    camera: Tensor
    camera_labels: Tensor


def _augment(images: Tensor, generator: torch.Generator) -> Tensor:
    """Small brightness and noise changes, as a video codec and a camera would make."""
    gain = 1.0 + 0.06 * (torch.rand(images.shape[0], 1, 1, 1, generator=generator) - 0.5)
    noise = torch.randn(images.shape, generator=generator) * (2.0 / 255.0)
    return (images * gain + noise).clamp(0.0, 1.0)


def train_classifier(
    scenes: Sequence[TrainingScene], classes: int, steps: int, seed: int, log: Log
) -> PixelClassifier:
    """The pixel classifier, trained on random batches of panorama bands and of camera views
    (each step one of each) with class-balanced loss."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = PixelClassifier(classes)
    bands = torch.cat([s.band for s in scenes])
    labels = torch.cat([s.labels for s in scenes]).long()
    cameras = torch.cat([s.camera for s in scenes])
    camera_labels = torch.cat([s.camera_labels for s in scenes]).long()
    counts = torch.bincount(labels.flatten(), minlength=1 + classes).float().clamp(min=1.0)
    weight = (counts.sum() / counts) ** 0.25  # rare classes count more, background still counts
    weight = weight / weight.mean()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    for step in range(steps):
        pick = torch.randint(bands.shape[0], (8,), generator=generator)
        images = _augment(bands[pick].float() / 255.0, generator)
        loss = functional.cross_entropy(model(images, wrap=True), labels[pick], weight=weight)
        pick = torch.randint(cameras.shape[0], (16,), generator=generator)
        views = _augment(cameras[pick].float() / 255.0, generator)
        loss = loss + functional.cross_entropy(model(views), camera_labels[pick], weight=weight)
        _descend(optimiser, loss, f"classifier step {step + 1}/{steps}", step % 100 == 0, log)
        schedule.step()
    log(f"classifier step {steps}/{steps}: loss {loss.item():.4f}")
    return model.eval()


def _descend(
    optimiser: torch.optim.Optimizer, loss: Tensor, what: str, tell: bool, log: Log
) -> None:
    """One optimiser step on ``loss``; logs ``what`` and the loss when ``tell``."""
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    if tell:
        log(f"{what}: loss {loss.item():.5f}")


@torch.inference_mode()
def object_tracks(
    classifier: PixelClassifier, scenes: Sequence[TrainingScene]
) -> list[tuple[Tensor, Tensor]]:
    """(reader inputs [T, 6], true strength [T]) of every object the classifier finds."""
    out = []
    for scene in scenes:
        band = scene.band.float() / 255.0
        measures = panorama_measures(band, class_weights(classifier(band, wrap=True)))
        for index, c in enumerate(scene.classes):
            out.append((object_changes(measures[:, c]), scene.strength[index].float()))
    return out


def train_reader(
    tracks: Sequence[tuple[Tensor, Tensor]], steps: int, seed: int, log: Log
) -> EventReader:
    """The event reader, fitted to the true strengths by squared error."""
    torch.manual_seed(seed)
    reader = EventReader()
    inputs = torch.cat([t[0] for t in tracks]).clamp(-8.0, 8.0)
    targets = torch.cat([t[1] for t in tracks])
    optimiser = torch.optim.Adam(reader.parameters(), lr=1e-2)
    for step in range(steps):
        loss = functional.mse_loss(reader(inputs), targets)
        _descend(optimiser, loss, f"event reader step {step + 1}/{steps}", step % 200 == 0, log)
    log(f"event reader step {steps}/{steps}: loss {loss.item():.5f}")
    return reader.eval()


@torch.inference_mode()
def choose_event_timing(
    reader: EventReader,
    tracks: Sequence[tuple[Tensor, Tensor]],
    onsets: Sequence[Sequence[float]],
    frame_rate: float,
    lag: float,
    matched: Callable[[Sequence[float], Sequence[float]], int],
) -> tuple[float, float, float]:
    """(threshold, fade seconds, F1) that give the best onset F1 over the training objects;
    ``matched(truth, found)`` counts the true onsets a found one pairs with."""
    strengths = [reader(t[0].clamp(-8.0, 8.0)) for t in tracks]
    best = (0.3, 0.15, -1.0)
    for threshold in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4):
        for fade in (0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2):
            hits = truths = founds = 0
            for strength, truth in zip(strengths, onsets, strict=True):
                found = onsets_from_strength(strength, frame_rate, threshold, fade, lag)
                hits += matched(truth, found)
                truths, founds = truths + len(truth), founds + len(found)
            f1 = 2 * hits / max(1, truths + founds)
            if f1 > best[2]:
                best = (threshold, fade, f1)
    return best


def assemble(
    path: str | os.PathLike[str],
    classes: Sequence[SoundClass],
    settings: FoleySettings,
    classifier: PixelClassifier,
    reader: EventReader,
    bank: dict[str, Sequence[Tensor]],
    bed: Tensor,
) -> None:
    """Write the model file: weights, the bank (float16) and the vocabulary as metadata."""
    state: dict[str, Tensor] = {}
    state.update({f"{DETECTOR_KEYS}{k}": v for k, v in classifier.state_dict().items()})
    state.update({f"{EVENT_KEYS}{k}": v for k, v in reader.state_dict().items()})
    for name, exemplars in bank.items():
        for i, sound in enumerate(exemplars):
            state[f"{BANK_KEYS}{name}.{i:02d}"] = sound.to(torch.float16)
    state[BED_KEY] = bed.to(torch.float16)
    save_safetensors(state, path, metadata=Vocabulary(tuple(classes), settings).to_metadata())
