"""plugin_core.media.video on real files written with PyAV: timing, ranges, codecs, errors."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from video_fixtures import (
    fps_filter_indices,
    frame_index,
    indexed_frame,
    indexed_frames,
    inject_spherical_v1,
    inject_sv3d,
    tones,
    write_audio_only,
    write_vfr_video,
)

from plugin_core.errors import InputError
from plugin_core.media.video import (
    NotEquirectangularWarning,
    aspect_warning,
    decode,
    decode_range,
    iter_frames,
    probe,
    read_audio_stream,
    write_video,
)
from plugin_core.media.video import info as video_info

FREQS = [220.0, 440.0, 660.0, 880.0]


def assert_one_sentence(error: pytest.ExceptionInfo[InputError]) -> None:
    """The message a user sees is one plain sentence, not a traceback or FFmpeg dump."""
    message = str(error.value)
    assert message.endswith(".")
    assert "\n" not in message
    assert "Traceback" not in message
    assert not re.search(r"[.!?]\s+[A-Z]", message), message


def indices(frames: np.ndarray) -> list[int]:
    return [frame_index(image) for image in frames]


def colour_halves_ok(image: np.ndarray) -> bool:
    """Bottom-left quarter is red and bottom-right is blue (within codec tolerance)."""
    h, w = image.shape[:2]
    left = image[5 * h // 8 : 7 * h // 8, w // 8 : 3 * w // 8].reshape(-1, 3).mean(axis=0)
    right = image[5 * h // 8 : 7 * h // 8, 5 * w // 8 : 7 * w // 8].reshape(-1, 3).mean(axis=0)
    return bool(left[0] > 200 > 60 > max(left[1], left[2]) and right[2] > 200 > 60 > max(right[:2]))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s, 24 fps, 256x128 H.264 with a keyframe every 12 frames and 4-channel AAC tones."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_video(
        path,
        indexed_frames(72, 256, 128),
        24,
        options={"g": "12"},
        audio=tones(FREQS, 3.0),
        audio_codec="aac",
    )
    return path


# --------------------------------------------------------------------------- decoding


def test_mid_range_returns_only_that_range_at_8_fps(clip: Path) -> None:
    decoded = decode_range(clip, 1.0, 2.0)

    assert decoded.frames.shape == (8, 128, 256, 3)
    np.testing.assert_allclose(decoded.times, 1.0 + np.arange(8) / 8)
    # 24 fps source, as the fps filter picks: frame 24t + 1 (1/24 s after t rounds down to
    # t in 1/8 s periods; 2/24 s rounds up to the next target)
    assert indices(decoded.frames) == [25 + 3 * k for k in range(8)]
    np.testing.assert_allclose(decoded.pts_times, decoded.times + 1 / 24, atol=1e-6)


@pytest.mark.parametrize("rate", [24, 25, 30, 30000 / 1001, 50, 60])
@pytest.mark.parametrize("start", [0.0, 1.0, 2.3])
def test_frames_are_the_ones_ffmpegs_fps_filter_picks(
    tmp_path: Path, rate: float, start: float
) -> None:
    path = tmp_path / "indexed.mp4"
    write_video(path, indexed_frames(round(4 * rate)), rate, options={"g": "12"})

    decoded = decode_range(path, start, start + 1.5, fps=8.0)

    assert indices(decoded.frames) == fps_filter_indices(path, 8.0, start, start + 1.5)


def test_a_range_after_a_keyframe_seek_starts_at_the_right_frame(clip: Path) -> None:
    # 2.3 s is between keyframes (every 0.5 s): decoding must still start at the right frame
    frames = list(iter_frames(clip, start=2.3, end=2.8, fps=8))

    assert [round(f.time, 3) for f in frames] == [2.3, 2.425, 2.55, 2.675]
    assert [frame_index(f.image) for f in frames] == fps_filter_indices(clip, 8.0, 2.3, 2.8)
    # never a frame half a period or more after its target
    assert all(f.time - 1e-6 <= f.pts_time < f.time + 0.5 / 8 for f in frames)


def test_whole_file_by_default(clip: Path) -> None:
    decoded = decode_range(clip, fps=2.0)

    assert indices(decoded.frames) == fps_filter_indices(clip, 2.0)
    assert indices(decoded.frames) == [5, 17, 29, 41, 53, 65]  # the last before t + 0.25 s


def test_variable_frame_rate_is_sampled_by_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mp4"
    write_vfr_video(path, [0, 50, 300, 310, 900, 1000])

    decoded = decode_range(path, fps=8.0)

    # targets 0, .125, ... 1.0: the last frame presented before each target + 1/16 s
    assert indices(decoded.frames) == [1, 1, 3, 3, 3, 3, 3, 4, 5]
    assert indices(decoded.frames)[:8] == fps_filter_indices(path, 8.0)[:8]
    np.testing.assert_allclose(
        decoded.pts_times, [0.05, 0.05, 0.31, 0.31, 0.31, 0.31, 0.31, 0.9, 1.0], atol=1e-3
    )


@pytest.fixture(scope="module")
def b_frame_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s at 30 fps, x264 with runs of 3 B-frames (the outer two of each run unreferenced)."""
    path = tmp_path_factory.mktemp("bframes") / "b.mp4"
    write_video(path, indexed_frames(120), 30, options={"bf": "3", "g": "30"})
    return path


