"""The dual-branch diffusion transformer: reference names and sizes, rotary, resampler, branches."""

import math
from dataclasses import replace

import pytest
import torch
from model_fixtures import reference_shapes
from torch import nn

from models.omniaudio.attention import apply_rotary, rotary_cos_sin
from models.omniaudio.config import PRESETS, ConfigError, ModelConfig
from models.omniaudio.dit import (
    DiffusionTransformer,
    DualBranchFlowModel,
    count_parameters,
    natural_cubic_spline_matrix,
    resample_time,
)

OFFICIAL = PRESETS["omniaudio"]
TINY = PRESETS["tiny"]
# Measured on the official sizes: the DiT used at inference (the reference's 0.91 B of 1.06 B),
# the two conditioners' embedders; the released state dict's DiT (1.06 B, cross-attention
# included) and all of its entries (1.22 B: DiT, conditioners, VAE).
DIT_PARAMS = 914_054_272
CONDITIONER_PARAMS = 2 * 1_574_400
REFERENCE_DIT_TOTAL = 1_056_939_152
REFERENCE_TOTAL = 1_221_713_684

CONDITIONERS = {"fov_conditioner": "video_fov", "global_conditioner": "video_360"}


def used_at_inference(name: str) -> bool:
    parts = name.split(".")
    unused_parts = {"cross_attn", "cross_attend_norm", "to_cond_embed", "proj_out", "global_proj"}
    return not (unused_parts & set(parts) or parts[-1] in {"beta", "inv_freq"})


def expected_state_shapes() -> dict[str, tuple[int, ...]]:
    """The reference's DiT and conditioner entries that we build, under our module names."""
    expected = {}
    for name, shape in reference_shapes().items():
        if not used_at_inference(name):
            continue
        if name.startswith("model.model."):
            expected["dit." + name.removeprefix("model.model.")] = shape
        for ours, theirs in CONDITIONERS.items():
            prefix = f"conditioner.conditioners.{theirs}."
            if name.startswith(prefix):
                expected[f"{ours}." + name.removeprefix(prefix)] = shape
    return expected


def meta_model(config: ModelConfig = OFFICIAL) -> DualBranchFlowModel:
    with torch.device("meta"):
        return DualBranchFlowModel(config)


def tiny_model(seed: int = 0) -> DualBranchFlowModel:
    """The tiny preset with every weight random (the zero-initialised branches too)."""
    torch.manual_seed(seed)
    model = DualBranchFlowModel(TINY).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.normal_(0.0, 1.0 / math.sqrt(p.shape[-1]) if p.dim() > 1 else 0.1)
            if name.endswith("gamma"):
                p.add_(1.0)  # LayerNorm scales near one
    return model


