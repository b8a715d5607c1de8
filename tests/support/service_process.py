"""The local service as a real process: a tiny registered model, a short ERP video, and
``omnifoa serve`` started on a random port with its own state folder; the ``assets`` and
``service`` fixtures (a pytest plugin of the main test run, see tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from model_fixtures import tiny_generator

from models.checkpoint_files import save_safetensors
from plugin_core.media.video import write_video
from plugin_core.service.client import ServiceClient
from plugin_core.synthsphere import make_scene, render_frames

MODEL = "tiny-test"


def service_assets(folder: Path) -> dict[str, Path]:
    """A registry holding the tiny model, and a 3 s scene video, in ``folder``."""
    save_safetensors(tiny_generator(0).state_dict(), folder / "tiny.safetensors")
    (folder / "models.toml").write_text(
        f'[[models]]\nid = "{MODEL}"\nname = "tiny test model"\nkind = "generator"\n'
        'licence = "Apache-2.0"\nfile = "tiny.safetensors"\npath = "tiny.safetensors"\n'
        'preset = "tiny"\nframe_encoder = "efficientnet-lite0"\n'
    )
    video = folder / "scene.mp4"
    write_video(video, render_frames(make_scene(5, 3.0), 256, 128, 12.0), 12.0)
    return {"registry": folder / "models.toml", "video": video}


class Service:
    """One ``omnifoa serve`` process with its state folder (``module``: the entry point, e.g.
    a test script that crashes the service at a chosen moment; ``args``: more flags)."""

    def __init__(
        self,
        state: Path,
        registry: Path,
        module: str = "plugin_core.cli",
        args: tuple[str, ...] = (),
        **env_vars: str,
    ) -> None:
        self.state = state
        env = {**os.environ, "OMNIFOA_EXTRA_MODELS": str(registry), "OMP_NUM_THREADS": "1"}
        support = str(Path(__file__).parent)  # test entry points live beside this file
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [support, env.get("PYTHONPATH")]))
        env |= env_vars
        (state / "service.json").unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "serve", "--state-dir", str(state), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while not (state / "service.json").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start: {self.process.stderr.read()}")
            time.sleep(0.1)
        self.client = ServiceClient.from_state(state)

    def stop(self) -> tuple[str, str]:
        """Stop the process (if it still runs); its (stdout, stderr)."""
        if self.process.poll() is None:
            self.process.terminate()
        out, err = self.process.communicate(timeout=30)
        return out, err


def exchange(
    service: Service,
    method: str,
    path: str,
    body: bytes | None = None,
    token: str | None = "the service's",
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """One HTTP request as sent (no client-side checks): (status, body text)."""
    request = urllib.request.Request(service.client.url + path, data=body, method=method)
    if token is not None:
        given = service.client.token if token == "the service's" else token
        request.add_header("Authorization", f"Bearer {given}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def job_body(assets: dict[str, Path], out: Path, **fields: object) -> dict:
    """A quick job (1 s, one step) on the tiny model writing ``out/stem.wav``; ``fields``
    change or add any job field."""
    return {
        "video": str(assets["video"]),
        "output_dir": str(out),
        "name": "stem.wav",
        "model": MODEL,
        "steps": 1,
        "end": 1.0,
        **fields,
    }


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny model's registry and a scene video, made once per test run."""
    return service_assets(tmp_path_factory.mktemp("service_assets"))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, assets) -> Iterator[Service]:
    """One running service per test module; it must never have printed a traceback."""
    running = Service(tmp_path_factory.mktemp("state"), assets["registry"])
    yield running
    _, err = running.stop()
    assert "Traceback" not in err
