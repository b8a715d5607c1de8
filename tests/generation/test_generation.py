"""Generation from a real video file with a (tiny, untrained) model: any length, seamless
joins, loudness, delivery formats, the direction path, sidecars, and bad requests."""

import itertools
import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from model_fixtures import fov_views_seen

from models.family import SamplingCancelled, SamplingOptions, Take, ViewSpec, WindowSpec
from plugin_core.errors import InputError
from plugin_core.generation import conditioning, frame_features, window_frames, windowing
from plugin_core.generation import pipeline as pipeline_module
from plugin_core.generation.loaded_model import LoadedModel, unregistered
from plugin_core.generation.loudness import integrated_loudness, true_peak_dbtp
from plugin_core.generation.pipeline import generate
from plugin_core.generation.request import GenerationRequest
from plugin_core.generation.stage_clock import STAGES, StageClock
from plugin_core.media import stem_writer as stem_writer_module
from plugin_core.media.audio_io import read_foa
from plugin_core.media.stem_sidecar import sha256_of
from plugin_core.media.video import decode as decode_module
from plugin_core.media.video import decode_range, write_video
from plugin_core.spatial.direction_path import DirectionPath
from plugin_core.spatial.foa import encode_mono, intensity_directions, to_ambix
from plugin_core.synthsphere import make_scene, render_frames


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "scene.mp4"
    write_video(path, render_frames(make_scene(3, 3.5), 256, 128, 12.0), 12.0)
    return path


def request(video: Path, out: Path, **changes) -> GenerationRequest:
    return GenerationRequest(video=video, output=out, steps=2, **changes)