def tiny_inputs(
    batch: int = 2, length: int = 20, frames: int = 8, seed: int = 1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """x, t, global features, FoV features for the tiny preset."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, TINY.dit.io_channels, length, generator=g)
    t = torch.rand(batch, generator=g)
    dim = TINY.conditioner.feature_dim
    return (
        x,
        t,
        torch.randn(batch, frames, dim, generator=g),
        torch.randn(batch, frames, dim, generator=g),
    )


# --- names, shapes and sizes of the official model -------------------------------------------


def test_official_state_dict_matches_reference_used_entries() -> None:
    model = meta_model()
    ours = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert ours == expected_state_shapes()


def test_official_parameter_counts() -> None:
    model = meta_model()
    assert count_parameters(model.dit) == DIT_PARAMS
    assert (
        count_parameters(model.fov_conditioner) + count_parameters(model.global_conditioner)
        == CONDITIONER_PARAMS
    )
    assert abs(DIT_PARAMS / 1e9 - 0.91) < 0.01


def test_reference_total_parameter_count() -> None:
    shapes = reference_shapes()
    total = sum(math.prod(shape) for shape in shapes.values())
    dit = sum(math.prod(s) for n, s in shapes.items() if n.startswith("model.model."))
    assert (total, dit) == (REFERENCE_TOTAL, REFERENCE_DIT_TOTAL)
    assert abs(dit / 1e9 - 1.06) < 0.01
    assert abs(total / 1e9 - 1.22) < 0.01


def test_no_final_norm_and_no_buffers_in_state() -> None:
    model = meta_model(TINY)
    assert not any("norm" in n and "layers" not in n for n in model.state_dict())
    assert list(model.buffers()) == []


def test_meta_built_model_runs_after_loading_weights() -> None:
    # Nothing is computed at construction that a meta build would leave unusable.
    source = tiny_model()
    model = meta_model(TINY)
    model.load_state_dict(source.state_dict(), assign=True)
    x, t, glob, fov = tiny_inputs()
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x, t, glob, fov), source(x, t, glob, fov))


def test_mismatched_conditioner_width_is_rejected() -> None:
    bad = replace(TINY, conditioner=replace(TINY.conditioner, embed_dim=32))
    with pytest.raises(ConfigError, match="embed_dim"):
        meta_model(bad)


# --- rotary embedding ------------------------------------------------------------------------


def test_rotary_score_depends_only_on_relative_position() -> None:
    head_dim, rotary_dims, n = 64, 32, 12
    cos, sin = rotary_cos_sin(n, rotary_dims)
    g = torch.Generator().manual_seed(0)
    q = torch.randn(head_dim, generator=g, dtype=torch.float32)
    k = torch.randn(head_dim, generator=g, dtype=torch.float32)
    q_rot = apply_rotary(q.expand(n, head_dim), cos, sin)
    k_rot = apply_rotary(k.expand(n, head_dim), cos, sin)
    scores = q_rot @ k_rot.T  # scores[i, j] = q at position i · k at position j
    for offset in range(-n + 1, n):
        diagonal = torch.diagonal(scores, offset)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal), atol=1e-4, rtol=0)
    assert not torch.allclose(scores[0, 1], scores[0, 2])


def test_rotary_changes_only_the_first_rotary_dims() -> None:
    cos, sin = rotary_cos_sin(5, 16)
    x = torch.randn(2, 3, 5, 64)
    out = apply_rotary(x, cos, sin)
    assert torch.equal(out[..., 16:], x[..., 16:])
    assert torch.equal(out[..., 0, :], x[..., 0, :])  # position 0 is not rotated
    assert not torch.allclose(out[..., 1:, :16], x[..., 1:, :16])
    torch.testing.assert_close(out.norm(dim=-1), x.norm(dim=-1))  # a rotation


def test_rotary_runs_in_float32_for_bfloat16_inputs() -> None:
    cos, sin = rotary_cos_sin(300, 32)
    x = torch.randn(1, 300, 64)
    out = apply_rotary(x.bfloat16(), cos, sin)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), apply_rotary(x, cos, sin), atol=0.05, rtol=0.02)


# --- natural cubic spline resampler ----------------------------------------------------------


def test_spline_maps_end_points_and_reproduces_a_ramp() -> None:
    x = torch.randn(2, 80, 5)
    out = resample_time(x, 215)
    assert out.shape == (2, 215, 5)
    torch.testing.assert_close(out[:, 0], x[:, 0])
    torch.testing.assert_close(out[:, -1], x[:, -1])
    ramp = (3.0 - 0.25 * torch.arange(80, dtype=torch.float64))[None, :, None]
    expected = torch.linspace(3.0, 3.0 - 0.25 * 79, 215, dtype=torch.float64)[None, :, None]
    torch.testing.assert_close(resample_time(ramp, 215), expected)


def test_spline_is_natural_and_interpolates_at_the_knots() -> None:
    # Queries on the knots (T - 1 divides L - 1) return the samples; ends have zero curvature.
    weights = natural_cubic_spline_matrix(9, 33)
    torch.testing.assert_close(weights[::4], torch.eye(9, dtype=torch.float64))
    y = torch.randn(9, dtype=torch.float64)
    fine = natural_cubic_spline_matrix(9, 801) @ y
    h = 8 / 800
    for second in (
        (fine[2] - 2 * fine[1] + fine[0]) / h**2,
        (fine[-3] - 2 * fine[-2] + fine[-1]) / h**2,
    ):
        assert abs(second) < 0.05 * (y.abs().max() + 1)
    torch.testing.assert_close(
        natural_cubic_spline_matrix(9, 50).sum(dim=1), torch.ones(50, dtype=torch.float64)
    )


def test_spline_identity_and_degenerate_lengths() -> None:
    x = torch.randn(1, 7, 3)
    assert resample_time(x, 7) is x
    torch.testing.assert_close(resample_time(x[:, :1], 4), x[:, :1].expand(1, 4, 3))
    torch.testing.assert_close(resample_time(x[:, :2], 3)[:, 1], x[:, :2].mean(dim=1))
    torch.testing.assert_close(resample_time(resample_time(x, 3), 3), resample_time(x, 3))


# --- the two branches and guidance -----------------------------------------------------------


def test_global_branch_is_max_over_time() -> None:
    model = tiny_model()
    x, t, glob, fov = tiny_inputs()
    tokens: list[torch.Tensor] = []
    model.dit.transformer.register_forward_pre_hook(lambda _, args: tokens.append(args[2]))
    with torch.no_grad():
        out = model(x, t, glob, fov)
        embedded = model.dit.to_global_embed(model.global_conditioner(glob))
        timestep = model.dit.to_timestep_embed(model.dit.timestep_features(t))
        # the token the transformer receives is the max over time of the per-frame embeddings
        torch.testing.assert_close(tokens[0], embedded.amax(dim=1) + timestep)
        assert not torch.allclose(tokens[0], embedded.mean(dim=1) + timestep, atol=1e-2)
        # so frames repeated in a different proportion give the same sound (a mean would not)
        a, b = glob[:, :1], glob[:, 1:2]
        mostly_b = model(x, t, torch.cat([a, b, b, b], dim=1), fov)
        mostly_a = model(x, t, torch.cat([a, a, a, b], dim=1), fov)
        changed = model(x, t, glob.flip(0), fov)
    torch.testing.assert_close(mostly_a, mostly_b, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(changed, out, atol=1e-3)


def test_local_branch_is_time_aligned() -> None:
    model = tiny_model()
    x, t, glob, fov = tiny_inputs(batch=1, length=48, frames=16)
    edited = fov.clone()
    edited[:, :3] += 3.0 * torch.randn(1, 3, fov.shape[-1])
    with torch.no_grad():
        delta = (model(x, t, glob, edited) - model(x, t, glob, fov)).abs().mean(dim=1)[0]
    assert delta[:8].mean() > 3 * delta[-16:].mean()


def test_fov_scale_zero_is_the_null_condition() -> None:
    model = tiny_model()
    x, t, glob, fov = tiny_inputs()
    zeros = torch.zeros(x.shape[0])
    with torch.no_grad():
        masked = model(x, t, glob, fov, zeros)
        local_null = torch.zeros(x.shape[0], fov.shape[1], TINY.dit.embed_dim)
        null = model.dit(x, t, model.global_conditioner(glob), local_null)
        conditional = model(x, t, glob, fov)
        ones = model(x, t, glob, fov, torch.ones(x.shape[0]))
    torch.testing.assert_close(masked, null)
    torch.testing.assert_close(ones, conditional)
    assert not torch.allclose(masked, conditional, atol=1e-3)


def test_batched_guidance_call_equals_separate_calls() -> None:
    model = tiny_model()
    x, t, glob, fov = tiny_inputs()
    b = x.shape[0]
    mask = torch.cat([torch.ones(b), torch.zeros(b)])
    with torch.no_grad():
        both = model(torch.cat([x, x]), torch.cat([t, t]), glob, fov, mask)
        cond = model(x, t, glob, fov, torch.ones(b))
        uncond = model(x, t, glob, fov, torch.zeros(b))
    torch.testing.assert_close(both, torch.cat([cond, uncond]), atol=1e-5, rtol=1e-5)


def test_feature_batch_must_divide_the_latent_batch() -> None:
    model = tiny_model()
    x, t, glob, fov = tiny_inputs(batch=3)
    with pytest.raises(ValueError, match="divide"):
        model(x[:2], t[:2], glob, fov)


# --- shapes, determinism, dtypes -------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 7, 32, 215])
def test_output_shape_and_determinism(length: int) -> None:
    model = tiny_model()
    x, t, glob, fov = tiny_inputs(length=length, frames=10)
    with torch.no_grad():
        out = model(x, t, glob, fov)
        again = model(x, t, glob, fov)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    assert torch.equal(out, again)


def test_scalar_time_is_broadcast() -> None:
    model = tiny_model()
    x, _, glob, fov = tiny_inputs()
    with torch.no_grad():
        torch.testing.assert_close(
            model(x, torch.tensor(0.3), glob, fov), model(x, torch.full((2,), 0.3), glob, fov)
        )


def test_time_changes_the_output() -> None:
    model = tiny_model()
    x, _, glob, fov = tiny_inputs()
    with torch.no_grad():
        early = model(x, torch.full((2,), 0.9), glob, fov)
        late = model(x, torch.full((2,), 0.1), glob, fov)
    assert not torch.allclose(early, late, atol=1e-3)


def test_bfloat16_autocast_runs() -> None:
    model = tiny_model()
    x, t, glob, fov = tiny_inputs(length=43, frames=10)
    with torch.no_grad():
        reference = model(x, t, glob, fov)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x, t, glob, fov, torch.tensor([1.0, 0.0]))
            reference_masked = model(x, t, glob, fov, torch.tensor([1.0, 0.0]))
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, reference_masked)
    relative = (out[:1].float() - reference[:1]).norm() / reference[:1].norm()
    assert relative < 0.05


def test_fresh_model_starts_as_identity_residuals() -> None:
    # Zero-initialised residual branches and convs: at initialisation every block is the
    # identity, so the output is project_out(project_in(x) + local).
    torch.manual_seed(0)
    dit = DiffusionTransformer(TINY.dit).eval()
    x, t, glob, fov = tiny_inputs()
    local = torch.randn(2, fov.shape[1], TINY.dit.embed_dim)
    with torch.no_grad():
        out = dit(x, t, torch.randn(2, glob.shape[1], TINY.dit.global_cond_dim), local)
        proj = dit.transformer
        h = proj.project_in(x.transpose(1, 2)) + resample_time(local, x.shape[-1])
        expected = proj.project_out(h).transpose(1, 2)
    torch.testing.assert_close(out, expected)
    assert isinstance(dit.transformer.layers[0].ff.ff[1], nn.Identity)
