"""Marked-object tracking and motion saliency on rendered SynthSphere videos with ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from plugin_core.errors import InputError
from plugin_core.evaluation.tracking_eval import errors, truth_at
from plugin_core.media.video import write_video
from plugin_core.spatial.direction_path import DirectionPath
from plugin_core.spatial.directions import erp_pixel_directions, great_circle_deg
from plugin_core.spatial.projection import erp_to_perspective
from plugin_core.synthsphere import make_scene, render_frames
from plugin_core.synthsphere.backdrop import render_backdrop
from plugin_core.synthsphere.scene import Scene
from plugin_core.tracking import (
    Track,
    direction_to_view_pixel,
    propose_paths,
    spherical_tracker,
    strongest_path,
    track_object,
    view_pixel_to_direction,
)
from plugin_core.tracking.gnomonic import sample_view
from plugin_core.tracking.track import fill_lost

FPS = 8.0
SECONDS = 4.0
WIDTH = 1024
TRACK_LIMIT_DEG = 10.0  # mean great-circle error allowed for a marked object
SALIENCY_LIMIT_DEG = 15.0  # mean great-circle error allowed for the strongest saliency path


def _scene_video(folder: Path, name: str, scene: Scene, hide: range = range(0)) -> Path:
    """Render ``scene`` to an mp4; frames in ``hide`` have the object painted over by the sky."""
    frames = np.stack(list(render_frames(scene, WIDTH, WIDTH // 2, FPS)))
    if hide:
        obj = scene.objects[0]
        backdrop = render_backdrop(scene.backdrop, WIDTH, WIDTH // 2)
        az, el = erp_pixel_directions(WIDTH, WIDTH // 2)
        true_az, true_el = truth_at(obj, np.arange(len(frames)) / FPS)
        for k in hide:
            cover = great_circle_deg(az, el, true_az[k], true_el[k]) < 1.5 * obj.look.radius_deg
            frames[k][cover] = backdrop[cover]
    path = folder / f"{name}.mp4"
    write_video(path, frames, FPS)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tracking")


@pytest.fixture(scope="module")
def seam(folder: Path) -> tuple[Path, Scene]:
    """An object behind the camera crossing the ±180° seam (150° to about -125°)."""
    scene = make_scene(0, SECONDS, objects=1, motions=["seam"], directions=[(150.0, 0.0)])
    return _scene_video(folder, "seam", scene), scene


@pytest.fixture(scope="module")
def climb(folder: Path) -> tuple[Path, Scene]:
    """A striped object climbing from 20° to about 79° elevation, near the pole."""
    scene = make_scene(4, SECONDS, objects=1, motions=["climb"], directions=[(30.0, 20.0)])
    return _scene_video(folder, "climb", scene), scene


@pytest.fixture(scope="module")
def pan(folder: Path) -> tuple[Path, Scene]:
    """An object panning fast (about 29°/s) from -60° round to about -176°."""
    scene = make_scene(1, SECONDS, objects=1, motions=["pan"], directions=[(-60.0, 10.0)])
    return _scene_video(folder, "pan", scene), scene


@pytest.fixture(scope="module")
def hidden(folder: Path) -> tuple[Path, Scene]:
    """A panning object painted over by the backdrop for frames 12-19 (1.5 s to 2.375 s)."""
    scene = make_scene(5, SECONDS, objects=1, motions=["pan"], directions=[(20.0, 5.0)])
    return _scene_video(folder, "hidden", scene, hide=range(12, 20)), scene


def _track_from(video: Path, scene: Scene, mark_time: float) -> Track:
    az, el = truth_at(scene.objects[0], np.array([mark_time]))
    return track_object(video, float(az[0]), float(el[0]), mark_time, fps=FPS)


# ------------------------------------------------------------------ view pixel geometry


def test_pixel_right_of_centre_in_a_front_view_looks_to_negative_azimuth() -> None:
    az, el = view_pixel_to_direction(90.0, 50.0, 0.0, 0.0, 90.0, 101)
    assert az == pytest.approx(-38.66, abs=0.01)  # atan(0.8): x = 0.8 of the half-width
    assert el == pytest.approx(0.0, abs=1e-9)
    _, up = view_pixel_to_direction(50.0, 10.0, 0.0, 0.0, 90.0, 101)
    assert up > 0.0  # rows count downwards, so a row above the centre looks up


@pytest.mark.parametrize(("yaw", "pitch"), [(0.0, 0.0), (175.0, -20.0), (-120.0, 78.0)])
def test_view_pixels_and_directions_round_trip(yaw: float, pitch: float) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 200, 50), rng.uniform(0, 200, 50)
    az, el = view_pixel_to_direction(x, y, yaw, pitch, 100.0, 201)
    back_x, back_y = direction_to_view_pixel(az, el, yaw, pitch, 100.0, 201)
    np.testing.assert_allclose(back_x, x, atol=1e-9)
    np.testing.assert_allclose(back_y, y, atol=1e-9)


def test_sampled_view_matches_the_projection_module() -> None:
    """The tracker's OpenCV view sampler shows what projection.erp_to_perspective shows."""
    az, el = erp_pixel_directions(512, 256)
    spot = np.clip(6.0 - great_circle_deg(az, el, -170.0, 65.0), 0.0, 3.0) / 3.0  # soft edge
    erp = np.repeat((255 * spot).astype(np.uint8)[..., None], 3, axis=-1)  # behind, high up
    ours = sample_view(erp, 175.0, 55.0, 90.0, 101)
    reference = erp_to_perspective(torch.from_numpy(erp[None]), 175.0, 55.0, 90.0, 101)[0]
    np.testing.assert_allclose(ours, reference.permute(1, 2, 0).numpy(), atol=0.03)
    rows, cols = np.nonzero(ours[..., 0] > 0.5)
    x, y = direction_to_view_pixel(-170.0, 65.0, 175.0, 55.0, 90.0, 101)
    assert (cols.mean(), rows.mean()) == pytest.approx((float(x), float(y)), abs=0.5)


