"""ERP -> perspective / global views: geometry, seam wrapping, batching, devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from plugin_core.spatial.directions import (
    az_el_to_erp_uv,
    az_el_to_vector,
    camera_basis,
    erp_pixel_directions,
    erp_uv_to_az_el,
    great_circle_deg,
    vector_to_az_el,
    view_plane_extent,
)
from plugin_core.spatial.projection import (
    erp_to_perspective,
    global_view,
    perspective_grid,
    view_outline_pixels,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def marker_erp(width: int, height: int, az: float, el: float, radius: float = 4.0) -> np.ndarray:
    """A [H, W, 3] uint8 ERP image, black with a white spherical cap around (az, el)."""
    paz, pel = erp_pixel_directions(width, height)
    inside = great_circle_deg(paz, pel, az, el) <= radius
    return np.repeat((inside * 255).astype(np.uint8)[..., None], 3, axis=-1)


def hemispheres_erp(width: int, height: int) -> torch.Tensor:
    """[1, H, W, 3] uint8: red where az < 0 (right), green where az > 0 (left), blue sky."""
    paz, pel = erp_pixel_directions(width, height)
    rgb = np.stack([paz < 0, paz > 0, pel > 0], axis=-1).astype(np.uint8) * 255
    return torch.from_numpy(rgb)[None]


def brightness_centroid(view: torch.Tensor) -> tuple[float, float]:
    """(column, row) of the brightness-weighted centroid of a [3, h, w] view."""
    weight = view.mean(dim=0).double()
    rows = torch.arange(weight.shape[0], dtype=torch.float64)[:, None]
    cols = torch.arange(weight.shape[1], dtype=torch.float64)[None, :]
    total = weight.sum()
    return float((weight * cols).sum() / total), float((weight * rows).sum() / total)


MARKERS = [(90.0, 0.0), (-135.0, 20.0), (180.0, 0.0), (30.0, -60.0), (0.0, 80.0)]


def test_marker_lands_at_view_centre():
    frames = torch.from_numpy(np.stack([marker_erp(1024, 512, a, e) for a, e in MARKERS]))
    azs = [a for a, _ in MARKERS]
    els = [e for _, e in MARKERS]
    views = erp_to_perspective(frames, azs, els, fov=60.0, size=64)
    assert views.shape == (len(MARKERS), 3, 64, 64)
    assert views.dtype == torch.float32
    for (az, el), view in zip(MARKERS, views, strict=True):
        assert view.max() > 0.9, f"marker at ({az}, {el}) not visible"
        cx, cy = brightness_centroid(view)
        # Pixel centres span [-1, 1]; the optical axis sits between pixels 31 and 32.
        assert abs(cx - 31.5) < 1.0, (az, el, cx)
        assert abs(cy - 31.5) < 1.0, (az, el, cy)


def test_view_left_is_left_and_sky_is_up():
    erp = hemispheres_erp(512, 256)
    front = erp_to_perspective(erp, 0.0, 0.0, fov=90.0, size=64)[0]
    red, green, blue = front
    assert green[:, :16].mean() > 0.95
    assert red[:, :16].mean() < 0.05
    assert red[:, -16:].mean() > 0.95
    assert green[:, -16:].mean() < 0.05
    assert blue[:16].mean() > 0.95
    assert blue[-16:].mean() < 0.05
    assert torch.allclose(blue[:30], torch.ones_like(blue[:30]), atol=0.02)
    assert torch.allclose(blue[34:], torch.zeros_like(blue[34:]), atol=0.02)

    left = erp_to_perspective(erp, 90.0, 0.0, fov=90.0, size=64)[0]
    right = erp_to_perspective(erp, -90.0, 0.0, fov=90.0, size=64)[0]
    assert left[1].mean() > 0.95
    assert left[0].mean() < 0.05
    assert right[0].mean() > 0.95
    assert right[1].mean() < 0.05


def test_yaw_wraps_across_the_seam():
    rng = np.random.default_rng(0)
    noise = torch.from_numpy(rng.integers(0, 256, (1, 128, 256, 3), dtype=np.uint8))
    a = erp_to_perspective(noise, 179.9, 5.0, fov=90.0, size=48)
    b = erp_to_perspective(noise, -180.1, 5.0, fov=90.0, size=48)
    assert torch.allclose(a, b, atol=1e-5)

    back = torch.from_numpy(marker_erp(512, 256, 180.0, 0.0, radius=6.0))[None]
    front = torch.from_numpy(marker_erp(512, 256, 0.0, 0.0, radius=6.0))[None]
    seen_back = erp_to_perspective(back, 180.0, 0.0, fov=60.0, size=64)
    seen_front = erp_to_perspective(front, 0.0, 0.0, fov=60.0, size=64)
    count_back = int((seen_back.mean(dim=1) > 0.5).sum())
    count_front = int((seen_front.mean(dim=1) > 0.5).sum())
    assert count_front > 100
    assert abs(count_back - count_front) <= 1
    assert torch.allclose(seen_back, seen_front, atol=1e-3)


def test_per_frame_direction_path_matches_separate_calls():
    rng = np.random.default_rng(1)
    frames = torch.from_numpy(rng.integers(0, 256, (3, 64, 128, 3), dtype=np.uint8))
    yaws = [0.0, 90.0, 180.0]
    batched = erp_to_perspective(frames, torch.tensor(yaws), 10.0, fov=100.0, size=(32, 40))
    assert batched.shape == (3, 3, 32, 40)
    for i, yaw in enumerate(yaws):
        single = erp_to_perspective(frames[i : i + 1], yaw, 10.0, fov=100.0, size=(32, 40))
        assert torch.allclose(batched[i : i + 1], single, atol=1e-4)
    same = erp_to_perspective(frames, 45.0, -20.0, fov=100.0, size=16)
    path = erp_to_perspective(frames, [45.0] * 3, [-20.0] * 3, fov=100.0, size=16)
    assert torch.allclose(same, path, atol=1e-4)


def test_grid_matches_reference_extractor_geometry():
    n, fov = 224, 120.0
    grid = perspective_grid(0.0, 0.0, fov, (n, n), dtype=torch.float64)[0].numpy()
    y, x = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n), indexing="ij")
    z = np.full_like(x, 1.0 / np.tan(np.radians(fov) / 2))
    norm = np.sqrt(x**2 + y**2 + z**2)
    lon = np.arctan2(x / norm, z / norm)
    lat = np.arcsin(y / norm)
    np.testing.assert_allclose(grid[..., 0], lon / (2 * np.pi) + 0.5, atol=1e-12)
    np.testing.assert_allclose(grid[..., 1], lat / np.pi + 0.5, atol=1e-12)
    grid32 = perspective_grid(0.0, 0.0, fov, n)[0].numpy()
    np.testing.assert_allclose(grid32[..., 0], lon / (2 * np.pi) + 0.5, atol=1e-6)


def test_grid_agrees_with_direction_conventions():
    yaw, pitch, fov, h, w = 37.0, -25.0, 90.0, 48, 64
    grid = perspective_grid(yaw, pitch, fov, (h, w), dtype=torch.float64)[0].numpy()
    half_x, half_y, z = view_plane_extent(fov, w, h)
    ys, xs = np.meshgrid(
        np.linspace(-half_y, half_y, h), np.linspace(-half_x, half_x, w), indexing="ij"
    )
    rays = np.stack([xs, ys, np.full_like(xs, z)], axis=-1)
    az, el = vector_to_az_el(rays @ camera_basis(yaw, pitch).T)
    u, v = az_el_to_erp_uv(az, el)
    du = np.mod(grid[..., 0] - u + 0.5, 1.0) - 0.5
    assert np.abs(du).max() < 1e-12
    np.testing.assert_allclose(grid[..., 1], v, atol=1e-12)


def test_global_view_pads_with_black_bars_and_resizes_content():
    erp = np.zeros((256, 512, 3), dtype=np.uint8)
    erp[:, :256] = 230
    erp[:, 256:] = 77
    erp[:, :, 2] = np.linspace(0, 255, 256, dtype=np.uint8)[:, None]
    view = global_view(torch.from_numpy(erp)[None], size=224)
    assert view.shape == (1, 3, 224, 224)
    assert view.dtype == torch.float32
    red_rows = view[0, 0].mean(dim=1)
    dark = (red_rows < 0.5 * 77 / 255).numpy()
    assert dark[:56].all()
    assert dark[-56:].all()
    assert not dark[56:168].any()
    assert view[0, :, :54].abs().max() < 1e-3
    assert view[0, :, -54:].abs().max() < 1e-3
    middle = view[0, 0, 112]
    assert torch.allclose(middle[:108], torch.full((108,), 230 / 255), atol=0.01)
    assert torch.allclose(middle[-108:], torch.full((108,), 77 / 255), atol=0.01)
    blue = view[0, 2, 60:164, 50]
    assert (blue[1:] >= blue[:-1] - 1e-3).all()  # content keeps its orientation

    # Close to what the reference does with PIL (pad, bicubic resize).
    padded = np.pad(erp, ((128, 128), (0, 0), (0, 0)))
    pil = Image.fromarray(padded).resize((224, 224), Image.Resampling.BICUBIC)
    expected = torch.from_numpy(np.array(pil)).permute(2, 0, 1).float() / 255
    assert (view[0] - expected).abs().max() < 1 / 255


@pytest.mark.parametrize(
    ("yaw", "pitch", "fov"), [(30.0, 20.0, 90.0), (180.0, 0.0, 90.0), (-170.0, 60.0, 120.0)]
)
def test_view_outline_pixels_trace_the_view_border(yaw, pitch, fov):
    width, height = 512, 256
    lines = view_outline_pixels(yaw, pitch, fov, width, height)
    assert lines
    assert all(line.ndim == 2 and line.shape[1] == 2 for line in lines)
    points = np.concatenate(lines)
    assert points[:, 0].min() >= -0.5
    assert points[:, 0].max() <= width - 0.5
    az, el = erp_uv_to_az_el((points[:, 0] + 0.5) / width, (points[:, 1] + 0.5) / height)
    cam = az_el_to_vector(az, el) @ camera_basis(yaw, pitch)
    assert (cam[:, 2] > 0).all()
    _, _, z = view_plane_extent(fov, 2, 2)
    x, y = cam[:, 0] / cam[:, 2] * z, cam[:, 1] / cam[:, 2] * z
    np.testing.assert_allclose(np.maximum(np.abs(x), np.abs(y)), 1.0, atol=1e-9)
    if abs(yaw) >= 170.0:
        assert len(lines) >= 2  # split at the seam instead of a line across the image


@pytest.mark.parametrize("device", DEVICES)
def test_runs_on_input_device_and_dtype(device):
    rng = np.random.default_rng(2)
    frames = torch.from_numpy(rng.integers(0, 256, (2, 64, 128, 3), dtype=np.uint8))
    reference = erp_to_perspective(frames, [10.0, -100.0], 15.0, fov=90.0, size=24)
    as_float = (frames.double() / 255).to(device)
    views = erp_to_perspective(as_float, [10.0, -100.0], 15.0, fov=90.0, size=24)
    assert views.device.type == device
    assert views.dtype == torch.float64
    assert views.min() >= 0.0
    assert views.max() <= 1.0
    assert torch.allclose(views.cpu().float(), reference, atol=1e-4)

    glob = global_view(as_float, size=32)
    assert glob.device.type == device
    assert glob.dtype == torch.float64
    assert torch.allclose(glob.cpu().float(), global_view(frames, size=32), atol=1e-4)
    views_u8 = erp_to_perspective(frames.to(device), 0.0, 0.0, fov=90.0, size=24)
    assert views_u8.device.type == device
    assert views_u8.dtype == torch.float32


def test_rejects_channels_first_frames_and_wrong_path_length():
    frames = torch.zeros(2, 3, 64, 128, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"\[T, H, W, 3\]"):
        erp_to_perspective(frames, 0.0, 0.0)
    with pytest.raises(ValueError, match="one entry per frame"):
        erp_to_perspective(frames.permute(0, 2, 3, 1), [0.0, 1.0, 2.0], 0.0)
