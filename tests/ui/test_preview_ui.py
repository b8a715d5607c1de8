"""The preview window, offscreen: the energy map's hot spot sits where the source is, the
dials and OSC head tracking turn the renderer, the silent clock plays, bad input is named."""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
import soundfile as sf
from cli_runner import run_cli
from PySide6 import QtCore, QtTest, QtWidgets
from pythonosc.udp_client import SimpleUDPClient

from plugin_core.errors import InputError
from plugin_core.media.audio_io import read_foa, write_audio
from plugin_core.media.video import write_video
from plugin_core.spatial.direction_path import DirectionPath
from plugin_core.spatial.directions import az_el_to_erp_uv, great_circle_deg
from plugin_core.spatial.foa import encode_mono, intensity_directions
from plugin_core.synthsphere import make_scene, render_foa, render_frames
from plugin_core.synthsphere.soundfield import object_signal
from ui.preview_app import run_preview
from ui.preview_session import PreviewSession
from ui.preview_window import OVERVIEW_WIDTH, PreviewWindow

RATE = 48000


@pytest.fixture(scope="module")
def app() -> QtWidgets.QApplication:
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("preview")
    video = folder / "grey.mp4"
    write_video(video, [np.full((256, 512, 3), 60, np.uint8)] * 16, 8.0)
    foa = folder / "source_at_60.wav"
    noise = 0.1 * np.random.default_rng(0).standard_normal(2 * RATE)
    write_audio(foa, encode_mono(noise, 60.0, 0.0), RATE)
    return {"video": video, "foa": foa, "folder": folder}


