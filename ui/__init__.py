"""PySide6 binaural preview with head rotation."""
