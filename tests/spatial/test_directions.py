"""Direction conventions: azimuth sign, ERP pixels, camera views."""

import numpy as np
import pytest
import torch

from plugin_core.spatial.directions import (
    az_el_to_erp_uv,
    az_el_to_vector,
    camera_basis,
    erp_pixel_directions,
    erp_uv_to_az_el,
    vector_to_az_el,
    view_outline,
    wrap_az,
)


def test_left_is_positive_azimuth_and_up_is_positive_elevation() -> None:
    np.testing.assert_allclose(az_el_to_vector(90, 0), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(az_el_to_vector(0, 90), [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(az_el_to_vector(180, 0), [-1, 0, 0], atol=1e-12)


def test_azimuth_range_is_half_open_at_the_back() -> None:
    np.testing.assert_allclose(wrap_az([-180, 180, 540, -190, 10]), [180, 180, 180, 170, 10])
    az, _ = vector_to_az_el([-1.0, 0.0, 0.0])
    assert az == 180.0


def test_erp_centre_is_front_and_left_half_is_left() -> None:
    assert az_el_to_erp_uv(0, 0) == (0.5, 0.5)
    u, v = az_el_to_erp_uv(90, 45)
    assert u == pytest.approx(0.25)  # left of the listener is left of the centre
    assert v == pytest.approx(0.25)  # up is toward the top row
    az, el = erp_pixel_directions(8, 4)
    assert az.shape == (4, 8)
    assert az[0, 0] > 0 > az[0, -1]  # leftmost column looks back-left, rightmost back-right
    assert el[0, 0] > 0 > el[-1, 0]


@pytest.mark.parametrize(("az", "el"), [(0, 0), (45, 30), (-170, -60), (180, 10), (-90, 89)])
def test_erp_round_trip(az: float, el: float) -> None:
    back_az, back_el = erp_uv_to_az_el(*az_el_to_erp_uv(az, el))
    assert back_az == pytest.approx(az)
    assert back_el == pytest.approx(el)


def test_camera_basis_keeps_the_horizon_level() -> None:
    basis = camera_basis(30, 20)
    right, down, forward = basis.T
    np.testing.assert_allclose(forward, az_el_to_vector(30, 20), atol=1e-12)
    assert right[2] == pytest.approx(0.0)  # no roll
    assert down[2] < 0  # down in the picture is down in the world
    az, _ = vector_to_az_el(right)
    assert az == pytest.approx(30 - 90)  # right of the view is clockwise of its centre
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-12)


@pytest.mark.parametrize(("yaw", "pitch", "fov"), [(0.0, 0.0, 120.0), (135.0, 40.0, 90.0)])
def test_the_encoders_crop_the_trackers_view_and_the_outline_share_one_geometry(
    yaw: float, pitch: float, fov: float
) -> None:
    from plugin_core.spatial.projection import perspective_grid
    from plugin_core.tracking.gnomonic import view_pixel_to_direction

    size = 64
    grid = perspective_grid(yaw, pitch, fov, size, dtype=torch.float64)[0].numpy()  # [h, w, 2]
    xs, ys = np.meshgrid(np.arange(size), np.arange(size))
    az, el = view_pixel_to_direction(xs, ys, yaw, pitch, fov, size)
    u, v = az_el_to_erp_uv(az, el)
    du = (grid[..., 0] - u + 0.5) % 1.0 - 0.5  # across the seam
    assert np.abs(du).max() < 1e-9
    assert np.abs(grid[..., 1] - v).max() < 1e-9
    # the outline's corners are the crop's corner pixels
    outline_u = np.concatenate([p[0] for p in view_outline(yaw, pitch, fov)])
    outline_v = np.concatenate([p[1] for p in view_outline(yaw, pitch, fov)])
    for cy, cx in ((0, 0), (0, size - 1), (size - 1, size - 1), (size - 1, 0)):
        gap = np.hypot((outline_u - grid[cy, cx, 0] + 0.5) % 1.0 - 0.5, outline_v - grid[cy, cx, 1])
        assert gap.min() < 1e-9
