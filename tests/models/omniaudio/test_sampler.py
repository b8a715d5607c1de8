"""Rectified-flow sampling: exactness on known fields, guidance, seeds, progress, cancel."""

import math

import pytest
import torch

from models.family import SamplingCancelled
from models.omniaudio.config import SamplerConfig
from models.omniaudio.sampler import Inpainting, guided, initial_noise, sample, timesteps


def unguided(steps: int, method: str = "euler") -> SamplerConfig:
    return SamplerConfig(steps=steps, cfg_scale=1.0, method=method)


def test_time_grid_runs_from_noise_to_data() -> None:
    grid = timesteps(4)
    assert grid.tolist() == [1.0, 0.75, 0.5, 0.25, 0.0]


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_constant_field_is_exact_in_one_step(method: str) -> None:
    v = torch.full((1, 2, 3), 0.7)
    noise = torch.randn(1, 2, 3)
    out = sample(lambda x, t, m: v, noise, unguided(1, method))
    torch.testing.assert_close(out, noise - v)


@pytest.mark.parametrize("steps", [1, 3, 24])
def test_straight_paths_land_on_the_data_point(steps: int) -> None:
    # For a single data point x0 the true velocity is (x_t - x0) / t: straight lines.
    x0 = torch.tensor([[[0.3, -1.2, 2.0]]])
    out = sample(lambda x, t, m: (x - x0) / t[:, None, None], torch.randn(1, 1, 3), unguided(steps))
    torch.testing.assert_close(out, x0, atol=1e-5, rtol=0)


def test_heun_is_second_order() -> None:
    # dx/dt = x from t = 1 to 0: x(0) = x(1) / e.
    noise = torch.ones(1, 1, 1, dtype=torch.float64)
    exact = math.exp(-1.0)
    errors = {
        method: abs(sample(lambda x, t, m: x, noise, unguided(8, method)).item() - exact)
        for method in ("euler", "heun")
    }
    assert errors["heun"] < errors["euler"] / 10


def recording_field(calls: list):
    def velocity(x, t, fov_mask):
        calls.append((x.clone(), t.clone(), fov_mask.clone()))
        return x * 0 + fov_mask[:, None, None] * 2.0 + 1.0  # cond: 3, uncond: 1

    return velocity


def test_guidance_scale_one_is_the_conditional_pass() -> None:
    calls: list = []
    x = torch.randn(2, 3, 4)
    out = guided(recording_field(calls), 1.0)(x, torch.full((2,), 0.5))
    torch.testing.assert_close(out, torch.full_like(x, 3.0))
    assert len(calls) == 1
    assert calls[0][2].tolist() == [1.0, 1.0]


def test_guided_passes_differ_only_in_the_fov_branch() -> None:
    calls: list = []
    x = torch.randn(2, 3, 4)
    t = torch.full((2,), 0.25)
    out = guided(recording_field(calls), 3.0)(x, t)
    # v_u + s (v_c - v_u) = 1 + 3 (3 - 1)
    torch.testing.assert_close(out, torch.full_like(x, 7.0))
    ((batch_x, batch_t, mask),) = calls
    torch.testing.assert_close(batch_x[:2], batch_x[2:])
    torch.testing.assert_close(batch_t[:2], batch_t[2:])
    assert mask.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_seeds_make_noise_reproducible() -> None:
    def noise(seed: int) -> torch.Tensor:
        return initial_noise((1, 4, 8), torch.Generator().manual_seed(seed))

    torch.testing.assert_close(noise(7), noise(7))
    assert not torch.equal(noise(7), noise(8))


def test_progress_and_cancel() -> None:
    seen: list[tuple[int, int]] = []
    sample(
        lambda x, t, m: x,
        torch.zeros(1, 1, 1),
        unguided(5),
        progress=lambda i, n: seen.append((i, n)),
    )
    assert seen == [(i, 5) for i in range(1, 6)]
    steps_done: list[int] = []
    with pytest.raises(SamplingCancelled, match="after 2 of 5"):
        sample(
            lambda x, t, m: x,
            torch.zeros(1, 1, 1),
            unguided(5),
            progress=lambda i, n: steps_done.append(i),
            cancel=lambda: len(steps_done) >= 2,
        )
    assert steps_done == [1, 2]


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sampler method"):
        sample(lambda x, t, m: x, torch.zeros(1, 1, 1), SamplerConfig(method="rk4"))


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_inpainting_ends_on_the_known_latents_and_samples_the_rest(method: str) -> None:
    """Known frames follow (1 − t)·x0 + t·ε at every step (so the field sees them noised to
    its time) and end as x0 exactly; the other frames are sampled, conditioned on them."""
    x0 = torch.randn(1, 3, 8)
    frames = torch.tensor([True, True, True, False, False, False, True, True])
    noise = torch.randn(2, 3, 8)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def field(x: torch.Tensor, t: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        seen.append((x.clone(), t.clone()))
        return x.roll(1, dims=2)  # each frame's velocity comes from its neighbour

    out = sample(field, noise, unguided(4, method), known=Inpainting(x0, frames))
    assert torch.equal(out[..., frames], x0.expand(2, -1, -1)[..., frames])
    inpainting_steps = list(seen)
    free = sample(field, noise, unguided(4, method))
    assert not torch.allclose(out[..., ~frames], free[..., ~frames])  # the known part was heard
    for x, t in inpainting_steps[1:]:  # after step 1 it sees the known frames noised to t
        if method == "euler":
            expected = (1 - t[0]) * x0 + t[0] * noise
            torch.testing.assert_close(x[..., frames], expected.expand_as(x)[..., frames])
