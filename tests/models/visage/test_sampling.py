"""ViSAGe sampling: the KV-cached decode equals a teacher-forced pass slot for slot; guidance,
top-k, seeds, a forced prefix, progress and cancel."""

import pytest
import torch
from visage_fixtures import tiny_network

from models.family import SamplingCancelled
from models.visage.interleave import CodeLayout
from models.visage.sampling import (
    Conditions,
    SamplingSettings,
    generate_codes,
    guide,
    repeat_last_frame,
    top_k_filter,
)


@pytest.fixture(scope="module")
def network():
    return tiny_network(0)


def conditions(seed: int = 0) -> Conditions:
    g = torch.Generator().manual_seed(seed)
    return Conditions(
        torch.randn(20, 16, generator=g),
        torch.softmax(torch.randn(20, 49, generator=g), -1),
        torch.tensor([-1.0, 0.0, 0.0]),  # the camera looks left
    )


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_cached_greedy_decoding_equals_a_teacher_forced_pass_slot_for_slot(network) -> None:
    greedy = SamplingSettings(top_k=1)
    cond = conditions()
    with torch.inference_mode():
        codes = generate_codes(network, cond, seeded(0), 1, greedy)
        layout = CodeLayout(9, 1024)
        steps = layout.interleave(codes)  # [1, 861, 36]
        decoder = network.model.decoder
        logits = []
        for clip, energy, direction in (
            (cond.clip, cond.energy, cond.direction),
            network.null_condition(1, 20),
        ):
            clip = clip if clip.dim() == 3 else clip[None]
            energy = energy if energy.dim() == 3 else energy[None]
            direction = direction if direction.dim() == 2 else direction[None]
            states = network.encode(clip, energy, direction)
            hidden = decoder(decoder.inputs(steps[:, :-1], with_bos=True), 0, states)
            logits.append(network.logits(hidden))
        guided = guide(torch.stack(logits), greedy)[0]  # [861, 36, V]
    for step in range(861):
        for stream in layout.streams_at(step, 861):
            assert int(guided[step, stream].argmax()) == int(steps[0, step, stream]), (step, stream)


def test_joint_and_dual_guidance_are_the_release_formulas() -> None:
    cond, null, sem, spa = (torch.randn(5) for _ in range(4))
    joint = guide(torch.stack([cond, null]), SamplingSettings(scale=2.5))
    torch.testing.assert_close(joint, cond + 2.5 * (cond - null))
    dual = guide(
        torch.stack([cond, null, sem, spa]),
        SamplingSettings(guidance="dual", scale=2.0, spatial_scale=7.5),
    )
    torch.testing.assert_close(dual, cond + 2.0 * (sem - null) + 7.5 * (spa - null))


def test_top_k_keeps_exactly_the_k_largest_and_their_ties() -> None:
    logits = torch.randn(3, 1024)
    kept = torch.isfinite(top_k_filter(logits, 256))
    assert kept.sum(dim=-1).tolist() == [256, 256, 256]
    assert torch.equal(kept, logits >= logits.topk(256, dim=-1).values[:, -1:])
    tied = torch.tensor([[3.0, 1.0, 1.0, 0.0]])
    assert torch.isfinite(top_k_filter(tied, 2)).tolist() == [[True, True, True, False]]


def test_the_same_seed_gives_the_same_codes_and_variations_differ(network) -> None:
    with torch.inference_mode():
        a = generate_codes(network, conditions(), seeded(3), 2)
        b = generate_codes(network, conditions(), seeded(3), 2)
        c = generate_codes(network, conditions(), seeded(4), 2)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])
    assert a.shape == (2, 430, 36)
    assert int(a.max()) < 1024  # no pad left in a generated frame


def test_a_forced_prefix_starts_the_codes_and_the_rest_is_sampled(network) -> None:
    with torch.inference_mode():
        earlier = generate_codes(network, conditions(1), seeded(1), 1)
        prefix = earlier[:, -86:]
        continued = generate_codes(network, conditions(2), seeded(2), 1, prefix=prefix)
    assert torch.equal(continued[:, :86], prefix)
    assert not torch.equal(continued[:, 86:], earlier[:, :344])


def test_progress_counts_every_step_and_cancel_stops_between_steps(network) -> None:
    seen: list[tuple[int, int]] = []
    with torch.inference_mode():
        generate_codes(network, conditions(), seeded(0), 1, progress=lambda *s: seen.append(s))
        assert seen[-1] == (861, 861)
        steps_done: list[int] = []
        with pytest.raises(SamplingCancelled, match="after 5 of 861"):
            generate_codes(
                network,
                conditions(),
                seeded(0),
                1,
                progress=lambda i, n: steps_done.append(i),
                cancel=lambda: len(steps_done) >= 5,
            )


def test_the_last_frame_is_repeated_to_the_decoded_length() -> None:
    codes = torch.arange(2 * 430 * 36).reshape(2, 430, 36)
    full = repeat_last_frame(codes, 431)
    assert full.shape == (2, 431, 36)
    assert torch.equal(full[:, 430], codes[:, 429])
