"""Reading events: onsets between frames, the stretches a continuous object sounds, and the
changes a hop, a swell or a flash makes in an object's measures."""

import math

import pytest
import torch

from models.foley.events import (
    object_changes,
    onsets_from_strength,
    sounding_stretches,
    strength_target,
)


def test_an_onset_is_placed_between_frames_by_how_strong_its_first_frame_is() -> None:
    strength = torch.zeros(16)
    strength[8], strength[9] = 0.5, 0.05  # fading over two frames
    strength[12] = 1.0
    onsets = onsets_from_strength(strength, 8.0, 0.15, 0.14, lag=0.04)
    assert onsets == pytest.approx([1.0 + 0.04 - 0.5 * 0.14, 1.5 + 0.04])
    # the run of two frames above the threshold is one event
    assert len(onsets_from_strength(strength, 8.0, 0.01, 0.14, lag=0.0)) == 2


def test_the_strength_target_is_one_at_the_onset_and_fades_to_nothing() -> None:
    elapsed = torch.tensor([-0.01, 0.0, 0.07, 0.14, 0.5])
    assert strength_target(elapsed, 0.14).tolist() == pytest.approx([0.0, 1.0, 0.5, 0.0, 0.0])


def test_a_continuous_object_sounds_from_each_onset_until_a_gap_before_the_next() -> None:
    assert sounding_stretches([], 10.0, 0.9) == [(0.0, 10.0)]
    flat = [t for pair in sounding_stretches([0.1, 4.0], 10.0, 0.9) for t in pair]
    assert flat == pytest.approx([0.1, 3.1, 4.0, 10.0])
    # an onset well into the window: it was sounding before, until a gap before it
    flat = [t for pair in sounding_stretches([5.0], 10.0, 0.9) for t in pair]
    assert flat == pytest.approx([0.0, 4.1, 5.0, 10.0])


def _measures(frames: int, el_deg: float = 10.0) -> torch.Tensor:
    el = math.radians(el_deg)
    m = torch.zeros(frames, 5)
    m[:, 0] = 0.005
    m[:, 1], m[:, 3] = math.cos(el), math.sin(el)
    m[:, 4] = 0.4
    return m


def test_a_hop_a_swell_and_a_flash_each_show_in_their_own_change_at_their_frame() -> None:
    m = _measures(40)
    hop = math.radians(16.0)
    m[10, 1], m[10, 3] = math.cos(hop), math.sin(hop)  # 6° up for one frame
    m[20, 0] = 0.005 * 1.8  # 35 % larger radius
    m[30, 4] = 0.8  # towards white
    changes = object_changes(m)
    assert changes.shape == (40, 6)
    size, bright, height = changes[:, 0], changes[:, 1], changes[:, 2]
    assert height.argmax() == 10
    assert height[10] == pytest.approx(1.0, abs=0.01)
    assert size.argmax() == 20
    assert size[20] == pytest.approx(math.log(1.8), abs=1e-4)
    assert bright.argmax() == 30
    assert bright[30] > 0.5
    # elsewhere nothing changes, and the previous frame's changes ride along
    quiet = [k for k in range(40) if k not in (10, 20, 30)]
    assert changes[quiet, :3].abs().max() < 1e-4
    assert torch.equal(changes[11, 3:], changes[10, :3])


def test_a_slow_climb_is_not_a_hop() -> None:
    m = _measures(40)
    for k in range(40):
        el = math.radians(10.0 + 1.2 * k)  # 10°/s at 8 fps
        m[k, 1], m[k, 3] = math.cos(el), math.sin(el)
    assert object_changes(m)[3:-3, 2].abs().max() < 0.01
