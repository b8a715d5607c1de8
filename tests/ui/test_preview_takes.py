"""Takes in the preview, offscreen: every take of a stem is loaded, the list and the keys 1–9
switch them at the playhead with the head rotation kept, and takes that differ are refused."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from cli_runner import run_cli
from PySide6 import QtCore, QtTest, QtWidgets

from plugin_core.media.audio_io import write_audio
from plugin_core.media.stem_sidecar import sidecar_header, write_sidecar
from plugin_core.media.stem_takes import Take, take_path, takes_record
from ui.preview_session import BLOCK, PreviewSession
from ui.preview_window import PreviewWindow

RATE = 48000


@pytest.fixture(scope="module")
def app() -> QtWidgets.QApplication:
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def write_takes(folder: Path, lengths: tuple[int, ...], chosen: int) -> tuple[Path, list]:
    """A stem with one take per length (different noise each), ``chosen`` copied onto it."""
    stem = folder / "shot.wav"
    takes, audio = [], []
    for number, length in enumerate(lengths, start=1):
        foa = 0.1 * np.random.default_rng(number).standard_normal((4, length)).astype(np.float32)
        path = take_path(stem, number)
        path.parent.mkdir(exist_ok=True)
        write_audio(path, foa, RATE)
        takes.append(Take(number, path.relative_to(folder).as_posix(), 11 * number, {}))
        audio.append(foa)
    takes[2] = Take(3, takes[2].file, 33, {"by": "regenerate", "range": [0.5, 1.0], "from_take": 1})
    write_audio(stem, audio[chosen - 1], RATE)
    write_sidecar(stem, {**sidecar_header(stem, "generate"), **takes_record(takes, chosen)})
    return stem, audio


def test_switching_take_keeps_playhead_and_head_and_feeds_the_new_take(app, tmp_path) -> None:
    stem, audio = write_takes(tmp_path, (RATE, RATE, RATE), chosen=1)
    window = PreviewWindow(PreviewSession.load(stem))
    session = window.session
    window.dials["yaw"].setValue(30)
    session.seek(0.5)
    fed: list[np.ndarray] = []
    process = session.renderer.process
    session.renderer.process = lambda block: fed.append(block.copy()) or process(block)
    session.next_block()
    position = session.position
    np.testing.assert_array_equal(fed[-1], audio[0][:, position - BLOCK : position])
    window.take_list.setCurrentIndex(window.take_list.findData(2))
    assert session.take == 2
    assert session.position == position  # no restart, no seek back
    assert session.renderer.rotation == (30.0, 0.0, 0.0)
    session.next_block()
    np.testing.assert_array_equal(fed[-1], audio[1][:, position : position + BLOCK])
    window.close()


def test_key_2_switches_to_take_2(app, tmp_path) -> None:
    stem, _ = write_takes(tmp_path, (RATE, RATE, RATE), chosen=3)
    window = PreviewWindow(PreviewSession.load(stem))
    window.show()
    window.activateWindow()
    assert QtTest.QTest.qWaitForWindowActive(window)
    QtTest.QTest.keyClick(window, QtCore.Qt.Key.Key_2)
    assert window.session.take == 2
    assert window.take_list.currentText() == "take 2 · seed 22 · generated"
    assert "take 2" in window.statusBar().currentMessage()
    window.close()


def test_the_list_shows_every_take_with_the_chosen_one_selected(app, tmp_path) -> None:
    stem, audio = write_takes(tmp_path, (RATE, RATE, RATE), chosen=3)
    window = PreviewWindow(PreviewSession.load(stem))
    box = window.take_list
    assert not box.isHidden()
    assert [box.itemText(i) for i in range(box.count())] == [
        "take 1 · seed 11 · generated",
        "take 2 · seed 22 · generated",
        "take 3 · seed 33 · regenerated 0.5-1 s of take 1",
    ]
    assert box.currentText().startswith("take 3 ")
    np.testing.assert_array_equal(window.session.foa, audio[2])
    window.close()


def test_a_stem_without_takes_shows_no_list_and_plays_as_before(app, tmp_path) -> None:
    foa = 0.1 * np.random.default_rng(0).standard_normal((4, RATE)).astype(np.float32)
    stem = tmp_path / "plain.wav"
    write_audio(stem, foa, RATE)
    window = PreviewWindow(PreviewSession.load(stem))
    assert window.take_list.isHidden()
    assert window.session.takes == {}
    window.select_take(2)  # key 2 with no takes: nothing changes
    fed: list[np.ndarray] = []
    process = window.session.renderer.process
    window.session.renderer.process = lambda block: fed.append(block.copy()) or process(block)
    window.session.next_block()
    np.testing.assert_array_equal(fed[0], foa[:, :BLOCK])
    window.close()


def test_a_take_of_another_length_is_refused_before_a_window_opens(tmp_path) -> None:
    stem, _ = write_takes(tmp_path, (RATE, RATE // 2, RATE), chosen=1)
    done = run_cli("preview", str(stem), timeout=60)  # a window would wait here for ever
    assert done.returncode == 2
    message = done.stderr.strip()
    assert "Take 2 of shot.wav" in message
    assert "same length" in message
    assert "\n" not in message  # one sentence, on one line
    assert message.count(". ") == 0
