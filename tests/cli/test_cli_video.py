"""The command line on video files: info, and analyze over a frame."""

import re
from pathlib import Path

import numpy as np
import soundfile as sf
from cli_runner import run_cli
from PIL import Image
from video_fixtures import indexed_frames, inject_sv3d, tones

from plugin_core.media.audio_io import read_foa, write_audio
from plugin_core.media.video import write_video
from plugin_core.spatial import foa
from plugin_core.spatial.analysis import panorama_pixel


def tone_stem(folder: Path) -> Path:
    """A 2 s, 300 Hz tone at 45° as an AmbiX stem."""
    stem = folder / "stem.wav"
    write_audio(stem, foa.encode_mono(tones([300.0], 2.0)[0], 45.0, 0.0), 48000)
    return stem


def info_fields(stdout: str) -> dict[str, str]:
    """``omnifoa info``'s rows: name, two or more spaces, value."""
    return dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in stdout.splitlines())


def test_info_describes_an_equirectangular_video(tmp_path: Path) -> None:
    video = tmp_path / "erp.mp4"
    write_video(
        video,
        indexed_frames(24, 256, 128),
        12.0,
        audio=tones([200, 300, 400, 500], 2.0),
        audio_rate=48000,
    )
    inject_sv3d(video)
    done = run_cli("info", str(video))
    assert done.returncode == 0, done.stderr
    fields = dict(
        line.split(None, 1) if "  " not in line else line.split("  ", 1)
        for line in done.stdout.splitlines()
    )
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    assert fields["size"] == "256x128"
    assert fields["frame rate"].startswith("12.000")
    assert fields["duration"].startswith("2.0")
    assert fields["audio"].startswith("4 ch, 48000 Hz")
    assert "equirectangular" in fields["spherical metadata"]
    assert fields["equirectangular 2:1"] == "yes"
    assert done.stderr == ""


def test_info_warns_about_a_stretched_frame(tmp_path: Path) -> None:
    video = tmp_path / "wide.mp4"
    write_video(video, indexed_frames(4, 256, 144), 8.0)
    done = run_cli("info", str(video))
    assert done.returncode == 0
    assert "2:1" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert info_fields(done.stdout)["360 panorama"].startswith("no")


def test_a_16_9_picture_with_equirectangular_metadata_is_a_panorama(tmp_path: Path) -> None:
    video = tmp_path / "pano_16x9.mp4"
    write_video(video, indexed_frames(24, 256, 144), 12.0)
    inject_sv3d(video)
    done = run_cli("info", str(video))
    assert done.returncode == 0, done.stderr
    assert info_fields(done.stdout)["360 panorama"] == "yes"
    assert done.stderr == ""  # no "directions may be off": the metadata says it is full
    stem = tone_stem(tmp_path)
    export = run_cli("export-video", str(video), str(stem), "-o", str(tmp_path / "up.mov"))
    assert export.returncode == 0, export.stderr


def test_a_flat_video_gets_no_360_metadata_unless_the_user_insists(tmp_path: Path) -> None:
    video = tmp_path / "flat.mp4"
    write_video(video, indexed_frames(24, 256, 144), 12.0)
    stem = tone_stem(tmp_path)
    out = tmp_path / "up.mov"
    refused = run_cli("export-video", str(video), str(stem), "-o", str(out))
    assert refused.returncode == 2
    assert "does not look like a 360 panorama" in refused.stderr
    assert "--assume-360" in refused.stderr
    assert not out.exists()
    insisted = run_cli("export-video", str(video), str(stem), "-o", str(out), "--assume-360")
    assert insisted.returncode == 0, insisted.stderr
    assert out.exists()


def test_info_on_a_file_that_is_not_a_video(tmp_path: Path) -> None:
    fake = tmp_path / "holiday.mp4"
    fake.write_text("not a video at all")
    done = run_cli("info", str(fake))
    assert done.returncode == 2
    assert done.stderr.startswith("omnifoa: error:")
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_analyze_draws_over_the_video_frame(tmp_path: Path) -> None:
    video = tmp_path / "erp.mp4"
    green = np.zeros((128, 256, 3), dtype=np.uint8)
    green[..., 1] = 255
    write_video(video, [green] * 16, 8.0)
    stem = tmp_path / "stem.wav"
    s = np.random.default_rng(0).standard_normal(44100) * 0.1
    write_audio(stem, foa.encode_mono(s, 0, 0).astype(np.float32), 44100)
    png = tmp_path / "over.png"
    done = run_cli("analyze", str(stem), "--video", str(video), "--png", str(png))
    assert done.returncode == 0, done.stderr
    figure = Image.open(png).convert("RGB")
    image = np.asarray(figure, dtype=float)
    # behind the listener the heatmap is dark, so the green frame shows through; in front
    # (where the sound is) the heat colours cover it
    back = image[panorama_pixel(178.0, 0.0, figure)[::-1]]
    front = image[panorama_pixel(0.0, 0.0, figure)[::-1]]
    assert back[1] > back[0] + 40
    assert front[0] > back[0] + 100
    overall = done.stdout.splitlines()[0]
    assert overall.startswith("overall: az ")
    assert abs(float(overall.split()[2])) < 2.0  # the source is in front


def test_export_video_writes_a_youtube_ready_mov(tmp_path: Path) -> None:
    video = tmp_path / "pano.mp4"
    write_video(video, indexed_frames(24, 256, 128), 12.0)
    stem = tone_stem(tmp_path)
    out = tmp_path / "upload.mov"
    done = run_cli("export-video", str(video), str(stem), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "metadata added: sv3d, spherical_v1, SA3D" in done.stdout
    info = run_cli("info", str(out))
    spatial = info_fields(info.stdout)["spatial audio"]
    assert spatial == "ambisonic order 1, 4 channels, ACN/SN3D (SA3D)"
    back = tmp_path / "recorded.wav"
    pulled = run_cli("extract-audio", str(out), "-o", str(back))
    assert pulled.returncode == 0, pulled.stderr
    original, rate = read_foa(stem)
    recovered, rate_back = read_foa(back)
    assert rate_back == rate
    assert sf.SoundFile(back).comment == "AmbiX (ACN/SN3D)"
    np.testing.assert_allclose(recovered[:, : original.shape[1]], original, atol=1e-6)
    again = run_cli("export-video", str(video), str(stem), "-o", str(out))
    assert again.returncode == 2
    assert (
        again.stderr.strip()
        == f"omnifoa: error: {out} exists; choose another name or allow overwriting (--overwrite)."
    )


def test_generate_refuses_bad_requests_before_loading_a_model(tmp_path: Path) -> None:
    video = tmp_path / "pano.mp4"
    write_video(video, indexed_frames(12, 256, 128), 12.0)
    taken = tmp_path / "taken.wav"
    taken.write_bytes(b"mine")
    bad_path = tmp_path / "path.csv"
    bad_path.write_text("t,yaw,pitch\n0,0,120\n")
    for args, message in (
        (["-o", str(taken)], "exists"),
        (["-o", str(tmp_path / "a.wav"), "--path", str(bad_path)], "between -90 and 90"),
        (["-o", str(tmp_path / "a.wav"), "--end", "0.2"], "at least 0.5 s"),
    ):
        done = run_cli("generate", str(video), *args)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert taken.read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pano.mp4", "path.csv", "taken.wav"]
