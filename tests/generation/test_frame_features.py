"""Frames and views for the encoders: each view cut from frames decoded at the size it needs,
frames picked as FFmpeg's fps filter picks them, through the real pipeline."""

from pathlib import Path

import numpy as np
import pytest
import torch
from model_fixtures import fov_views_seen
from video_fixtures import fps_filter_indices, frame_index, indexed_frames

from models.family import ViewSpec
from plugin_core.generation import conditioning
from plugin_core.generation.frame_features import decode_size, perspective_decode_width
from plugin_core.generation.loaded_model import LoadedModel
from plugin_core.generation.pipeline import generate
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.video import decode_range, write_video
from plugin_core.spatial.projection import erp_to_perspective, perspective_grid


def finest_view_step(fov: float, size: int) -> float:
    """The smallest azimuth step (fraction of a turn) between neighbouring view pixels."""
    grid = perspective_grid(0.0, 0.0, fov, size, dtype=torch.float64)[0].numpy()
    return float(np.abs(np.diff(grid[size // 2, :, 0])).min())


@pytest.mark.parametrize(("fov", "size"), [(120.0, 224), (90.0, 224), (60.0, 112)])
def test_a_perspective_view_is_cut_from_frames_wide_enough_that_no_pixel_is_upsampled(
    fov: float, size: int
) -> None:
    width = perspective_decode_width(fov, size)
    step = finest_view_step(fov, size)
    assert 1.0 / width <= step  # an ERP pixel is no wider than the finest view pixel
    assert 1.0 / (width - 64) > step  # and the width is not much more than that
    view = ViewSpec("fov", "perspective", size, fov)
    assert decode_size(view, fov, (7680, 3840)) == (width, width // 2)
    assert decode_size(view, fov, (640, 320)) == (640, 320)  # never above the source
    panorama = ViewSpec("panorama", "panorama", size)
    assert decode_size(panorama, fov, (3840, 1920)) == (2 * size, size)


def detailed_panorama(path: Path, width: int = 2560) -> None:
    """Smooth multi-scale texture (detail down to a few pixels), 9 frames at 8 fps."""
    rng = np.random.default_rng(0)
    height = width // 2
    image = torch.zeros(1, 3, height, width)
    for cells in (8, 32, 128, 512):
        coarse = torch.from_numpy(rng.random((1, 3, cells // 2, cells))).float()
        image += torch.nn.functional.interpolate(coarse, (height, width), mode="bicubic")
    image = (image - image.min()) / (image.max() - image.min())
    frame = (255 * image[0].permute(1, 2, 0)).round().numpy().astype(np.uint8)
    write_video(path, [frame] * 9, 8.0, options={"crf": "12"})


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / ((a - b) ** 2).mean()))


def test_the_fov_encoder_sees_a_crop_as_sharp_as_one_from_full_resolution_frames(
    loaded: LoadedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = tmp_path / "detail.mp4"
    detailed_panorama(video)
    seen = fov_views_seen(loaded.model, monkeypatch)
    request = GenerationRequest(video=video, output=tmp_path / "s.wav", steps=1, yaw=30.0)
    generate(request, loaded)
    full = torch.from_numpy(decode_range(video, 0.0, 1.0, fps=8.0).frames[:1])
    reference = erp_to_perspective(full, 30.0, 0.0, 120.0, 224)[0]
    # measured 35.5 dB; what is left is the full-resolution crop's own aliasing (it point-samples
    # ~3 source pixels per view pixel) that a filtered downscale does not have
    ours = psnr(seen[0][0], reference)
    assert ours > 34.0
    # frames decoded at 512 x 256 (as before) give a visibly softer crop: 28.9 dB
    small = torch.from_numpy(decode_range(video, 0.0, 1.0, fps=8.0, size=(512, 256)).frames[:1])
    assert psnr(erp_to_perspective(small, 30.0, 0.0, 120.0, 224)[0], reference) < ours - 5.0


def test_the_pipeline_sees_the_frames_ffmpegs_fps_filter_picks(
    loaded: LoadedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = tmp_path / "indexed.mp4"
    write_video(video, indexed_frames(75, 128, 64), 30.0)  # 2.5 s at 30 fps
    picked: list[int] = []
    real = conditioning.frame_features

    def spy(model, frames, yaw, pitch, fov, views=None):  # each decoded chunk, as encoded
        picked.extend(frame_index(image) for image in frames["panorama"])
        return real(model, frames, yaw, pitch, fov, views)

    monkeypatch.setattr(conditioning, "frame_features", spy)
    request = GenerationRequest(video=video, output=tmp_path / "s.wav", steps=1, end=2.0)
    generate(request, loaded)
    expected = fps_filter_indices(video, 8.0, 0.0, 2.0)
    assert picked[: len(expected)] == expected
