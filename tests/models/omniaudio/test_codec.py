"""The spatial VAE: checkpoint names and shapes, weight-norm folding, lengths, Snake, bottleneck."""

import math
from dataclasses import replace

import pytest
import torch
from model_fixtures import reference_shapes
from torch import nn

from models.omniaudio.codec import (
    STD_FLOOR,
    Snake,
    SpatialVAE,
    decoded_length,
    fold_weight_norm,
    fold_weight_norm_state,
    gaussian_kl,
    latent_length,
    sample_posterior,
    split_posterior,
)
from models.omniaudio.config import PRESETS, CodecConfig

OFFICIAL = PRESETS["omniaudio"].codec
TINY = PRESETS["tiny"].codec
# Measured on the official sizes after folding weight norm; the reference test below shows the
# released checkpoint has the same counts.
ENCODER_PARAMS = 77_975_168
DECODER_PARAMS = 78_106_112

PREFIX = "pretransform.model."


def reference_codec_shapes() -> dict[str, tuple[int, ...]]:
    """``pretransform.model.*`` of the released checkpoint, prefix removed: name → shape."""
    return {
        name.removeprefix(PREFIX): shape
        for name, shape in reference_shapes().items()
        if name.startswith(PREFIX)
    }


def meta_model(config: CodecConfig = OFFICIAL) -> SpatialVAE:
    with torch.device("meta"):
        return SpatialVAE(config)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_official_state_dict_matches_released_checkpoint() -> None:
    reference = reference_codec_shapes()
    assert len(reference) == 365
    state = {name: torch.empty(shape, device="meta") for name, shape in reference.items()}
    folded = fold_weight_norm_state(state)
    model = meta_model()
    ours = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert ours == {name: tuple(t.shape) for name, t in folded.items()}
    model.load_state_dict(folded, strict=True, assign=True)
    for half, expected in (("encoder", ENCODER_PARAMS), ("decoder", DECODER_PARAMS)):
        released = sum(t.numel() for n, t in folded.items() if n.startswith(half + "."))
        assert released == expected


def test_official_parameter_counts() -> None:
    model = meta_model()
    assert count(model.encoder) == ENCODER_PARAMS  # ≈ 78.0 M
    assert count(model.decoder) == DECODER_PARAMS  # ≈ 78.1 M
    assert count(model) == ENCODER_PARAMS + DECODER_PARAMS


@pytest.mark.parametrize("layer_type", [nn.Conv1d, nn.ConvTranspose1d])
def test_fold_weight_norm_matches_torch_weight_norm(layer_type: type[nn.Module]) -> None:
    torch.manual_seed(0)
    normed = nn.utils.parametrizations.weight_norm(layer_type(6, 5, 4, stride=2, padding=1), dim=0)
    with torch.no_grad():  # a g unlike the ‖v‖ it is initialised to
        normed.parametrizations.weight.original0.mul_(torch.rand_like(normed.weight[:, :1, :1]))
    g = normed.parametrizations.weight.original0.detach()
    v = normed.parametrizations.weight.original1.detach()
    assert g.shape == (v.shape[0], 1, 1)  # [out,1,1] for Conv1d, [in,1,1] for ConvTranspose1d
    assert g.shape[0] == (6 if layer_type is nn.ConvTranspose1d else 5)
    plain = layer_type(6, 5, 4, stride=2, padding=1)
    with torch.no_grad():
        plain.weight.copy_(fold_weight_norm(g, v))
        plain.bias.copy_(normed.bias)
        x = torch.randn(3, 6, 17)
        torch.testing.assert_close(plain(x), normed(x))


def test_fold_weight_norm_rejects_mismatched_pair() -> None:
    with pytest.raises(ValueError, match="does not match"):
        fold_weight_norm(torch.ones(3, 1, 1), torch.ones(4, 2, 5))


def test_fold_weight_norm_state_replaces_pairs_and_keeps_the_rest() -> None:
    v = torch.randn(4, 2, 3)
    g = torch.full((4, 1, 1), 2.0)
    state = {"a.bias": torch.zeros(4), "a.weight_g": g, "a.weight_v": v, "b.alpha": torch.ones(2)}
    folded = fold_weight_norm_state(state)
    assert list(folded) == ["a.bias", "a.weight", "b.alpha"]
    torch.testing.assert_close(folded["a.weight"].flatten(1).norm(dim=1), torch.full((4,), 2.0))
    assert folded["b.alpha"] is state["b.alpha"]
    with pytest.raises(ValueError, match="no matching weight_v"):
        fold_weight_norm_state({"a.weight_g": g})
    with pytest.raises(ValueError, match="no matching weight_g"):
        fold_weight_norm_state({"a.weight_v": v})


def test_official_lengths() -> None:
    assert OFFICIAL.hop == 2048
    assert latent_length(441_000, OFFICIAL) == 215
    assert decoded_length(215, OFFICIAL) == 440_320
    model = meta_model()
    latent = model.encode(torch.empty(2, 4, 441_000, device="meta"))
    assert latent.shape == (2, 64, 215)
    assert model.decode(latent).shape == (2, 4, 440_320)


@pytest.mark.parametrize(
    ("config", "num_samples"),
    [(replace(OFFICIAL, channels=4, latent_dim=8), n) for n in (2048, 2049, 4095, 5000, 20_000)]
    + [
        (CodecConfig(channels=4, c_mults=(1, 2), strides=(3, 5), latent_dim=4), n)
        for n in (15, 101)
    ],
)
def test_length_functions_match_real_tensors(config: CodecConfig, num_samples: int) -> None:
    torch.manual_seed(0)
    model = SpatialVAE(config).eval()
    with torch.no_grad():
        latent = model.encode(torch.randn(1, config.io_channels, num_samples))
        audio = model.decode(latent)
    assert latent.shape == (1, config.latent_dim, latent_length(num_samples, config))
    assert audio.shape == (1, config.io_channels, decoded_length(latent.shape[-1], config))


