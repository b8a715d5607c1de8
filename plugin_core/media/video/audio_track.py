"""The embedded audio of a media file over a time range, decoded as float32 channels."""

from __future__ import annotations

import os

import av
import numpy as np

from plugin_core.errors import InputError
from plugin_core.media.video.media_input import (
    decoded_frames,
    open_input,
    readable_path,
    stream_duration,
)
from plugin_core.media.video.time_range import (
    check_positive,
    check_start,
    seek_before,
    start_offset,
    time_range,
)


def read_audio_stream(
    path: str | os.PathLike,
    start: float = 0.0,
    end: float | None = None,
    sample_rate: int | None = None,
) -> tuple[np.ndarray, int]:
    """Decode the first audio stream over [start, end) as float32 [C, N], channels as stored."""
    source = readable_path(path)
    check_start(start, end)
    if sample_rate is not None:
        check_positive("The sample rate", sample_rate)
    with open_input(source) as container:
        if not container.streams.audio:
            raise InputError(
                f"{source.name} has no audio stream; pick a file with embedded audio "
                "or leave out the option that reads it."
            )
        stream = container.streams.audio[0]
        context = stream.codec_context
        if context is None:
            raise InputError(
                f"The audio codec of {source.name} cannot be decoded by this FFmpeg build; "
                "convert the audio to PCM, FLAC or AAC first."
            )
        channels = context.channels
        rate = int(sample_rate or context.sample_rate)
        start, end = time_range(start, end, stream_duration(stream, container), source)
        offset = start_offset(stream)
        seek_before(container, stream, offset, start)
        resampler = av.AudioResampler(format="fltp", layout=context.layout, rate=rate)
        chunks: list[np.ndarray] = []
        first: float | None = None
        got = 0
        for frame in decoded_frames(container, stream, source):
            when = frame.time - offset if frame.time is not None else None
            if first is None:
                first = when if when is not None else start
            if when is not None and when >= end:
                break
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
                got += out.samples
            if first + got / rate >= end:
                break
        chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    data = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), np.float32)
    if data.shape[0] != channels:
        raise InputError(
            f"The audio of {source.name} has {channels} channels but decoded to {data.shape[0]}; "
            "convert it to PCM or FLAC with an explicit channel layout first."
        )
    lead = round(((first if first is not None else start) - start) * rate)
    if lead > 0:  # audio starts after the range start: keep alignment with silence
        data = np.concatenate([np.zeros((channels, lead), data.dtype), data], axis=1)
    else:
        data = data[:, -lead:]
    wanted = round((end - start) * rate)
    return np.ascontiguousarray(data[:, :wanted], dtype=np.float32), rate
