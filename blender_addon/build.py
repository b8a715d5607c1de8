"""Build the Blender extension zip with plain Python: stage the add-on with the core's direction
maths and the wheels it bundles, check the manifest against Blender's extension rules, and
pack it (the manifest at the zip's root, as Blender installs it). No bpy needed; the Blender
tests also run Blender's own validator on the result.

Run: ``python blender_addon/build.py [--out dist] [--wheels .venv/wheels]``.
``plugin_core/spatial/directions.py`` (numpy only) is copied in, so the FoV outline Blender
draws is computed by the same code the generator's projections use. The wheels the manifest
names (platformdirs) come from the wheel cache, where ``.ci/setup`` puts them; nothing is
downloaded here.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT / "plugin_core" / "spatial" / "directions.py"
WHEEL_CACHE = ROOT / ".venv" / "wheels"
REQUIRED = (
    "schema_version", "id", "version", "name", "tagline", "maintainer", "type",
    "blender_version_min", "license",
)  # fmt: skip


def read_manifest(folder: Path = HERE) -> dict:
    return tomllib.loads((folder / "blender_manifest.toml").read_text(encoding="utf-8"))


def manifest_problems(manifest: dict, source: Path) -> list[str]:
    """What Blender's extension rules (schema 1.0.0) would refuse in ``manifest``, staged in
    ``source``; empty when it is fine."""
    problems = [f"{key} is missing" for key in REQUIRED if key not in manifest]
    if problems:
        return problems
    if manifest["schema_version"] != "1.0.0":
        problems.append("schema_version must be 1.0.0")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", manifest["id"]):
        problems.append(f"id {manifest['id']!r} must be lower-case letters, digits and _")
    if not re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"]):
        problems.append(f"version {manifest['version']!r} is not semantic (x.y.z)")
    tagline = manifest["tagline"]
    if len(tagline) > 64 or tagline.rstrip()[-1:] in ".!?":
        problems.append("the tagline must be at most 64 characters, without a final period")
    if manifest["type"] != "add-on":
        problems.append('type must be "add-on"')
    minimum = tuple(int(p) for p in manifest["blender_version_min"].split("."))
    if minimum < (4, 2, 0):
        problems.append("blender_version_min must be 4.2.0 or later (extensions start there)")
    if not all(isinstance(x, str) and x.startswith("SPDX:") for x in manifest["license"]):
        problems.append('each license must be written "SPDX:<id>"')
    for kind, reason in manifest.get("permissions", {}).items():
        if kind not in ("network", "files", "clipboard", "camera", "microphone"):
            problems.append(f"unknown permission {kind!r}")
        elif not isinstance(reason, str) or not reason or reason.endswith("."):
            problems.append(f"the {kind} permission needs a reason without a final period")
    for wheel in manifest.get("wheels", []):
        if not (source / wheel).is_file():
            problems.append(f"the wheel {wheel} is not in the package")
    return problems


def stage(dest: Path, wheel_cache: Path = WHEEL_CACHE) -> Path:
    """Copy the add-on's files, the shared maths and the bundled wheels into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for source in [*HERE.glob("*.py"), HERE / "blender_manifest.toml"]:
        if source.name != "build.py":
            shutil.copy2(source, dest / source.name)
    shutil.copy2(SHARED, dest / "directions.py")
    for wheel in read_manifest().get("wheels", []):
        cached = wheel_cache / Path(wheel).name
        if not cached.is_file():
            raise SystemExit(f"{cached} is missing; run .ci/setup first (it fetches it).")
        (dest / wheel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cached, dest / wheel)
    return dest


def _excluded(name: str, patterns: list[str]) -> bool:
    return any(
        fnmatch.fnmatch(name, p) or (p.endswith("/") and f"/{p}" in f"/{name}") for p in patterns
    )


def build(out_dir: Path, wheel_cache: Path = WHEEL_CACHE) -> Path:
    """Check and pack the extension into ``out_dir/omnifoa-<version>.zip``; returns its path."""
    manifest = read_manifest()
    patterns = manifest.get("build", {}).get("paths_exclude_pattern", [])
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest['id']}-{manifest['version']}.zip"
    with tempfile.TemporaryDirectory() as tmp:
        source = stage(Path(tmp) / manifest["id"], wheel_cache)
        problems = manifest_problems(manifest, source)
        if problems:
            raise SystemExit("blender_manifest.toml: " + "; ".join(problems) + ".")
        partial = out_dir / f".{target.name}.partial"
        try:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(source.rglob("*")):
                    name = path.relative_to(source).as_posix()
                    if path.is_file() and not _excluded(name, patterns):
                        archive.write(path, name)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--wheels", type=Path, default=WHEEL_CACHE, help="the wheel cache")
    args = parser.parse_args()
    print(f"built {build(args.out, args.wheels)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
