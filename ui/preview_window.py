"""The binaural preview window (PySide6): the 360 frame, the sound-field energy map, transport,
and a head rotation that turns the view and the sound together.

Left, a perspective view aimed where the head looks (drag it to look around); right, the
whole ERP frame with the energy map of the sound around the playhead and the view's outline.
Yaw/pitch/roll dials, play/pause, a seek bar, loop and map toggles, an HRTF chooser. Audio
goes out through Qt Multimedia in 512-sample blocks; with no audio device the playhead runs
on the clock, silently, and the status bar says so. Head trackers can drive the rotation
over OSC (:mod:`ui.head_tracking`). A stem with several takes lists them; the list or the
keys 1–9 switch takes at once, from the same playhead and head rotation.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from PySide6 import QtCore, QtGui, QtWidgets

from plugin_core.errors import InputError
from plugin_core.media.stem_takes import Take, how_made
from plugin_core.spatial.directions import az_el_to_erp_uv, erp_uv_to_az_el, view_outline
from plugin_core.spatial.projection import erp_to_perspective
from ui.conform_task import ConformDone, ConformTask, Mark
from ui.head_tracking import HeadTracking, Rotation
from ui.preview_session import BLOCK, PreviewSession
from ui.video_cursor import picture_width

VIEW_SIZE = (480, 320)
VIEW_FOV = 90.0
OVERVIEW_WIDTH = 512
DRAG_DEGREES_PER_PIXEL = 0.25


def take_label(take: Take) -> str:
    """A take as listed: "take N · seed S · how made"."""
    return f"take {take.number} · seed {take.seed} · {how_made(take.made)}"


def to_pixmap(image: Image.Image | np.ndarray, scale: float = 1.0) -> QtGui.QPixmap:
    """An RGB picture as a pixmap of ``scale`` device pixels per logical pixel."""
    array = np.ascontiguousarray(np.asarray(image, dtype=np.uint8)[..., :3])
    height, width = array.shape[:2]
    qimage = QtGui.QImage(array.data, width, height, 3 * width, QtGui.QImage.Format.Format_RGB888)
    pixmap = QtGui.QPixmap.fromImage(qimage.copy())
    pixmap.setDevicePixelRatio(scale)
    return pixmap


class _Bridge(QtCore.QObject):
    """Carries rotations from the OSC thread into the Qt thread."""

    rotation = QtCore.Signal(float, float, float)


class PreviewWindow(QtWidgets.QMainWindow):
    """The preview of one FOA file (and its video)."""

    def __init__(self, session: PreviewSession, osc_port: int | None = None) -> None:
        super().__init__()
        self.session = session
        self.setWindowTitle("omnifoa preview")
        self._drag_from: QtCore.QPointF | None = None
        self._playing = False
        self._clock: tuple[float, float] | None = None  # (wall time, position s) when silent

        self.view = QtWidgets.QLabel(alignment=QtCore.Qt.AlignmentFlag.AlignCenter)
        self.view.setFixedSize(*VIEW_SIZE)
        self.view.installEventFilter(self)
        self.overview = QtWidgets.QLabel(alignment=QtCore.Qt.AlignmentFlag.AlignCenter)
        self.overview.setFixedSize(OVERVIEW_WIDTH, OVERVIEW_WIDTH // 2)
        self.overview.installEventFilter(self)
        self.overview.setToolTip("Click an object to mark it for Conform (at the playhead)")
        self.mark: Mark | None = None
        self.conform_path: tuple[np.ndarray, np.ndarray] | None = None  # (az, el) followed
        self.conform_task: ConformTask | None = None

        self.dials = {}
        self.dial_labels = {}
        dial_row = QtWidgets.QHBoxLayout()
        for name, low, high in (("yaw", -180, 180), ("pitch", -90, 90), ("roll", -180, 180)):
            dial = QtWidgets.QDial()
            dial.setRange(low, high)
            dial.setWrapping(name != "pitch")
            dial.setNotchesVisible(True)
            # yaw is positive to the left: the knob turned left turns the head left
            dial.setInvertedAppearance(name == "yaw")
            dial.valueChanged.connect(self._dial_moved)
            label = QtWidgets.QLabel(alignment=QtCore.Qt.AlignmentFlag.AlignCenter)
            box = QtWidgets.QVBoxLayout()
            box.addWidget(dial)
            box.addWidget(label)
            dial_row.addLayout(box)
            self.dials[name], self.dial_labels[name] = dial, label
        self._label_dials()

        self.play_button = QtWidgets.QPushButton("Play")
        self.play_button.clicked.connect(self.toggle_play)
        self.seek = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.seek.setRange(0, int(session.duration * 1000))
        self.seek.sliderMoved.connect(lambda ms: self.seek_to(ms / 1000))
        self.loop = QtWidgets.QCheckBox("Loop")
        self.loop.toggled.connect(lambda on: setattr(self.session, "loop", on))
        self.show_map = QtWidgets.QCheckBox("Energy map")
        self.show_map.setChecked(True)
        self.show_map.toggled.connect(lambda _: self.refresh())
        hrtf = QtWidgets.QPushButton("HRTF…")
        hrtf.clicked.connect(self._choose_sofa)
        self.conform_button = QtWidgets.QPushButton("Conform stem…")
        self.conform_button.setToolTip(
            "Place a mono/stereo stem on the marked object as it moves (no mark: the strongest "
            "visual action)"
        )
        self.conform_button.clicked.connect(self._choose_conform)
        self.conform_button.setEnabled(session.video is not None)
        self.conform_progress = QtWidgets.QProgressBar()
        self.conform_progress.setVisible(False)
        self.time_label = QtWidgets.QLabel()
        self.take_list = self._take_list()

        transport = QtWidgets.QHBoxLayout()
        for widget in (
            self.play_button,
            self.seek,
            self.time_label,
            self.loop,
            self.show_map,
            hrtf,
            self.conform_button,
            self.take_list,
        ):
            transport.addWidget(widget)
        pictures = QtWidgets.QHBoxLayout()
        pictures.addWidget(self.view)
        pictures.addWidget(self.overview)
        layout = QtWidgets.QVBoxLayout()
        layout.addLayout(pictures)
        layout.addLayout(dial_row)
        layout.addLayout(transport)
        central = QtWidgets.QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)

        self.sink, self.device = self._open_audio()
        self.timer = QtCore.QTimer(self, interval=5)
        self.timer.timeout.connect(self._pump)
        self.frame_timer = QtCore.QTimer(self, interval=40)
        self.frame_timer.timeout.connect(self.refresh)

        self._bridge = _Bridge()
        self._bridge.rotation.connect(self.set_rotation)
        self.tracking = None
        if osc_port is not None:
            self.tracking = HeadTracking(self._from_osc, osc_port)
        messages = list(session.warnings)
        if self.sink is None:
            messages.append("No audio output device: the playhead runs silently.")
        if self.tracking is not None:
            messages.append(f"Head tracking: OSC on 127.0.0.1:{self.tracking.port}.")
        self.statusBar().addPermanentWidget(self.conform_progress)
        self.statusBar().showMessage("  ".join(messages))
        self.refresh()

    # ----------------------------------------------------------------- audio
    def _open_audio(self):
        try:
            from PySide6 import QtMultimedia
        except ImportError:
            return None, None
        output = QtMultimedia.QMediaDevices.defaultAudioOutput()
        if output.isNull():
            return None, None
        fmt = QtMultimedia.QAudioFormat()
        fmt.setSampleRate(self.session.rate)
        fmt.setChannelCount(2)
        fmt.setSampleFormat(QtMultimedia.QAudioFormat.SampleFormat.Float)
        sink = QtMultimedia.QAudioSink(output, fmt)
        sink.setBufferSize(4 * BLOCK * 2 * 4)
        return sink, None

    def _pump(self) -> None:
        """Feed the audio device (or advance the silent clock) block by block."""
        if not self._playing:
            return
        if self.sink is not None and self.device is not None:
            while self.sink.bytesFree() >= BLOCK * 2 * 4:
                ears = self.session.next_block()
                if ears is None:
                    self.toggle_play()
                    return
                self.device.write(np.ascontiguousarray(ears.T, dtype=np.float32).tobytes())
        else:
            started, origin = self._clock or (time.monotonic(), self.session.seconds)
            self._clock = (started, origin)
            target = origin + time.monotonic() - started
            while self.session.seconds < target:
                if self.session.next_block() is None:
                    self.toggle_play()
                    return

    def toggle_play(self) -> None:
        self._playing = not self._playing
        self.play_button.setText("Pause" if self._playing else "Play")
        if self._playing:
            self._clock = None
            if self.sink is not None:
                self.device = self.sink.start()
            self.timer.start()
            self.frame_timer.start()
        else:
            self.timer.stop()
            self.frame_timer.stop()
            if self.sink is not None:
                self.sink.stop()
            self.refresh()

    def seek_to(self, seconds: float) -> None:
        self.session.seek(seconds)
        self._clock = None
        self.refresh()

    # ----------------------------------------------------------------- takes
    def _take_list(self) -> QtWidgets.QComboBox:
        """The stem's takes, the playing one selected (hidden when it has none); keys 1–9."""
        box = QtWidgets.QComboBox()
        box.setToolTip("The take playing (keys 1–9 switch takes)")
        for number, (take, _) in sorted(self.session.takes.items()):
            box.addItem(take_label(take), number)
        box.setCurrentIndex(max(0, box.findData(self.session.take)))
        box.currentIndexChanged.connect(lambda index: self.select_take(box.itemData(index)))
        if not self.session.takes:
            box.hide()
        for digit in range(1, 10):
            key = QtGui.QShortcut(QtGui.QKeySequence(str(digit)), self)
            key.activated.connect(lambda number=digit: self.select_take(number))
        return box

    def select_take(self, number: int) -> None:
        """Play take ``number`` from the playhead on; a number the stem lacks does nothing."""
        if number not in self.session.takes:
            return
        self.session.select_take(number)
        self.take_list.blockSignals(True)
        self.take_list.setCurrentIndex(self.take_list.findData(number))
        self.take_list.blockSignals(False)
        self.statusBar().showMessage(f"Playing take {number}.")
        self.refresh()

    # ----------------------------------------------------------------- rotation
    def set_rotation(self, yaw: float, pitch: float, roll: float) -> None:
        """Turn the head: the renderer, the dials and the view follow."""
        self.session.renderer.set_rotation(yaw, pitch, roll)
        for name, value in zip(("yaw", "pitch", "roll"), (yaw, pitch, roll), strict=True):
            dial = self.dials[name]
            dial.blockSignals(True)
            dial.setValue(round(value))
            dial.blockSignals(False)
        self._label_dials()
        self.refresh()

    def _label_dials(self) -> None:
        """Each dial's name and value in degrees (yaw: left positive)."""
        for name, dial in self.dials.items():
            self.dial_labels[name].setText(f"{name} {dial.value():+d}°")

    def _dial_moved(self) -> None:
        self.session.renderer.set_rotation(*(float(self.dials[n].value()) for n in self.dials))
        self._label_dials()
        self.refresh()

    def _from_osc(self, rotation: Rotation) -> None:
        self._bridge.rotation.emit(*rotation)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        """Drag on the perspective view to look around (the sound turns with it)."""
        kind = event.type()
        if watched is self.view and kind == QtCore.QEvent.Type.MouseButtonPress:
            self._drag_from = event.position()
            return True
        if watched is self.view and kind == QtCore.QEvent.Type.MouseMove and self._drag_from:
            delta = event.position() - self._drag_from
            self._drag_from = event.position()
            yaw, pitch, roll = self.session.renderer.rotation
            yaw = (yaw + delta.x() * DRAG_DEGREES_PER_PIXEL + 180) % 360 - 180
            pitch = max(-90.0, min(90.0, pitch + delta.y() * DRAG_DEGREES_PER_PIXEL))
            self.set_rotation(yaw, pitch, roll)
            return True
        if watched is self.view and kind == QtCore.QEvent.Type.MouseButtonRelease:
            self._drag_from = None
            return True
        if watched is self.overview and kind == QtCore.QEvent.Type.MouseButtonPress:
            point = event.position()
            u = point.x() / OVERVIEW_WIDTH
            v = point.y() / (OVERVIEW_WIDTH // 2)
            az, el = erp_uv_to_az_el(u, v)
            self.set_mark(float(az), float(el))
            return True
        return super().eventFilter(watched, event)

    # ----------------------------------------------------------------- conform
    def set_mark(self, az: float, el: float) -> None:
        """Mark the object at (az, el) degrees at the playhead for Conform."""
        self.mark = Mark(az, el, self.session.seconds)
        self.statusBar().showMessage(
            f"Marked az {az:.1f}°, el {el:.1f}° at {self.mark.time:.2f} s: Conform follows it."
        )
        self.refresh()

    def _choose_conform(self) -> None:
        stem, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Mono or stereo stem", "", "Audio (*.wav *.flac)"
        )
        if not stem:
            return
        suggested = str(Path(stem).with_name(Path(stem).stem + "_foa.wav"))
        output, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Conformed FOA stem", suggested, "Audio (*.wav *.flac)"
        )
        if output:
            self.start_conform(Path(stem), Path(output))

    def start_conform(self, stem: Path, output: Path, distance: bool = False) -> ConformTask:
        """Conform ``stem`` to the mark (or the strongest action) into ``output``; the result
        plays here when it is done."""
        assert self.session.video is not None, "Conform needs the video"
        rate = self.session.rate if self.session.rate in (44100, 48000) else 48000
        task = ConformTask(self.session.video.path, stem, output, self.mark, rate, distance)
        task.progress.connect(self._conform_progressed)
        task.done.connect(self._conform_done)
        task.failed.connect(self._conform_failed)
        self.conform_task = task
        self.conform_button.setEnabled(False)
        self.conform_progress.setVisible(True)
        task.start()
        return task

    def _conform_progressed(self, stage: str, step: int, steps: int) -> None:
        self.conform_progress.setFormat(f"{stage} %p%")
        self.conform_progress.setRange(0, max(1, steps))
        self.conform_progress.setValue(step)

    def _conform_done(self, done: ConformDone) -> None:
        self._conform_ended()
        track = done.source.track
        self.conform_path = None if track is None else (track.az, track.el)
        self.session.swap_foa(done.result.path)
        self.take_list.setVisible(False)  # the conformed FOA has no takes
        notes = " ".join([*done.source.notes, *done.result.notes])
        self.statusBar().showMessage(f"Playing {done.result.path.name}. {notes}".strip())
        self.refresh()

    def _conform_failed(self, message: str) -> None:
        self._conform_ended()
        self.statusBar().showMessage(message)

    def _conform_ended(self) -> None:
        self.conform_button.setEnabled(True)
        self.conform_progress.setVisible(False)

    def _choose_sofa(self) -> None:
        name, _ = QtWidgets.QFileDialog.getOpenFileName(self, "HRTF set", "", "SOFA (*.sofa)")
        if name:
            self.load_sofa(Path(name))

    def load_sofa(self, path: Path) -> bool:
        """Switch HRTF sets; a bad file is reported in the status bar and nothing changes."""
        try:
            self.session.set_sofa(path)
        except InputError as exc:
            self.statusBar().showMessage(str(exc))
            return False
        self.statusBar().showMessage(f"HRTF: {path.name}")
        return True

    # ----------------------------------------------------------------- pictures
    def refresh(self) -> None:
        """Redraw the view, the overview with its energy map, and the time."""
        scale = self.devicePixelRatioF()  # pictures are drawn at the screen's own pixels
        view_size = (round(VIEW_SIZE[0] * scale), round(VIEW_SIZE[1] * scale))
        overview_size = (round(OVERVIEW_WIDTH * scale), round(OVERVIEW_WIDTH * scale) // 2)
        if self.session.video is not None:
            self.session.video.resize(picture_width(overview_size[0], view_size[0], VIEW_FOV))
        frame = self.session.frame()
        erp = frame if frame is not None else np.full((256, 512, 3), 40, np.uint8)
        yaw, pitch, _ = self.session.renderer.rotation
        view = erp_to_perspective(
            torch.from_numpy(erp)[None], yaw, pitch, VIEW_FOV, view_size[::-1]
        )
        self.view.setPixmap(to_pixmap((view[0].permute(1, 2, 0) * 255).byte().numpy(), scale))
        background = np.asarray(
            Image.fromarray(erp).resize(overview_size, Image.Resampling.LANCZOS)
        )
        if self.show_map.isChecked():
            heat = self.session.energy_image(background)
            background = np.asarray(heat.resize(overview_size, Image.Resampling.LANCZOS))
        pixmap = to_pixmap(background, scale)
        painter = QtGui.QPainter(pixmap)
        painter.setPen(QtGui.QPen(QtGui.QColor(255, 220, 40), 2))
        aspect = VIEW_SIZE[0] / VIEW_SIZE[1]
        for u, v in view_outline(yaw, pitch, VIEW_FOV, aspect):
            points = [
                QtCore.QPointF(a * OVERVIEW_WIDTH, b * OVERVIEW_WIDTH / 2)
                for a, b in zip(u, v, strict=True)
            ]
            painter.drawPolyline(points)
        u, v = az_el_to_erp_uv(yaw, pitch)
        painter.drawEllipse(
            QtCore.QPointF(float(u) * OVERVIEW_WIDTH, float(v) * OVERVIEW_WIDTH / 2), 4, 4
        )
        self._draw_conform(painter)
        painter.end()
        self.overview.setPixmap(pixmap)
        self.seek.blockSignals(True)
        self.seek.setValue(int(self.session.seconds * 1000))
        self.seek.blockSignals(False)
        self.time_label.setText(f"{self.session.seconds:6.2f} / {self.session.duration:.2f} s")

    def _draw_conform(self, painter: QtGui.QPainter) -> None:
        """The followed path (cyan, broken where it wraps at the seam) and the mark (green)."""
        height = OVERVIEW_WIDTH / 2
        if self.conform_path is not None:
            painter.setPen(QtGui.QPen(QtGui.QColor(40, 220, 255), 2))
            u, v = az_el_to_erp_uv(*self.conform_path)
            breaks = np.nonzero(np.abs(np.diff(u)) > 0.5)[0] + 1
            for us, vs in zip(np.split(u, breaks), np.split(v, breaks), strict=True):
                points = [
                    QtCore.QPointF(a * OVERVIEW_WIDTH, b * height)
                    for a, b in zip(us, vs, strict=True)
                ]
                painter.drawPolyline(points)
        if self.mark is not None:
            painter.setPen(QtGui.QPen(QtGui.QColor(60, 255, 90), 2))
            u, v = az_el_to_erp_uv(self.mark.az, self.mark.el)
            painter.drawEllipse(QtCore.QPointF(float(u) * OVERVIEW_WIDTH, float(v) * height), 7, 7)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self.tracking is not None:
            self.tracking.close()
        super().closeEvent(event)
