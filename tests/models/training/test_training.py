"""Training: losses, codec and flow trainers, EMA, resumable checkpoints, the recipes."""

import math
from collections.abc import Iterator
from dataclasses import replace
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from models.omniaudio.codec import SpatialVAE
from models.omniaudio.config import preset
from models.omniaudio.dit import DualBranchFlowModel
from models.omniaudio.spectral_decoder import SpectralDecoder
from models.training.checkpointing import (
    EMA_FILE,
    MODEL_FILE,
    TRAINER_FILE,
    checkpoint_step,
    latest_checkpoint,
)
from models.training.codec_training import latent_rms, normalise_latent_scale, train_codec
from models.training.decoder_training import train_spectral_decoder
from models.training.ema import ExponentialMovingAverage
from models.training.flow_training import (
    FlowBatch,
    fov_dropout_scale,
    sample_times,
    train_flow,
)
from models.training.loop import LoopSettings, TrainingResult, learning_rate
from models.training.losses import (
    direction_loss,
    multi_resolution_stft_loss,
    rectified_flow_loss,
    spectral_terms,
)
from models.training.recipe import CPU_RECIPE, GPU_RECIPE, RECIPES
from plugin_core.spatial.directions import az_el_to_vector, great_circle_deg
from plugin_core.spatial.foa import encode_gains, intensity_directions

TINY = preset("tiny")
CROP = 4096  # a multiple of the tiny codec's hop (64)
# (azimuth, elevation) in degrees and frequency in Hz of the test sources
SOURCES = ((0.0, 0.0, 220.0), (90.0, 0.0, 440.0), (-120.0, 30.0, 660.0), (45.0, -40.0, 880.0))


def foa_sine(az: float, el: float, freq: float, n: int = CROP) -> torch.Tensor:
    """A sine from (az, el) encoded as AmbiX [4, n]: W, Y, Z, X."""
    a, e = math.radians(az), math.radians(el)
    s = 0.3 * torch.sin(2 * math.pi * freq * torch.arange(n) / TINY.sample_rate)
    gains = torch.tensor([1.0, math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)])
    return gains[:, None] * s


def foa_batch() -> torch.Tensor:
    return torch.stack([foa_sine(*src) for src in SOURCES])


def repeat(batch: object) -> Iterator[object]:
    while True:
        yield batch


def tiny_codec(seed: int = 0) -> SpatialVAE:
    torch.manual_seed(seed)
    return SpatialVAE(TINY.codec)


def tiny_flow(seed: int = 0) -> DualBranchFlowModel:
    torch.manual_seed(seed)
    return DualBranchFlowModel(TINY)


# ----------------------------------------------------------------------------- losses


def test_stft_loss_is_zero_for_identical_signals_and_grows_with_noise() -> None:
    x = foa_batch()
    assert multi_resolution_stft_loss(x, x).item() == 0.0
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(x.shape, generator=g)
    losses = [
        multi_resolution_stft_loss(x + level * noise, x).item() for level in (1e-3, 1e-2, 1e-1)
    ]
    assert 0 < losses[0] < losses[1] < losses[2]


def test_stft_loss_penalises_spatial_errors() -> None:
    x = foa_batch()
    swapped = x[:, [0, 3, 2, 1]]  # X and Y exchanged: the field mirrored about az 45°
    mirrored = x * torch.tensor([1.0, -1.0, 1.0, 1.0])[:, None]  # left ↔ right
    front_back = x * torch.tensor([1.0, 1.0, 1.0, -1.0])[:, None]
    level_error = multi_resolution_stft_loss(x * 10 ** (-3 / 20), x).item()  # 3 dB too quiet
    for wrong in (swapped, mirrored, front_back):
        assert multi_resolution_stft_loss(wrong, x).item() > level_error
    # Sign errors keep every channel's magnitude: only the virtual cardioids see them.
    convergence, log_distance = spectral_terms(mirrored, x, 512)
    assert convergence.item() + log_distance.item() < 1e-6


def test_direction_loss_measures_direction_not_level() -> None:
    x = foa_batch()
    assert direction_loss(x, x).item() < 1e-4
    assert direction_loss(x * 10 ** (-3 / 20), x).item() < 1e-4  # level does not count
    # Reversed field: every intensity vector points the other way, 1 − cos = 2.
    reversed_field = x * torch.tensor([1.0, -1.0, -1.0, -1.0])[:, None]
    assert direction_loss(reversed_field, x).item() == pytest.approx(2.0, abs=1e-3)
    # Turning every source 90° about the vertical axis (X → Y, Y → −X): 1 − cos 90° = 1 for
    # sources on the horizon, less for the raised and lowered ones.
    turned = torch.stack([x[:, 0], x[:, 3], x[:, 2], -x[:, 1]], dim=1)
    expected = 1 - torch.tensor([math.sin(math.radians(el)) ** 2 for _, el, _ in SOURCES])
    assert direction_loss(turned, x).item() == pytest.approx(expected.mean().item(), abs=2e-3)


