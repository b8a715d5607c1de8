"""``omnifoa doctor`` on this machine: every line says ok, warn or FAIL with a fix, and what it
finds matches what is really installed."""

from __future__ import annotations

import re

import pytest
from cli_runner import run_cli

from plugin_core.cli.doctor import debian_package

LINE = re.compile(r"^(ok  |warn|FAIL)  [^:]+: .+$")


def test_doctor_reports_the_bundled_model_and_torch() -> None:
    done = run_cli("doctor")
    assert done.returncode == 0, done.stdout + done.stderr  # nothing here stops generation
    lines = done.stdout.splitlines()
    report = [line for line in lines if not line.startswith("      fix: ")][:-1]
    assert all(LINE.match(line) for line in report), report
    assert any(line.startswith("ok    model omnifoa-mini: ") for line in lines)
    assert any(line.startswith("ok    torch: ") for line in lines)
    for i, line in enumerate(lines[:-1]):  # every warning says how to fix it
        if line.startswith(("warn", "FAIL")):
            assert lines[i + 1].startswith("      fix: "), line
    assert re.fullmatch(r"0 problem\(s\) stop generation, \d+ limit a feature\.", lines[-1])


def test_doctor_fails_when_the_bundled_model_is_missing(tmp_path, monkeypatch) -> None:
    empty = tmp_path / "models.toml"
    empty.write_text(
        '[[models]]\nid = "omnifoa-mini"\nname = "gone"\nkind = "generator"\n'
        'licence = "x"\nfile = "nowhere.safetensors"\npath = "nowhere.safetensors"\n'
    )
    monkeypatch.setenv("OMNIFOA_EXTRA_MODELS", str(empty))
    done = run_cli("doctor")
    assert done.returncode == 1
    assert "FAIL  model omnifoa-mini: not on this machine" in done.stdout


@pytest.mark.parametrize(
    ("library", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libEGL.so.1", "libegl1"),
        ("libdbus-1.so.3", "libdbus-1-3"),
    ],
)
def test_missing_libraries_are_named_as_packages(library: str, package: str) -> None:
    assert debian_package(library) == package
