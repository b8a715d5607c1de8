"""REAPER's stand-in as a separate process, for tests that cannot load lupa (the Blender
venv): ``python tests/reaper_emulator.py FOLDER`` installs the bridge into FOLDER/REAPER,
prints ``{"port": …, "bridge": …}`` on one line, serves OSC until stdin closes, and after each
action writes the project's tracks to FOLDER/project.json."""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from pathlib import Path

from reaper_stub import OscSurface, Reaper, run_script

from plugin_core.install_paths import LUA_DIR


def _dump(reaper: Reaper, path: Path) -> None:
    tracks = [
        {
            "name": t.name,
            "nchan": t.nchan,
            "fx": t.fx,
            "items": [
                {"position": i.position, "length": i.length, "source": i.active.source.path}
                for i in t.items
            ],
        }
        for t in reaper.tracks
    ]
    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps(tracks))
    tmp.replace(path)


def main() -> int:
    root = Path(sys.argv[1])
    shutil.copytree(LUA_DIR, root / "REAPER" / "Scripts")
    reaper = Reaper(root / "REAPER")
    run_script(root / "REAPER" / "Scripts" / "omnifoa_install.lua", reaper)
    surface = OscSurface(reaper)
    bridge = root / "REAPER" / "omnifoa" / "bridge.json"
    print(json.dumps({"port": surface.port, "bridge": str(bridge)}), flush=True)
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    seen = -1
    while not closed.is_set():
        if len(surface.triggered) != seen:
            seen = len(surface.triggered)
            _dump(reaper, root / "project.json")
        time.sleep(0.05)
    surface.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