def test_rectified_flow_loss_is_zero_for_the_true_velocity() -> None:
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(3, 2, 5, generator=g), torch.randn(3, 2, 5, generator=g)
    t = torch.tensor([0.1, 0.5, 0.9])

    def oracle(x_t: torch.Tensor, t_: torch.Tensor) -> torch.Tensor:
        return (x_t - x0) / t_[:, None, None]  # x_t − x0 = t·(ε − x0)

    assert rectified_flow_loss(oracle, x0, noise, t).item() < 1e-10
    zero = rectified_flow_loss(lambda x_t, t_: torch.zeros_like(x_t), x0, noise, t)
    torch.testing.assert_close(zero, (noise - x0).pow(2).mean())


def test_learning_rate_warms_up_then_decays_to_a_tenth() -> None:
    settings = LoopSettings(steps=100, lr=1.0, warmup=10)
    assert learning_rate(5, settings) == pytest.approx(0.5)
    assert learning_rate(10, settings) == pytest.approx(1.0)
    assert learning_rate(100, settings) == pytest.approx(0.1)


# ----------------------------------------------------------------------------- codec


def test_codec_training_reduces_the_loss() -> None:
    logged: dict[int, dict[str, float]] = {}
    result = train_codec(
        tiny_codec(),
        repeat(foa_batch()),
        steps=30,
        lr=1e-3,
        log=logged.__setitem__,
        warmup=5,
        log_every=5,
    )
    assert result.step == 30
    assert sorted(logged) == [5, 10, 15, 20, 25, 30]
    assert set(logged[30]) >= {"loss", "stft", "waveform", "kl", "lr", "grad_norm"}
    assert logged[30]["loss"] < 0.85 * logged[5]["loss"]
    assert result.losses == {k: logged[30][k] for k in result.losses}


def step_batches(start: int) -> Iterator[torch.Tensor]:
    """A batch that depends on the step, from step ``start`` + 1 on (as a resumable dataset)."""
    step = start
    while True:
        step += 1
        yield foa_batch() * (1 + 0.01 * step)


def test_codec_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    def run(model: SpatialVAE, folder: Path, stop_after: int | None = None) -> None:
        batches = islice(step_batches(checkpoint_step(folder)), stop_after)
        train_codec(model, batches, 8, lr=1e-3, checkpoint_dir=folder, checkpoint_every=4, warmup=2)

    straight = tiny_codec()
    run(straight, tmp_path / "straight")
    with pytest.raises(ValueError, match="ended before step 6"):
        run(tiny_codec(), tmp_path / "resumed", stop_after=5)  # interrupted after step 5
    assert checkpoint_step(tmp_path / "resumed") == 4
    resumed = tiny_codec(seed=1)  # other initial weights: the checkpoint must replace them
    run(resumed, tmp_path / "resumed")
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, atol=1e-6, rtol=0)
    # only the newest checkpoint is kept
    assert [p.name for p in (tmp_path / "resumed").iterdir()] == ["step-00000008"]


def test_checkpoint_files_load_as_tensors_only(tmp_path: Path) -> None:
    train_codec(tiny_codec(), repeat(foa_batch()), 2, checkpoint_dir=tmp_path)
    train_flow(tiny_flow(), repeat(next(toy_batches())), 2, checkpoint_dir=tmp_path / "f")
    for folder in (tmp_path, tmp_path / "f"):
        latest = latest_checkpoint(folder)
        assert latest is not None
        trainer = torch.load(latest / TRAINER_FILE, weights_only=True)
        assert trainer["step"] == 2
        assert isinstance(trainer["generator"], torch.Tensor)
        assert set(trainer["optimizer"]) == {"state", "param_groups"}
        assert load_file(str(latest / MODEL_FILE))
    assert load_file(str(latest_checkpoint(tmp_path / "f") / EMA_FILE))  # type: ignore[operator]


