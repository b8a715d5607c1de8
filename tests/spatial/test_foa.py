"""FOA conventions: encoding, conversions, rotations and direction of arrival."""

import numpy as np
import pytest
from spaudiopy.sph import sh_rotation_matrix

from plugin_core.spatial import foa
from plugin_core.spatial.directions import great_circle_deg, vector_to_az_el, wrap_az

RATE = 8000


def noise(seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * RATE))


GRID = [(az, el) for az in range(-165, 181, 30) for el in (-75, -40, 0, 25, 60, 85)]


@pytest.mark.parametrize(("az", "el"), GRID)
def test_source_decodes_at_its_direction(az: float, el: float) -> None:
    track = foa.intensity_directions(foa.encode_mono(noise(), az, el), RATE)
    assert great_circle_deg(track.az[0], track.el[0], az, el) < 1.0
    assert abs(track.el[0] - el) < 1.0
    assert track.diffuseness[0] < 0.01


def test_ambix_channel_order_left_source_is_positive_y() -> None:
    w, y, z, x = foa.encode_mono(np.ones(4), 90, 0)
    np.testing.assert_allclose([w[0], y[0], z[0], x[0]], [1, 1, 0, 0], atol=1e-12)
    w, y, z, x = foa.encode_mono(np.ones(4), 0, 90)
    np.testing.assert_allclose([w[0], y[0], z[0], x[0]], [1, 0, 1, 0], atol=1e-12)


def test_encoding_along_a_path_crosses_the_seam_without_steps() -> None:
    seconds = 2.0
    s = np.ones(int(seconds * RATE))
    # A source moving from az 150 through the back (180) to -150: 60 degrees in 2 s.
    field = foa.encode_mono(s, [150, -150], [0, 0], times=[0, seconds], sample_rate=RATE)
    az, _ = vector_to_az_el(field[[3, 1, 2]].T)
    assert np.all(np.abs(wrap_az(np.diff(az))) < 0.01)  # no jump larger than the path step
    assert abs(az[len(az) // 2]) > 179.0  # midway it is straight behind
    # per-sample gains change smoothly: no zipper noise from stepped directions
    assert np.max(np.abs(np.diff(field[1:], axis=1))) < 1e-3


@pytest.mark.parametrize("convention", ["fuma", "n3d", "ambix"])
def test_conversions_round_trip(convention: str) -> None:
    field = foa.encode_mono(noise(), 40, 20)
    back = foa.convert(foa.convert(field, "ambix", convention), convention, "ambix")
    np.testing.assert_allclose(back, field, atol=1e-12)


def test_fuma_layout_and_levels() -> None:
    w, x, y, z = foa.convert(foa.encode_mono(np.ones(2), 90, 0), "ambix", "fuma")
    np.testing.assert_allclose([w[0], x[0], y[0], z[0]], [1 / np.sqrt(2), 0, 1, 0], atol=1e-12)
    n3d = foa.convert(foa.encode_mono(np.ones(2), 0, 0), "ambix", "n3d")
    np.testing.assert_allclose(n3d[:, 0], [1, 0, 0, np.sqrt(3)], atol=1e-12)


def direction_after(field: np.ndarray) -> tuple[float, float]:
    track = foa.intensity_directions(field, RATE)
    return float(track.az[0]), float(track.el[0])


@pytest.mark.parametrize(
    ("frame", "angles", "expected"),
    [
        ("scene", (90, 0, 0), (90, 0)),  # scene yaw: front source moves left
        ("head", (90, 0, 0), (-90, 0)),  # head turns left: front source now on the right
        ("scene", (0, 30, 0), (0, 30)),  # scene pitch: front source moves up
        ("head", (0, 30, 0), (0, -30)),  # head looks up: front source now below
        ("scene", (-45, 0, 0), (-45, 0)),
    ],
)
def test_rotating_a_front_source(frame: str, angles: tuple, expected: tuple) -> None:
    rotated = foa.rotate(foa.encode_mono(noise(), 0, 0), *angles, frame=frame)
    az, el = direction_after(rotated)
    assert great_circle_deg(az, el, *expected) < 0.5


def test_roll_lifts_the_left_side() -> None:
    rotated = foa.rotate(foa.encode_mono(noise(), 90, 0), 0, 0, 90, frame="scene")
    assert great_circle_deg(*direction_after(rotated), 0, 90) < 0.5
    rotated = foa.rotate(foa.encode_mono(noise(), 90, 0), 0, 0, 30, frame="head")
    assert great_circle_deg(*direction_after(rotated), 90, -30) < 0.5


def test_head_rotation_undoes_scene_rotation() -> None:
    field = foa.encode_mono(noise(), 33, -12)
    there = foa.rotate(field, 70, -20, 15, frame="scene")
    np.testing.assert_allclose(foa.rotate(there, 70, -20, 15, frame="head"), field, atol=1e-12)


@pytest.mark.parametrize("angles", [(90, 0, 0), (0, 40, 0), (0, 0, 25), (30, -50, 70)])
def test_scene_rotation_matches_spaudiopy(angles: tuple[float, float, float]) -> None:
    yaw, pitch, roll = np.radians(angles)
    # spaudiopy rotates the coordinate frame about z and x: opposite signs for yaw and roll.
    theirs = sh_rotation_matrix(1, -yaw, pitch, -roll, sh_type="real")
    ours = foa.foa_rotation_matrix(foa.scene_rotation_matrix(*angles))
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_block_rotation_changes_smoothly() -> None:
    t = np.arange(RATE) / RATE
    tone = np.sin(2 * np.pi * 200 * t)
    field = foa.encode_mono(tone, 0, 0)
    block = 256
    blocks = -(-field.shape[1] // block)
    yaw = np.where(np.arange(blocks) < blocks // 2, 0.0, 90.0)  # a sudden 90° head turn
    rotated = foa.rotate_path(field, yaw, 0, 0, block, frame="head")
    # The biggest sample step anywhere stays that of the tone itself: no click at the switch.
    tone_step = np.max(np.abs(np.diff(tone)))
    assert np.max(np.abs(np.diff(rotated, axis=1))) < 1.05 * tone_step
    # and the turn is complete after the crossfade block
    end = foa.intensity_directions(rotated[:, -2000:], RATE)
    assert great_circle_deg(end.az[0], end.el[0], -90, 0) < 0.5
    start = foa.intensity_directions(rotated[:, :2000], RATE)
    assert great_circle_deg(start.az[0], start.el[0], 0, 0) < 0.5


def test_windowed_directions_follow_a_moving_source() -> None:
    seconds = 2.0
    s = noise(seconds)
    field = foa.encode_mono(s, [-90, 0, 90], [0, 0, 0], times=[0, 1, seconds], sample_rate=RATE)
    track = foa.intensity_directions(field, RATE, window_s=0.2)
    expected = -90 + 180 * track.times / seconds
    assert len(track.az) == 10
    assert np.max(np.abs(track.az - expected)) < 2.0


def test_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[4, samples\]"):
        foa.rotate(np.zeros((2, 10)), 0, 0, 0, frame="scene")
