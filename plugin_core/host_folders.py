"""Where the host applications keep their per-user files, on Windows, macOS and Linux: one
definition, with the platform, environment and home folder as arguments so every platform's
answer can be checked anywhere."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath


def _pure(platform: str, text: str | os.PathLike[str]) -> PurePath:
    return PureWindowsPath(text) if platform == "win32" else PurePosixPath(text)


def reaper_resource_dir(
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    home: str | os.PathLike[str] | None = None,
) -> PurePath:
    """REAPER's resource folder (what its ``GetResourcePath()`` returns)."""
    base = _pure(platform, home if home is not None else Path.home())
    if platform == "win32":
        return _pure(platform, env.get("APPDATA") or base / "AppData" / "Roaming") / "REAPER"
    if platform == "darwin":
        return base / "Library" / "Application Support" / "REAPER"
    return _pure(platform, env.get("XDG_CONFIG_HOME") or base / ".config") / "REAPER"


def blender_config_root(
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    home: str | os.PathLike[str] | None = None,
) -> PurePath:
    """The folder holding Blender's per-version user folders (``<root>/<4.2>/extensions``)."""
    base = _pure(platform, home if home is not None else Path.home())
    if platform == "win32":
        appdata = _pure(platform, env.get("APPDATA") or base / "AppData" / "Roaming")
        return appdata / "Blender Foundation" / "Blender"
    if platform == "darwin":
        return base / "Library" / "Application Support" / "Blender"
    return _pure(platform, env.get("XDG_CONFIG_HOME") or base / ".config") / "blender"


def blender_extensions_dir(version: str, **where: object) -> PurePath:
    """Where Blender ``version`` (e.g. "4.2") installs user extensions (``user_default``)."""
    return blender_config_root(**where) / version / "extensions" / "user_default"  # type: ignore[arg-type]
