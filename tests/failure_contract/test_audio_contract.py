"""The failure contract on audio and REAPER inputs, and on videos that open but are not whole.

A stem without a single sample, a REAPER project that is a pipe, a video cut short behind an
index at its front (a "fast start" file) and a picture renamed ``.mp4``: each command refuses
them with exit status 2 and one sentence naming the file and what is wrong, writes nothing,
and never hangs. Commands that would open a window or wait on a pipe run in a subprocess with
a time limit, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from cli_runner import Outcome, run_main
from hostile_inputs import release_fifo, snapshot
from PIL import Image

from plugin_core.media.audio_io import write_audio
from plugin_core.media.video import write_video
from plugin_core.spatial.foa import encode_mono

RATE = 48000


@dataclass(frozen=True)
class Kit:
    """Good inputs, and the hostile ones beside them."""

    folder: Path
    video: Path
    foa: Path
    empty: Path  # a 4-channel WAV with a header and no samples


def _frames(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(3)  # noise: every frame costs bytes, so a cut loses frames
    return [rng.integers(0, 255, (64, 128, 3), np.uint8) for _ in range(count)]


def write_fast_start(path: Path, count: int = 48, fps: int = 8) -> None:
    """An H.264 mp4 with its index (moov) before the pictures, as streaming-ready files are."""
    with av.open(str(path), mode="w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps, options={"g": "8"})
        stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
        for index, image in enumerate(_frames(count)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def cut(good: Path, bad: Path, keep: float = 0.4) -> Path:
    """``bad``: the first ``keep`` of ``good``'s bytes, as a copy or download that stopped."""
    data = good.read_bytes()
    bad.write_bytes(data[: int(len(data) * keep)])
    return bad


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    folder = tmp_path_factory.mktemp("audio-kit")
    video = folder / "scene.mp4"
    write_video(video, _frames(48), 8.0)
    noise = 0.1 * np.random.default_rng(0).standard_normal(6 * RATE)
    foa = folder / "field.wav"
    write_audio(foa, encode_mono(noise, 90.0, 0.0), RATE)
    empty = folder / "empty.wav"
    sf.write(empty, np.zeros((0, 4), np.float32), RATE, subtype="FLOAT")
    return Kit(folder, video, foa, empty)


def run_subprocess(*args: str | Path, timeout: float = 90) -> Outcome:
    """``omnifoa ARGS`` in its own process (Qt offscreen); status None when it did not finish."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-m", "plugin_core.cli", *map(str, args)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired as hung:
        return Outcome(None, _text(hung.stdout), _text(hung.stderr))
    return Outcome(done.returncode, done.stdout, done.stderr)


def _text(output: bytes | str | None) -> str:
    """What a timed-out process printed (bytes, whatever ``text`` asked for)."""
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def assert_refused(done: Outcome, *words: str) -> None:
    """Exit 2 and one sentence, in omnifoa's voice, holding every word; no traceback."""
    assert done.status is not None, f"the command hung; it printed {done.stderr!r}"
    assert done.status == 2, (done.status, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.messages()
    assert len(lines) == 1, lines
    assert lines[0].startswith("omnifoa: error: "), lines
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])


# ------------------------------------------------------------ a stem without samples


def empty_stem_commands(k: Kit, out: Path) -> dict[str, list[str | Path]]:
    """Every command that reads an FOA stem, given the empty one, writing into ``out``."""
    return {
        "analyze": ["analyze", k.empty, "--png", out / "a.png"],
        "convert": ["convert", k.empty, out / "c.wav", "--to", "fuma"],
        "binaural": ["binaural", k.empty, "-o", out / "b.wav"],
        "export-video": ["export-video", k.video, k.empty, "-o", out / "v.mp4"],
        "reaper export-rpp": ["reaper", "export-rpp", k.empty, "-o", out / "p.rpp"],
    }


@pytest.mark.parametrize("name", list(empty_stem_commands(Kit(*[Path()] * 4), Path())))
def test_a_stem_without_samples_is_refused_and_nothing_is_written(
    kit: Kit, tmp_path: Path, name: str
) -> None:
    argv = empty_stem_commands(kit, tmp_path)[name]
    before, inputs = snapshot(tmp_path), snapshot(kit.folder)
    done = run_main([str(a) for a in argv], timeout=120)
    assert_refused(done, "empty.wav", "no audio", "0 samples")
    assert snapshot(tmp_path) == before
    assert snapshot(kit.folder) == inputs


def test_the_preview_refuses_a_stem_without_samples_before_opening_a_window(kit: Kit) -> None:
    done = run_subprocess("preview", kit.empty)
    assert_refused(done, "empty.wav", "no audio", "0 samples")


# ------------------------------------------------------------ a REAPER project that is a pipe


@pytest.mark.parametrize("merge", [True, False], ids=["merge", "new"])
def test_a_project_that_is_a_pipe_is_refused_unopened(
    kit: Kit, tmp_path: Path, merge: bool
) -> None:
    fifo = tmp_path / "mix.rpp"
    os.mkfifo(fifo)
    before = snapshot(tmp_path)
    try:
        done = run_subprocess(
            "reaper", "export-rpp", kit.foa, "-o", fifo, *(["--merge"] if merge else []),
            timeout=60,
        )  # fmt: skip
    finally:
        release_fifo(fifo)
    assert_refused(done, "mix.rpp")
    assert "a pipe" in done.messages()[0].replace(str(fifo), "FILE")  # not the test's folder
    assert snapshot(tmp_path) == before  # no mix_media/ folder, no temporary


# ------------------------------------------------------------ videos that open but are not whole


@pytest.fixture(scope="module")
def broken_videos(kit: Kit) -> dict[str, Path]:
    """Videos that are not whole: cut with the index at the end or the front, a renamed PNG."""
    fast = kit.folder / "fast.mp4"
    write_fast_start(fast)
    picture = kit.folder / "still.mp4"
    Image.fromarray(_frames(1)[0]).save(picture, format="PNG")
    return {
        "cut, index at the end": cut(kit.video, kit.folder / "cut.mp4"),
        "cut, index at the front": cut(fast, kit.folder / "cut_fast.mp4"),
        "a PNG renamed .mp4": picture,
    }


VIDEO_PROBLEMS = {
    "cut, index at the end": ("cut.mp4", "complete"),  # FFmpeg finds no index at all
    "cut, index at the front": ("cut_fast.mp4", "truncated"),
    "a PNG renamed .mp4": ("still.mp4", "still image"),
}


def test_a_whole_fast_start_video_is_described(tmp_path: Path) -> None:
    fast = tmp_path / "fast.mp4"
    write_fast_start(fast)
    done = run_main(["info", str(fast)])
    assert done.status == 0, done.stderr
    assert "6.000 s" in done.stdout  # 48 frames at 8 fps


@pytest.mark.parametrize("kind", list(VIDEO_PROBLEMS))
def test_info_refuses_a_video_that_is_not_whole(broken_videos, kind: str) -> None:
    done = run_main(["info", str(broken_videos[kind])])
    assert_refused(done, *VIDEO_PROBLEMS[kind])
    assert done.stdout == ""  # no description of frames the file does not hold


@pytest.mark.parametrize("kind", list(VIDEO_PROBLEMS))
def test_the_preview_refuses_a_video_that_is_not_whole_before_opening_a_window(
    kit: Kit, broken_videos, kind: str
) -> None:
    done = run_subprocess("preview", broken_videos[kind], kit.foa)
    assert_refused(done, *VIDEO_PROBLEMS[kind])
