"""The generator end to end on CPU: ERP frames → views → features → sampling → FOA."""

import numpy as np
import pytest
import torch
from model_fixtures import features, tiny_generator

from models.encoders.registry import load_frame_encoder
from models.family import SamplingCancelled
from models.omniaudio.config import preset, with_sampler
from models.omniaudio.generator import FoaGenerator
from plugin_core.spatial.projection import erp_to_perspective, global_view
from plugin_core.synthsphere import make_scene, render_frames


@pytest.fixture(scope="module")
def model() -> FoaGenerator:
    return tiny_generator(0)


def window_features(model: FoaGenerator, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    frames, dim = model.config.frames_per_window, model.config.conditioner.feature_dim
    return features(frames, dim, seed), features(frames, dim, seed + 100)


def test_video_to_foa_end_to_end(model: FoaGenerator) -> None:
    scene = make_scene(2, 1.0)
    fps = model.config.conditioner.frame_rate
    erp = torch.from_numpy(np.stack(list(render_frames(scene, 256, 128, fps))))
    assert erp.shape[0] == model.config.frames_per_window
    encoder = load_frame_encoder(model.config.frame_encoder)
    global_feats = encoder.encode(global_view(erp))
    fov_feats = encoder.encode(erp_to_perspective(erp, 0.0, 0.0, 120.0, 224))
    assert global_feats.shape == (8, model.config.conditioner.feature_dim)
    with torch.inference_mode():
        foa = model.generate(global_feats, fov_feats, torch.Generator().manual_seed(0))
    assert foa.shape == (1, 4, model.output_samples)
    # the decoded window is the input window less at most one hop
    hop = model.config.codec.hop
    assert model.config.sample_size - hop < model.output_samples <= model.config.sample_size
    assert torch.isfinite(foa).all()


def test_same_seed_same_sound_other_seed_other_sound(model: FoaGenerator) -> None:
    g, f = window_features(model, 1)

    def run(seed: int) -> torch.Tensor:
        with torch.inference_mode():
            return model.sample_latents(g, f, torch.Generator().manual_seed(seed))

    torch.testing.assert_close(run(4), run(4), atol=0, rtol=0)
    assert (run(4) - run(5)).abs().mean() > 0.1


def test_variations_are_distinct_and_each_reproducible(model: FoaGenerator) -> None:
    g, f = window_features(model, 1)
    with torch.inference_mode():
        both = model.sample_latents(g, f, torch.Generator().manual_seed(9), variations=2)
        again = model.sample_latents(g, f, torch.Generator().manual_seed(9), variations=2)
    assert both.shape[0] == 2
    torch.testing.assert_close(both, again, atol=0, rtol=0)
    assert (both[0] - both[1]).abs().mean() > 0.1


def test_the_fov_branch_steers_the_result(model: FoaGenerator) -> None:
    g, f = window_features(model, 1)
    _, other_f = window_features(model, 7)
    with torch.inference_mode():
        a = model.sample_latents(g, f, torch.Generator().manual_seed(0))
        b = model.sample_latents(g, other_f, torch.Generator().manual_seed(0))
    assert (a - b).abs().mean() > 1e-3


def test_progress_and_cancel_reach_the_caller(model: FoaGenerator) -> None:
    g, f = window_features(model, 1)
    steps: list[int] = []
    sampler = with_sampler(model.config, steps=3, method="heun").sampler
    with torch.inference_mode():
        model.sample_latents(
            g, f, torch.Generator(), sampler=sampler, progress=lambda i, n: steps.append(i)
        )
        assert steps == [1, 2, 3]
        with pytest.raises(SamplingCancelled):
            model.sample_latents(g, f, torch.Generator(), cancel=lambda: True)


def test_wrong_feature_shapes_are_refused(model: FoaGenerator) -> None:
    g, f = window_features(model, 1)
    with pytest.raises(ValueError, match=r"\[T, D\]"):
        model.sample_latents(torch.stack([g, g]), f, torch.Generator())


def test_mini_preset_sizes() -> None:
    with torch.device("meta"):
        mini = FoaGenerator(preset("omniaudio-mini"))
    assert mini.latent_frames == 430
    assert mini.output_samples == 440320


def test_without_the_global_branch_the_panorama_is_ignored(model: FoaGenerator) -> None:
    g, f = window_features(model, 1)
    other_g, _ = window_features(model, 7)

    def run(global_feats: torch.Tensor, use_global: bool) -> torch.Tensor:
        with torch.inference_mode():
            return model.sample_latents(
                global_feats, f, torch.Generator().manual_seed(0), use_global=use_global
            )

    torch.testing.assert_close(run(g, False), run(other_g, False))
    assert (run(g, True) - run(other_g, True)).abs().mean() > 1e-3