@pytest.mark.parametrize(("start", "end"), [(0.0, 4.0), (1.3, 2.9), (3.9, 4.0)])
def test_unreferenced_pictures_no_target_takes_are_not_decoded(
    b_frame_clip: Path, start: float, end: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans = []
    planned = decode._skip_plan

    def spy(*args):
        plans.append(planned(*args))
        return plans[-1]

    monkeypatch.setattr(decode, "_skip_plan", spy)

    frames = list(iter_frames(b_frame_clip, start=start, end=end, fps=8.0))

    assert [frame_index(f.image) for f in frames] == fps_filter_indices(
        b_frame_clip, 8.0, start, end
    )
    if end - start > 1.0:  # whole runs of B-frames no target takes were left out
        assert plans[0] is not None
        assert len(plans[0].skipped) >= 0.25 * (end - start) * 30
        assert not plans[0].skipped & set(plans[0].chosen)


def test_frames_that_disagree_with_the_plan_are_decoded_again_in_full(
    b_frame_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a plan that names the frame after the right one: the frames the targets really take
    # are then among those left out, so only a check of every frame handed out catches it
    chosen = decode._chosen_stamps

    def one_late(stamps: list[int], *args) -> list[int] | None:
        right = chosen(stamps, *args)
        return None if right is None else [stamps[stamps.index(s) + 1] for s in right]

    monkeypatch.setattr(decode, "_chosen_stamps", one_late)

    frames = list(iter_frames(b_frame_clip, start=1.0, end=3.0, fps=8.0))

    assert [frame_index(f.image) for f in frames] == fps_filter_indices(b_frame_clip, 8.0, 1.0, 3.0)


def test_a_transport_stream_seek_that_lands_late_is_redone_further_back(
    b_frame_clip: Path, tmp_path: Path
) -> None:
    # MPEG-TS seeks by byte position: a seek to 1 s can land on the keyframe at 2 s, and the
    # frames before it would all be that keyframe
    ts = tmp_path / "clip.ts"
    with av.open(str(b_frame_clip)) as source, av.open(str(ts), "w") as out:
        stream = source.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for packet in source.demux(stream):
            if packet.dts is not None:
                packet.stream = copy
                out.mux(packet)
    whole = indices(decode_range(ts, 0.0, 4.0, fps=8.0).frames)

    for first, last in [(1, 31), (10, 23), (20, 30)]:  # targets k/8 s of the whole decode
        part = decode_range(ts, first / 8, last / 8, fps=8.0)
        assert indices(part.frames) == whole[first:last], (first, last)


def test_ntsc_frame_rate_picks_the_right_frame(tmp_path: Path) -> None:
    path = tmp_path / "ntsc.mp4"
    write_video(path, indexed_frames(60), 30000 / 1001)

    frames = list(iter_frames(path, start=0.5, end=1.5))

    assert [frame_index(f.image) for f in frames] == fps_filter_indices(path, 8.0, 0.5, 1.5)


@pytest.mark.parametrize(
    ("size", "shape"),
    [((64, 32), (32, 64, 3)), (32, (16, 32, 3)), ((96, 96), (96, 96, 3))],
)
def test_downscale_keeps_content(clip: Path, size: tuple[int, int] | int, shape: tuple) -> None:
    decoded = decode_range(clip, 0.5, 1.0, fps=4, size=size)

    assert decoded.frames.shape == (2, *shape)
    assert all(colour_halves_ok(image) for image in decoded.frames)
    assert indices(decoded.frames) == [14, 20]  # the last frames before t + 1/8 s


def test_iterating_part_of_a_range_closes_cleanly(clip: Path) -> None:
    frames = iter_frames(clip, 0.0, 3.0)
    first = next(frames)
    frames.close()  # stops decoding; nothing is left open or half-read

    assert frame_index(first.image) == 1  # the fps filter's first pick at 24 fps
    assert first.image.dtype == np.uint8


CODECS = [
    ("libx264", "mp4", "yuv420p", {}),
    ("libx265", "mp4", "yuv420p", {"x265-params": "log-level=error"}),
    ("libvpx-vp9", "webm", "yuv420p", {}),
    ("mjpeg", "mkv", "yuvj420p", {}),
    ("mjpeg", "mov", "yuvj420p", {}),
    ("prores_ks", "mov", "yuv422p10le", {}),
]


@pytest.mark.parametrize(("codec", "ext", "pix_fmt", "options"), CODECS)
def test_codecs_decode(
    tmp_path: Path, codec: str, ext: str, pix_fmt: str, options: dict[str, str]
) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV build has no {codec} encoder")
    path = tmp_path / f"clip.{ext}"
    write_video(path, indexed_frames(48), 24, codec=codec, pix_fmt=pix_fmt, options=options)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 128x64 is 2:1: no shape warning
        info = probe(path)
    decoded = decode_range(path, 0.5, 1.5)

    assert (info.width, info.height) == (128, 64)
    assert info.fps == pytest.approx(24.0)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert indices(decoded.frames) == [13 + 3 * k for k in range(8)]
    assert all(colour_halves_ok(image) for image in decoded.frames)


# --------------------------------------------------------------------------- probe


def test_probe_describes_video_and_4_channel_audio(clip: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = probe(clip)

    assert (info.width, info.height) == (256, 128)
    assert info.fps == pytest.approx(24.0)
    assert info.duration == pytest.approx(3.0, abs=0.05)
    assert info.frame_count == 72
    assert info.video_codec == "h264"
    assert info.pixel_format == "yuv420p"
    assert (info.audio_channels, info.audio_sample_rate, info.audio_codec) == (4, 48000, "aac")
    assert info.rotation == 0
    assert info.spherical is None
    assert info.is_equirectangular_shape
    assert aspect_warning(info) is None


def test_16_9_video_warns_with_the_sentence_the_cli_prints(tmp_path: Path) -> None:
    path = tmp_path / "flat.mp4"
    write_video(path, indexed_frames(4, 128, 72), 24)

    with pytest.warns(NotEquirectangularWarning) as caught:
        info = probe(path)

    assert not info.is_equirectangular_shape
    message = aspect_warning(info)
    assert message is not None
    assert str(caught[0].message) == message
    assert "128x72" in message
    assert "2:1" in message


def test_nearly_2_to_1_is_equirectangular(tmp_path: Path) -> None:
    path = tmp_path / "near.mp4"
    write_video(path, indexed_frames(2, 254, 128), 24)  # within 1% of 2:1

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert probe(path).is_equirectangular_shape


def test_probe_reads_display_rotation(tmp_path: Path) -> None:
    path = tmp_path / "rotated.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
        stream.set_display_rotation(90)
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(indexed_frame(index), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))

    assert probe(path).rotation == 90


@pytest.mark.parametrize(
    ("inject", "source"), [(inject_sv3d, "sv3d"), (inject_spherical_v1, "spherical-v1")]
)
def test_probe_finds_spherical_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inject, source: str
) -> None:
    path = tmp_path / "360.mp4"
    write_video(path, indexed_frames(6, 256, 128), 24, audio=tones([440.0], 0.25))
    inject(path)

    hint = probe(path).spherical
    assert hint is not None
    assert "equirectangular" in hint
    # an FFmpeg that does not export spherical side data still gets the hint from the boxes
    monkeypatch.setattr(video_info, "spherical_from_frame", lambda frame: None)
    assert probe(path).spherical == f"equirectangular ({source})"
    # and the file still decodes normally
    assert decode_range(path).frames.shape == (2, 128, 256, 3)


# --------------------------------------------------------------------------- audio


@pytest.fixture(scope="module")
def pcm_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s MJPEG .mov with a 4-channel pcm_s16le track, one sine per channel."""
    path = tmp_path_factory.mktemp("pcm") / "pcm.mov"
    write_video(
        path,
        indexed_frames(48),
        24,
        codec="mjpeg",
        pix_fmt="yuvj420p",
        audio=tones(FREQS, 2.0),
        audio_codec="pcm_s16le",
    )
    return path


def dominant_frequencies(audio: np.ndarray, rate: int) -> list[float]:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.shape[1]), axis=1))
    return [float(f) for f in np.argmax(spectrum, axis=1) * rate / audio.shape[1]]


def test_audio_keeps_4_channels_in_order_and_trims_exactly(pcm_clip: Path) -> None:
    audio, rate = read_audio_stream(pcm_clip, start=0.5, end=1.25)

    assert rate == 48000
    assert audio.dtype == np.float32
    assert audio.shape == (4, 36000)
    # sample-exact: the same samples that were written for 0.5-1.25 s
    np.testing.assert_allclose(audio, tones(FREQS, 2.0)[:, 24000:60000], atol=1e-4)


def test_aac_audio_channels_keep_their_order(clip: Path) -> None:
    audio, rate = read_audio_stream(clip, start=1.0, end=2.0)

    assert audio.shape == (4, 48000)
    assert dominant_frequencies(audio, rate) == pytest.approx(FREQS, abs=2.0)


def test_audio_resampled_on_request(pcm_clip: Path) -> None:
    audio, rate = read_audio_stream(pcm_clip, start=1.0, sample_rate=16000)

    assert rate == 16000
    assert audio.shape == (4, 16000)
    assert dominant_frequencies(audio, rate) == pytest.approx(FREQS, abs=2.0)


def test_flac_in_mkv_audio(tmp_path: Path) -> None:
    path = tmp_path / "flac.mkv"
    write_video(path, indexed_frames(24), 24, audio=tones(FREQS, 1.0), audio_codec="flac")

    audio, rate = read_audio_stream(path)

    assert rate == 48000
    assert probe(path).audio_channels == 4
    assert audio.shape == (4, 48000)
    np.testing.assert_allclose(audio, tones(FREQS, 1.0), atol=1e-4)


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def bad_files(tmp_path: Path, clip: Path) -> dict[str, Path]:
    missing = tmp_path / "missing.mp4"
    text = tmp_path / "notes.mp4"
    text.write_text("these are my notes, not a video\n")
    truncated = tmp_path / "truncated.mp4"
    data = clip.read_bytes()
    truncated.write_bytes(data[: int(len(data) * 0.3)])
    audio_only = tmp_path / "voice.mov"
    write_audio_only(audio_only)
    return {"missing": missing, "text": text, "truncated": truncated, "audio_only": audio_only}


@pytest.mark.parametrize("kind", ["missing", "text", "truncated", "audio_only"])
def test_unusable_video_gives_one_sentence(bad_files: dict[str, Path], kind: str) -> None:
    path = bad_files[kind]
    with pytest.raises(InputError) as probed:
        probe(path)
    with pytest.raises(InputError) as decoded:
        decode_range(path, 0.0, 1.0)

    assert_one_sentence(probed)
    assert_one_sentence(decoded)
    assert path.name in str(probed.value)


def test_truncated_tail_is_reported_but_earlier_range_decodes(tmp_path: Path) -> None:
    # moov first (as streaming-ready files are), so a cut file still opens
    path = tmp_path / "faststart.mp4"
    with av.open(str(path), mode="w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=24, options={"g": "12"})
        stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
        for index, image in enumerate(indexed_frames(96)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.7)])

    early = decode_range(path, 0.0, 1.0)  # decoding stops at 1 s, before the damage
    with pytest.raises(InputError, match="truncated") as whole:
        decode_range(path)

    assert indices(early.frames) == [1 + 3 * k for k in range(8)]
    assert_one_sentence(whole)


def test_no_audio_stream_gives_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    write_video(path, indexed_frames(4), 24)

    with pytest.raises(InputError, match="no audio") as error:
        read_audio_stream(path)
    assert_one_sentence(error)


@pytest.mark.parametrize(
    ("start", "end", "fps", "size"),
    [(-1.0, None, 8.0, None), (2.0, 1.0, 8.0, None), (0.0, None, 0.0, None), (0, None, 8, (0, 5))],
)
def test_bad_arguments_are_rejected_before_decoding(
    clip: Path, start: float, end: float | None, fps: float, size: tuple[int, int] | None
) -> None:
    with pytest.raises(InputError) as error:
        iter_frames(clip, start, end, fps, size)
    assert_one_sentence(error)


def test_start_past_the_end(clip: Path) -> None:
    with pytest.raises(InputError, match="past the end") as error:
        decode_range(clip, 5.0, 6.0)
    assert_one_sentence(error)


# --------------------------------------------------------------------------- writing


def test_written_video_has_requested_rate_size_and_audio(tmp_path: Path) -> None:
    path = tmp_path / "scene.mp4"
    write_video(path, indexed_frames(24, 256, 128), 24, audio=tones(FREQS, 1.0))

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == Fraction(24)
        assert stream.codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.channels == 4
    assert not [p.name for p in tmp_path.iterdir() if p.name != "scene.mp4"]


def frames_then_failure(good: int, failure: Exception) -> Iterator[np.ndarray]:
    yield from indexed_frames(good)
    raise failure


@pytest.mark.parametrize("case", ["size_changes", "iterator_raises", "bad_dtype", "odd_size"])
def test_failed_write_leaves_nothing_and_keeps_existing_file(tmp_path: Path, case: str) -> None:
    path = tmp_path / "out.mp4"
    path.write_bytes(b"previous render")
    failure = RuntimeError("renderer crashed")
    frames = {
        "size_changes": [indexed_frame(0), indexed_frame(1), np.zeros((32, 64, 3), np.uint8)],
        "iterator_raises": frames_then_failure(5, failure),
        "bad_dtype": [indexed_frame(0).astype(np.float32)],
        "odd_size": [np.zeros((63, 127, 3), np.uint8)],
    }[case]

    expected = RuntimeError if case == "iterator_raises" else InputError
    with pytest.raises(expected) as error:
        write_video(path, frames, 24)

    if case == "iterator_raises":
        assert error.value is failure  # the caller's own exception, untouched
    else:
        assert_one_sentence(error)
    assert path.read_bytes() == b"previous render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("out.avi", {}),
        ("out.webm", {"codec": "libx264"}),
        ("out.mp4", {"codec": "no-such-codec"}),
        ("out.mov", {"codec": "prores_ks"}),  # prores_ks does not take yuv420p
    ],
)
def test_unwritable_combinations_give_one_sentence(tmp_path: Path, name: str, kwargs) -> None:
    with pytest.raises(InputError) as error:
        write_video(tmp_path / name, indexed_frames(2), 24, **kwargs)
    assert_one_sentence(error)
    assert list(tmp_path.iterdir()) == []


def test_audio_rate_the_codec_cannot_take(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="44100 Hz") as error:
        write_video(
            tmp_path / "out.webm",
            indexed_frames(2),
            24,
            codec="libvpx-vp9",
            audio=tones([440.0], 0.1, rate=44100),
            audio_rate=44100,
            audio_codec="libopus",
        )
    assert_one_sentence(error)
    assert list(tmp_path.iterdir()) == []
