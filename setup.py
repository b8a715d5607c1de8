"""The wheel carries the top-level files the installed product reads (the manifest with its
model registry, the demo scene) as package data under ``plugin_core/bundled``; the rest of the
build is declared in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
TOP_LEVEL = [
    "manifest.toml",
    "examples/demo/demo.mp4",
    "examples/demo/demo.flac",
    "examples/demo/demo.json",
]


class BuildWithTopLevelData(build_py):
    """``build_py`` that also copies ``TOP_LEVEL`` into ``plugin_core/bundled``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads them from the checkout itself
            return
        for name in TOP_LEVEL:
            target = Path(self.build_lib) / "plugin_core" / "bundled" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)


setup(cmdclass={"build_py": BuildWithTopLevelData})
