"""Binaural rendering: a source on the left is louder and earlier in the left ear, turning
the head brings it to the front, spaudiopy's own decode agrees, blocks join without clicks."""

from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from plugin_core.errors import InputError
from plugin_core.spatial.binaural import DEFAULT_SOFA, BinauralDecoder, BinauralRenderer
from plugin_core.spatial.foa import encode_mono

RATE = 48000


@pytest.fixture(scope="module")
def decoder() -> BinauralDecoder:
    return BinauralDecoder.from_sofa(sample_rate=RATE)


def noise(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal(round(seconds * RATE))


def ild_db(ears: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(ears[0] ** 2) / np.mean(ears[1] ** 2)))


def itd_us(ears: np.ndarray) -> float:
    """How much later the right ear hears it, from the low-passed cross-correlation."""
    low = signal.sosfilt(signal.butter(4, 1000, fs=RATE, output="sos"), ears, axis=-1)
    left, right = low[0][2000:-2000], low[1][2000:-2000]
    corr = signal.correlate(right, left, "full", method="fft")
    lags = signal.correlation_lags(len(right), len(left))
    near = np.abs(lags) < 60
    return float(lags[near][np.argmax(corr[near])] / RATE * 1e6)


def test_a_source_on_the_left_is_louder_and_earlier_in_the_left_ear(decoder) -> None:
    ears = decoder.render(encode_mono(noise(), 90.0, 0.0))
    assert ild_db(ears) > 6.0
    assert itd_us(ears) > 200.0
    mirrored = decoder.render(encode_mono(noise(), -90.0, 0.0))
    assert ild_db(mirrored) < -6.0
    assert itd_us(mirrored) < -200.0


def test_turning_the_head_to_the_left_brings_a_left_source_to_the_front(decoder) -> None:
    renderer = BinauralRenderer(decoder)
    renderer.set_rotation(90.0, 0.0, 0.0)
    ears = renderer.render(encode_mono(noise(), 90.0, 0.0))
    assert abs(ild_db(ears)) < 1.0
    assert abs(itd_us(ears)) < 30.0
    # turning the other way puts it straight behind: still centred, not on the right
    renderer = BinauralRenderer(decoder)
    renderer.set_rotation(-90.0, 0.0, 0.0)
    assert abs(ild_db(renderer.render(encode_mono(noise(), 90.0, 0.0)))) < 1.0


@pytest.mark.parametrize(("head_yaw", "louder"), [(90.0, "right"), (-90.0, "left")])
def test_a_head_turned_away_from_a_front_source_hears_it_on_the_other_side(
    decoder, head_yaw: float, louder: str
) -> None:
    # head turned left (yaw +90): the source ahead of the picture is now on the right
    renderer = BinauralRenderer(decoder)
    renderer.set_rotation(head_yaw, 0.0, 0.0)
    ears = renderer.render(encode_mono(noise(), 0.0, 0.0))
    sign = -1.0 if louder == "right" else 1.0
    assert sign * ild_db(ears) > 6.0
    assert sign * itd_us(ears) > 200.0


