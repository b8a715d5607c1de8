"""The service in remote mode as a real process: ``omnifoa serve --listen 127.0.0.2:0`` over TLS
(a self-signed certificate it makes) for people whose tokens the real ``omnifoa serve tokens
add`` gave out. 127.0.0.2 is loopback on Linux: nothing leaves the machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from plugin_core.service.client import ServiceClient

REMOTE_HOST = "127.0.0.2"
_READY = re.compile(r"omnifoa service on (https://\S+) .*fingerprint ([0-9A-F:]{95})")


def omnifoa(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``omnifoa ARGS`` in a subprocess, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "plugin_core.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def add_token(state: Path, name: str) -> str:
    """``omnifoa serve tokens add NAME``: the token it prints once."""
    done = omnifoa("serve", "tokens", "add", name, "--state-dir", str(state))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


class RemoteService:
    """One ``omnifoa serve --listen`` process over TLS with its state folder."""

    def __init__(self, state: Path, registry: Path, *flags: str) -> None:
        self.state = state
        env = {**os.environ, "OMNIFOA_EXTRA_MODELS": str(registry), "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "plugin_core.cli",
                "serve",
                "--state-dir",
                str(state),
                "--listen",
                f"{REMOTE_HOST}:0",
                "--tls-self-signed",
                *flags,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()  # printed once it listens
        ready = _READY.search(line)
        if ready is None:
            self.process.kill()
            raise RuntimeError(f"the service did not start: {line}{self.process.stderr.read()}")
        self.url, self.fingerprint = ready.groups()
        self.cert = state / "tls" / f"{REMOTE_HOST}.crt"

    def client(self, token: str, **trust: object) -> ServiceClient:
        """A client with ``token`` that trusts the server's own certificate (or ``trust``)."""
        return ServiceClient(self.url, token, **(trust or {"ca": self.cert}))

    def stop(self) -> tuple[str, str]:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.communicate(timeout=30)
