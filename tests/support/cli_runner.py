"""Run the real ``omnifoa`` command line: in a subprocess, or in this process for speed."""

import contextlib
import io
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from hostile_inputs import release_fifo

from plugin_core.cli.main import main


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``omnifoa ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "plugin_core.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Outcome:
    """What one in-process ``omnifoa`` run returned and printed."""

    status: int | None  # None: it did not finish within the time allowed
    stdout: str
    stderr: str

    def messages(self) -> list[str]:
        """The lines of stderr a user reads, progress bars left out."""
        lines = re.split(r"[\r\n]+", self.stderr)
        return [line for line in lines if line.strip() and not _PROGRESS.search(line)]


_PROGRESS = re.compile(r"\d+%\|")


def run_main(argv: list[str], timeout: float = 60, unblock: Path | None = None) -> Outcome:
    """Run ``omnifoa ARGV`` in this process (no interpreter start-up per case); a run still
    going after ``timeout`` s is reported as hung, and a FIFO ``unblock`` it reads is released."""
    out, err = io.StringIO(), io.StringIO()
    result: list[int | None] = [None]

    def target() -> None:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                result[0] = main(argv)
            except SystemExit as exc:
                result[0] = exc.code if isinstance(exc.code, int) else 1

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        if unblock is not None:
            release_fifo(unblock)
            thread.join(10)
        return Outcome(None, out.getvalue(), err.getvalue())
    return Outcome(result[0], out.getvalue(), err.getvalue())
