"""Training data: the sector encoder, rotation augmentation, the clip cache and its batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from safetensors.numpy import load_file

from models.encoders.efficientnet import EFFICIENTNET_LITE0_SECTORS, PANORAMA_SECTORS
from models.omniaudio.codec import SpatialVAE, latent_length
from models.omniaudio.config import preset
from models.omniaudio.family import FOV, PANORAMA, OmniAudioEncoders
from plugin_core.errors import InputError
from plugin_core.generation.frame_features import frame_features
from plugin_core.spatial.directions import az_el_to_vector, erp_pixel_directions, vector_to_az_el
from plugin_core.spatial.foa import intensity_directions
from plugin_core.spatial.projection import global_view
from plugin_core.synthsphere import Scene, make_scene, render_foa, render_frames
from plugin_core.synthsphere.backdrop import render_backdrop
from plugin_core.training import (
    build_dataset,
    codec_batches,
    decoder_batches,
    encode_latents,
    flow_batches,
    load_cache,
    random_azimuths,
    read_index,
    rotate_foa,
    rotate_frames,
)
from plugin_core.training import cache as cache_module

WIDTH, HEIGHT = 256, 128
# Azimuth at the middle of each sector, in feature order: back-left … back-right.
SECTOR_CENTRES = (135.0, 45.0, -45.0, -135.0)


@pytest.fixture(scope="module")
def extractor() -> OmniAudioEncoders:
    torch.set_num_threads(2)
    return OmniAudioEncoders(preset("omniaudio-mini"))


def _sectors(extractor: OmniAudioEncoders, frames: np.ndarray) -> torch.Tensor:
    """Global features [T, 4, 320] of ERP frames, one row per azimuth sector."""
    views = global_view(torch.from_numpy(frames), extractor.panorama.input_size)
    return extractor.panorama.encode(views).view(len(frames), PANORAMA_SECTORS, -1)


def _one_object(az: float, el: float = 0.0, seconds: float = 1.0) -> tuple[Scene, NDArray]:
    """A scene with one static engine at (az, el), barely any ambience; its backdrop image."""
    scene = make_scene(
        5,
        seconds,
        classes=["engine"],
        motions=["static"],
        directions=[(az, el)],
        events=["pulse"],
        ambience_db=-60.0,
    )
    return scene, render_backdrop(scene.backdrop, WIDTH, HEIGHT)


def test_mini_preset_uses_the_sector_encoder_for_the_panorama(
    extractor: OmniAudioEncoders,
) -> None:
    assert preset("omniaudio-mini").global_frame_encoder == EFFICIENTNET_LITE0_SECTORS
    assert preset("tiny").global_frame_encoder is None
    assert extractor.names == (EFFICIENTNET_LITE0_SECTORS, "efficientnet-lite0")
    assert extractor.panorama.feature_dim == extractor.fov.feature_dim == 1280


def test_sector_encoder_feature_changes_most_in_the_objects_sector(
    extractor: OmniAudioEncoders,
) -> None:
    frames = []
    for az in SECTOR_CENTRES:
        scene, backdrop = _one_object(az)
        frames.append(next(render_frames(scene, WIDTH, HEIGHT, 8.0)))
    feats = _sectors(extractor, np.stack([*frames, backdrop]))
    change = (feats[:4] - feats[4:]).norm(dim=-1)  # [object position, sector]
    assert change.argmax(dim=1).tolist() == [0, 1, 2, 3]


def test_turning_the_panorama_90_degrees_permutes_sector_blocks(
    extractor: OmniAudioEncoders,
) -> None:
    frames = np.stack(list(render_frames(make_scene(11, 1.0), WIDTH, HEIGHT, 8.0)))[:4]
    base = _sectors(extractor, frames)

    def corr(a: torch.Tensor, b: torch.Tensor) -> float:
        """Mean correlation of the blocks' location-dependent parts (sector mean removed)."""
        a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
        return torch.nn.functional.cosine_similarity(a, b, dim=-1).mean().item()

    for alpha, steps in ((90.0, 1), (-90.0, -1)):
        turned = _sectors(extractor, rotate_frames(frames, alpha))
        # +90° moves content one sector to the left: block j now shows what block j+1 showed.
        permuted = torch.roll(base, shifts=-steps, dims=1)
        assert corr(turned, permuted) > corr(turned, base) + 0.1
        assert corr(turned, permuted) > corr(turned, torch.roll(base, shifts=steps, dims=1))


def _pixel_direction(frame: np.ndarray, backdrop: np.ndarray) -> tuple[float, float]:
    """(az, el) of the centroid on the sphere of the pixels that differ from the backdrop."""
    diff = np.abs(frame.astype(np.float64) - backdrop).sum(axis=-1)
    weight = np.where(diff > 30.0, diff, 0.0)
    unit = az_el_to_vector(*erp_pixel_directions(frame.shape[1], frame.shape[0]))
    az, el = vector_to_az_el((unit * weight[..., None]).sum(axis=(0, 1)))
    return float(az), float(el)


