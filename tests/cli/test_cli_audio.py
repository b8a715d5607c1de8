"""The command line on FOA files: convert and analyze."""

from pathlib import Path

import numpy as np
import soundfile as sf
from cli_runner import run_cli
from PIL import Image

from plugin_core.media.audio_io import read_foa, write_audio
from plugin_core.spatial import foa
from plugin_core.spatial.analysis import panorama_pixel

RATE = 44100


def left_then_up(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    s = 0.2 * rng.standard_normal(2 * RATE)
    field = np.concatenate(
        [foa.encode_mono(s[:RATE], 90, 0), foa.encode_mono(s[RATE:], -30, 45)], axis=1
    )
    path = tmp_path / "stem.wav"
    write_audio(path, field.astype(np.float32), RATE)
    return path


def test_convert_to_fuma_and_back(tmp_path: Path) -> None:
    stem = left_then_up(tmp_path)
    fuma = tmp_path / "stem_fuma.wav"
    done = run_cli("convert", str(stem), str(fuma), "--to", "fuma")
    assert done.returncode == 0, done.stderr
    assert "FuMa" in done.stdout
    assert "FuMa" in sf.SoundFile(fuma).comment  # the file itself is labelled
    back = tmp_path / "back.wav"
    assert run_cli("convert", str(fuma), str(back), "--to", "ambix").returncode == 0
    np.testing.assert_allclose(read_foa(back)[0], read_foa(stem)[0], atol=1e-6)


def test_convert_resamples_to_48k(tmp_path: Path) -> None:
    stem = left_then_up(tmp_path)
    out = tmp_path / "stem48.flac"
    done = run_cli(
        "convert",
        str(stem),
        str(out),
        "--to",
        "ambix",
        "--from",
        "ambix",
        "--rate",
        "48000",
        "--subtype",
        "pcm24",
    )
    assert done.returncode == 0, done.stderr
    audio, rate = read_foa(out)
    assert rate == 48000
    assert audio.shape == (4, 96000)


def test_analyze_prints_directions_and_draws_the_heatmap(tmp_path: Path) -> None:
    stem = left_then_up(tmp_path)
    png = tmp_path / "map.png"
    done = run_cli("analyze", str(stem), "--window", "0.5", "--png", str(png))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("overall: az ")  # two sources: the spread says it moved
    spread = float(lines[0].split("spread ")[1].split()[0])
    assert spread > 40
    rows = [line.split() for line in lines[2:6]]
    directions = [(float(r[1]), float(r[2])) for r in rows]
    assert all(abs(az - 90) < 1 and abs(el) < 1 for az, el in directions[:2])
    assert all(abs(az + 30) < 1 and abs(el - 45) < 1 for az, el in directions[2:])
    figure = Image.open(png)
    image = np.asarray(figure.convert("L"), dtype=float)
    # the brightest part of the heatmap lies toward the two sources, not behind
    left = image[panorama_pixel(90, 0, figure)[::-1]]
    back = image[panorama_pixel(179, 0, figure)[::-1]]
    assert left > back


def test_bad_input_is_one_sentence_and_writes_nothing(tmp_path: Path) -> None:
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.zeros((1000, 2), dtype=np.float32), RATE)
    out = tmp_path / "out.wav"
    done = run_cli("convert", str(stereo), str(out), "--to", "fuma")
    assert done.returncode == 2
    assert done.stderr.startswith("omnifoa: error: stereo.wav has 2 channel(s)")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()
    done = run_cli("analyze", str(tmp_path / "missing.wav"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
