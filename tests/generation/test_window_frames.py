"""Frame-aligned windows: neighbouring windows share whole video frames, decoded once."""

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from plugin_core.generation.window_frames import (
    CHUNK_FRAMES,
    FramePrefetcher,
    aligned_hop,
    continuous,
    frame_spans,
)
from plugin_core.generation.windowing import plan_windows
from plugin_core.media.video import decode as decode_module
from plugin_core.media.video import decode_range, write_video
from plugin_core.synthsphere import make_scene, render_frames


def test_the_bundled_models_windows_start_whole_frames_apart() -> None:
    # 440320-sample windows at 44.1 kHz, 8 fps: the hop nearest 1 s of overlap that is a whole
    # number of frames and samples is 72 frames (396900 samples; 0.985 s of overlap)
    hop = aligned_hop(440320, 44100, 44100, 8.0)
    assert hop == 396900 == 72 * 44100 // 8
    assert 440320 - hop == pytest.approx(0.985 * 44100, abs=50)


def test_a_rate_no_whole_sample_hop_fits_keeps_the_plain_overlap() -> None:
    # at 7.77 fps a whole number of frames is a whole number of samples only every 100 s
    assert aligned_hop(44100, 11025, 44100, 7.77) == 44100 - 11025


def test_spans_take_over_the_frames_the_previous_window_shares() -> None:
    rate, fps = 44100, 8.0
    hop = aligned_hop(440320, 44100, rate, fps)
    windows = plan_windows(25 * rate, 440320, 440320 - hop)
    spans = frame_spans(windows, 2.0, 27.0, rate, fps, 10.0)
    assert [s.reused for s in spans] == [0, 8, 8]
    assert [s.shift for s in spans] == [0, 72, 72]
    # the second window decodes from its ninth frame, on the same 8 fps grid as the first
    assert spans[1].decode_from == pytest.approx(2.0 + 72 / 8 + 8 / 8)
    assert spans[2].t1 == 27.0


def test_unaligned_windows_decode_every_frame() -> None:
    windows = plan_windows(20 * 44100, 440320, 44100)
    spans = frame_spans(windows, 0.0, 20.0, 44100, 8.0, 10.0)
    assert [s.reused for s in spans] == [0, 0, 0]


def test_the_prefetcher_hands_out_each_spans_new_frames_in_order(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    write_video(video, render_frames(make_scene(2, 4.0), 256, 128, 8.0), 8.0)
    windows = plan_windows(4 * 8000, 16000, 16000 - aligned_hop(16000, 4000, 8000, 8.0))
    spans = frame_spans(windows, 0.0, 4.0, 8000, 8.0, 2.0)
    sizes = {"panorama": (128, 64), "fov": (256, 128), "other": (128, 64)}
    with FramePrefetcher(video, spans, 8.0, sizes) as prefetcher:
        got = []
        for _ in spans:
            chunks = list(prefetcher.take())
            assert all(len(c["fov"]) <= CHUNK_FRAMES for c in chunks)
            none = {n: np.zeros((0, h, w, 3), np.uint8) for n, (w, h) in sizes.items()}
            got.append({n: np.concatenate([none[n], *(c[n] for c in chunks)]) for n in sizes})
    assert sum(s.reused for s in spans) > 0
    for name, size in sizes.items():  # every view's frames at its own decode size
        whole = decode_range(video, 0.0, 4.0, fps=8.0, size=size).frames
        # pasting the new frames after the taken-over ones rebuilds the video frame for frame
        rebuilt = np.concatenate([frames[name] for frames in got])
        assert len(rebuilt) == len(whole)
        np.testing.assert_array_equal(rebuilt, whole)


@pytest.mark.parametrize("aligned", [True, False])
def test_windows_on_one_frame_grid_are_decoded_in_one_pass(
    tmp_path: Path, aligned: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one keyframe for the whole 6 s (x264's default interval is 250 frames): a seek per
    # window would decode again every frame from the start of the video
    video = tmp_path / "long_gop.mp4"
    write_video(video, render_frames(make_scene(2, 6.0), 256, 128, 8.0), 8.0)
    overlap = 16000 - aligned_hop(16000, 4000, 8000, 8.0) if aligned else 3900
    windows = plan_windows(6 * 8000, 16000, overlap)
    spans = frame_spans(windows, 0.0, 6.0, 8000, 8.0, 2.0)
    passes = []
    real = decode_module._sampled_frames

    def counted(*args):
        passes.append(args[1:3])
        return real(*args)

    monkeypatch.setattr(decode_module, "_sampled_frames", counted)
    sizes = {"panorama": (128, 64)}
    with FramePrefetcher(video, spans, 8.0, sizes) as prefetcher:
        got = [np.concatenate([c["panorama"] for c in prefetcher.take()]) for _ in spans]

    assert len(spans) >= 3
    assert continuous(spans, 8.0) == aligned
    assert len(passes) == (1 if aligned else len(spans))
    whole = decode_range(video, 0.0, 6.0, fps=8.0, size=(128, 64)).frames
    if aligned:  # the new frames of every window, end to end, are the video's
        np.testing.assert_array_equal(np.concatenate(got), whole)
    else:  # each window decodes its own frames
        for span, frames in zip(spans, got, strict=True):
            first = round(span.decode_from * 8.0)
            np.testing.assert_array_equal(frames, whole[first : first + len(frames)])


def test_closing_a_one_pass_prefetcher_stops_its_worker(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    write_video(video, render_frames(make_scene(2, 6.0), 256, 128, 8.0), 8.0)
    windows = plan_windows(6 * 8000, 16000, 16000 - aligned_hop(16000, 4000, 8000, 8.0))
    spans = frame_spans(windows, 0.0, 6.0, 8000, 8.0, 2.0)
    prefetcher = FramePrefetcher(video, spans, 8.0, {"panorama": (128, 64)})
    next(prefetcher.take())  # the worker decodes the second window, then waits for the third
    time.sleep(0.3)
    closing = threading.Thread(target=prefetcher.close)
    closing.start()
    closing.join(timeout=5.0)

    assert not closing.is_alive(), "close() waits for a worker nobody wakes"
