"""The object-Foley family behind the family protocol: ``omnifoa-mini``.

Views: the panorama (the ERP frame padded to a square, 256 px) and a 64 px camera view with a
120° field of view, at 8 fps over 10 s windows of 44.1 kHz audio. ``encode`` measures every
class on each frame (:mod:`models.foley.detector`); ``sample`` makes each class present in
the panorama an object, reads its events (:mod:`models.foley.events`), voices it from the
bank (:mod:`models.foley.voices`) along its path (:mod:`models.foley.placement`), lifts what
the camera sees by up to ``focus_db`` and adds the diffuse bed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from safetensors import safe_open
from torch import Tensor

from models.checkpoint_files import read_tensors
from models.family import (
    Cancel,
    Continuation,
    ConversionReport,
    LoadSpec,
    ModelLoadError,
    Progress,
    SamplingCancelled,
    SamplingOptions,
    Take,
    ViewSpec,
    WeightsCopy,
    WindowSpec,
)
from models.foley.detector import (
    PixelClassifier,
    class_weights,
    panorama_band,
    panorama_measures,
    view_measures,
)
from models.foley.events import (
    EventReader,
    object_changes,
    onsets_from_strength,
    sounding_stretches,
)
from models.foley.placement import path_per_sample, place
from models.foley.vocabulary import (
    BANK_KEYS,
    BED_KEY,
    DETECTOR_KEYS,
    EVENT_KEYS,
    Vocabulary,
    VocabularyError,
)
from models.foley.voices import bed_voice, grain_voice, loop_voice

# What models.families knows an object-Foley file by: detector, event reader, sound bank, bed.
CHECKPOINT_PREFIXES = (DETECTOR_KEYS, EVENT_KEYS, BANK_KEYS, BED_KEY)
PANORAMA = "panorama"
FOV = "fov"
DEFAULT_FOV = 120.0
SAMPLE_RATE = 44100
WINDOW_SECONDS = 10.0
FRAME_RATE = 8.0
PANORAMA_SIZE = 256
FOV_SIZE = 64
# A class is an object of the window when it is found in at least this share of its frames.
OBJECT_FRAMES = 0.25
STEPS = 3  # progress steps per window: objects and events, voices, mix


def check_options(options: SamplingOptions) -> None:
    """ValueError (one sentence) for sampling settings this family does not have."""
    given = [
        flag
        for flag, value in (
            ("--steps", options.steps),
            ("--cfg", options.cfg),
            ("--sampler", options.sampler),
        )
        if value is not None
    ]
    if given:
        raise ValueError(
            "omnifoa-mini voices objects from its sound bank and has no sampling steps, "
            f"guidance or sampler; leave {', '.join(given)} unset."
        )


def camera_fov() -> float:
    """The field of view (degrees) of the camera view unless a request sets one."""
    return DEFAULT_FOV


def convert(
    source: str | os.PathLike[str], target: str | os.PathLike[str], weights_copy: WeightsCopy
) -> ConversionReport:
    """Object-Foley weights are written by ``omnifoa train``; there is nothing to convert."""
    raise ModelLoadError(
        "Object-Foley weights are made by omnifoa train as safetensors; there is no other "
        "checkpoint form to convert."
    )


def _vectors(directions: Tensor) -> Tensor:
    """Unit vectors [T, 3] of (azimuth, elevation) degrees [T, 2]."""
    az, el = torch.deg2rad(directions[:, 0]), torch.deg2rad(directions[:, 1])
    return torch.stack([el.cos() * az.cos(), el.cos() * az.sin(), el.sin()], dim=1).float()


def _filled(vectors: Tensor, present: Tensor) -> Tensor:
    """Frame vectors [T, 3] with each absent frame taking the nearest present frame's."""
    index = torch.nonzero(present)[:, 0]
    frames = torch.arange(vectors.shape[0])
    nearest = index[(frames[:, None] - index[None, :]).abs().argmin(dim=1)]
    return vectors[nearest]


