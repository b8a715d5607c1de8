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


def _user_app_root(
    platform: str, env: Mapping[str, str], home: str | os.PathLike[str] | None
) -> PurePath:
    """Where per-user application data lives: %APPDATA%, ~/Library/Application Support, or
    $XDG_CONFIG_HOME (~/.config)."""
    base = _pure(platform, home if home is not None else Path.home())
    if platform == "win32":
        return _pure(platform, env.get("APPDATA") or base / "AppData" / "Roaming")
    if platform == "darwin":
        return base / "Library" / "Application Support"
    return _pure(platform, env.get("XDG_CONFIG_HOME") or base / ".config")


def reaper_resource_dir(
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    home: str | os.PathLike[str] | None = None,
) -> PurePath:
    """REAPER's resource folder (what its ``GetResourcePath()`` returns)."""
    return _user_app_root(platform, env, home) / "REAPER"


def blender_config_root(
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    home: str | os.PathLike[str] | None = None,
) -> PurePath:
    """The folder holding Blender's per-version user folders (``<root>/<4.2>/extensions``)."""
    name = {"win32": "Blender Foundation/Blender", "darwin": "Blender"}.get(platform, "blender")
    return _user_app_root(platform, env, home).joinpath(*name.split("/"))


def blender_extensions_dir(version: str, **where: object) -> PurePath:
    """Where Blender ``version`` (e.g. "4.2") installs user extensions (``user_default``)."""
    return blender_config_root(**where) / version / "extensions" / "user_default"  # type: ignore[arg-type]