# ------------------------------------------------------------------ marked-object tracking


def test_tracks_an_object_across_the_seam_behind_the_camera(seam: tuple[Path, Scene]) -> None:
    video, scene = seam
    track = _track_from(video, scene, 0.0)
    assert track.az[0] == pytest.approx(150.0, abs=3.0)
    assert track.az[-1] < -110.0  # it went round the back, not the front
    assert errors(track, scene.objects[0]).mean() < TRACK_LIMIT_DEG
    assert not track.lost.any()


def test_tracks_a_climbing_object_near_the_pole(climb: tuple[Path, Scene]) -> None:
    video, scene = climb
    track = _track_from(video, scene, 0.0)
    assert track.el.max() > 70.0
    assert errors(track, scene.objects[0]).mean() < TRACK_LIMIT_DEG


def test_mid_clip_mark_tracks_backward_and_forward(pan: tuple[Path, Scene]) -> None:
    video, scene = pan
    calls: list[tuple[int, int]] = []
    az, el = truth_at(scene.objects[0], np.array([2.0]))
    track = track_object(
        video, float(az[0]), float(el[0]), 2.0, progress=lambda *a: calls.append(a)
    )
    error = errors(track, scene.objects[0])
    assert len(track.times) == round(SECONDS * FPS)
    assert error[:16].mean() < TRACK_LIMIT_DEG  # before the mark
    assert error[16:].mean() < TRACK_LIMIT_DEG  # after it
    assert calls[-1] == (len(track.times), len(track.times))
    # The apparent size is measured from the outline at the mark (no size given).
    diameter = 2.0 * scene.objects[0].look.radius_deg
    assert np.median(track.size_deg) == pytest.approx(diameter, rel=0.15)


def test_the_marked_point_is_followed_not_the_outline_centre(pan: tuple[Path, Scene]) -> None:
    video, scene = pan
    thing = scene.objects[0]
    offset = 0.5 * thing.look.radius_deg  # a mark on the object's upper half
    az, el = truth_at(thing, np.array([2.0]))
    track = track_object(video, float(az[0]), float(el[0]) + offset, 2.0, fps=FPS)
    at_mark = int(np.argmin(np.abs(track.times - 2.0)))
    assert track.az[at_mark] == pytest.approx(az[0], abs=0.5)
    assert track.el[at_mark] == pytest.approx(el[0] + offset, abs=0.5)  # not snapped
    _, true_el = truth_at(thing, track.times)
    assert np.median(track.el - true_el) == pytest.approx(offset, abs=0.35 * offset)


