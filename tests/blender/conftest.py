"""Blender tests: real bpy 5.0 (its own venv), the built extension, a real service process.

bpy writes config and thumbnails under HOME and BLENDER_USER_RESOURCES: both point at a
temporary folder before bpy is imported. The main venv (``.venv``) provides the service and
the test video; only the standard library and bpy's numpy run in this process.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="omnifoa-blender-home-"))
os.environ["HOME"] = str(_HOME)
os.environ["BLENDER_USER_RESOURCES"] = str(_HOME / "blender")
