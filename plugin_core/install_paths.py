"""Where omnifoa's own files are, in a checkout and in an installed wheel alike.

Everything is found through :mod:`importlib.resources`. The packages carry their own data
(the bundled weights in ``models/weights``, the HRTF set in ``plugin_core/spatial/hrtf_data``,
the ReaScripts in ``reaper_bridge/lua``). The product manifest (the model registry) and the
demo scene live at the checkout's top level; a wheel carries copies of them in
``plugin_core/bundled`` (``setup.py`` puts them there when it builds), which win when present.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

_BUNDLED = Path(str(files("plugin_core") / "bundled"))
_CHECKOUT = Path(str(files("plugin_core"))).parent


def _installed_or_checkout(name: str) -> Path:
    bundled = _BUNDLED / name
    return bundled if bundled.exists() else _CHECKOUT / name


# The folder the registry's bundled ``path`` entries are relative to: the one holding the
# ``models`` package (the checkout's root, or site-packages).
PACKAGE_ROOT = Path(str(files("models"))).parent
MANIFEST = _installed_or_checkout("manifest.toml")
DEMO_DIR = _installed_or_checkout("examples/demo")
LUA_DIR = Path(str(files("reaper_bridge") / "lua"))
HRTF_DIR = Path(str(files("plugin_core.spatial") / "hrtf_data"))