def test_backward_pass_gives_the_same_track_when_decoded_in_small_chunks(
    pan: tuple[Path, Scene], monkeypatch: pytest.MonkeyPatch
) -> None:
    video, scene = pan
    whole = _track_from(video, scene, 3.0)
    monkeypatch.setattr(spherical_tracker, "CHUNK_FRAMES", 7)
    chunked = _track_from(video, scene, 3.0)
    np.testing.assert_allclose(chunked.times, whole.times)
    np.testing.assert_allclose(chunked.az, whole.az, atol=1e-6)
    np.testing.assert_allclose(chunked.el, whole.el, atol=1e-6)


def test_hidden_object_is_flagged_lost_and_the_path_holds(hidden: tuple[Path, Scene]) -> None:
    video, scene = hidden
    track = _track_from(video, scene, 0.5)
    spans = track.lost_spans()
    assert len(spans) == 1
    assert spans[0][0] == pytest.approx(1.5, abs=0.13)
    assert spans[0][1] == pytest.approx(2.375, abs=0.13)
    error = errors(track, scene.objects[0])
    assert error[track.lost].max() < TRACK_LIMIT_DEG  # slerped across the gap
    assert error[24:].mean() < 2.0  # found again after it
    assert track.confidence[track.lost].max() < track.confidence[~track.lost].min()


def test_a_mark_outside_the_video_names_the_time_range(pan: tuple[Path, Scene]) -> None:
    video, _ = pan
    with pytest.raises(InputError, match=r"0\.00–4\.00 s"):
        track_object(video, 0.0, 0.0, 9.0)
    with pytest.raises(InputError, match="elevation"):
        track_object(video, 0.0, 95.0, 1.0)


# ------------------------------------------------------------------ track bookkeeping


def test_lost_frames_slerp_the_short_way_and_make_spans() -> None:
    lost = np.array([False, True, True, True, False, True])
    az, el = fill_lost(np.array([170.0, 0, 0, 0, -170.0, 0]), np.zeros(6), lost)
    np.testing.assert_allclose(az[:5] % 360.0, [170.0, 175.0, 180.0, 185.0, 190.0], atol=1e-6)
    assert az[5] == pytest.approx(-170.0)  # after the last good frame it holds
    track = Track(np.arange(6) / 8.0, az, el, np.ones(6), lost, np.full(6, 20.0))
    assert track.lost_spans() == [(0.125, 0.375), (0.625, 0.625)]
    path = track.to_direction_path()
    assert isinstance(path, DirectionPath)
    assert DirectionPath.from_json(path.to_json()) == path


# ------------------------------------------------------------------ saliency


@pytest.mark.parametrize("name", ["seam", "pan"])
def test_strongest_motion_path_finds_the_single_moving_object(
    name: str, request: pytest.FixtureRequest
) -> None:
    video, scene = request.getfixturevalue(name)
    paths = propose_paths(video, k=3, refine=False)
    assert paths[0].strength > 0.5
    assert errors(paths[0].track, scene.objects[0]).mean() < SALIENCY_LIMIT_DEG
    refined = strongest_path(video)
    az, el = truth_at(scene.objects[0], np.asarray(refined.times))
    assert great_circle_deg(refined.yaw, refined.pitch, az, el).mean() < SALIENCY_LIMIT_DEG


def test_two_moving_objects_give_two_paths_strongest_first(folder: Path) -> None:
    scene = make_scene(20, SECONDS, objects=2, motions=["seam", "pan"])
    video = folder / "two.mp4"
    write_video(video, render_frames(scene, 512, 256, FPS), FPS)
    paths = propose_paths(video, k=3, refine=False)
    assert len(paths) >= 2
    assert paths[0].strength >= paths[1].strength
    matched = {
        min(range(2), key=lambda i: errors(path.track, scene.objects[i]).mean())
        for path in paths[:2]
    }
    assert matched == {0, 1}
    for path in paths[:2]:
        best = min(errors(path.track, obj).mean() for obj in scene.objects)
        assert best < SALIENCY_LIMIT_DEG
