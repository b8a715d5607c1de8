"""The one protocol between the generation pipeline and a model family.

A family says how long its window is and at what frame rate it wants which views
(:class:`WindowSpec`, :class:`ViewSpec`); the pipeline decodes the frames, cuts those views
(panorama or perspective crops aimed along the request's direction path) and hands them to
:meth:`FamilyModel.encode`; per-frame features come back, the pipeline keeps the ones two
windows share, and :meth:`FamilyModel.sample` turns one window's features into FOA.
Progress and cancel reach the family as two callbacks. The pipeline imports this module
and :mod:`models.families`, never a family's own modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from torch import Tensor

Progress = Callable[[int, int], None]  # (steps done, steps in all)
Cancel = Callable[[], bool]  # True: stop at the next step
Projection = Literal["panorama", "perspective"]
WeightsCopy = Literal["model", "ema"]


class ModelLoadError(ValueError):
    """A model cannot be loaded; the message is one sentence saying what to do."""


class SamplingCancelled(RuntimeError):
    """Sampling was stopped by its cancel check before it finished."""


@dataclass(frozen=True)
class ViewSpec:
    """One per-frame view a family's encoders take: the whole panorama or a perspective crop.

    ``size`` is the encoder's square input in pixels; ``fov`` the perspective crop's default
    horizontal field of view in degrees (a request may set its own).
    """

    name: str
    projection: Projection
    size: int
    fov: float | None = None


@dataclass(frozen=True)
class WindowSpec:
    """One model window: the audio it returns and the video it conditions on."""

    sample_rate: int  # Hz of the audio a window returns
    samples: int  # audio samples a window returns
    seconds: float  # video seconds a window conditions on
    frame_rate: float  # frames per second its views are taken at
    hop_step: int = 1  # windows start a whole number of these samples apart (a codec frame)

    @property
    def frames(self) -> int:
        """Video frames per window."""
        return round(self.seconds * self.frame_rate)


@dataclass(frozen=True)
class SamplingOptions:
    """What a user may change about sampling; None keeps the family's own setting."""

    steps: int | None = None
    cfg: float | None = None
    sampler: str | None = None


@dataclass(frozen=True)
class Continuation:
    """What the previous window of a stem left for the next: the family's own state (from
    :class:`Take`) and how many samples the two windows share."""

    state: object
    overlap: int


@dataclass(frozen=True)
class Take:
    """One window's FOA [variations, 4, samples] (AmbiX, float32, CPU), what the family keeps
    for continuing into the next window (None: nothing), and what a sidecar should record of
    this window (JSON-ready)."""

    audio: Tensor
    state: object = None
    record: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConversionReport:
    """What converting a checkpoint to safetensors did."""

    tensors: int  # written
    left_out: int  # tensors of the file inference does not use
    source: str  # the form the file had ("lightning", "exported state dict", ...)


@dataclass(frozen=True)
class LoadSpec:
    """What to load: a family's preset with a weights file, on a device."""

    family: str
    preset: str
    weights: str  # path of the weights file
    device: torch.device
    weights_copy: WeightsCopy = "model"  # "ema": a checkpoint's EMA copy, where it has one
    parts: Mapping[str, str] = field(default_factory=dict)  # role → folder of a required part


class FrameEncoding(Protocol):
    """The views a family's frame encoders take and how they turn them into features."""

    views: tuple[ViewSpec, ...]

    def encode(self, views: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Per-frame features ([T, ...] each) of the views given ([T, 3, S, S] in [0, 1]).

        A feature's name is its view's name, or the view's name, a dot and more (one view
        may give several features)."""
        ...


class FamilyModel(FrameEncoding, Protocol):
    """A loaded model of one family, on its device, ready to generate windows."""

    family: str
    preset: str
    window: WindowSpec
    device: torch.device

    def check_options(self, options: SamplingOptions) -> None:
        """Raise ValueError (one sentence) for options this family cannot use."""
        ...

    def steps(self, options: SamplingOptions) -> int:
        """Progress steps one window takes with ``options``."""
        ...

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
        """One window's FOA and the state the next window may continue from.

        ``features`` hold one window's frames; ``directions`` [T, 2] the camera direction
        (azimuth, elevation in degrees) of each frame; ``without`` names views whose branch
        is switched off (an ablation for evaluation); ``continuation`` is what the previous
        window of the same stem left. Raises SamplingCancelled when ``cancel()`` says so
        between steps.
        """
        ...

    def describe(self, options: SamplingOptions) -> dict[str, Any]:
        """What a sidecar records of this model and these options (JSON-ready)."""
        ...


@runtime_checkable
class CodecRoundTrip(Protocol):
    """A family model whose codec encodes FOA as well as decoding it, so that the codec can be
    measured alone (``omnifoa eval``)."""

    codec_hop: int  # audio samples per codec frame

    def round_trip(self, audio: Tensor, seed: int) -> Tensor:
        """FOA [B, 4, N] (N a multiple of ``codec_hop``) encoded and decoded by the codec."""
        ...


@runtime_checkable
class VoicePlacement(Protocol):
    """A family model that builds its field from mono voices placed along directions, so the
    placement can be measured alone (``omnifoa eval``), as a codec is."""

    def place_voice(self, voice: Tensor, azimuth: float, elevation: float) -> Tensor:
        """AmbiX [4, N] of a mono ``voice`` [N] placed at (azimuth, elevation) degrees."""
        ...


Join = Literal["forced codes", "inpainted", "crossfade"]


@dataclass(frozen=True)
class KnownAudio:
    """The audio a window is made around when a range of a stem is made again: FOA [4, N]
    (AmbiX, the family's rate, the window's samples) and which samples are known [N] (bool);
    the rest (the range) is made anew."""

    audio: Tensor
    known: Tensor


@dataclass(frozen=True)
class KnownJoin:
    """What a family does with a window's known audio: the continuation to sample with, and
    how the new audio joins the known audio before and after it (None: that side has none in
    this window)."""

    continuation: Continuation | None
    start: Join | None = None
    end: Join | None = None


@runtime_checkable
class KnownAudioJoins(Protocol):
    """A family model that makes new audio agree with the audio around it (regenerating a
    range of a stem): from forced codes of the audio before it, or by inpainting."""

    def join_known(self, known: KnownAudio, previous: Continuation | None) -> KnownJoin:
        """The continuation that makes a window agree with ``known`` (``previous``: what the
        window before left, used where the window starts with nothing known), and the joins."""
        ...
