"""Where omnifoa's own files are: the checkout's manifest, bundled demo and REAPER scripts."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST = REPO_ROOT / "manifest.toml"
DEMO_DIR = REPO_ROOT / "examples" / "demo"
LUA_DIR = REPO_ROOT / "reaper_bridge" / "lua"