def test_the_decode_agrees_with_spaudiopys_own_binaural_path() -> None:
    import warnings

    import spaudiopy

    ours = BinauralDecoder.from_sofa(sample_rate=44100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hrirs = spaudiopy.io.load_sofa_hrirs(str(DEFAULT_SOFA))
    s = noise(0.5)[:22050]
    azi, zen = np.array([np.radians(60.0)]), np.array([np.radians(70.0)])  # el 20°
    sh = spaudiopy.sph.src_to_sh(s[None, :], azi, zen, 1)
    theirs = spaudiopy.decoder.sh2bin(sh, spaudiopy.decoder.magls_bin(hrirs, 1))
    mine = ours.render(encode_mono(s, 60.0, 20.0))
    n = min(theirs.shape[-1], mine.shape[-1])
    np.testing.assert_allclose(mine[:, :n], theirs[:, :n], atol=1e-4 * np.abs(theirs).max())


def test_streaming_blocks_equal_the_whole_signal_decode(decoder) -> None:
    foa = encode_mono(noise(0.5), 30.0, 10.0)
    whole = decoder.render(foa)
    streamed = BinauralRenderer(decoder, block_size=512).render(foa)
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_a_rotation_change_mid_stream_does_not_click(decoder) -> None:
    t = np.arange(RATE) / RATE
    foa = encode_mono(0.3 * np.sin(2 * np.pi * 220 * t), 90.0, 0.0)
    rotations = np.zeros((-(-RATE // 512), 3))
    rotations[40:, 0] = 120.0  # the head turns at once
    ears = BinauralRenderer(decoder, 512).render(foa, rotations)
    steps = np.abs(np.diff(ears, axis=-1))
    around = steps[:, 39 * 512 : 42 * 512].max()
    steady = steps[:, 10 * 512 : 30 * 512].max()
    assert around < 1.5 * steady  # no sample jumps more than a 220 Hz tone does anyway


def test_a_rotation_is_heard_within_the_block_it_arrives_in(decoder) -> None:
    foa = encode_mono(noise(), 90.0, 0.0)
    renderer = BinauralRenderer(decoder, 512)
    first = renderer.render(foa[:, : 40 * 512])
    renderer.set_rotation(90.0, 0.0, 0.0)
    turned = renderer.render(foa[:, 40 * 512 : 41 * 512])  # the crossfade block
    after = renderer.render(foa[:, 41 * 512 : 60 * 512])
    assert ild_db(first[:, 10 * 512 :]) > 6.0
    assert abs(ild_db(after)) < 1.0
    assert ild_db(first[:, 10 * 512 :]) > ild_db(turned) > ild_db(after)


def test_a_corrupt_sofa_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "broken.sofa"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(InputError, match=r"broken\.sofa is not a usable SOFA"):
        BinauralDecoder.from_sofa(bad)
    with pytest.raises(InputError, match="does not exist"):
        BinauralDecoder.from_sofa(tmp_path / "missing.sofa")


def test_the_binaural_command_renders_a_head_turn_path(tmp_path: Path) -> None:
    from cli_runner import run_cli

    from plugin_core.media.audio_io import read_audio, write_audio

    foa = tmp_path / "left.wav"
    write_audio(foa, encode_mono(noise(2.0), 90.0, 0.0), RATE)
    path = tmp_path / "turn.csv"
    path.write_text("t,yaw,pitch,roll\n0,0,0,0\n1.0,0,0,0\n1.01,90,0,0\n")
    out = tmp_path / "ears.wav"
    done = run_cli("binaural", str(foa), "-o", str(out), "--path", str(path))
    assert done.returncode == 0, done.stderr
    assert [line.split(" (")[0] for line in done.stdout.splitlines()] == [
        f"wrote {out}"
    ]  # only that
    ears, rate = read_audio(out)
    assert (ears.shape[0], rate) == (2, RATE)
    assert ild_db(ears[:, : RATE - 2048]) > 6.0  # source on the left
    assert abs(ild_db(ears[:, RATE + 2048 :])) < 1.0  # head turned to it
    again = run_cli("binaural", str(foa), "-o", str(out))
    assert again.returncode == 2
    assert "exists" in again.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [("stereo", "2 channel"), ("sofa", "not a usable SOFA")],
)
def test_bad_input_to_the_binaural_command(tmp_path: Path, content: str, message: str) -> None:
    from cli_runner import run_cli

    from plugin_core.media.audio_io import write_audio

    foa = tmp_path / "in.wav"
    channels = 2 if content == "stereo" else 4
    write_audio(foa, encode_mono(noise(0.5), 0.0, 0.0)[:channels], RATE)
    sofa = tmp_path / "bad.sofa"
    sofa.write_text("not hdf5")
    done = run_cli("binaural", str(foa), "-o", str(tmp_path / "o.wav"), "--sofa", str(sofa))
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.wav").exists()
