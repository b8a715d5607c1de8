"""Generation: a 360 video → frames at the model rate → views → features → FOA stem(s).

Any span: the range is cut into model windows that overlap by up to a second, each sampled
with a seed derived from the request seed (:mod:`~plugin_core.generation.windowing`) and
joined to the previous one with an equal-power crossfade. Windows start whole frames apart,
so the frames two windows share are decoded and encoded once; frames are decoded one window
ahead on a worker thread, at the size each view needs
(:mod:`~plugin_core.generation.window_frames`). The joined stem is written as it grows and
measured on the way (:class:`~plugin_core.generation.loudness.StemMeter`); the whole stem
then gets one gain (loudness target, peak target or none, under a true-peak ceiling) in a
second pass, so memory does not depend on the length of the video and the dynamics between
windows are kept. The camera view follows a constant direction or a keyframed
:class:`~plugin_core.spatial.direction_path.DirectionPath`, frame by frame. The model is any
family behind :mod:`models.family`.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.device import synchronizer
from models.family import (
    Cancel,
    Continuation,
    Join,
    KnownAudio,
    KnownAudioJoins,
    SamplingCancelled,
    SamplingOptions,
)
from plugin_core.atomic_files import new_folder
from plugin_core.errors import InputError
from plugin_core.generation.conditioning import WindowConditioning
from plugin_core.generation.frame_features import view_decode_sizes, view_fov
from plugin_core.generation.loaded_model import LoadedModel, load_model
from plugin_core.generation.loudness import StemLevel, StemMeter, stem_level
from plugin_core.generation.outputs import check_outputs, take_files
from plugin_core.generation.request import MIN_SPAN_SECONDS, GenerationRequest
from plugin_core.generation.sidecar import generation_sidecar
from plugin_core.generation.stage_clock import StageClock
from plugin_core.generation.window_frames import FramePrefetcher, aligned_hop, frame_spans
from plugin_core.generation.windowing import CrossfadeJoiner, Window, plan_windows, window_seed
from plugin_core.media.stem_sidecar import sha256_of, write_sidecar
from plugin_core.media.stem_takes import Take, takes_folder, takes_record
from plugin_core.media.stem_writer import StemAbandoned, StemWriter
from plugin_core.media.video import probe
from plugin_core.notices import warn_once
from plugin_core.spatial.direction_path import DirectionPath

OVERLAP_SECONDS = 1.0  # crossfade between windows (at most a quarter of a window), ± a frame
MAX_PAD_SECONDS = 0.05  # a span's last few ms are padded rather than given their own window
FADE_SECONDS = 0.005
StepProgress = Callable[[int, int], None]


@dataclass
class GenerationResult:
    """The stems written, the windows they were made of and the gain each stem got."""

    paths: list[Path]  # the audio of each variation: the stem, or its takes
    span: tuple[float, float]  # seconds of the video
    windows: list[Window]
    levels: list[StemLevel] = field(default_factory=list)  # per variation
    window_records: list[dict[str, Any]] = field(default_factory=list)  # what the family said
    amplitude_joins: list[int] = field(default_factory=list)  # per variation
    # with known audio: how each window's new audio joined it (before, after; None: no join)
    known_joins: list[tuple[Join | None, Join | None]] = field(default_factory=list)


@dataclass(frozen=True)
class _Source:
    start: float
    end: float
    size: tuple[int, int]


def _source(request: GenerationRequest) -> _Source:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = probe(request.video)
    if request.start >= info.duration:
        raise InputError(
            f"The start time {request.start} s is past the end of the video "
            f"({info.duration:.2f} s)."
        )
    end = info.duration if request.end is None else request.end
    if end > info.duration + 1e-3:
        raise InputError(
            f"The end time {end} s is past the end of the video ({info.duration:.2f} s)."
        )
    if end - request.start < MIN_SPAN_SECONDS:
        raise InputError(
            f"The time range {request.start:g} to {end:g} s is shorter than "
            f"{MIN_SPAN_SECONDS} s; choose a longer one."
        )
    if info.rotation:
        warn_once(
            f"{request.video.name} is marked as rotated by {info.rotation:g}°; omnifoa reads "
            "the frames as stored, so directions follow the unrotated picture"
        )
    return _Source(request.start, min(end, info.duration), (info.width, info.height))


def sampling_options(request: GenerationRequest) -> SamplingOptions:
    """The sampling fields of a request."""
    return SamplingOptions(steps=request.steps, cfg=request.cfg, sampler=request.sampler)


def generate(
    request: GenerationRequest,
    loaded: LoadedModel | None = None,
    progress: StepProgress | None = None,
    cancel: Cancel | None = None,
    clock: StageClock | None = None,
    known: KnownAudio | None = None,
) -> GenerationResult:
    """Run one request end to end and write its stem (with a take per variation when there
    are several, the first one chosen); nothing is left behind on failure.
    ``clock``, when given, is charged with the seconds of every stage. ``known``: audio of the
    whole span at the model's rate, some of it known (a range being made again); a family
    that can (:class:`~models.family.KnownAudioJoins`) makes each window agree with it.

    ``cancel()`` is asked before each window, while frames decode (every 50 ms), after every
    chunk of frames encoded, before every sampling step, after each window's codec decode and
    before every block of the stems written; when it says so, SamplingCancelled ends the run (and
    nothing is written).
    """
    request.validate()
    paths = take_files(request.output, request.variations)
    check_outputs(request)
    source = _source(request)
    if request.aim:
        from plugin_core.tracking import strongest_path  # OpenCV, only when aiming

        def each_frame() -> None:  # finding the action takes a while: a cancel is heard
            if cancel is not None and cancel():
                raise SamplingCancelled

        request = replace(request, path=strongest_path(request.video, each_frame=each_frame))
    began = clock.now() if clock is not None else 0.0
    loaded = loaded or load_model(request.model, request.device, "ema" if request.ema else "model")
    model = loaded.model
    if clock is not None:
        clock.sync = clock.sync or synchronizer(model.device)
        clock.record("loading", began)
    options = sampling_options(request)
    try:
        model.check_options(options)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    window = model.window
    rate, fps = window.sample_rate, window.frame_rate
    overlap = min(round(OVERLAP_SECONDS * rate), window.samples // 4)
    overlap = window.samples - aligned_hop(window.samples, overlap, rate, fps, window.hop_step)
    total = round((source.end - source.start) * rate)
    windows = plan_windows(total, window.samples, overlap, round(MAX_PAD_SECONDS * rate))
    spans = frame_spans(windows, source.start, source.end, rate, fps, window.seconds)
    sizes = view_decode_sizes(model.views, request.fov, source.size)
    path = request.path or DirectionPath.constant(request.yaw, request.pitch)
    conditioning = WindowConditioning(model, path, request.fov)
    steps = model.steps(options)
    # A window's frames and features weigh as much as its sampling (on 2 CPU cores they take
    # about two thirds of the time), so progress moves before sampling starts.
    units = 2 * steps
    comment = (
        f"{'FuMa (W, X, Y, Z; W at -3 dB)' if request.convention == 'fuma' else 'AmbiX (ACN/SN3D)'}"
        f" by omnifoa {loaded.model_id}, seed {request.seed}"
    )
    result = GenerationResult(paths, (source.start, source.end), windows)

    def heard_cancel() -> None:
        if cancel is not None and cancel():
            raise SamplingCancelled

    def started() -> float:
        return clock.now() if clock is not None else 0.0

    def timed(stage: str, start: float) -> float:
        """Charge ``stage`` with the time since ``start`` (when there is a clock); now."""
        return clock.record(stage, start) if clock is not None else 0.0

    joiners = [CrossfadeJoiner(windows) for _ in paths]
    meters = [StemMeter(rate) for _ in paths]
    with contextlib.ExitStack() as stack:
        if paths != [request.output]:
            stack.enter_context(new_folder(takes_folder(request.output)))
        writers = [
            stack.enter_context(
                StemWriter(
                    p, rate, request.sample_rate, request.subtype, request.convention, comment
                )
            )
            for p in paths
        ]
        # several takes: the stem itself is the first (the chosen one), written alongside
        chosen = None
        if paths != [request.output]:
            chosen = stack.enter_context(
                StemWriter(
                    request.output,
                    rate,
                    request.sample_rate,
                    request.subtype,
                    request.convention,
                    comment,
                )
            )
        frames_ahead = stack.enter_context(FramePrefetcher(request.video, spans, fps, sizes))
        continuation: Continuation | None = None
        for w, span in zip(windows, spans, strict=True):
            heard_cancel()  # a cancel while the last window was written stops the run here
            began = started()
            directions = conditioning.directions(span)

            def frames_progress(share: float, first: int = w.index * units) -> None:
                if progress is not None:
                    progress(first + round(steps * share), len(windows) * units)

            features = conditioning.features(
                span, frames_ahead.take(cancel), directions, cancel, frames_progress
            )
            frames_progress(1.0)
            sampled = [timed("frames", began)]  # then when the last step ended

            def window_progress(
                i: int, n: int, done: int = w.index * units + steps, marks: list = sampled
            ) -> None:
                if i == n:  # the codec decode follows the last step
                    marks.append(timed("sampling", marks[0]))
                if progress is not None:
                    progress(done + i, len(windows) * units)

            if known is not None and isinstance(model, KnownAudioJoins):
                joined = model.join_known(_window_known(known, w, window.samples), continuation)
                continuation = joined.continuation
                result.known_joins.append((joined.start, joined.end))
            take = model.sample(
                features,
                directions,
                window_seed(request.seed, w.index),
                request.variations,
                options,
                progress=window_progress,
                cancel=cancel,
                continuation=continuation,
            )
            heard_cancel()  # the codec decode ends the sampling: a cancel there is heard here
            began = timed("codec decode" if len(sampled) > 1 else "sampling", sampled[-1])
            result.window_records.append(dict(take.record))
            if w is not windows[-1]:
                following = windows[w.index + 1]
                continuation = Continuation(take.state, w.end - following.start)
            takes = take.audio.numpy()
            pad = total - w.end if w is windows[-1] else 0
            for v, take in enumerate(takes):
                audio = take[:, : w.length]
                if pad:  # fade out into the few padded samples that end the span
                    fade = min(round(FADE_SECONDS * rate), w.length)
                    audio[:, -fade:] *= np.linspace(1.0, 0.0, fade, dtype=audio.dtype)
                final = joiners[v].add(audio)
                if pad:
                    final = np.concatenate([final, np.zeros((4, pad), final.dtype)], axis=-1)
                meters[v].add(final)
                writers[v].write(final)
                if v == 0 and chosen is not None:
                    chosen.write(final)
            timed("writing", began)
        began = started()
        for meter, writer in zip(meters, writers, strict=True):
            level = stem_level(
                meter, request.level, request.loudness, request.peak, request.ceiling
            )
            try:
                writer.finish(level.gain_db, cancel)
                if chosen is not None and not result.levels:
                    chosen.finish(level.gain_db, cancel)
            except StemAbandoned:
                raise SamplingCancelled from None
            result.levels.append(level)
        timed("writing", began)
        if clock is not None:
            clock.decode_busy += frames_ahead.busy_seconds
            clock.frame_wait += frames_ahead.wait_seconds
    began = started()
    result.amplitude_joins = [j.amplitude_joins for j in joiners]
    _write_sidecars(request, loaded, options, sizes, result, rate)
    timed("writing", began)
    return result


def _window_known(known: KnownAudio, w: Window, samples: int) -> KnownAudio:
    """The part of ``known`` a window covers, ``samples`` long (past the span: not known)."""
    audio = known.audio[:, w.start : w.start + samples]
    flags = known.known[w.start : w.start + samples]
    missing = samples - audio.shape[1]
    if missing > 0:
        audio = torch.cat([audio, audio.new_zeros(audio.shape[0], missing)], dim=1)
        flags = torch.cat([flags, flags.new_zeros(missing)])
    return KnownAudio(audio, flags)


def _model_record(
    loaded: LoadedModel, options: SamplingOptions, sizes: dict[str, tuple[int, int]], fov: Any
) -> dict[str, Any]:
    """The registry's record of the model, what the family says of itself, and the views."""
    views = {
        v.name: {
            "projection": v.projection,
            "size": v.size,
            "fov": None if v.projection == "panorama" else view_fov(v, fov),
            "decoded_at": list(sizes[v.name]),
        }
        for v in loaded.model.views
    }
    return {**loaded.record, **loaded.model.describe(options), "views": views}


def _write_sidecars(
    request: GenerationRequest,
    loaded: LoadedModel,
    options: SamplingOptions,
    sizes: dict[str, tuple[int, int]],
    result: GenerationResult,
    rate: int,
) -> None:
    start = result.span[0]
    spans = [(start + w.start / rate, start + w.end / rate) for w in result.windows]
    model = _model_record(loaded, options, sizes, request.fov)
    video_sha256 = sha256_of(request.video)  # once per request: the video may be gigabytes
    document = generation_sidecar(
        request,
        request.output,
        0,
        model,
        video_sha256,
        result.span,
        spans,
        result.levels[0].as_dict(),
        result.amplitude_joins[0],
        result.window_records,
    )
    if result.paths != [request.output]:  # one take per variation, the first chosen
        takes = [
            Take(
                v + 1,
                str(path.relative_to(request.output.parent)),
                request.seed,
                {
                    "by": "generate",
                    "variation": v,
                    "level": result.levels[v].as_dict(),
                    "amplitude_crossfades": result.amplitude_joins[v],
                },
            )
            for v, path in enumerate(result.paths)
        ]
        document.update(takes_record(takes, 1))
    write_sidecar(request.output, document)
