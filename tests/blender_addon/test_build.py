"""The Blender extension zip, built with plain Python (no bpy): what Blender will find in it,
and the manifest mistakes Blender would refuse, caught before a user tries to install it.
(tests/blender installs the zip in real Blender and runs Blender's own validator on it.)"""

from __future__ import annotations

import importlib.util
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_build_script():
    """blender_addon/build.py, which is a script, not a package module."""
    path = ROOT / "blender_addon" / "build.py"
    spec = importlib.util.spec_from_file_location("extension_build", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


extension_build = _load_build_script()


def test_the_zip_holds_the_add_on_its_maths_and_its_wheel(tmp_path: Path) -> None:
    built = extension_build.build(tmp_path)
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
        manifest = tomllib.loads(archive.read("blender_manifest.toml").decode())
        shared = archive.read("directions.py")
    add_on = {p.name for p in (ROOT / "blender_addon").glob("*.py")} - {"build.py"}
    assert add_on <= names
    assert "build.py" not in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert shared == (ROOT / "plugin_core" / "spatial" / "directions.py").read_bytes()
    assert [f"./{n}" for n in sorted(names) if n.startswith("wheels/")] == manifest["wheels"]
    product = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert manifest["version"] == product  # the add-on and the core are released together
    assert built.name == f"omnifoa-{product}.zip"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"tagline": "Generate FOA for a 360 strip."}, "final period"),
        ({"tagline": "x" * 65}, "64 characters"),
        ({"version": "0.1"}, "semantic"),
        ({"id": "Omni-FOA"}, "lower-case"),
        ({"license": ["Apache-2.0"]}, "SPDX"),
        ({"blender_version_min": "4.1.0"}, "4.2.0"),
        ({"permissions": {"network": "Talks to the local service."}}, "final period"),
        ({"wheels": ["./wheels/missing-1.0-py3-none-any.whl"]}, "not in the package"),
        ({"type": "theme"}, "add-on"),
    ],
)
def test_manifest_mistakes_blender_would_refuse_are_named(
    tmp_path: Path, change: dict, problem: str
) -> None:
    manifest = extension_build.read_manifest() | change
    source = extension_build.stage(tmp_path / "staged")
    problems = extension_build.manifest_problems(manifest, source)
    assert any(problem in p for p in problems), problems
    assert extension_build.manifest_problems(extension_build.read_manifest(), source) == []


def test_a_missing_required_field_is_named(tmp_path: Path) -> None:
    manifest = extension_build.read_manifest()
    del manifest["maintainer"]
    assert extension_build.manifest_problems(manifest, tmp_path) == ["maintainer is missing"]