def fov_yaws_seen(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """Collects, per window, the FoV yaw of every frame whose features are computed for it
    (decoded frames chunk by chunk, then frames holding the last one)."""
    seen: list[np.ndarray] = []
    real_window = conditioning.WindowConditioning.features
    real_frames, real_held = conditioning.frame_features, conditioning.held_features
    real_whole = conditioning.window_features

    def window(self, *args, **kwargs):
        seen.append(np.zeros(0))
        return real_window(self, *args, **kwargs)

    def frames(model, frames, yaw, pitch, fov, views=None):
        seen[-1] = np.concatenate([seen[-1], np.asarray(yaw)])
        return real_frames(model, frames, yaw, pitch, fov, views)

    def held(model, features, last, yaw, pitch, fov):
        seen[-1] = np.concatenate([seen[-1], np.asarray(yaw)])
        return real_held(model, features, last, yaw, pitch, fov)

    def whole(model, frames, yaw, pitch, fov, count):  # a window with no new frames
        seen[-1] = np.concatenate([seen[-1], np.asarray(yaw)[:count]])
        return real_whole(model, frames, yaw, pitch, fov, count)

    monkeypatch.setattr(conditioning.WindowConditioning, "features", window)
    monkeypatch.setattr(conditioning, "frame_features", frames)
    monkeypatch.setattr(conditioning, "held_features", held)
    monkeypatch.setattr(conditioning, "window_features", whole)
    return seen


def test_a_span_of_several_windows_is_one_file_as_long_as_the_video(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    out = tmp_path / "stem.wav"
    seen: list[tuple[int, int]] = []
    result = generate(request(video, out, seed=3), loaded, lambda i, n: seen.append((i, n)))
    assert result.paths == [out]
    # 3.5 s in windows of 44096 samples (1 s) starting every 33075 (6 frames at 8 fps, so
    # 0.25 s of overlap)
    assert [w.start for w in result.windows] == [0, 33075, 66150, 99225, 132300]
    # 5 windows x (frame features + 2 steps), the features weighing as much as the steps:
    # progress moves while a window's frames are encoded and again once they are all in,
    # before its first sampling step
    assert seen[-1] == (20, 20)
    assert seen[0][0] < 2
    assert (2, 20) in seen
    assert [i for i, _ in seen] == sorted(i for i, _ in seen)
    audio, rate = read_foa(out)
    assert rate == 48000
    assert abs(audio.shape[1] - 3.5 * 48000) <= 2
    # loudness at the target on W, true peak under the ceiling (the untrained model's output
    # is near-white noise: the resampler to 48 kHz trims its 20-22 kHz band, about -0.5 dB
    # K-weighted, which real sound hardly has)
    assert integrated_loudness(audio, rate) == pytest.approx(-23.0, abs=0.8)
    assert true_peak_dbtp(audio) <= -1.0 + 0.05


def test_joins_crossfade_each_window_into_the_next(
    loaded: LoadedModel, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows_in: list[np.ndarray] = []
    real_add = windowing.CrossfadeJoiner.add

    def spy(self, audio):
        windows_in.append(audio.copy())
        return real_add(self, audio)

    monkeypatch.setattr(windowing.CrossfadeJoiner, "add", spy)
    out = tmp_path / "stem.wav"
    result = generate(request(video, out, seed=4, sample_rate=44100), loaded)
    audio, _ = read_foa(out)
    audio /= 10 ** (result.levels[0].gain_db / 20)  # the stem's one gain: windows untouched
    assert result.amplitude_joins == [0]
    n = result.windows[0].end - result.windows[1].start
    phase = (np.arange(n) + 0.5) / n * np.pi / 2
    fade_out, fade_in = np.cos(phase), np.sin(phase)
    for prev, cur, w in zip(windows_in, windows_in[1:], result.windows[1:], strict=False):
        expected = prev[:, -n:] * fade_out + cur[:, :n] * fade_in
        scale = np.abs(expected).max()
        np.testing.assert_allclose(audio[:, w.start : w.start + n], expected, atol=2e-6 * scale)
        # just before the join only the previous window sounds, just after only this one
        np.testing.assert_allclose(audio[:, w.start - 1], prev[:, -n - 1], atol=2e-6 * scale)
        np.testing.assert_allclose(audio[:, w.start + n], cur[:, n], atol=2e-6 * scale)


def test_same_seed_same_file_and_variations_are_takes_of_one_stem(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    a = generate(request(video, tmp_path / "a.wav", end=1.5), loaded).paths[0]
    b = generate(request(video, tmp_path / "b.wav", end=1.5), loaded).paths[0]
    np.testing.assert_array_equal(read_foa(a)[0], read_foa(b)[0])
    stem = tmp_path / "v" / "v.wav"
    stem.parent.mkdir()
    several = generate(request(video, stem, end=1.5, variations=3, seed=5), loaded)
    assert sorted(p.name for p in stem.parent.iterdir()) == ["v.wav", "v.wav.json", "v.wav.takes"]
    assert several.paths == [stem.parent / "v.wav.takes" / f"take{i}.wav" for i in (1, 2, 3)]
    takes = [read_foa(p)[0] for p in several.paths]
    assert all(t.shape == takes[0].shape for t in takes)  # same length, same span
    assert not np.array_equal(takes[0], takes[1])
    assert not np.array_equal(takes[1], takes[2])
    np.testing.assert_array_equal(read_foa(stem)[0], takes[0])  # the stem plays the chosen
    sidecar = json.loads((stem.parent / "v.wav.json").read_text())
    assert sidecar["chosen"] == 1
    assert [
        (t["number"], t["file"], t["seed"], t["made"]["variation"]) for t in sidecar["takes"]
    ] == [(i + 1, f"v.wav.takes/take{i + 1}.wav", 5, i) for i in range(3)]
    assert sidecar["request"]["variations"] == 3


def test_fuma_delivery_is_the_ambix_stem_in_fuma_order_and_44k1_pcm24_works(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    ambix = generate(request(video, tmp_path / "a.wav", end=1.5), loaded).paths[0]
    fuma = generate(request(video, tmp_path / "f.wav", end=1.5, convention="fuma"), loaded)
    a, _ = read_foa(ambix)
    f, _ = read_foa(fuma.paths[0])
    np.testing.assert_allclose(to_ambix(f, "fuma"), a, atol=1e-5)
    pcm = generate(
        request(video, tmp_path / "p.wav", end=1.5, sample_rate=44100, subtype="pcm24"), loaded
    )
    audio, rate = read_foa(pcm.paths[0])
    assert rate == 44100
    assert abs(audio.shape[1] - 1.5 * 44100) <= 2
    assert soundfile.info(str(pcm.paths[0])).subtype == "PCM_24"


def test_the_fov_follows_the_direction_path_frame_by_frame(
    loaded: LoadedModel, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = fov_yaws_seen(monkeypatch)
    path = DirectionPath((0.0, 2.0), (0.0, 160.0), (0.0, 0.0))
    generate(request(video, tmp_path / "p.wav", start=0.5, end=2.5, path=path), loaded)
    fps = loaded.model.window.frame_rate
    first = seen[0]
    # frame k of the first window is at 0.5 + k/fps s: yaw 80 deg per second from 0
    np.testing.assert_allclose(first, np.clip((0.5 + np.arange(len(first)) / fps) * 80, 0, 160))
    assert seen[-1][-1] == pytest.approx(160.0)


def test_frames_two_windows_share_are_decoded_and_encoded_once(
    loaded: LoadedModel, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: list[dict[str, torch.Tensor]] = []
    real_sample = loaded.model.sample
    seen = fov_yaws_seen(monkeypatch)

    def keep(features, *args, **kwargs):
        given.append(features)
        return real_sample(features, *args, **kwargs)

    monkeypatch.setattr(loaded.model, "sample", keep)
    path = DirectionPath((0.0, 3.5), (-170.0, 170.0), (0.0, 10.0))
    result = generate(request(video, tmp_path / "r.wav", path=path), loaded)
    encoded = [len(yaws) for yaws in seen]
    fps = loaded.model.window.frame_rate
    per_window = loaded.model.window.frames
    # 8 frames per window, windows 6 frames apart: each frame of the 3.5 s is encoded once
    # (28 at 8 fps), plus the last window's 4 beyond the video (its last frame held)
    assert sum(encoded) == round(3.5 * fps) + 4 < len(result.windows) * per_window
    shift = round(result.windows[1].start * fps / 44100)
    taken_second = given[1]
    for before, after in itertools.pairwise(given):
        for branch in ("panorama", "fov"):  # features of the shared frames: the same
            torch.testing.assert_close(after[branch][: per_window - shift], before[branch][shift:])
    # a run of just the second window computes the same features as the one taken over
    given.clear()
    start = result.windows[1].start / 44100
    generate(request(video, tmp_path / "one.wav", path=path, start=start, end=start + 1.0), loaded)
    torch.testing.assert_close(given[-1], taken_second, atol=1e-4, rtol=1e-4)


def test_the_sidecar_records_how_the_stem_was_made(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    result = generate(request(video, tmp_path / "s.wav", start=0.5, end=2.0, seed=9), loaded)
    doc = json.loads((tmp_path / "s.wav.json").read_text())
    assert doc["schema"] == "omnifoa-stem"
    assert doc["request"]["seed"] == 9
    assert doc["request"]["steps"] == 2
    assert doc["model"]["id"] == "tiny-test"
    assert doc["source"] == {
        "video": str(video),
        "sha256": sha256_of(video),
        "start": 0.5,
        "end": 2.0,
    }
    assert doc["delivery"]["convention"].startswith("AmbiX")
    assert doc["delivery"]["sample_rate"] == 48000
    assert len(doc["windows"]) == len(result.windows)
    assert doc["windows"][0]["start"] == pytest.approx(0.5)
    assert doc["windows"][-1]["end"] == pytest.approx(2.0, abs=1e-4)


def test_an_existing_stem_is_kept_unless_overwriting_is_asked_for(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    out = tmp_path / "mine.wav"
    out.write_bytes(b"a user's file")
    with pytest.raises(InputError, match="exists"):
        generate(request(video, out, end=1.0), loaded)
    assert out.read_bytes() == b"a user's file"
    generate(request(video, out, end=1.0, overwrite=True), loaded)
    assert read_foa(out)[0].shape[0] == 4


def test_a_failure_midway_leaves_no_file_behind(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    def fail_in_the_third_window(i: int, n: int) -> None:
        if i > 4:
            raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        generate(request(video, tmp_path / "x.wav"), loaded, fail_in_the_third_window)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start": 30.0}, "past the end of the video"),
        ({"end": 9.0}, "past the end of the video"),
        ({"start": 1.0, "end": 1.2}, "at least 0.5 s"),
        ({"fov": 200.0}, "fov must be between 1 and 179"),
        ({"variations": 0}, "variations must be between 1 and 16"),
        ({"sampler": "rk4"}, "sampler must be one of euler, heun, joint, dual"),
        ({"loudness": 3.0}, "loudness must be between -70 and -1"),
        ({"yaw": float("nan")}, "yaw must be a finite number"),
        ({"cfg": float("inf")}, "cfg must be a finite number"),
    ],
)
def test_bad_requests_write_nothing(
    loaded: LoadedModel, video: Path, tmp_path: Path, changes: dict, message: str
) -> None:
    out = tmp_path / "stem.wav"
    with pytest.raises(InputError, match=message):
        generate(request(video, out, **changes), loaded)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_output_folder_is_named(loaded: LoadedModel, video: Path, tmp_path: Path):
    with pytest.raises(InputError, match="does not exist"):
        generate(request(video, tmp_path / "nowhere" / "stem.wav"), loaded)


@pytest.mark.parametrize("content", [b"", b"not a video at all", b"\x00\x00\x00\x18ftypmp42" * 3])
def test_a_corrupt_or_empty_video_is_named_and_nothing_is_written(
    loaded: LoadedModel, tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(content)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match=r"broken\.mp4"):
        generate(request(bad, out / "stem.wav"), loaded)
    assert list(out.iterdir()) == []


def test_a_truncated_video_is_named_and_nothing_is_written(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.mp4"  # the first half: the movie header, at the end, is gone
    cut.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match=r"cut\.mp4"):
        generate(request(cut, out / "stem.wav"), loaded)
    assert list(out.iterdir()) == []


def test_a_span_a_little_longer_than_a_window_ends_with_a_short_fade_not_a_window(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    window_s = loaded.model.window.samples / loaded.model.window.sample_rate  # 44096 samples
    end = window_s + 0.02  # 20 ms more than one window
    result = generate(request(video, tmp_path / "s.wav", end=end, sample_rate=44100), loaded)
    assert len(result.windows) == 1
    audio, rate = read_foa(result.paths[0])
    assert abs(audio.shape[1] - end * rate) <= 1
    assert np.all(audio[:, loaded.model.window.samples :] == 0)  # the padded 20 ms
    assert np.abs(audio[:, -900:]).max() < np.abs(audio[:, :-2000]).max() / 10  # faded out


def test_aim_points_the_fov_along_the_moving_object(
    loaded: LoadedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = make_scene(4, 2.0, objects=1, motions=["pan"], directions=[(100.0, 0.0)])
    video = tmp_path / "pan.mp4"
    write_video(video, render_frames(scene, 256, 128, 8.0), 8.0)
    seen = fov_yaws_seen(monkeypatch)
    result = generate(request(video, tmp_path / "aimed.wav", aim=True), loaded)
    traj = scene.objects[0].trajectory
    fps = loaded.model.window.frame_rate
    times = np.arange(len(seen[0])) / fps
    truth = np.interp(times, traj.times, np.unwrap(traj.az, period=360))
    assert np.abs((seen[0] - truth + 180) % 360 - 180).mean() < 10.0
    doc = json.loads((tmp_path / "aimed.wav.json").read_text())
    assert doc["request"]["aim"] is True
    assert len(doc["request"]["path"]["keys"]) >= 16  # the path found, recorded
    assert result.paths == [tmp_path / "aimed.wav"]


def test_aiming_at_the_action_and_along_a_path_at_once_is_refused(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    path = DirectionPath((0.0,), (10.0,), (0.0,))
    with pytest.raises(InputError, match="not both"):
        generate(request(video, tmp_path / "x.wav", aim=True, path=path), loaded)
    assert list(tmp_path.iterdir()) == []


def test_held_frames_cost_one_encode_per_direction_and_match_encoding_each(
    loaded: LoadedModel, video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = decode_range(video, 0.0, 0.5, fps=8.0, size=(256, 128)).frames[:3]
    yaw = np.array([0.0, 10.0, 20.0, 30.0, 30.0, 30.0, 40.0, 40.0])
    pitch = np.full(8, 5.0)
    model = loaded.model
    encoded = []
    real = frame_features.frame_features

    def counting(model_, frames_, *args):
        encoded.append(len(next(iter(frames_.values()))))
        return real(model_, frames_, *args)

    monkeypatch.setattr(frame_features, "frame_features", counting)
    by_view = {view.name: frames for view in model.views}
    got = frame_features.window_features(model, by_view, yaw, pitch, 100.0, 8)
    assert encoded == [3, 2]  # 3 real frames; the held last frame at 30° and at 40°
    held = np.concatenate([frames, np.repeat(frames[-1:], 5, axis=0)])
    ref = real(model, {view.name: held for view in model.views}, yaw, pitch, 100.0)
    for name in ("panorama", "fov"):
        torch.testing.assert_close(got[name], ref[name], atol=1e-4, rtol=1e-4)


# --- joins: what a direction does to the pixels the encoder sees and to the sound on disk ---


def disc_panorama(path: Path, seconds: float = 2.0) -> None:
    """Grey panorama with a red disc at azimuth +90 (left) and a blue one at -90 (right)."""
    width, height = 256, 128
    frame = np.full((height, width, 3), 128, np.uint8)
    rows, cols = np.mgrid[:height, :width]
    for az, colour in ((90.0, (255, 0, 0)), (-90.0, (0, 0, 255))):
        column = (0.5 - az / 360) * width - 0.5
        frame[(rows - height / 2 + 0.5) ** 2 + (cols - column) ** 2 < 14**2] = colour
    write_video(path, [frame] * round(seconds * 8), 8.0)


@pytest.mark.parametrize(("yaw", "colour"), [(90.0, "red"), (-90.0, "blue"), (0.0, "grey")])
def test_the_fov_encoder_sees_what_the_camera_direction_points_at(
    loaded: LoadedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, yaw: float, colour: str
) -> None:
    video = tmp_path / "discs.mp4"
    disc_panorama(video)
    seen = fov_views_seen(loaded.model, monkeypatch)
    generate(request(video, tmp_path / "s.wav", yaw=yaw, end=1.0), loaded)
    centre = torch.cat(seen)[:, :, 100:124, 100:124].mean(dim=(0, 2, 3))  # RGB in [0, 1]
    expected = {"red": (1.0, 0.0, 0.0), "blue": (0.0, 0.0, 1.0), "grey": (0.5, 0.5, 0.5)}[colour]
    torch.testing.assert_close(centre, torch.tensor(expected), atol=0.12, rtol=0)


class PointingModel:
    """A model family that puts noise where the camera points: the join's known answer."""

    family = "pointing"
    preset = "pointing"
    views = (ViewSpec("fov", "perspective", 32, 90.0),)
    device = torch.device("cpu")
    window = WindowSpec(sample_rate=44100, samples=44100, seconds=1.0, frame_rate=8.0)

    def check_options(self, options: SamplingOptions) -> None:
        pass

    def steps(self, options: SamplingOptions) -> int:
        return 1

    def encode(self, views: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {name: view.mean(dim=(2, 3)) for name, view in views.items()}

    def sample(self, features, directions, seed, variations, options, without=(), **_):
        rng = np.random.default_rng(seed)
        az, el = directions.mean(dim=0).tolist()
        noise = 0.1 * rng.standard_normal((variations, self.window.samples))
        return Take(torch.from_numpy(np.stack([encode_mono(n, az, el) for n in noise])).float())

    def describe(self, options: SamplingOptions) -> dict[str, str]:
        return {"family": self.family}


@pytest.mark.parametrize("convention", ["ambix", "fuma"])
def test_a_sound_the_model_puts_at_the_camera_direction_is_there_in_the_delivered_stem(
    video: Path, tmp_path: Path, convention: str
) -> None:
    pointing = unregistered(PointingModel(), "pointing")
    out = tmp_path / "p.wav"
    generate(request(video, out, yaw=100.0, pitch=-20.0, convention=convention), pointing)
    audio, rate = read_foa(out)
    track = intensity_directions(to_ambix(audio, convention), rate, 0.5)
    assert np.median(track.az) == pytest.approx(100.0, abs=2.0)
    assert np.median(track.el) == pytest.approx(-20.0, abs=2.0)


def test_the_peak_level_puts_the_highest_sample_of_the_stem_at_the_target(
    video: Path, tmp_path: Path
) -> None:
    pointing = unregistered(PointingModel(), "pointing")
    out = tmp_path / "p.wav"
    changes = {"level": "peak", "peak": -6.0, "sample_rate": 44100}
    generate(request(video, out, yaw=30.0, **changes), pointing)
    audio, _ = read_foa(out)
    assert np.abs(audio).max() == pytest.approx(10 ** (-6 / 20), rel=1e-5)
    level = json.loads((tmp_path / "p.wav.json").read_text())["level"]
    assert level["mode"] == "peak"
    assert level["sample_peak_dbfs"] == pytest.approx(-6.0, abs=1e-6)


class LouderToTheLeftModel(PointingModel):
    """Quiet while the camera looks ahead, 30x louder once it has turned left."""

    def sample(self, features, directions, seed, variations, options, without=(), **_):
        foa = super().sample(features, directions, seed, variations, options).audio
        return Take(foa * (0.1 if float(directions[:, 0].mean()) < 45.0 else 3.0))


def test_one_gain_for_the_whole_stem_keeps_quiet_and_loud_windows_apart(
    video: Path, tmp_path: Path
) -> None:
    model = unregistered(LouderToTheLeftModel(), "louder")
    path = DirectionPath((0.0, 1.2, 2.2, 3.5), (0.0, 0.0, 90.0, 90.0), (0.0, 0.0, 0.0, 0.0))
    out = tmp_path / "d.wav"
    generate(request(video, out, path=path, sample_rate=44100), model)
    audio, rate = read_foa(out)
    quiet = integrated_loudness(audio[:, : rate // 2], rate)
    loud = integrated_loudness(audio[:, -rate:], rate)
    assert loud - quiet == pytest.approx(20 * np.log10(30), abs=1.0)  # per window: both -23
    assert integrated_loudness(audio, rate) == pytest.approx(-23.0, abs=0.1)


def test_a_cancel_is_heard_while_the_action_is_being_found(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    asked: list[int] = []

    def cancel() -> bool:
        asked.append(1)
        return len(asked) > 3

    with pytest.raises(SamplingCancelled):
        generate(request(video, tmp_path / "a.wav", aim=True), loaded, cancel=cancel)
    assert len(asked) == 4  # at the 4th frame looked at, long before any sampling step
    assert list(tmp_path.iterdir()) == []


class WorkLog:
    """The order of events in a run: each unit of work the caller's thread starts and ends,
    the cancel button's press; and each frame the decoding thread converts, with whether
    decoding had been told to stop by then."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.pressed = False
        self.decode_stops: list = []  # the decoding thread's stop() of each decoded range
        self.frames: list[tuple[object, bool]] = []  # (frame time, stop already asked)
        self.decoding_stopped = False  # told to stop while the first frame was held

    def cancel(self) -> bool:
        return self.pressed

    def press(self) -> None:
        if not self.pressed:
            self.pressed = True
            self.events.append(("press", ""))

    def unit(self, monkeypatch: pytest.MonkeyPatch, owner, name: str, press_at=None) -> None:
        """Log each call of ``owner.name`` as a unit of work; ``press_at`` "start" or "end"
        presses cancel at that point of the first call."""
        real = getattr(owner, name)

        def logged(*args, **kwargs):
            self.events.append(("start", name))
            if press_at == "start":
                self.press()
            out = real(*args, **kwargs)
            if press_at == "end":
                self.press()
            self.events.append(("end", name))
            return out

        monkeypatch.setattr(owner, name, logged)

    def decoding(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Log every frame converted; the first one presses cancel and holds the decoding
        thread until decoding is told to stop (as a long 4K frame would)."""
        real_chunks, real_rgb = decode_module._range_chunks, decode_module._to_rgb

        def chunks(source, start, end, fps, sizes, chunk, stop=None):
            self.decode_stops.append(stop)
            return real_chunks(source, start, end, fps, sizes, chunk, stop)

        def to_rgb(frame, size):
            stop = self.decode_stops[-1]
            self.frames.append((frame.pts, bool(stop and stop())))
            if not self.pressed:
                self.press()
                deadline = time.monotonic() + 60.0  # only so that a broken cancel fails
                while not stop() and time.monotonic() < deadline:
                    time.sleep(0.005)
                self.decoding_stopped = stop()
            return real_rgb(frame, size)

        monkeypatch.setattr(decode_module, "_range_chunks", chunks)
        monkeypatch.setattr(decode_module, "_to_rgb", to_rgb)

    def started_after_the_pressed_unit(self) -> list[str]:
        """Units that started after the unit in which cancel was pressed had ended."""
        at = self.events.index(("press", ""))
        ends = [i for i, (kind, _) in enumerate(self.events) if kind == "end" and i > at]
        after = ends[0] if ends else at
        return [name for kind, name in self.events[after + 1 :] if kind == "start"]


@pytest.mark.parametrize(
    "stage", ["decoding", "frame features", "codec decode", "writing", "stem pass 2"]
)
def test_a_cancel_starts_no_further_work_in_any_stage(
    stage: str, loaded: LoadedModel, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pressed during a unit of work (a frame decoded, a chunk of frames encoded, a window
    sampled and its codec decoded, a window written, a block of the stem's final pass), the
    cancel is heard before the next unit starts, and nothing is left behind. (How long a
    stop takes on real footage is measured by benchmarks/bench_cancel.py.)"""
    monkeypatch.setattr(window_frames, "CHUNK_FRAMES", 2)
    monkeypatch.setattr(stem_writer_module, "_BLOCK", 4096)  # the final pass: many blocks
    log = WorkLog()
    pressed_in = {  # the unit in whose first call cancel is pressed, and when in it
        "frame features": ("frame_features", "start"),
        "codec decode": ("sample", "end"),  # the codec decode ends the sampling call
        "writing": ("write", "start"),
    }.get(stage, (None, None))
    for owner, name in [
        (conditioning, "frame_features"),  # a chunk of frames cut into views and encoded
        (loaded.model, "sample"),  # a window's sampling and codec decode
        (pipeline_module.StemWriter, "write"),  # a window's samples written
    ]:
        log.unit(monkeypatch, owner, name, pressed_in[1] if pressed_in[0] == name else None)
    if stage == "decoding":
        log.decoding(monkeypatch)
    if stage == "stem pass 2":  # pressed as the final pass writes its first block
        real_finish = pipeline_module.StemWriter.finish

        def finish(self, gain_db=0.0, stop=None):
            log.unit(monkeypatch, stem_writer_module.sf.SoundFile, "write", "start")
            return real_finish(self, gain_db, stop)

        monkeypatch.setattr(pipeline_module.StemWriter, "finish", finish)

    with pytest.raises(SamplingCancelled):
        generate(request(video, tmp_path / "c.wav", end=2.0), loaded, cancel=log.cancel)

    assert log.pressed
    assert log.started_after_the_pressed_unit() == []
    if stage == "decoding":  # the frame being converted is finished; no other one starts
        assert log.decoding_stopped
        held = log.frames[0][0]
        assert [pts for pts, stopped in log.frames if stopped and pts != held] == []
        assert ("start", "frame_features") not in log.events
    assert list(tmp_path.iterdir()) == []


def test_progress_moves_while_frames_are_decoded_and_encoded(
    loaded: LoadedModel, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(window_frames, "CHUNK_FRAMES", 2)  # four chunks per 8-frame window
    reports: list[tuple[int, int]] = []
    first_step: list[int] = []
    real = loaded.model.sample

    def sample(*args, **kwargs):
        first_step.append(len(reports))
        return real(*args, **kwargs)

    monkeypatch.setattr(loaded.model, "sample", sample)
    job = GenerationRequest(video=video, output=tmp_path / "p.wav", steps=8, end=1.0)
    generate(job, loaded, lambda i, n: reports.append((i, n)))
    before_sampling = [i for i, _ in reports[: first_step[0]]]
    steps = loaded.model.steps(SamplingOptions(steps=8))
    # a window is 2 × steps units: the first half moves chunk by chunk as frames are encoded
    assert len(set(before_sampling)) >= 4
    assert before_sampling == sorted(before_sampling)
    assert before_sampling[-1] == steps


@pytest.mark.parametrize("stage", ["frames", "sampling", "codec decode", "writing"])
def test_timings_charge_the_stage_that_took_the_time(
    stage: str, loaded: LoadedModel, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a clock that moves only while one kind of work runs, all of the run's time is
    charged to that work's stage and none to the others."""
    ticks = [0.0]
    calls: list[int] = []
    delay = 0.4
    generator = loaded.model.generator
    owner, name = {
        "frames": (loaded.model, "encode"),  # once per chunk of frames
        "sampling": (generator.flow, "forward"),  # every network pass
        "codec decode": (generator.codec, "decode"),
        "writing": (pipeline_module.StemWriter, "write"),
    }[stage]
    real = getattr(owner, name)

    def taking_time(*args, **kwargs):
        calls.append(1)
        ticks[0] += delay
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, taking_time)
    clock = StageClock(timer=lambda: ticks[0])
    generate(request(video, tmp_path / "t.wav", end=1.0), loaded, clock=clock)

    totals = clock.totals()
    assert calls
    assert totals[stage] == pytest.approx(delay * len(calls))
    assert {s: t for s, t in totals.items() if s != stage} == dict.fromkeys(
        (s for s in STAGES if s != stage), 0.0
    )
    # the stages follow each other: together they are the run, no more and no less
    assert sum(totals.values()) == pytest.approx(clock.now())
