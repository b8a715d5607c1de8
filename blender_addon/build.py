"""Build the Blender extension zip: stage the add-on with the core's direction maths and the
wheels it bundles, then validate and pack it with the extension tool that ships inside bpy.

Run: ``python blender_addon/build.py [--python .venv-blender/bin/python] [--out dist]``.
``plugin_core/spatial/directions.py`` (numpy only) is copied in, so the FoV outline Blender
draws is computed by the same code the generator's projections use. The wheels the manifest
names (platformdirs) come from ``.venv-blender/wheels``, where ``.ci/setup-blender`` puts them;
nothing is downloaded here.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT / "plugin_core" / "spatial" / "directions.py"
WHEEL_CACHE = ROOT / ".venv-blender" / "wheels"
EXT_TOOL = "bpy/5.0/scripts/addons_core/bl_pkg/cli/blender_ext.py"


def bundled_wheels() -> list[str]:
    """The wheels the manifest bundles, as it names them (``./wheels/<file>``)."""
    manifest = tomllib.loads((HERE / "blender_manifest.toml").read_text(encoding="utf-8"))
    return list(manifest.get("wheels", []))


def stage(dest: Path, wheel_cache: Path = WHEEL_CACHE) -> Path:
    """Copy the add-on's files, the shared maths and the bundled wheels into ``dest``;
    returns the folder."""
    dest.mkdir(parents=True, exist_ok=True)
    for source in [*HERE.glob("*.py"), HERE / "blender_manifest.toml"]:
        if source.name != "build.py":
            shutil.copy2(source, dest / source.name)
    shutil.copy2(SHARED, dest / "directions.py")
    for wheel in bundled_wheels():
        cached = wheel_cache / Path(wheel).name
        if not cached.is_file():
            raise SystemExit(f"{cached} is missing; run .ci/setup-blender first.")
        (dest / wheel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cached, dest / wheel)
    return dest


def extension_tool(python: Path) -> Path:
    """blender_ext.py inside the bpy wheel installed for ``python``."""
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tool = Path(site) / EXT_TOOL
    if not tool.is_file():
        raise SystemExit(f"bpy 5.0 is not installed for {python}; run .ci/setup-blender first.")
    return tool


def build(python: Path, out_dir: Path, wheel_cache: Path = WHEEL_CACHE) -> Path:
    """Validate and build the extension; returns the zip's path."""
    tool = extension_tool(python)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = stage(Path(tmp) / "omnifoa", wheel_cache)
        for command in (["validate", str(source)], ["build", "--source-dir", str(source)]):
            if command[0] == "build":
                command += ["--output-dir", str(out_dir)]
            done = subprocess.run(
                [str(python), str(tool), *command], capture_output=True, text=True
            )
            if done.returncode != 0:
                raise SystemExit(f"blender_ext {command[0]} failed:\n{done.stdout}{done.stderr}")
    zips = sorted(out_dir.glob("omnifoa-*.zip"), key=lambda p: p.stat().st_mtime)
    return zips[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, default=ROOT / ".venv-blender" / "bin" / "python")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--wheels", type=Path, default=WHEEL_CACHE, help="the wheel cache")
    args = parser.parse_args()
    print(f"built {build(args.python, args.out, args.wheels)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
