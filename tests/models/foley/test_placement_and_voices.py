"""Voices and their placement: a voice placed at a direction is heard there, a path crosses
the seam the short way, grains start at their onsets and loops sound only while they should,
without clicks, the same for the same seed."""

import numpy as np
import pytest
import torch

from models.foley.placement import path_per_sample, place
from models.foley.voices import bed_voice, grain_voice, loop_voice
from plugin_core.spatial.foa import intensity_directions

RATE = 44100


def _vector(az: float, el: float) -> torch.Tensor:
    a, e = np.radians(az), np.radians(el)
    return torch.tensor([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])


@pytest.mark.parametrize(("az", "el"), [(90.0, 0.0), (-135.0, 30.0), (20.0, -50.0)])
def test_a_voice_placed_at_a_direction_is_heard_there(az: float, el: float) -> None:
    voice = torch.from_numpy(np.random.default_rng(1).standard_normal(RATE)).float()
    path = path_per_sample(_vector(az, el)[None].float(), RATE, 8.0, RATE)
    foa = place(voice, path).double().numpy()
    track = intensity_directions(foa, RATE, 0.5)
    assert np.all(np.abs(track.az - az) < 0.5)
    assert np.all(np.abs(track.el - el) < 0.5)


def test_a_path_across_the_back_goes_the_short_way() -> None:
    frames = torch.stack([_vector(170.0, 0.0), _vector(-170.0, 0.0)]).float()
    path = path_per_sample(frames, RATE // 8 + 1, 8.0, RATE)
    az = np.degrees(np.arctan2(path[:, 1].numpy(), path[:, 0].numpy()))
    assert np.all(np.abs(az) >= 169.9)  # never through the front
    assert torch.allclose(path.norm(dim=1), torch.ones(path.shape[0]))


def _grains() -> list[torch.Tensor]:
    t = torch.arange(4410) / RATE
    return [torch.sin(2 * np.pi * f * t) * torch.exp(-t / 0.02) for f in (500.0, 900.0)]


def test_grains_start_at_their_onsets_and_a_seed_gives_the_same_voice() -> None:
    onsets = [0.25, 0.5, 0.9]
    voice = grain_voice(_grains(), onsets, RATE, RATE, torch.Generator().manual_seed(3))
    first = int(torch.nonzero(voice.abs() > 1e-6)[0])
    assert first - round(0.25 * RATE) in (0, 1)  # a sine grain starts at zero
    for onset in onsets:
        at = round(onset * RATE)
        assert voice[at - 200 : at].abs().max() < 1e-3 < voice[at : at + 200].abs().max()
    again = grain_voice(_grains(), onsets, RATE, RATE, torch.Generator().manual_seed(3))
    other = grain_voice(_grains(), onsets, RATE, RATE, torch.Generator().manual_seed(4))
    assert torch.equal(voice, again)
    assert not torch.equal(voice, other)


def test_a_loop_sounds_only_in_its_stretches_and_joins_without_clicks() -> None:
    t = torch.arange(RATE) / RATE
    loops = [0.3 * torch.sin(2 * np.pi * 220.0 * t), 0.3 * torch.sin(2 * np.pi * 330.0 * t)]
    voice = loop_voice(loops, [(0.5, 2.0), (3.0, 5.0)], 6 * RATE, RATE, torch.Generator())
    for start, end in ((0.0, 0.5), (2.0, 3.0), (5.0, 6.0)):
        assert voice[round(start * RATE) : round(end * RATE)].abs().max() == 0.0
    for start, end in ((0.6, 1.9), (3.1, 4.9)):
        rms = voice[round(start * RATE) : round(end * RATE)].pow(2).mean().sqrt()
        assert rms > 0.1
    # a sine of 0.3 moves at most 0.3·2π·330/44100 ≈ 0.014 per sample: no step anywhere
    assert voice.diff().abs().max() < 0.03


def test_the_bed_loops_for_longer_than_its_exemplar() -> None:
    bed = torch.from_numpy(np.random.default_rng(0).standard_normal((4, RATE))).float() * 0.1
    out = bed_voice(bed, 5 * RATE, RATE, torch.Generator().manual_seed(1))
    assert out.shape == (4, 5 * RATE)
    level = out.pow(2).mean(dim=0).reshape(50, -1).mean(dim=1)
    assert level.min() > 0.4 * level.max()  # no holes at the joins


def test_a_loop_longer_than_the_window_is_played_without_a_splice() -> None:
    t = torch.arange(3 * RATE) / RATE
    chirp = 0.3 * torch.sin(2 * np.pi * torch.cumsum(500 + 1000 * t / 3, 0) / RATE)  # 0.5→1.5 kHz
    for seed in range(5):
        g = torch.Generator().manual_seed(seed)
        voice = loop_voice([chirp], [(0.0, 2.0)], 2 * RATE, RATE, g)
        frames = voice[: 2 * RATE // 1000 * 1000].reshape(-1, 1000).numpy()
        spectra = np.abs(np.fft.rfft(frames * np.hanning(1000), axis=1))
        pitch = np.argmax(spectra, axis=1) * RATE / 1000
        # the pitch only rises, smoothly: no jump back to the exemplar's start
        assert np.diff(pitch).min() >= -RATE / 1000, seed
        assert np.diff(pitch).max() <= 2 * RATE / 1000, seed
