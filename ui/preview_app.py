"""``omnifoa preview [VIDEO] FOA.wav``: open the preview window (the Qt application)."""

from __future__ import annotations

import sys
from pathlib import Path

from plugin_core.errors import InputError
from ui.preview_session import PreviewSession, check_inputs


def run_preview(
    foa: Path, video: Path | None = None, sofa: Path | None = None, osc_port: int | None = None
) -> int:
    """Load everything first (bad input fails here, in one sentence), then run the window."""
    check_inputs(foa, video)
    session = PreviewSession.load(foa, video, sofa)
    try:
        from PySide6 import QtWidgets
    except ImportError:
        raise InputError(
            "The preview needs PySide6; install omnifoa with its 'ui' extra (bash .ci/setup)."
        ) from None
    from ui.preview_window import PreviewWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    window = PreviewWindow(session, osc_port)
    window.show()
    return app.exec()
