"""Where Blender and REAPER keep user files on each platform, as their manuals give it."""

from __future__ import annotations

import pytest

from plugin_core.host_folders import (
    blender_config_root,
    blender_extensions_dir,
    reaper_resource_dir,
)

WIN_ENV = {"APPDATA": r"C:\Users\ana\AppData\Roaming"}


@pytest.mark.parametrize(
    ("platform", "env", "home", "expected"),
    [
        ("win32", WIN_ENV, r"C:\Users\ana", r"C:\Users\ana\AppData\Roaming\REAPER"),
        ("win32", {}, r"C:\Users\ana", r"C:\Users\ana\AppData\Roaming\REAPER"),
        ("darwin", {}, "/Users/ana", "/Users/ana/Library/Application Support/REAPER"),
        ("linux", {}, "/home/ana", "/home/ana/.config/REAPER"),
        ("linux", {"XDG_CONFIG_HOME": "/cfg"}, "/home/ana", "/cfg/REAPER"),
    ],
)
def test_reaper_resource_folder(platform: str, env: dict, home: str, expected: str) -> None:
    assert str(reaper_resource_dir(platform, env, home)) == expected


@pytest.mark.parametrize(
    ("platform", "env", "home", "expected"),
    [
        (
            "win32",
            WIN_ENV,
            r"C:\Users\ana",
            r"C:\Users\ana\AppData\Roaming\Blender Foundation\Blender\4.2\extensions\user_default",
        ),
        (
            "darwin",
            {},
            "/Users/ana",
            "/Users/ana/Library/Application Support/Blender/4.2/extensions/user_default",
        ),
        ("linux", {}, "/home/ana", "/home/ana/.config/blender/4.2/extensions/user_default"),
    ],
)
def test_blender_extension_folder(platform: str, env: dict, home: str, expected: str) -> None:
    found = blender_extensions_dir("4.2", platform=platform, env=env, home=home)
    assert str(found) == expected
    assert found.parents[2] == blender_config_root(platform, env, home)
