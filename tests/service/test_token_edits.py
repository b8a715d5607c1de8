"""Editing the token file from two ``omnifoa serve tokens`` processes at once loses no edit:
each holds the file's lock from reading it to writing it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from plugin_core.service.tokens import people

ROUNDS = 20

# One editor: says it is ready, waits for the start file, then adds its ROUNDS names and
# revokes every other one, each through the real command line (its argument parsing and token
# module) in this process.
EDITOR = """
import contextlib, io, os, sys, time
from plugin_core.cli.main import main
state, prefix, start, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
open(start + "." + prefix, "x").close()
while not os.path.exists(start):
    time.sleep(0.001)
for i in range(rounds):
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["serve", "tokens", "add", f"{prefix}{i}", "--state-dir", state]) == 0
        if i % 2:
            assert main(["serve", "tokens", "revoke", f"{prefix}{i}", "--state-dir", state]) == 0
"""


def test_two_processes_editing_tokens_at_once_keep_every_edit(tmp_path: Path) -> None:
    start = tmp_path / "start"
    editors = [
        subprocess.Popen(
            [sys.executable, "-c", EDITOR, str(tmp_path), prefix, str(start), str(ROUNDS)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in ("alice", "bob")
    ]
    while not all(start.with_name(f"start.{prefix}").exists() for prefix in ("alice", "bob")):
        assert all(editor.poll() is None for editor in editors), "an editor ended before starting"
        time.sleep(0.01)
    start.touch()  # both are imported and waiting: they edit at the same moment
    for editor in editors:
        _, err = editor.communicate(timeout=120)
        assert editor.returncode == 0, err
    kept = {f"{prefix}{i}" for prefix in ("alice", "bob") for i in range(0, ROUNDS, 2)}
    assert set(people(tmp_path)) == kept
