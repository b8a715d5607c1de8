"""Audio files: 4-channel WAV/FLAC round trips, resampling, atomic writes, clear errors."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from plugin_core.errors import InputError
from plugin_core.media import audio_io
from plugin_core.spatial import foa


def tones(rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.stack([0.5 * np.sin(2 * np.pi * f * t) for f in (220, 330, 440, 550)]).astype(
        np.float32
    )


def peak_frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize(
    ("name", "subtype", "tolerance"),
    [("a.wav", "float32", 0.0), ("a.wav", "pcm24", 2e-7), ("a.flac", "pcm24", 2e-7)],
)
def test_four_channels_round_trip(tmp_path: Path, name: str, subtype: str, tolerance: float):
    audio = tones(48000)
    audio_io.write_audio(tmp_path / name, audio, 48000, subtype=subtype)
    back, rate = audio_io.read_foa(tmp_path / name)
    assert rate == 48000
    assert back.shape == audio.shape
    np.testing.assert_allclose(back, audio, atol=tolerance)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left behind


def test_resampling_keeps_pitch_length_and_direction() -> None:
    rng = np.random.default_rng(0)
    field = foa.encode_mono(rng.standard_normal(44100) * 0.1, 60, 20).astype(np.float32)
    up = audio_io.resample(field, 44100, 48000)
    assert up.shape == (4, 48000)
    track = foa.intensity_directions(up, 48000)
    assert abs(track.az[0] - 60) < 0.5
    assert abs(track.el[0] - 20) < 0.5
    audio = tones(44100)
    back = audio_io.resample(audio_io.resample(audio, 44100, 48000), 48000, 44100)
    assert peak_frequency(audio_io.resample(audio, 44100, 48000)[3], 48000) == pytest.approx(
        550, abs=2
    )
    # a 44.1 -> 48 -> 44.1 kHz trip is transparent away from the edges
    np.testing.assert_allclose(back[:, 2000:-2000], audio[:, 2000:-2000], atol=1e-3)


def test_failed_write_keeps_the_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "mix.wav"
    audio_io.write_audio(target, tones(8000), 8000)
    before = target.read_bytes()
    with pytest.raises(ValueError, match="channels, samples"):
        audio_io.write_audio(target, np.zeros(100, dtype=np.float32), 8000)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["mix.wav"]


def test_wrong_channel_count_is_one_clear_sentence(tmp_path: Path) -> None:
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.zeros((100, 2), dtype=np.float32), 48000)
    with pytest.raises(InputError) as err:
        audio_io.read_foa(stereo)
    message = str(err.value)
    assert "2 channel" in message
    assert "4-channel" in message
    assert message.count(". ") == 0


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    bogus = tmp_path / "noise.wav"
    bogus.write_text("this is not audio")
    with pytest.raises(InputError, match=r"Cannot read noise\.wav"):
        audio_io.read_audio(bogus)
    with pytest.raises(InputError, match="does not exist"):
        audio_io.read_audio(tmp_path / "missing.wav")
    with pytest.raises(InputError, match="output folder"):
        audio_io.write_audio(tmp_path / "no" / "x.wav", tones(8000), 8000)
    with pytest.raises(InputError, match=r"\.wav or \.flac"):
        audio_io.write_audio(tmp_path / "x.mp3", tones(8000), 8000)