class FoleyModel:
    """A loaded object-Foley model: classifier, event reader, sound bank and bed."""

    family = "foley"

    def __init__(
        self,
        preset: str,
        vocabulary: Vocabulary,
        classifier: PixelClassifier,
        reader: EventReader,
        bank: dict[str, list[Tensor]],
        bed: Tensor,
    ) -> None:
        self.preset = preset
        self.vocabulary = vocabulary
        self.classifier = classifier.eval()
        self.reader = reader.eval()
        self.bank = bank
        self.bed = bed
        self.device = torch.device("cpu")
        self.views = (
            ViewSpec(PANORAMA, "panorama", PANORAMA_SIZE),
            ViewSpec(FOV, "perspective", FOV_SIZE, DEFAULT_FOV),
        )
        self.window = WindowSpec(
            sample_rate=SAMPLE_RATE,
            samples=round(WINDOW_SECONDS * SAMPLE_RATE),
            seconds=WINDOW_SECONDS,
            frame_rate=FRAME_RATE,
        )

    def check_options(self, options: SamplingOptions) -> None:
        check_options(options)

    def steps(self, options: SamplingOptions) -> int:
        return STEPS

    @torch.inference_mode()
    def encode(self, views: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Panorama measures [T, classes, 5] and camera-view measures [T, classes, 2]."""
        out = {}
        if PANORAMA in views:
            band = panorama_band(views[PANORAMA].float())
            weights = class_weights(self.classifier(band, wrap=True))
            out[PANORAMA] = panorama_measures(band, weights)
        if FOV in views:
            out[FOV] = view_measures(class_weights(self.classifier(views[FOV].float())))
        return out

    def _objects(
        self, features: Mapping[str, Tensor], directions: Tensor, without: frozenset[str]
    ) -> list[dict[str, Any]]:
        """Each object of the window: class, frame vectors, onsets (s) and seen share."""
        s = self.vocabulary.settings
        frames = directions.shape[0]
        share, distance = features[FOV][..., 0], features[FOV][..., 1]
        seen = share > s.fov_presence
        # how much each frame lifts a class: 1 at the view's centre, falling off outwards
        looked_at = seen * torch.exp(-((distance / s.focus_spread) ** 2))
        if PANORAMA in without:  # the camera view alone: what it sees, where it looks
            measures = torch.zeros(frames, seen.shape[1], 5)
            measures[..., 0] = share
            measures[..., 1:4] = _vectors(directions)[:, None, :]
            present = seen
        else:
            measures = features[PANORAMA]
            present = measures[..., 0] > s.presence
        objects = []
        for c, sound_class in enumerate(self.vocabulary.classes):
            if float(present[:, c].float().mean()) < OBJECT_FRAMES:
                continue
            track = measures[:, c]
            strength = self.reader(object_changes(track)) * present[:, c]
            onsets = onsets_from_strength(
                strength, FRAME_RATE, s.event_threshold, s.event_seconds, s.frame_lag
            )
            objects.append(
                {
                    "class": sound_class,
                    "vectors": _filled(track[:, 1:4], present[:, c]),
                    "onsets": onsets,
                    "seen": 0.0 if FOV in without else float(looked_at[:, c].mean()),
                }
            )
        return objects

    def _take(self, objects: list[dict[str, Any]], generator: torch.Generator) -> Tensor:
        """One take's FOA [4, samples] of the window's objects over the bed."""
        s = self.vocabulary.settings
        n, rate = self.window.samples, SAMPLE_RATE
        mix = bed_voice(self.bed, n, rate, generator) * 10.0 ** (s.bed_db / 20.0)
        for obj in objects:
            sound_class = obj["class"]
            exemplars = self.bank[sound_class.name]
            if sound_class.continuous:
                stretches = sounding_stretches(obj["onsets"], WINDOW_SECONDS, s.gap_seconds)
                voice = loop_voice(exemplars, stretches, n, rate, generator)
            else:
                voice = grain_voice(exemplars, obj["onsets"], n, rate, generator)
            gain_db = s.object_db + sound_class.level_db + s.focus_db * obj["seen"]
            path = path_per_sample(obj["vectors"], n, FRAME_RATE, rate)
            mix += place(voice * 10.0 ** (gain_db / 20.0), path)
        return mix

    @torch.inference_mode()
    def sample(
        self,
        features: Mapping[str, Tensor],
        directions: Tensor,
        seed: int,
        variations: int,
        options: SamplingOptions,
        without: frozenset[str] = frozenset(),
        progress: Progress | None = None,
        cancel: Cancel | None = None,
        continuation: Continuation | None = None,
    ) -> Take:
        """FOA [variations, 4, N] of one window; windows are independent (no continuation).

        Without ``panorama`` the objects are what the camera view sees, placed where it
        looks; without ``fov`` nothing is brought forward.
        """

        def step(done: int) -> None:
            if cancel is not None and cancel():
                raise SamplingCancelled("cancelled")
            if progress is not None:
                progress(done, STEPS)

        step(0)
        objects = self._objects(features, directions, without)
        step(1)
        generator = torch.Generator().manual_seed(int(seed))
        takes = [self._take(objects, generator) for _ in range(variations)]
        step(2)
        audio = torch.stack(takes).float()
        step(STEPS)
        return Take(audio, record={"objects": [_describe_object(o) for o in objects]})

    def place_voice(self, voice: Tensor, azimuth: float, elevation: float) -> Tensor:
        """AmbiX [4, N] of a mono voice placed as every object's voice is placed."""
        direction = torch.tensor([[azimuth, elevation]], dtype=torch.float64)
        path = path_per_sample(_vectors(direction), voice.numel(), FRAME_RATE, SAMPLE_RATE)
        return place(voice.float(), path)

    def describe(self, options: SamplingOptions) -> dict[str, Any]:
        return {
            "family": self.family,
            "preset": self.preset,
            "classes": [c.name for c in self.vocabulary.classes],
            "views": {PANORAMA: PANORAMA_SIZE, FOV: FOV_SIZE},
        }


def _describe_object(obj: dict[str, Any]) -> dict[str, Any]:
    """What a sidecar records of one object: class, mean direction, onsets, seen share."""
    mean = obj["vectors"].mean(dim=0)
    az = float(torch.rad2deg(torch.atan2(mean[1], mean[0])))
    el = float(torch.rad2deg(torch.atan2(mean[2], mean[:2].norm())))
    return {
        "class": obj["class"].name,
        "azimuth": round(az, 1),
        "elevation": round(el, 1),
        "onsets": [round(t, 3) for t in obj["onsets"]],
        "seen": round(obj["seen"], 2),
    }


def _bank(tensors: dict[str, Tensor], vocabulary: Vocabulary, name: str) -> dict[str, list[Tensor]]:
    bank: dict[str, list[Tensor]] = {}
    for sound_class in vocabulary.classes:
        prefix = f"{BANK_KEYS}{sound_class.name}."
        keys = sorted((k for k in tensors if k.startswith(prefix)), key=lambda k: k[len(prefix) :])
        exemplars = [tensors[k] for k in keys]
        if not exemplars or any(e.dim() != 1 or e.numel() < 64 for e in exemplars):
            raise ModelLoadError(
                f"{name} has no usable sounds for the class {sound_class.name!r}; retrain it "
                "with omnifoa train."
            )
        bank[sound_class.name] = exemplars
    return bank


def _module_state(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix) :]: v.float() for k, v in tensors.items() if k.startswith(prefix)}


