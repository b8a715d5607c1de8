"""The code interleaving: 36 streams of S frames ↔ 2S + 1 decoder steps, and back."""

import torch

from models.visage.interleave import CodeLayout

LAYOUT = CodeLayout(num_rvq=9, pad=1024)


def test_the_stream_groups_are_the_releases() -> None:
    assert LAYOUT.even_streams == [0, *range(10, 18), *range(19, 27), *range(28, 36)]
    assert LAYOUT.odd_streams == [*range(1, 10), 18, 27]
    assert LAYOUT.streams_at(0, 861) == [0]
    assert LAYOUT.streams_at(860, 861) == LAYOUT.spatial_residual
    assert len(LAYOUT.streams_at(2, 861)) == 25
    assert len(LAYOUT.streams_at(3, 861)) == 11


def test_interleave_places_each_frame_at_its_step_and_round_trips() -> None:
    codes = torch.randint(0, 1024, (2, 430, 36))
    steps = LAYOUT.interleave(codes)
    assert steps.shape == (2, 861, 36)
    assert int((steps != 1024).sum()) == 2 * 430 * 36  # every code once: 1 + 430·11 + 429·25 + 24
    assert torch.equal(steps[:, 0, 0], codes[:, 0, 0])
    assert torch.equal(steps[:, 1, 9], codes[:, 0, 9])  # Y's primary with W's residuals
    assert torch.equal(steps[:, 2, 10], codes[:, 0, 10])  # Y's residual a step later
    assert torch.equal(steps[:, 2, 0], codes[:, 1, 0])  # beside W's next primary
    late = LAYOUT.spatial_residual
    assert torch.equal(steps[:, 860, late], codes[:, 429, late])
    for step in range(861):  # exactly the streams each step predicts carry codes
        carried = (steps[0, step] != 1024).nonzero().flatten().tolist()
        assert carried == LAYOUT.streams_at(step, 861)
    assert torch.equal(LAYOUT.deinterleave(steps), codes)