def test_input_gain_is_folded_into_the_returned_codec(tmp_path: Path) -> None:
    trained = tiny_codec()
    train_codec(trained, repeat(foa_batch()), 3, checkpoint_dir=tmp_path, input_gain=10.0)
    unfolded = tiny_codec(seed=1)
    latest = latest_checkpoint(tmp_path)
    assert latest is not None
    unfolded.load_state_dict(load_file(str(latest / MODEL_FILE)))
    x = foa_batch()
    with torch.no_grad():
        torch.testing.assert_close(trained.encode(x), unfolded.encode(10.0 * x))
        expected = unfolded.decode(unfolded.encode(10.0 * x)) / 10.0
        torch.testing.assert_close(trained.decode(trained.encode(x)), expected)


def test_latent_scale_folds_into_the_weights() -> None:
    codec = tiny_codec()
    train_codec(codec, repeat(foa_batch()), 5, lr=1e-3)
    x = foa_batch()
    with torch.no_grad():
        before = codec.decode(codec.encode(x))
    rms = normalise_latent_scale(codec, repeat(x), num_batches=1)
    assert rms > 0
    assert latent_rms(codec, repeat(x), 1) == pytest.approx(1.0, rel=1e-4)
    with torch.no_grad():
        torch.testing.assert_close(codec.decode(codec.encode(x)), before, atol=1e-5, rtol=1e-4)


# ----------------------------------------------------------------------------- flow

TOY_CLASSES = 4
TOY_LENGTH = 16


def toy_batches(start: int = 0, batch: int = 8) -> Iterator[FlowBatch]:
    """Latents that are a fixed function of the global features (one pattern per class); the
    batch of step n is drawn from seed n, so a resumed run can continue from ``start``."""
    g = torch.Generator().manual_seed(1234)
    frames, dim = TINY.frames_per_window, TINY.conditioner.feature_dim
    class_features = torch.randn(TOY_CLASSES, frames, dim, generator=g)
    patterns = torch.randn(TOY_CLASSES, TINY.dit.io_channels, TOY_LENGTH, generator=g)
    step = start
    while True:
        step += 1
        draw = torch.Generator().manual_seed(step)
        labels = torch.randint(TOY_CLASSES, (batch,), generator=draw)
        fov = torch.randn(batch, frames, dim, generator=draw)
        yield FlowBatch(patterns[labels], class_features[labels], fov)


def test_flow_training_learns_a_toy_mapping() -> None:
    logged: dict[int, dict[str, float]] = {}
    train_flow(
        tiny_flow(), toy_batches(), 150, lr=3e-3, log=logged.__setitem__, warmup=5, log_every=15
    )
    assert logged[150]["loss"] < 0.85 * logged[15]["loss"]


def test_fov_dropout_zeroes_the_fov_branch_for_the_expected_fraction() -> None:
    g = torch.Generator().manual_seed(0)
    scale = fov_dropout_scale(20000, 0.2, g)
    assert set(scale.unique().tolist()) == {0.0, 1.0}
    assert (scale == 0).float().mean().item() == pytest.approx(0.2, abs=0.01)
    times = sample_times(20000, g)
    assert times.min() > 0
    assert times.max() < 1
    assert times.mean().item() == pytest.approx(0.5, abs=0.01)

    model = tiny_flow()
    seen: list[torch.Tensor] = []

    def spy(module: nn.Module, args: tuple, kwargs: dict) -> None:
        seen.append(kwargs["fov_scale"].detach().clone())
        global_features = args[2]
        assert global_features.flatten(1).abs().amax(dim=1).min() > 0  # never dropped

    model.register_forward_pre_hook(spy, with_kwargs=True)
    train_flow(model, toy_batches(), 20, fov_dropout=0.5, warmup=1)
    zeros = (torch.cat(seen) == 0).float().mean().item()
    assert 0.35 < zeros < 0.65


def test_ema_differs_from_the_weights_and_equals_them_at_decay_zero() -> None:
    model = tiny_flow()
    result = train_flow(model, toy_batches(), 10, lr=3e-3, ema_decay=0.9, warmup=1)
    assert result.ema_state is not None
    raw = model.state_dict()
    differs = [k for k, v in raw.items() if not torch.equal(v, result.ema_state[k])]
    assert differs
    model = tiny_flow()
    result = train_flow(model, toy_batches(), 10, lr=3e-3, ema_decay=0.0, warmup=1)
    assert result.ema_state is not None
    for key, value in model.state_dict().items():
        assert torch.equal(value, result.ema_state[key]), key