def wait_for(app, condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    return condition()


def pixels(label: QtWidgets.QLabel) -> np.ndarray:
    """A label's picture as an RGB array (copied out while the QImage is alive)."""
    image = label.pixmap().toImage()
    image = image.convertToFormat(image.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1)
    return rows[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).copy()


def test_the_energy_map_lights_up_where_the_source_is(app, files) -> None:
    window = PreviewWindow(PreviewSession.load(files["foa"], files["video"]))
    window.show()
    with_map = pixels(window.overview).astype(int)
    window.show_map.setChecked(False)
    without = pixels(window.overview).astype(int)
    heat = np.abs(with_map - without).sum(axis=-1)
    row, column = np.unravel_index(np.argmax(heat), heat.shape)
    expected = (0.5 - 60 / 360) * OVERVIEW_WIDTH  # u of azimuth 60° (left of centre)
    assert abs(column - expected) < 0.06 * OVERVIEW_WIDTH
    assert abs(row - OVERVIEW_WIDTH / 4) < 0.1 * OVERVIEW_WIDTH  # on the horizon
    assert np.abs(pixels(window.view).astype(int) - 60).max() < 5  # the grey frame is shown
    window.close()


def test_dials_and_osc_turn_the_renderer(app, files) -> None:
    window = PreviewWindow(PreviewSession.load(files["foa"]), osc_port=0)
    window.dials["yaw"].setValue(30)
    assert window.session.renderer.rotation == (30.0, 0.0, 0.0)
    assert window.dial_labels["yaw"].text() == "yaw +30°"  # the value, in degrees
    # yaw is positive to the left: the knob grows counter-clockwise, as the head turns
    assert window.dials["yaw"].invertedAppearance()
    client = SimpleUDPClient("127.0.0.1", window.tracking.port)
    client.send_message("/SceneRotator/ypr", [45.0, 10.0, -5.0])
    assert wait_for(app, lambda: window.session.renderer.rotation == (45.0, 10.0, -5.0))
    assert window.dials["yaw"].value() == 45
    labels = [window.dial_labels[n].text() for n in ("yaw", "pitch", "roll")]
    assert labels == ["yaw +45°", "pitch +10°", "roll -5°"]
    client.send_message("/SceneRotator/yaw", [-120.0])
    assert wait_for(app, lambda: window.session.renderer.rotation[0] == -120.0)
    # a quaternion for a head turned 90° to the left
    client.send_message("/SceneRotator/quaternions", [0.7071068, 0.0, 0.0, 0.7071068])
    assert wait_for(app, lambda: abs(window.session.renderer.rotation[0] - 90.0) < 0.01)
    window.close()


def test_play_runs_the_playhead_even_without_an_audio_device(app, files) -> None:
    window = PreviewWindow(PreviewSession.load(files["foa"], files["video"]))
    window.toggle_play()
    assert wait_for(app, lambda: window.session.seconds > 0.3)
    window.toggle_play()
    stopped = window.session.seconds
    app.processEvents()
    assert window.session.seconds == stopped
    window.seek_to(1.5)
    assert window.time_label.text().strip().startswith("1.50")
    window.close()


def test_bad_input_is_named_in_the_ui_and_the_cli(app, files) -> None:
    stereo = files["folder"] / "stereo.wav"
    write_audio(stereo, np.zeros((2, RATE), np.float32), RATE)
    with pytest.raises(InputError, match="2 channel"):
        run_preview(stereo)
    done = run_cli("preview", str(stereo))
    assert done.returncode == 2
    assert "2 channel" in done.stderr
    bad_sofa = files["folder"] / "bad.sofa"
    bad_sofa.write_text("not a sofa file")
    short = files["folder"] / "short.wav"
    write_audio(short, np.zeros((4, RATE // 2), np.float32), RATE)
    window = PreviewWindow(PreviewSession.load(short, files["video"]))
    assert "they may not belong together" in window.statusBar().currentMessage()
    assert not window.load_sofa(bad_sofa)
    assert "not a usable SOFA" in window.statusBar().currentMessage()
    window.close()


def test_a_stem_conformed_in_the_preview_follows_the_clicked_object(app, tmp_path) -> None:
    scene = make_scene(7, 3.0, objects=1, motions=["pan"], directions=[(-60.0, 10.0)])
    obj = scene.objects[0]
    video, foa, stem = tmp_path / "pan.mp4", tmp_path / "scene.wav", tmp_path / "dry.wav"
    write_video(video, render_frames(scene, 512, 256, 8.0), 8.0)
    write_audio(foa, render_foa(scene), scene.sample_rate)
    dry = object_signal(scene, obj)
    sf.write(stem, dry.astype(np.float32), scene.sample_rate)
    truth = DirectionPath(obj.trajectory.times, obj.trajectory.az, obj.trajectory.el)
    window = PreviewWindow(PreviewSession.load(foa, video))
    window.session.seek(1.0)
    (az,), (el,) = truth.at(np.array([1.0]))
    u, v = az_el_to_erp_uv(az, el)
    click = QtCore.QPoint(round(u * OVERVIEW_WIDTH), round(v * OVERVIEW_WIDTH / 2))
    QtTest.QTest.mouseClick(window.overview, QtCore.Qt.MouseButton.LeftButton, pos=click)
    assert window.mark is not None
    assert great_circle_deg(window.mark.az, window.mark.el, az, el) < 1.0  # within a pixel
    assert window.mark.time == pytest.approx(1.0)

    out = tmp_path / "placed.wav"
    task = window.start_conform(stem, out)
    assert not window.conform_button.isEnabled()  # one job at a time
    assert wait_for(app, lambda: not task.running() and window.conform_button.isEnabled(), 180)
    assert out.exists(), window.statusBar().currentMessage()
    placed, rate = read_foa(out)
    np.testing.assert_array_equal(window.session.foa, placed)  # the preview now plays it
    assert "Playing placed.wav" in window.statusBar().currentMessage()
    heard = intensity_directions(placed, rate, 0.5)
    traj = obj.trajectory
    truth_foa = encode_mono(dry, traj.az, traj.el, traj.times, scene.sample_rate)
    ref = intensity_directions(truth_foa, scene.sample_rate, 0.5)
    loud = ref.energy > 0.05 * ref.energy.max()
    n = min(len(heard.az), len(ref.az))
    errors = great_circle_deg(heard.az[:n], heard.el[:n], ref.az[:n], ref.el[:n])[loud[:n]]
    assert errors.mean() < 10.0, errors
    # the followed path is drawn in cyan where the object was at the playhead
    picture = pixels(window.overview).astype(int)
    cyan = (picture[..., 0] < 100) & (picture[..., 1] > 180) & (picture[..., 2] > 200)
    assert cyan[max(0, click.y() - 6) : click.y() + 7, max(0, click.x() - 6) : click.x() + 7].any()


def test_a_conform_the_preview_cannot_do_is_named_and_writes_nothing(app, files, tmp_path):
    window = PreviewWindow(PreviewSession.load(files["foa"], files["video"]))
    quad = tmp_path / "quad.wav"
    write_audio(quad, np.zeros((4, RATE), np.float32), RATE)
    window.set_mark(10.0, 0.0)
    task = window.start_conform(quad, tmp_path / "out.wav")
    assert wait_for(app, lambda: not task.running() and window.conform_button.isEnabled(), 60)
    assert "4 channels" in window.statusBar().currentMessage()
    assert not (tmp_path / "out.wav").exists()


def test_fine_detail_of_a_large_panorama_is_shown_in_the_view_and_the_overview_is_clean(
    app, files, tmp_path: Path
) -> None:
    # 2048×1024 ERP: stripes 2 px wide (0.70° period) on the front ±30°, grey elsewhere.
    frame = np.full((1024, 2048, 3), 128, np.uint8)
    columns = np.arange(2048)
    front = np.abs(columns - 1024) < 2048 * 30 / 360
    frame[:, front] = np.where((columns[front] // 2) % 2 == 0, 230, 25)[None, :, None]
    video = tmp_path / "stripes.mp4"
    write_video(video, [frame] * 4, 8.0, options={"crf": "4"})
    window = PreviewWindow(PreviewSession.load(files["foa"], video))
    window.show()
    # decoded at what the 480 px, 90° view needs at its centre (240 px per radian), not at 4K
    assert window.session.video.size == (1508, 754)
    view = pixels(window.view).astype(float).mean(axis=-1)
    row = view[view.shape[0] // 2, view.shape[1] // 2 - 64 : view.shape[1] // 2 + 64]
    spectrum = np.abs(np.fft.rfft(row - row.mean())) ** 2
    peak = int(np.argmax(spectrum))
    expected = 0.703 * np.pi / 180 * 240  # the stripes' period in view pixels at the centre
    assert 128 / peak == pytest.approx(expected, rel=0.05), "the stripes are not in the view"
    assert spectrum[peak] > 0.5 * spectrum.sum()
    assert window.overview.pixmap().width() == round(OVERVIEW_WIDTH * window.devicePixelRatioF())
    window.show_map.setChecked(False)
    grey = pixels(window.overview).astype(float).mean(axis=-1)
    # 0.5 px stripes cannot be shown 512 px wide: the overview shows their mean without
    # aliasing bands, and the grey elsewhere untouched
    stripes = grey[100, 256 - 40 : 256 + 40]
    assert abs(stripes.mean() - 127.5) < 5
    assert np.abs(stripes - 127.5).max() < 12
    assert abs(grey[100, 40:60].mean() - 128) < 4
    window.close()
