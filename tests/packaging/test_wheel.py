"""The wheel a user installs, used away from this checkout: built from the tree, installed into
a fresh virtual environment in a temporary folder, then run from a folder with no checkout in
sight. Its dependencies come from the test environment (a path file; no network in tests),
so what is tested is what the wheel itself carries: the registry, the bundled model, the demo
scene, the HRTF set and the ReaScripts, all read as package data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
SKIP = (".git", ".venv*", "build", "dist", "out", "*.egg-info", "__pycache__", ".*_cache")


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600):
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(the fresh venv's bin folder, the environment to run it in)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*SKIP))
    built = run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
         "-w", str(work / "dist"), "-q"],
        cwd=work, env=dict(os.environ),
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheel = next((work / "dist").glob("omnifoa-*.whl"))
    env_dir = work / "fresh"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    fresh_site = Path(
        subprocess.check_output(
            [str(env_dir / "bin" / "python"), "-c",
             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )  # fmt: skip
    (fresh_site / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = run(
        [sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install",
         "--no-deps", "--ignore-installed", "--no-index", "-q", str(wheel)],
        cwd=work, env=dict(os.environ),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMNIFOA_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    env["OMNIFOA_CACHE_DIR"] = str(work / "cache")
    env["OMNIFOA_CONFIG_DIR"] = str(work / "config")
    return env_dir / "bin", env


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path: Path) -> None:
    bin_dir, env = installed
    where = run(
        [str(bin_dir / "python"), "-c", "import plugin_core, models; print(plugin_core.__file__)"],
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(bin_dir.parent)
    assert not Path(where.stdout.strip()).is_relative_to(ROOT)


def test_the_wheel_lists_its_bundled_model_as_present(installed, tmp_path: Path) -> None:
    bin_dir, env = installed
    listing = run([str(bin_dir / "omnifoa"), "models", "list"], cwd=tmp_path, env=env)
    assert listing.returncode == 0, listing.stderr
    line = next(row for row in listing.stdout.splitlines() if "omnifoa-mini" in row)
    assert str(bin_dir.parent) in line  # found inside the installed package
    verified = run([str(bin_dir / "omnifoa"), "models", "verify", "omnifoa-mini"], tmp_path, env)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_demo_then_binaural_run_from_the_wheel_alone(installed, tmp_path: Path) -> None:
    bin_dir, env = installed
    demo = run([str(bin_dir / "omnifoa"), "demo", "--out", "demo"], cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stderr
    stem = tmp_path / "demo" / "demo_foa.wav"
    info = sf.info(str(stem))
    assert (info.channels, info.samplerate) == (4, 48000)
    assert info.duration == pytest.approx(10.0, abs=0.05)
    ears = run(
        [str(bin_dir / "omnifoa"), "binaural", str(stem), "-o", "ears.wav"], cwd=tmp_path, env=env
    )
    assert ears.returncode == 0, ears.stderr
    assert sf.info(str(tmp_path / "ears.wav")).channels == 2


def test_the_reaper_scripts_the_wheel_points_to_exist(installed, tmp_path: Path) -> None:
    bin_dir, env = installed
    guide = run([str(bin_dir / "omnifoa"), "reaper", "install-help"], cwd=tmp_path, env=env)
    assert guide.returncode == 0, guide.stderr
    lua_dir = next(
        Path(word) for word in guide.stdout.split() if word.startswith("/") and "lua" in word
    )
    assert lua_dir.is_relative_to(bin_dir.parent)
    assert (lua_dir / "omnifoa_ingest.lua").is_file()
