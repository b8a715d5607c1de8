"""One module of the Blender add-on loaded alone, under the main venv (the add-on's package
imports bpy; its standard-library modules do not)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ADDON = Path(__file__).resolve().parents[2] / "blender_addon"


def addon_module(name: str) -> ModuleType:
    """``blender_addon/<name>.py`` as the module ``addon_<name>``."""
    spec = importlib.util.spec_from_file_location(f"addon_{name}", ADDON / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module