def load_weights_file(path: str | os.PathLike[str], preset: str) -> FoleyModel:
    """The model a weights file holds; ModelLoadError names what is wrong with it."""
    name = os.path.basename(os.fspath(path))
    tensors = read_tensors(path)
    try:
        with safe_open(os.fspath(path), "pt") as handle:
            vocabulary = Vocabulary.from_metadata(handle.metadata())
    except VocabularyError as exc:
        raise ModelLoadError(f"{name} is not an object-Foley model: {exc}.") from None
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelLoadError(f"{name} holds non-finite numbers in {key}; retrain it.")
    classifier, reader = PixelClassifier(len(vocabulary.classes)), EventReader()
    for module, prefix in ((classifier, DETECTOR_KEYS), (reader, EVENT_KEYS)):
        try:
            module.load_state_dict(_module_state(tensors, prefix))
        except RuntimeError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "shapes differ"
            raise ModelLoadError(
                f"{name}: its {prefix[:-1]} weights do not fit ({first})."
            ) from None
    bed = tensors.get(BED_KEY)
    if bed is None or bed.dim() != 2 or bed.shape[0] != 4 or bed.shape[1] < SAMPLE_RATE:
        raise ModelLoadError(f"{name} has no 4-channel bed of at least 1 s; retrain it.")
    return FoleyModel(preset, vocabulary, classifier, reader, _bank(tensors, vocabulary, name), bed)


def load(spec: LoadSpec) -> FoleyModel:
    """The object-Foley model of ``spec`` (it runs on the CPU whatever the device)."""
    if spec.weights_copy == "ema":
        raise ModelLoadError(
            f"{spec.preset} has no EMA copy: its weights are not averaged; leave out --ema."
        )
    return load_weights_file(spec.weights, spec.preset)
