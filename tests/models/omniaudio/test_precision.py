"""Precision as the reference runs it: only the DiT in half precision; the video conditioners
and the codec decode in fp32, whatever autocast surrounds them. Checked on the CPU with
bf16 autocast, which follows the same rules as CUDA's."""

import pytest
import torch
from model_fixtures import features, tiny_generator
from torch import nn

from models.omniaudio.config import with_sampler
from models.omniaudio.generator import FoaGenerator


def dtypes_seen(module: nn.Module, kind: type[nn.Module]) -> set[torch.dtype]:
    """The dtypes every submodule of ``kind`` outputs, collected while a call runs."""
    seen: set[torch.dtype] = set()
    for sub in module.modules():
        if isinstance(sub, kind):
            sub.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype))
    return seen


def run(model: FoaGenerator, outer_autocast: bool = False) -> torch.Tensor:
    frames, dim = model.config.frames_per_window, model.config.conditioner.feature_dim
    g, f = features(frames, dim, 0), features(frames, dim, 1)
    sampler = with_sampler(model.config, steps=2).sampler
    with (
        torch.inference_mode(),
        torch.autocast("cpu", dtype=torch.bfloat16, enabled=outer_autocast),
    ):
        return model.generate(g, f, torch.Generator().manual_seed(0), 1, sampler)


@pytest.mark.parametrize("outer_autocast", [False, True])
def test_only_the_dit_runs_in_half_precision(outer_autocast: bool) -> None:
    model = tiny_generator(0)
    model.flow.dit_precision = torch.bfloat16
    conditioners = dtypes_seen(model.flow.fov_conditioner, nn.Linear)
    conditioners |= dtypes_seen(model.flow.global_conditioner, nn.Linear)
    dit = dtypes_seen(model.flow.dit.transformer, nn.Linear)
    codec = dtypes_seen(model.codec.decoder, nn.Conv1d)
    codec |= dtypes_seen(model.codec.decoder, nn.ConvTranspose1d)
    out = run(model, outer_autocast)
    assert conditioners == {torch.float32}
    assert dit == {torch.bfloat16}
    assert codec == {torch.float32}
    assert out.dtype == torch.float32


def test_without_a_half_precision_the_dit_stays_fp32_even_under_autocast() -> None:
    model = tiny_generator(0)
    dit = dtypes_seen(model.flow.dit.transformer, nn.Linear)
    run(model, outer_autocast=True)
    assert dit == {torch.float32}
