"""Run the real ``omnifoa`` command line in a subprocess."""

import subprocess
import sys


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``omnifoa ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "plugin_core.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