def test_ema_average_and_resume_state() -> None:
    layer = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    ema = ExponentialMovingAverage(layer, decay=0.5)
    assert ema.current_decay() == pytest.approx(2 / 11)  # warm-up: (1 + n) / (10 + n)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    ema.update(layer)
    torch.testing.assert_close(ema.shadow["weight"], torch.full((1, 2), 9 / 11))
    copy = ExponentialMovingAverage(nn.Linear(2, 1, bias=False), decay=0.1)
    copy.load_state_dict(ema.state_dict())
    assert (copy.decay, copy.updates) == (0.5, 1)
    target = nn.Linear(2, 1, bias=False)
    copy.copy_to(target)
    torch.testing.assert_close(target.weight.detach(), ema.shadow["weight"])
    with pytest.raises(ValueError, match="decay"):
        ExponentialMovingAverage(layer, decay=1.0)


def test_flow_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    def run(
        model: DualBranchFlowModel, folder: Path, stop_after: int | None = None
    ) -> TrainingResult:
        batches = islice(toy_batches(checkpoint_step(folder)), stop_after)
        return train_flow(
            model, batches, 6, lr=1e-3, checkpoint_dir=folder, checkpoint_every=3, warmup=2
        )

    straight_model = tiny_flow()
    straight = run(straight_model, tmp_path / "straight")
    with pytest.raises(ValueError, match="ended before step 5"):
        run(tiny_flow(), tmp_path / "resumed", stop_after=4)
    resumed_model = tiny_flow(seed=1)
    resumed = run(resumed_model, tmp_path / "resumed")
    assert straight.ema_state is not None
    assert resumed.ema_state is not None
    for key, value in straight_model.state_dict().items():
        torch.testing.assert_close(resumed_model.state_dict()[key], value, atol=1e-6, rtol=0)
        torch.testing.assert_close(
            resumed.ema_state[key], straight.ema_state[key], atol=1e-6, rtol=0
        )


# ----------------------------------------------------------------------------- recipes


def test_recipes_fit_their_preset_and_the_cpu_budget() -> None:
    assert RECIPES == {"cpu": CPU_RECIPE, "gpu": GPU_RECIPE}
    for recipe in RECIPES.values():
        config = recipe.config
        assert config.dit.io_channels == config.codec.latent_dim
        assert recipe.codec_crop_samples() % config.codec.hop == 0
        assert 0 < recipe.fov_dropout < 0.5
    assert CPU_RECIPE.codec_crop_samples() == 22528  # 22 hops of 1024
    assert CPU_RECIPE.flow_latent_frames() == 430
    assert CPU_RECIPE.training_minutes <= 75


# ----------------------------------------------------------------------------- spectral decoder


def test_spectral_decoder_training_learns_where_and_how_loud_from_latents() -> None:
    """Latents that say a direction and a level (a stand-in for a frozen encoder's): after a
    short training the decoder's synthesised field comes from each direction at each level."""
    config = replace(preset("omniaudio-mini").codec, decoder="spectral", decoder_width=32)
    frames = 8
    rng = np.random.default_rng(0)
    sources = ((0.0, 0.0, 0.1), (90.0, 0.0, 0.03), (-120.0, 30.0, 0.1), (45.0, -40.0, 0.01))
    latents = torch.zeros(len(sources), config.latent_dim, frames)
    audio = []
    for i, (az, el, level) in enumerate(sources):
        latents[i, :3] = torch.tensor(az_el_to_vector(az, el), dtype=torch.float32)[:, None]
        latents[i, 3] = math.log10(level)
        dry = level * rng.standard_normal(frames * config.hop)
        audio.append(encode_gains(az, el)[:, None] * dry[None])
    batch = (latents, torch.tensor(np.stack(audio), dtype=torch.float32))
    torch.manual_seed(0)
    decoder = SpectralDecoder(config)
    logged: dict[int, dict[str, float]] = {}
    train_spectral_decoder(
        decoder, repeat(batch), 150, lr=3e-3, log=logged.__setitem__, warmup=10, log_every=10
    )
    assert logged[150]["direction"] < 0.3 * logged[10]["direction"]
    assert logged[150]["magnitude"] < 0.5 * logged[10]["magnitude"]
    with torch.no_grad():
        out = decoder(latents, torch.Generator().manual_seed(0)).double().numpy()
    for foa, (az, el, level) in zip(out, sources, strict=True):
        track = intensity_directions(foa, 44100)
        assert float(great_circle_deg(az, el, track.az[0], track.el[0])) < 15.0
        assert 20 * math.log10(foa[0].std() / level) == pytest.approx(0.0, abs=3.0)
