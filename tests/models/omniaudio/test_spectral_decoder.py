"""The spectral decoder: the field it synthesises has the direction, spectrum and length it was
asked for, no frame-rate buzz, and one seed gives one stem."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from models.family import SamplingCancelled
from models.omniaudio.codec import SpatialVAE, decoded_length
from models.omniaudio.config import PRESETS
from models.omniaudio.spectral_decoder import (
    BINS,
    FRAMES_PER_HOP,
    GRIFFIN_LIM_ITERATIONS,
    SpectralDecoder,
    spectral_targets,
)
from plugin_core.evaluation.artefacts import frame_rate_artefacts
from plugin_core.spatial.directions import az_el_to_vector, great_circle_deg
from plugin_core.spatial.foa import encode_gains, intensity_directions

SR = 44100
CONFIG = replace(PRESETS["omniaudio-mini"].codec, decoder="spectral", decoder_width=32)
LATENT_FRAMES = 86  # about 2 s


def _decoder() -> SpectralDecoder:
    torch.manual_seed(0)
    return SpectralDecoder(CONFIG).eval()


def _frames() -> int:
    return LATENT_FRAMES * FRAMES_PER_HOP + 1


def _plane(az: float, el: float, directness: float = 0.95) -> torch.Tensor:
    """Intensity [1, 3, BINS, F] in (Y, Z, X) order for a source at (az, el)."""
    x, y, z = az_el_to_vector(az, el)
    vec = torch.tensor([y, z, x], dtype=torch.float32) * directness
    return vec[None, :, None, None].expand(1, 3, BINS, _frames()).contiguous()


def _flat_magnitude(level: float = 1.0) -> torch.Tensor:
    return torch.full((1, BINS, _frames()), float(np.log(level)))


def _synthesise(log_magnitude: torch.Tensor, intensity: torch.Tensor, seed: int = 0) -> np.ndarray:
    length = LATENT_FRAMES * CONFIG.hop
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        out = _decoder().synthesise(log_magnitude, intensity, length, generator)
    return out[0].double().numpy()


@pytest.mark.parametrize(("az", "el"), [(90.0, -20.0), (30.0, 60.0), (-150.0, 0.0), (0.0, -70.0)])
def test_the_synthesised_field_comes_from_the_asked_direction(az: float, el: float) -> None:
    foa = _synthesise(_flat_magnitude(), _plane(az, el))
    track = intensity_directions(foa, SR)
    assert float(great_circle_deg(az, el, track.az[0], track.el[0])) < 2.0
    assert np.sign(track.el[0]) == np.sign(el) or el == 0.0


def test_no_directness_gives_a_diffuse_field_of_the_same_power() -> None:
    direct = _synthesise(_flat_magnitude(), _plane(45.0, 10.0, 0.95))
    diffuse = _synthesise(_flat_magnitude(), _plane(45.0, 10.0, 0.0))
    assert intensity_directions(diffuse, SR).diffuseness[0] > 0.9
    assert intensity_directions(direct, SR).diffuseness[0] < 0.15
    # SN3D: a plane wave or a diffuse field puts as much power in X+Y+Z as in W
    for foa in (direct, diffuse):
        assert np.sum(foa[1:] ** 2) == pytest.approx(np.sum(foa[0] ** 2), rel=0.1)


def test_w_has_the_asked_spectrum() -> None:
    log_magnitude = torch.full((1, BINS, _frames()), float(np.log(1e-6)))
    log_magnitude[:, 100:140] = 0.0  # 4.3–6.0 kHz only
    w = _synthesise(log_magnitude, _plane(0.0, 0.0))[0]
    power = np.abs(np.fft.rfft(w)) ** 2
    freqs = np.fft.rfftfreq(w.size, 1 / SR)
    band = (freqs > 100 * SR / 1024 - 100) & (freqs < 140 * SR / 1024 + 100)
    assert power[band].sum() / power.sum() > 0.99


def test_a_still_latent_makes_no_frame_rate_buzz() -> None:
    """What buzzed in the waveform decoder: one latent held for 2 s. The waveform decoder of
    the same codec repeats itself every hop; the spectral decoder stays under the issue's
    bounds (autocorrelation ≤ 0.3, comb ≤ 3 dB) even untrained, with a bumpy random spectrum."""
    latent = torch.randn(1, CONFIG.latent_dim, 1).expand(1, CONFIG.latent_dim, LATENT_FRAMES)
    torch.manual_seed(0)
    waveform_codec = SpatialVAE(replace(CONFIG, decoder="oobleck")).eval()
    with torch.no_grad():
        w = _decoder()(latent.contiguous(), torch.Generator().manual_seed(3))[0, 0].numpy()
        buzz = waveform_codec.decode(latent.contiguous())[0, 0].numpy()
    spectral, waveform = frame_rate_artefacts(w, CONFIG.hop), frame_rate_artefacts(buzz, CONFIG.hop)
    assert waveform["autocorr_hop"] > 0.9
    assert waveform["comb_db"] > 20.0
    assert abs(spectral["autocorr_hop"]) < 0.3
    assert abs(spectral["autocorr_2hop"]) < 0.3
    assert spectral["comb_db"] < 3.0


def test_one_seed_gives_one_stem_and_another_seed_another_take() -> None:
    codec = SpatialVAE(CONFIG).eval()
    latent = torch.randn(1, CONFIG.latent_dim, LATENT_FRAMES)
    with torch.no_grad():
        a = codec.decode(latent, torch.Generator().manual_seed(5))
        b = codec.decode(latent, torch.Generator().manual_seed(5))
        c = codec.decode(latent, torch.Generator().manual_seed(6))
    assert a.shape == (1, 4, decoded_length(LATENT_FRAMES, CONFIG)) == (1, 4, LATENT_FRAMES * 1024)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c, atol=1e-3)
    # another take of the same sound: same level within 1 dB
    assert float(10 * torch.log10(a.square().mean() / c.square().mean())).__abs__() < 1.0


def test_a_cancel_is_heard_between_griffin_lim_iterations() -> None:
    codec = SpatialVAE(CONFIG).eval()
    latent = torch.randn(1, CONFIG.latent_dim, LATENT_FRAMES)
    asked: list[int] = []

    def cancel() -> bool:
        asked.append(1)
        return len(asked) > 3

    with torch.no_grad(), pytest.raises(SamplingCancelled):
        codec.decode(latent, torch.Generator().manual_seed(5), cancel)
    assert len(asked) == 4 < GRIFFIN_LIM_ITERATIONS  # stopped at the 4th, not at the end
    with torch.no_grad():  # never cancelled: the same stem as without a cancel check
        kept = codec.decode(latent, torch.Generator().manual_seed(5), lambda: False)
        plain = codec.decode(latent, torch.Generator().manual_seed(5))
    assert torch.equal(kept, plain)


def test_targets_read_a_plane_wave_back() -> None:
    rng = np.random.default_rng(0)
    dry = rng.standard_normal(2 * SR) * 0.1
    foa = torch.from_numpy((encode_gains(-100.0, 35.0)[:, None] * dry[None]).astype(np.float32))
    decoder = _decoder()
    log_magnitude, intensity, power = spectral_targets(foa[None], decoder.hop, decoder.window)
    assert log_magnitude.shape == power.shape == (1, BINS, 2 * SR // decoder.hop + 1)
    x, y, z = az_el_to_vector(-100.0, 35.0)
    loud = power[0] > power[0].median()
    read = intensity[0][:, loud]
    torch.testing.assert_close(
        read.mean(1), torch.tensor([y, z, x], dtype=torch.float32), atol=1e-3, rtol=0
    )
    assert float(read.norm(dim=0).max()) <= 1.0 + 1e-6