def _angle_gap(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.mark.parametrize("alpha", [90.0, -135.0, 360.0 / WIDTH * 37])
def test_rotation_moves_sound_and_picture_the_same_way(alpha: float) -> None:
    az0, el0 = 30.0, 10.0
    scene, backdrop = _one_object(az0, el0)
    foa = render_foa(scene)
    frames = np.stack(list(render_frames(scene, WIDTH, HEIGHT, 8.0)))[:2]
    for turn in (0.0, alpha):
        sound = intensity_directions(rotate_foa(foa, turn), scene.sample_rate)
        picture = _pixel_direction(
            rotate_frames(frames, turn)[0], rotate_frames(backdrop[None], turn)[0]
        )
        assert _angle_gap(float(sound.az[0]), az0 + turn) < 2.0
        assert abs(float(sound.el[0]) - el0) < 2.0
        assert _angle_gap(picture[0], az0 + turn) < 2.0
        assert abs(picture[1] - el0) < 3.0


def test_rotations_must_be_whole_columns_and_start_at_zero() -> None:
    with pytest.raises(ValueError, match="whole number of columns"):
        rotate_frames(np.zeros((1, 4, 8, 3), np.uint8), 10.0)
    turns = random_azimuths(3, 5, WIDTH)
    assert turns[0] == 0.0
    assert len(turns) == 5
    assert np.array_equal(turns, random_azimuths(3, 5, WIDTH))
    for turn in turns:  # every drawn yaw is a whole number of columns
        rotate_frames(np.zeros((1, 2, WIDTH, 3), np.uint8), turn)


def clip_features(
    frames: np.ndarray, extractor: OmniAudioEncoders, fov_yaw: float | list[float] = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Panorama and FoV features of frames, the FoV aimed at ``fov_yaw`` (one or per frame)."""
    yaws = np.broadcast_to(np.asarray(fov_yaw, np.float64), (len(frames),))
    by_view = {view.name: frames for view in extractor.views}
    features = frame_features(extractor, by_view, yaws, np.zeros(len(frames)), 120.0)
    return features[PANORAMA], features[FOV]


def test_frame_features_follow_a_per_frame_fov_path(extractor: OmniAudioEncoders) -> None:
    frames = np.stack(list(render_frames(make_scene(2, 1.0), WIDTH, HEIGHT, 4.0)))
    glob, fov = clip_features(frames, extractor, fov_yaw=[0.0, 0.0, 90.0, 90.0])
    assert glob.shape == fov.shape == (4, 1280)
    assert glob.dtype == fov.dtype == torch.float32
    _, ahead = clip_features(frames[:1], extractor)
    _, left = clip_features(frames[3:], extractor, fov_yaw=90.0)
    torch.testing.assert_close(fov[0], ahead[0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fov[3], left[0], rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="broadcast"):
        clip_features(frames, extractor, fov_yaw=[0.0, 1.0])


# --- the cache ------------------------------------------------------------------------------

# Half-second clips: 4 frames at 8 fps, 22050 samples.
BUILD = {"seconds": 0.5, "rotations_per_clip": 2, "width": WIDTH, "height": HEIGHT}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory, extractor: OmniAudioEncoders) -> Path:
    folder = tmp_path_factory.mktemp("cache")
    build_dataset(folder, range(3), progress=False, extractor=extractor, clips_per_shard=2, **BUILD)
    return folder


def test_build_dataset_stores_the_documented_arrays(
    cache_dir: Path, extractor: OmniAudioEncoders
) -> None:
    clips = load_cache(cache_dir)
    assert [shard["seeds"] for shard in read_index(cache_dir)["shards"]] == [[0, 1], [2]]
    assert clips.seeds.tolist() == [0, 1, 2]
    assert clips.foa.shape == (3, 4, 22050)
    assert clips.foa.dtype == np.float16
    assert clips.azimuths.shape == (3, 2)
    assert np.all(clips.azimuths[:, 0] == 0.0)
    for feats in (clips.global_features, clips.fov_features):
        assert feats.shape == (3, 2, 4, 1280)
        assert feats.dtype == np.float16
    # The stored FOA is the scene's; a rotation's features are those of the turned frames.
    scene = make_scene(1, 0.5)
    np.testing.assert_array_equal(clips.foa[1], render_foa(scene).astype(np.float16))
    frames = np.stack(list(render_frames(scene, WIDTH, HEIGHT, 8.0)))
    glob, fov = clip_features(rotate_frames(frames, clips.azimuths[1, 1]), extractor)
    np.testing.assert_array_equal(clips.global_features[1, 1], glob.half().numpy())
    np.testing.assert_array_equal(clips.fov_features[1, 1], fov.half().numpy())


def test_build_dataset_is_deterministic_and_resumable(
    cache_dir: Path,
    extractor: OmniAudioEncoders,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Built again elsewhere, in other shards and another order: the same arrays.
    build_dataset(tmp_path, [2, 0], progress=False, extractor=extractor, **BUILD)
    first, second = load_cache(cache_dir), load_cache(tmp_path)
    assert second.seeds.tolist() == [2, 0]
    for name in ("seeds", "foa", "azimuths", "global_features", "fov_features"):
        np.testing.assert_array_equal(getattr(first, name)[[2, 0]], getattr(second, name))

    rendered: list[int] = []
    real = cache_module.render_clip
    monkeypatch.setattr(
        cache_module, "render_clip", lambda seed, *a: rendered.append(seed) or real(seed, *a)
    )
    build_dataset(tmp_path, [0, 2], progress=False, extractor=extractor, **BUILD)
    assert rendered == []  # everything was cached already
    build_dataset(tmp_path, range(3), progress=False, extractor=extractor, **BUILD)
    assert rendered == [1]
    with pytest.raises(InputError, match="other settings"):
        build_dataset(
            tmp_path, range(3), progress=False, extractor=extractor, **{**BUILD, "fps": 4.0}
        )


def test_codec_batches_are_seeded_rotated_crops(cache_dir: Path) -> None:
    clips = load_cache(cache_dir)
    batch = next(codec_batches(clips, batch_size=5, crop_samples=4096, seed=1))
    assert batch.shape == (5, 4, 4096)
    assert batch.dtype == torch.float32
    again = next(codec_batches(clips, batch_size=5, crop_samples=4096, seed=1))
    torch.testing.assert_close(batch, again, rtol=0, atol=0)
    assert torch.all(batch[:, 0].pow(2).sum(dim=-1) > 0)  # crops of sound, not of zeros
    with pytest.raises(InputError, match="crop"):
        next(codec_batches(clips, batch_size=1, crop_samples=10**6))


def test_flow_batches_pair_latents_with_their_features(cache_dir: Path) -> None:
    clips = load_cache(cache_dir)
    torch.manual_seed(0)
    codec = SpatialVAE(preset("tiny").codec).eval()
    path = encode_latents(clips, codec, progress=False)
    assert path.parent == cache_dir
    assert path.is_file()
    assert encode_latents(clips, codec, progress=False) == path  # reused, not recomputed
    stream = flow_batches(clips, path, batch_size=3, seed=4)
    batch = next(stream)
    length = latent_length(22050, codec.config)
    assert batch.latents.shape == (3, codec.config.latent_dim, length)
    assert batch.global_features.shape == batch.fov_features.shape == (3, 4, 1280)
    for tensor in (batch.latents, batch.global_features, batch.fov_features):
        assert tensor.dtype == torch.float32
    again = next(flow_batches(clips, path, batch_size=3, seed=4))
    torch.testing.assert_close(batch.latents, again.latents, rtol=0, atol=0)
    # The stored latents are the codec's encoding of the turned clip.
    with torch.inference_mode():
        expected = codec.encode(torch.from_numpy(clips.rotated_foa(2, 1))[None])[0]
    np.testing.assert_allclose(load_file(path)["latents"][2, 1], expected.numpy(), atol=1e-5)


def test_decoder_batches_pair_each_crop_with_the_latents_of_that_turned_crop(
    cache_dir: Path,
) -> None:
    """Each FOA crop of a decoder batch is a cached clip turned by a scene rotation (some
    tilt, not only yaw), and its latents are the encoder's for that whole turned clip."""
    clips = load_cache(cache_dir)
    torch.manual_seed(0)
    codec = SpatialVAE(preset("tiny").codec).eval()
    hop = codec.config.hop
    stream = decoder_batches(clips, codec, 2, batch_size=6, crop_latents=8, seed=3, progress=False)
    latents, audio = next(stream)
    assert latents.shape == (6, codec.config.latent_dim, 8)
    assert audio.shape == (6, 4, 8 * hop)
    raw = [clips.foa[i].astype(np.float32) for i in range(len(clips.seeds))]
    tilted = 0
    for crop, crop_latents in zip(audio.numpy(), latents, strict=True):
        clip, start = next(
            (c, s)
            for c in range(len(raw))
            for s in range(0, raw[c].shape[1] - crop.shape[1] + 1, hop)
            if np.allclose(raw[c][0, s : s + crop.shape[1]], crop[0], atol=1e-6)
        )
        original = raw[clip][1:, start : start + crop.shape[1]]
        turn = np.linalg.lstsq(original.T, crop[1:].T, rcond=None)[0].T  # crop = turn · original
        np.testing.assert_allclose(turn @ turn.T, np.eye(3), atol=1e-3)  # a rotation
        tilted += not np.isclose(turn[1, 1], 1.0, atol=1e-3)  # Z (ACN 2) moved: pitch or roll
        whole = raw[clip].copy()
        whole[1:] = turn @ whole[1:]
        with torch.no_grad():
            expected = codec.encode(torch.from_numpy(whole)[None])[0]
        first = start // hop
        torch.testing.assert_close(crop_latents, expected[:, first : first + 8], atol=1e-4, rtol=0)
    assert tilted > 0
    with pytest.raises(InputError, match="crop"):
        next(decoder_batches(clips, codec, 1, batch_size=1, crop_latents=10**6, progress=False))