def test_too_short_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="too few"):
        latent_length(1000, OFFICIAL)
    with pytest.raises(ValueError, match="at least one"):
        decoded_length(0, OFFICIAL)


def test_snake_at_zero_parameters_is_x_plus_sin_squared() -> None:
    x = torch.linspace(-5, 5, 40).reshape(2, 2, 10)
    torch.testing.assert_close(Snake(2)(x), x + torch.sin(x) ** 2, atol=1e-6, rtol=1e-6)


def test_snake_gradients_flow() -> None:
    snake = Snake(3)
    x = torch.randn(2, 3, 8, requires_grad=True)
    snake(x).square().sum().backward()
    for grad in (x.grad, snake.alpha.grad, snake.beta.grad):
        assert grad is not None
        assert torch.isfinite(grad).all()
        assert grad.abs().sum() > 0


def test_snake_parameters_are_per_channel() -> None:
    snake = Snake(3)
    assert snake.alpha.shape == snake.beta.shape == (3,)
    with torch.no_grad():
        snake.alpha[1] = math.log(2.0)
        snake.beta[2] = math.log(4.0)
    x = torch.linspace(-3, 3, 12).expand(1, 3, 12)
    y = snake(x)
    torch.testing.assert_close(y[0, 0], x[0, 0] + torch.sin(x[0, 0]) ** 2)
    torch.testing.assert_close(y[0, 1], x[0, 1] + torch.sin(2 * x[0, 1]) ** 2)
    torch.testing.assert_close(y[0, 2], x[0, 2] + torch.sin(x[0, 2]) ** 2 / 4)


def test_posterior_std_is_softplus_plus_floor() -> None:
    scale = torch.tensor([-200.0, 0.0, 3.0])[None, :, None].expand(2, 3, 5)
    latent = torch.cat([torch.randn(2, 3, 5), scale], 1)
    mean, std = split_posterior(latent)
    assert torch.equal(mean, latent[:, :3])
    torch.testing.assert_close(std, nn.functional.softplus(latent[:, 3:]) + STD_FLOOR)
    assert (std > 0).all()
    torch.testing.assert_close(std[0, 0, 0], torch.tensor(STD_FLOOR))


def test_sampling_is_reproducible_with_a_seeded_generator() -> None:
    mean, std = torch.randn(2, 4, 6), torch.rand(2, 4, 6) + 0.1
    first = sample_posterior(mean, std, torch.Generator().manual_seed(7))
    again = sample_posterior(mean, std, torch.Generator().manual_seed(7))
    other = sample_posterior(mean, std, torch.Generator().manual_seed(8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    noise = torch.randn(2, 4, 6, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(first, mean + std * noise)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere() -> None:
    zeros = torch.zeros(2, 3, 4, dtype=torch.float64)
    ones = torch.ones_like(zeros)
    assert gaussian_kl(zeros, ones).item() == 0.0
    # The scale whose softplus(scale) + 1e-4 is 1: the encoder's way of expressing the prior.
    scale = torch.full_like(zeros, math.log(math.expm1(1 - STD_FLOOR)))
    mean, std = split_posterior(torch.cat([zeros, scale], 1))
    torch.testing.assert_close(std, ones)
    assert abs(gaussian_kl(mean, std).item()) < 1e-10
    # 0.5·Σ mean² per example (12 elements), averaged over the batch.
    assert gaussian_kl(zeros + 0.5, ones).item() == pytest.approx(0.5 * 12 * 0.25)
    assert gaussian_kl(zeros, 2 * ones).item() == pytest.approx(0.5 * 12 * (4 - math.log(4) - 1))
    assert gaussian_kl(zeros, 0.5 * ones).item() > 0


def test_tiny_vae_round_trips_shapes_and_trains() -> None:
    torch.manual_seed(0)
    model = SpatialVAE(TINY)
    n = PRESETS["tiny"].sample_size
    audio = torch.randn(1, 4, n)
    latent = model.encode(audio)
    length = latent_length(n, TINY)
    assert latent.shape == (1, TINY.latent_dim, length)
    assert model.decode(latent).shape == (1, 4, decoded_length(length, TINY))
    mean, std = split_posterior(model.encoder(audio))
    assert torch.equal(latent, mean)
    sampled, kl = model.encode_with_kl(audio, generator=torch.Generator().manual_seed(3))
    expected = sample_posterior(mean, std, torch.Generator().manual_seed(3))
    torch.testing.assert_close(sampled, expected)
    torch.testing.assert_close(kl, gaussian_kl(mean, std))
    torch.testing.assert_close(model.encode_with_kl(audio, sample=False)[0], mean)
    (model.decode(sampled).square().mean() + kl).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_final_tanh_and_elu_options() -> None:
    config = replace(TINY, final_tanh=True, use_snake=False)
    model = SpatialVAE(config)
    assert not any(isinstance(m, Snake) for m in model.modules())
    assert isinstance(model.decoder.layers[-1], nn.Tanh)
    assert not isinstance(SpatialVAE(TINY).decoder.layers[-1], nn.Tanh)
    with torch.no_grad():
        out = model.decode(100 * torch.randn(1, config.latent_dim, 3))
    assert out.abs().max() <= 1


def test_mismatched_multipliers_and_strides_are_rejected() -> None:
    with pytest.raises(ValueError, match="one channel multiplier per stride"):
        SpatialVAE(CodecConfig(c_mults=(1, 2), strides=(2, 4, 4)))
