"""The Blender extension in real Blender (bpy 5.0, headless) against a real service running
the bundled model: build, install (with its bundled platformdirs), a keyframed direction,
generate without blocking the UI, the stem on the timeline, a 4-channel mixdown, REAPER
(prompt, slow, silent), cancel, a .blend reopened while a job runs, a service of another
job schema, a stopped service, and the camera FoV (the strip's, or the model's own as the
service lists it).

Headless Blender runs no timers: the tests call the add-on's timer functions themselves
(:func:`settle`, :func:`follow`), and check that they are registered, persistent ones."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.request
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import bpy
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
MAIN_VENV = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT / "blender_addon"))
from build import build  # noqa: E402  (the extension's own build script)

ADDON = "bl_ext.user_default.omnifoa"


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A WAV's samples [C, N] (PCM16/24/32 or float32) and rate, with the standard library."""
    data = path.read_bytes()
    pos, fmt, samples = 12, None, None
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if kind == b"fmt ":
            fmt = list(struct.unpack("<HHIIHH", body[:16]))
            if fmt[0] == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's code
                fmt[0] = struct.unpack("<H", body[24:26])[0]
        elif kind == b"data":
            samples = body
        pos += 8 + size + (size & 1)
    code, channels, rate, _, _, bits = fmt
    if code == 3:
        values = np.frombuffer(samples, "<f4")
    elif bits == 16:
        values = np.frombuffer(samples, "<i2") / 32768.0
    elif bits == 24:
        raw = np.frombuffer(samples, np.uint8).reshape(-1, 3)
        ints = raw[:, 0].astype(np.int32) | raw[:, 1] << 8 | raw[:, 2].astype(np.int32) << 16
        values = np.where(ints >= 1 << 23, ints - (1 << 24), ints) / float(1 << 23)
    else:
        values = np.frombuffer(samples, "<i4") / 2.0**31
    return values.reshape(-1, channels).T, rate


def omnifoa_program(folder: Path) -> Path:
    """The ``omnifoa`` program of the main venv, as pip writes it from ``[project.scripts]``
    (written here, so a console script left from an older install cannot stand in)."""
    program = folder / "omnifoa"
    program.write_text(
        f"#!{MAIN_VENV / 'python'}\nimport sys\nfrom plugin_core.cli.main import main\n"
        "sys.exit(main())\n"
    )
    program.chmod(0o755)
    return program


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("blender")
    program = omnifoa_program(root)
    subprocess.run(
        [str(program), "synth", "--count", "1", "--seconds", "4", "--out",
         str(root / "scene"), "--seed", "2", "--fps", "24"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    video = next((root / "scene").glob("*.mp4"))
    zip_path = build(root / "dist", ROOT / ".venv-blender" / "wheels")
    site = Path(sysconfig.get_paths()["purelib"])
    tool = site / "bpy" / "5.0" / "scripts" / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    validated = subprocess.run(
        [sys.executable, str(tool), "validate", str(zip_path)], capture_output=True, text=True
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr  # Blender agrees
    out = root / "stems"
    out.mkdir()
    yield {
        "root": root,
        "video": video,
        "zip": zip_path,
        "state": root / "state",
        "out": out,
        "program": program,
    }
    state_file = root / "state" / "service.json"  # the service the add-on last started
    if state_file.exists():
        with contextlib.suppress(ProcessLookupError):  # one that crashed left its file
            os.kill(json.loads(state_file.read_text())["pid"], signal.SIGTERM)


@pytest.fixture(scope="module")
def reaper(workspace):
    """REAPER's stand-in (real Lua ingest, emulated OSC surface) in a main-venv process."""
    folder = workspace["root"] / "reaper"
    folder.mkdir()
    process = subprocess.Popen(
        [
            str(MAIN_VENV / "python"),
            str(ROOT / "tests" / "support" / "reaper_emulator.py"),
            str(folder),
        ],
        cwd=ROOT / "tests" / "support",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    info = json.loads(process.stdout.readline())
    os.environ["OMNIFOA_REAPER_CONFIG"] = info["bridge"]  # the service the add-on starts sees it
    yield {**info, "project": folder / "project.json"}
    process.stdin.close()
    process.wait(10)


@pytest.fixture(scope="module")
def addon(workspace, reaper):
    bpy.ops.extensions.package_install_files(
        filepath=str(workspace["zip"]), repo="user_default", enable_on_install=True
    )
    assert ADDON in bpy.context.preferences.addons, "the extension did not enable"
    import importlib

    module = importlib.import_module(ADDON)
    prefs = bpy.context.preferences.addons[ADDON].preferences
    prefs.state_file = str(workspace["state"] / "service.json")
    prefs.executable = ""  # found on PATH, as a pip/pipx install puts it
    os.environ["PATH"] = f"{workspace['program'].parent}{os.pathsep}{os.environ['PATH']}"
    prefs.output_dir = str(workspace["out"])
    return module


@pytest.fixture(scope="module")
def timeline(workspace, addon) -> None:
    """The movie strip (trimmed) with keyframed yaw, in the scene the tests work on."""
    scene = bpy.context.scene
    scene.render.fps = 24
    scene.render.resolution_x, scene.render.resolution_y = 512, 256
    editor = scene.sequence_editor_create()
    strip = editor.strips.new_movie("pano", str(workspace["video"]), 1, 10)
    strip.frame_offset_start = 12  # trim half a second: the job starts at 0.5 s of video
    editor.active_strip = strip
    strip.omnifoa_yaw = 0.0
    strip.keyframe_insert("omnifoa_yaw", frame=22)
    strip.omnifoa_yaw = 90.0
    strip.keyframe_insert("omnifoa_yaw", frame=70)
    scene.omnifoa.seed = 5


@pytest.fixture
def scene(timeline) -> bpy.types.Scene:
    """The current scene (a reopened .blend replaces the scene object, not its content)."""
    return bpy.context.scene


def service_call(workspace, path: str) -> dict:
    state = json.loads((workspace["state"] / "service.json").read_text())
    request = urllib.request.Request(f"{state['url']}{path}")
    request.add_header("Authorization", f"Bearer {state['token']}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def service_record(workspace, job_id: str) -> dict:
    return service_call(workspace, f"/v1/jobs/{job_id}")["job"]


def settle(addon, timeout: float = 120.0) -> list[str]:
    """Run the outcome timer until no worker is left; the job messages seen, in order."""
    seen = [bpy.context.scene.omnifoa.job_message]
    deadline = time.monotonic() + timeout
    while addon.pending.apply_outcomes() is not None:
        message = bpy.context.scene.omnifoa.job_message
        if message != seen[-1]:
            seen.append(message)
        assert time.monotonic() < deadline, message
        time.sleep(0.05)
    seen.append(bpy.context.scene.omnifoa.job_message)
    return seen


def submitted(addon) -> str:
    """Wait for the worker to submit the scene's job; its id."""
    settle(addon)
    settings = bpy.context.scene.omnifoa
    assert settings.job_state in ("queued", "running"), settings.job_message
    return settings.job_id


def follow(addon, timeout: float = 300.0) -> None:
    """Run both timers (outcomes, then job polls) until neither has anything left to do."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = addon.pending.apply_outcomes() is not None
        polling = addon.jobs.poll_jobs() is not None
        if not (waiting or polling):
            return
        assert time.monotonic() < deadline, bpy.context.scene.omnifoa.job_message
        time.sleep(0.2)


def reopen(path: Path, fresh_session: bool, addon) -> bpy.types.Scene:
    """Open the saved ``path``; with ``fresh_session``, first drop the poll timer, as a new
    Blender session would not have it."""
    if fresh_session and bpy.app.timers.is_registered(addon.jobs.poll_jobs):
        bpy.app.timers.unregister(addon.jobs.poll_jobs)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    return bpy.context.scene


class SlowOscRelay:
    """REAPER's OSC port behind a delay: each datagram reaches REAPER ``delay`` seconds
    late, or never (``delay`` None: a REAPER that does not answer)."""

    def __init__(self, reaper_port: int, delay: float | None) -> None:
        self.target = ("127.0.0.1", reaper_port)
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self._stop = threading.Event()
        self._pending: list[threading.Timer] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                datagram = self.sock.recv(65535)
            except TimeoutError:
                continue
            self.received += 1
            if self.delay is not None:
                late = threading.Timer(self.delay, self.sock.sendto, (datagram, self.target))
                self._pending.append(late)
                late.start()

    def __enter__(self) -> SlowOscRelay:
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(5)
        for late in self._pending:
            late.cancel()
            late.join(5)
        self.sock.close()


def test_the_extension_builds_validates_and_declares_its_network_use(workspace) -> None:
    import zipfile

    with zipfile.ZipFile(workspace["zip"]) as z:
        names = set(z.namelist())
        manifest = z.read("blender_manifest.toml").decode()
    assert {"__init__.py", "directions.py", "blender_manifest.toml"} <= names
    assert "build.py" not in names
    assert 'network = "' in manifest
    wheels = [n for n in names if n.startswith("wheels/")]
    assert len(wheels) == 1
    assert wheels[0].startswith("wheels/platformdirs-")
    assert f'"./{wheels[0]}"' in manifest  # the manifest names the wheel it carries
    product = (ROOT / "manifest.toml").read_text()
    version = next(line for line in manifest.splitlines() if line.startswith("version"))
    assert version in product  # kept in step with the plugin manifest


def test_the_add_on_finds_service_json_with_its_bundled_platformdirs(
    addon, workspace, monkeypatch
) -> None:
    import platformdirs

    # Blender installed the wheel into the extensions' own site-packages (this venv has none)
    bundled = Path(bpy.utils.user_resource("EXTENSIONS")) / ".local"
    assert Path(platformdirs.__file__).is_relative_to(bundled)
    assert Path(inspect.getfile(addon.service_link.user_config_dir)).is_relative_to(bundled)
    monkeypatch.delenv("OMNIFOA_CONFIG_DIR", raising=False)
    expected = Path(platformdirs.user_config_dir("omnifoa", appauthor=False)) / "service.json"
    assert addon.service_link.default_state_file() == expected
    # … which is where the service itself puts it (its own platformdirs, same HOME)
    env = {k: v for k, v in os.environ.items() if k != "OMNIFOA_CONFIG_DIR"}
    service_folder = subprocess.run(
        [str(MAIN_VENV / "python"), "-c",
         "from plugin_core.service.state_file import config_dir; print(config_dir())"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    assert expected == Path(service_folder) / "service.json"
    monkeypatch.setenv("OMNIFOA_CONFIG_DIR", str(workspace["root"] / "elsewhere"))
    assert addon.service_link.default_state_file() == workspace["root"] / "elsewhere" / (
        "service.json"
    )


def test_the_panel_sees_the_strip_and_its_trim(scene, addon) -> None:
    strip = addon.strip_source.source_strip(scene)
    info = addon.strip_source.source_info(strip)
    assert (info.width, info.height, info.fps) == (512, 256, 24.0)
    assert (info.final_start, info.final_end) == (22, 106)
    assert info.start_seconds == pytest.approx(0.5)
    assert info.end_seconds == pytest.approx(4.0)
    assert info.warning is None
    assert bpy.types.OMNIFOA_PT_generate.bl_space_type == "SEQUENCE_EDITOR"


def test_generate_returns_at_once_and_puts_a_4_channel_stem_on_the_timeline(
    scene, addon, workspace
) -> None:
    assert not (workspace["state"] / "service.json").exists()  # the service must be started
    strip = addon.strip_source.source_strip(scene)
    assert strip.omnifoa_fov == 0.0  # the model's own: not sent
    assert "fov" not in addon.jobs.build_job(bpy.context, scene, strip)
    settings = scene.omnifoa
    assert (settings.model_fov, settings.model_fov_of) == (120.0, "")  # never asked yet
    settings.model_fov = 50.0  # so that learning the model's own shows
    assert bpy.ops.omnifoa.generate() == {"FINISHED"}  # starts the service from preferences
    assert scene.omnifoa.job_state == "starting"  # returned first: a worker thread submits
    assert not bpy.ops.omnifoa.generate.poll()  # no second submit meanwhile
    assert not bpy.ops.omnifoa.cancel.poll()
    assert bpy.app.timers.is_registered(addon.pending.apply_outcomes)
    seen = settle(addon, 120)
    assert "starting the omnifoa service…" in seen
    assert scene.omnifoa.job_state == "queued", scene.omnifoa.job_message
    # the worker that submitted also listed the models: the bundled one's own FoV
    assert (settings.model_fov, settings.model_fov_of) == (120.0, "omnifoa-mini")
    job_id = scene.omnifoa.job_id
    assert bpy.app.timers.is_registered(addon.jobs.poll_jobs)
    follow(addon)
    assert scene.omnifoa.job_state == "done", scene.omnifoa.job_message
    assert bpy.ops.omnifoa.generate.poll()
    sounds = [s for s in scene.sequence_editor.strips_all if s.type == "SOUND"]
    assert len(sounds) == 1
    sound = sounds[0]
    assert sound.name == "pano FOA seed 5"
    assert sound.channel == 2
    assert sound.frame_final_start == 22
    assert sound.sound.channels == "CHANNELS_4"
    assert abs(sound.frame_final_end - 106) <= 1
    # the job carried the keyframed direction: 0° at 0.5 s rising to 90° at 2.5 s, then held
    request = service_record(workspace, job_id)["request"]
    keys = {round(k["t"], 3): k["yaw"] for k in request["path"]["keys"]}
    assert keys[0.5] == pytest.approx(0.0, abs=0.5)
    assert keys[2.5] == pytest.approx(90.0, abs=0.5)
    assert keys[4.0] == pytest.approx(90.0, abs=0.5)
    assert 0.0 < keys[1.5] < 90.0
    assert request["fov"] is None  # FoV 0 on the strip: the model's own, not sent
    assert scene.omnifoa.suggest_surround


def test_choosing_a_model_asks_the_running_service_for_its_own_fov(scene, addon) -> None:
    settings = scene.omnifoa
    try:
        settings.model = "no-such-model"  # the service does not know it: nothing changes
        assert addon.workers.any_in_flight()  # a worker asks, the UI does not wait
        assert bpy.app.timers.is_registered(addon.pending.apply_outcomes)
        settle(addon, 30)
        # the panel says the 120° it shows is not confirmed for this model
        assert (settings.model_fov, settings.model_fov_of) == (120.0, "omnifoa-mini")
        settings.model_fov = 50.0
        settings.model = "omnifoa-mini"  # the service lists it: its own FoV is remembered
        settle(addon, 30)
        assert (settings.model_fov, settings.model_fov_of) == (120.0, "omnifoa-mini")
        # a list giving a 90° model (ViSAGe's own) to the scene that chose it
        settings.model = "x"
        settle(addon, 30)
        visage = {"id": "x", "kind": "generator", "family": "visage", "fov": 90.0}
        addon.pending.remember_model_fovs({"models": [visage]})
        assert (settings.model_fov, settings.model_fov_of) == (90.0, "x")
    finally:
        settings.model = "omnifoa-mini"
        settle(addon, 30)
    assert (settings.model_fov, settings.model_fov_of) == (120.0, "omnifoa-mini")


def test_the_model_fov_is_picked_from_the_service_model_list(addon) -> None:
    model_fov = addon.model_fov
    document = {
        "models": [
            {"id": "omnifoa-mini", "kind": "generator", "family": "omniaudio", "fov": 120.0},
            {"id": "x", "kind": "generator", "family": "visage", "fov": 90.0},
            {"id": "dac-44khz", "kind": "codec", "installed": True},
        ]
    }
    assert model_fov.listed_fov(document, "x") == 90.0
    assert model_fov.listed_fov(document, "omnifoa-mini") == 120.0
    assert model_fov.listed_fov(document, "dac-44khz") is None  # not a generator: no FoV
    assert model_fov.listed_fov(document, "unknown") is None
    assert model_fov.listed_fov({}, "x") is None
    assert model_fov.listed_fov({"models": [{"id": "x", "fov": None}]}, "x") is None
    assert model_fov.fov_in_use(0.0, 90.0) == 90.0  # the strip's 0: the model's own
    assert model_fov.fov_in_use(100.0, 90.0) == 100.0
    assert model_fov.fov_note(0.0, 90.0, confirmed=True) == "model's 90°"
    assert model_fov.fov_note(100.0, 90.0, confirmed=True) == "(model: 90°)"
    assert model_fov.fov_note(0.0, 120.0, confirmed=False) == "model's 120°?"  # not yet heard


def test_surround4_mixdown_passes_the_four_channels_through(scene, addon, workspace) -> None:
    assert bpy.ops.omnifoa.use_surround4() == {"FINISHED"}
    assert scene.render.ffmpeg.audio_channels == "SURROUND4"
    stem_path = Path(bpy.path.abspath(
        next(s for s in scene.sequence_editor.strips_all if s.type == "SOUND").sound.filepath
    ))  # fmt: skip
    stem, rate = read_wav(stem_path)
    scene.render.ffmpeg.audio_mixrate = rate
    scene.frame_start, scene.frame_end = 22, 105
    mix_path = workspace["root"] / "mixdown.wav"
    bpy.ops.sound.mixdown(
        filepath=str(mix_path), container="WAV", codec="PCM", format="F32", channels="SURROUND4"
    )
    mix, mix_rate = read_wav(mix_path)
    assert mix.shape[0] == 4
    assert mix_rate == rate
    n = min(mix.shape[1], stem.shape[1]) - 1024
    np.testing.assert_allclose(mix[:, :n], stem[:, :n], atol=1e-5)


def test_send_to_reaper_lands_the_stem_on_a_4_channel_track(scene, addon, reaper) -> None:
    stem = next(s for s in scene.sequence_editor.strips_all if s.type == "SOUND").sound.filepath
    assert bpy.ops.omnifoa.send_to_reaper(port=reaper["port"]) == {"FINISHED"}
    assert scene.omnifoa.job_message.startswith("waiting for REAPER")
    settle(addon, 60)
    assert scene.omnifoa.job_message.startswith("REAPER: ok, 1 track(s)")
    deadline = time.monotonic() + 10
    while True:
        tracks = json.loads(reaper["project"].read_text()) if reaper["project"].exists() else []
        if len(tracks) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    bus, track = tracks
    assert (bus["nchan"], track["nchan"]) == (4, 4)
    assert track["items"][0]["position"] == pytest.approx(0.5)  # the trimmed start
    assert track["items"][0]["source"] == bpy.path.abspath(stem)


def test_a_slow_reaper_is_waited_for_without_blocking(scene, addon, reaper) -> None:
    with SlowOscRelay(reaper["port"], delay=4.0) as relay:  # longer than a plain call waits
        began = time.monotonic()
        assert bpy.ops.omnifoa.send_to_reaper(port=relay.port) == {"FINISHED"}
        # returned before REAPER's (4 s late) answer: the hand-off waits on a worker thread
        assert scene.omnifoa.job_message == "waiting for REAPER…"
        assert scene.omnifoa.reaper_state == "waiting"
        assert not bpy.ops.omnifoa.send_to_reaper.poll()  # no second hand-off meanwhile
        assert not bpy.ops.omnifoa.generate.poll()
        time.sleep(1.5)
        assert addon.pending.apply_outcomes() is not None  # still waiting, and says so
        assert scene.omnifoa.job_message.startswith("waiting for REAPER… ")
        settle(addon, 60)
        waited = time.monotonic() - began
    assert scene.omnifoa.job_message.startswith("REAPER: ok, 1 track(s)"), scene.omnifoa.job_message
    assert waited >= 4.0
    assert scene.omnifoa.reaper_state == ""
    assert bpy.ops.omnifoa.send_to_reaper.poll()


def test_a_reaper_that_never_answers_is_reported_as_such(scene, addon) -> None:
    with SlowOscRelay(12345, delay=None) as relay:  # swallows every doorbell
        assert bpy.ops.omnifoa.send_to_reaper(port=relay.port) == {"FINISHED"}
        assert scene.omnifoa.job_message == "waiting for REAPER…"
        settle(addon, 90)
        assert relay.received >= 2  # the service rang again and again
    message = scene.omnifoa.job_message
    assert message.startswith("REAPER did not answer after"), message  # the service's sentence
    assert "not running" not in message
    assert scene.omnifoa.job_state == "done"  # the stems are still there to send again
    assert bpy.ops.omnifoa.send_to_reaper.poll()


def test_cancel_stops_the_job_and_adds_nothing(scene, addon, workspace) -> None:
    before = len(scene.sequence_editor.strips_all)
    # the small OmniAudio model: its sampling steps make a job long enough to cancel
    scene.omnifoa.model, scene.omnifoa.seed, scene.omnifoa.steps = "omniaudio-mini", 6, 200
    strip = addon.strip_source.source_strip(scene)
    strip.omnifoa_fov = 100.0  # set on the strip: sent
    try:
        assert bpy.ops.omnifoa.generate() == {"FINISHED"}
        job_id = submitted(addon)
    finally:
        strip.omnifoa_fov = 0.0
    assert service_record(workspace, job_id)["request"]["fov"] == pytest.approx(100.0)
    deadline = time.monotonic() + 120
    while service_record(workspace, job_id)["percent"] <= 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert bpy.ops.omnifoa.cancel() == {"FINISHED"}
    follow(addon, 60)
    assert scene.omnifoa.job_state == "cancelled"
    assert len(scene.sequence_editor.strips_all) == before
    assert not list(workspace["out"].glob("pano_seed6*"))
    scene.omnifoa.model, scene.omnifoa.steps = "omnifoa-mini", 0


def test_aim_at_the_action_lets_the_service_follow_the_moving_object(
    scene, addon, workspace
) -> None:
    scene.omnifoa.aim_action, scene.omnifoa.seed = True, 7
    try:
        assert bpy.ops.omnifoa.generate() == {"FINISHED"}
        job_id = submitted(addon)
        follow(addon)
    finally:
        scene.omnifoa.aim_action, scene.omnifoa.seed = False, 5
    assert scene.omnifoa.job_state == "done", scene.omnifoa.job_message
    record = service_record(workspace, job_id)
    assert record["request"]["aim"] is True
    assert record["request"]["path"] is None  # the yaw keys were not sent
    # the stem's sidecar holds the path the service found: it follows one of the objects
    stem = Path(record["outputs"][0])
    keys = json.loads(stem.with_name(stem.name + ".json").read_text())["request"]["path"]["keys"]
    truth = json.loads(next((workspace["root"] / "scene").glob("*.json")).read_text())
    t = np.array([k["t"] for k in keys])
    found = np.radians([[k["yaw"], k["pitch"]] for k in keys])
    best = np.inf
    for obj in truth["objects"]:
        traj = obj["trajectory"]
        az = np.radians(np.interp(t, traj["times"], np.unwrap(traj["az"], period=360)))
        el = np.radians(np.interp(t, traj["times"], traj["el"]))
        cos = np.sin(found[:, 1]) * np.sin(el) + np.cos(found[:, 1]) * np.cos(el) * np.cos(
            found[:, 0] - az
        )
        best = min(best, float(np.degrees(np.arccos(np.clip(cos, -1, 1))).mean()))
    assert best < 15.0
    for strip in [s for s in scene.sequence_editor.strips_all if s.name.endswith("seed 7")]:
        scene.sequence_editor.strips.remove(strip)


def test_a_job_running_when_the_file_was_saved_is_followed_after_reopening(
    scene, addon, workspace
) -> None:
    assert addon.reopen.resume_after_load in bpy.app.handlers.load_post
    idle, running = workspace["root"] / "idle.blend", workspace["root"] / "running.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(idle), copy=True)
    # the small OmniAudio model with 50 steps: long enough to be saved mid-way
    scene.omnifoa.model, scene.omnifoa.seed, scene.omnifoa.steps = "omniaudio-mini", 8, 50
    assert bpy.ops.omnifoa.generate() == {"FINISHED"}
    job_id = submitted(addon)
    deadline = time.monotonic() + 120
    while service_record(workspace, job_id)["percent"] <= 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert addon.jobs.poll_jobs() is not None
    assert scene.omnifoa.job_state == "running"
    bpy.ops.wm.save_as_mainfile(filepath=str(running), copy=True)
    # both timers are persistent: opening a file with nothing to resume keeps them
    addon.pending.watch()
    reopen(idle, fresh_session=False, addon=addon)
    assert bpy.app.timers.is_registered(addon.jobs.poll_jobs)
    assert bpy.app.timers.is_registered(addon.pending.apply_outcomes)
    # a new session has no timer: the load handler asks the service about the saved job
    scene = reopen(running, fresh_session=True, addon=addon)
    assert bpy.app.timers.is_registered(addon.jobs.poll_jobs)
    settings = scene.omnifoa
    assert (settings.job_state, settings.job_id) == ("running", job_id)
    assert settings.job_message == addon.reopen.ASKING
    assert not bpy.ops.omnifoa.generate.poll()
    follow(addon)  # the service still knows the job: followed to its end
    assert settings.job_state == "done", settings.job_message
    assert settings.job_message == "added 1 sound strip(s)"
    assert [s.name for s in scene.sequence_editor.strips_all if s.name.endswith("seed 8")] == [
        "pano FOA seed 8"
    ]
    assert bpy.ops.omnifoa.generate.poll()
    settings.model, settings.steps, settings.seed = "omnifoa-mini", 0, 5


def test_work_from_before_a_reopen_that_is_lost_fails_in_one_sentence(
    scene, addon, workspace
) -> None:
    saved = workspace["root"] / "lost.blend"
    settings = scene.omnifoa
    # a job id this service never ran (as after its journal was cleared)
    settings.job_id, settings.job_state = "0" * 32, "running"
    bpy.ops.wm.save_as_mainfile(filepath=str(saved), copy=True)
    scene = reopen(saved, fresh_session=True, addon=addon)
    assert not bpy.ops.omnifoa.generate.poll()
    follow(addon, 30)
    assert scene.omnifoa.job_state == "failed"
    assert scene.omnifoa.job_message == (
        "The job from before the file was reopened is no longer known to the service; "
        "generate again."
    )
    assert bpy.ops.omnifoa.generate.poll()
    # a submit (or a REAPER hand-off) whose worker is not in this session fails at once
    settings = scene.omnifoa
    settings.job_state, settings.job_ticket = "starting", "f" * 32
    bpy.ops.wm.save_as_mainfile(filepath=str(saved), copy=True)
    scene = reopen(saved, fresh_session=True, addon=addon)
    assert scene.omnifoa.job_state == "failed"
    assert scene.omnifoa.job_message == addon.reopen.INTERRUPTED_START
    assert bpy.ops.omnifoa.generate.poll()
    settings = scene.omnifoa
    settings.job_state, settings.job_id = "done", "0" * 32
    settings.reaper_state, settings.reaper_ticket = "waiting", "e" * 32
    bpy.ops.wm.save_as_mainfile(filepath=str(saved), copy=True)
    scene = reopen(saved, fresh_session=True, addon=addon)
    assert scene.omnifoa.reaper_state == ""
    assert scene.omnifoa.job_message == addon.reopen.INTERRUPTED_HANDOFF
    assert bpy.ops.omnifoa.send_to_reaper.poll()


def test_a_service_of_another_job_schema_is_refused(scene, addon, workspace) -> None:
    # the add-on and the real service speak the same job schema
    served = service_call(workspace, "/v1/health")["schema_version"]
    assert served == addon.service_link.SCHEMA_VERSION
    posted = []

    class OtherSchema(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            return

        def _send(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send({"api": 1, "status": "ok", "version": "9.0.0", "schema_version": 99})

        def do_POST(self) -> None:
            posted.append(self.path)
            self._send({"api": 1, "job": {"id": "1" * 32, "state": "queued"}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), OtherSchema)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state = workspace["root"] / "other-schema" / "service.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"url": f"http://127.0.0.1:{server.server_address[1]}",
                                 "token": "t", "pid": os.getpid()}))  # fmt: skip
    prefs = bpy.context.preferences.addons[ADDON].preferences
    real = prefs.state_file
    prefs.state_file = str(state)
    try:
        assert bpy.ops.omnifoa.generate() == {"FINISHED"}
        settle(addon, 30)
    finally:
        prefs.state_file = real
        server.shutdown()
        server.server_close()
    assert scene.omnifoa.job_state == "failed"
    assert scene.omnifoa.job_message == (
        "The omnifoa service speaks job schema 99 but this add-on was written for "
        f"{addon.service_link.SCHEMA_VERSION}; update the add-on or the service."
    )
    assert posted == []  # nothing was submitted
    assert bpy.ops.omnifoa.generate.poll()


def test_a_stopped_service_gives_a_clear_report(
    scene, addon, workspace, monkeypatch, tmp_path
) -> None:
    bpy.ops.omnifoa.test_connection()
    prefs = bpy.context.preferences.addons[ADDON].preferences
    assert prefs.connection_status.startswith("omnifoa 0.1.0 is running at http://127.0.0.1:")
    state_file = workspace["state"] / "service.json"
    state = json.loads(state_file.read_text())
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 30
    while state_file.exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert not addon.pending.look_up_models(bpy.context)  # no service: nobody is asked
    bpy.ops.omnifoa.test_connection()
    assert prefs.connection_status == (
        f"Not running; Generate will start it with {workspace['program']} (found on PATH)."
    )
    monkeypatch.setenv("PATH", "/nonexistent")  # no omnifoa anywhere the add-on looks
    monkeypatch.setenv("HOME", str(tmp_path))
    bpy.ops.omnifoa.test_connection()
    assert "no omnifoa program was found" in prefs.connection_status
    # headless, Blender turns an operator's ERROR report into RuntimeError with its text
    with pytest.raises(RuntimeError, match="start it with `omnifoa serve`"):
        bpy.ops.omnifoa.generate()
    assert scene.omnifoa.job_state == "failed"
    assert "omnifoa serve" in scene.omnifoa.job_message
    prefs.executable = str(workspace["root"] / "no-such-program")
    with pytest.raises(RuntimeError, match="is not a program"):
        bpy.ops.omnifoa.generate()
    assert "not a program" in scene.omnifoa.job_message
    # REAPER hand-offs: no service at all, then one that crashed (its state file left behind)
    settings = scene.omnifoa
    settings.job_state, settings.job_id = "done", "0" * 32
    with pytest.raises(RuntimeError, match="Not sent to REAPER: the omnifoa service is not run"):
        bpy.ops.omnifoa.send_to_reaper(port=8000)
    state_file.write_text(json.dumps(state))  # the old address: nothing listens there now
    try:
        assert bpy.ops.omnifoa.send_to_reaper(port=8000) == {"FINISHED"}
        settle(addon, 30)
        message = scene.omnifoa.job_message
        assert message.startswith("Not sent to REAPER: the omnifoa service at "), message
        assert "is not running" in message
        assert "REAPER did not answer" not in message
        # a job saved while running, reopened with no service: lost, in one sentence
        settings.job_state = "running"
        saved = workspace["root"] / "no-service.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(saved), copy=True)
        scene = reopen(saved, fresh_session=True, addon=addon)
        follow(addon, 30)
    finally:
        state_file.unlink()
    assert scene.omnifoa.job_state == "failed"
    assert scene.omnifoa.job_message == addon.jobs.REOPENED_NO_SERVICE
    assert bpy.ops.omnifoa.generate.poll()


class RecordingLayout:
    """Stands in for a panel's layout (headless Blender draws no panels): every sub-layout is
    itself, every label's text is kept."""

    def __init__(self) -> None:
        self.labels: list[str] = []

    def label(self, text: str = "", **_kw) -> None:
        self.labels.append(text)

    def __getattr__(self, _name: str):
        return lambda *_a, **_kw: self


def test_the_panel_shows_which_fov_the_job_uses(scene, addon) -> None:
    strip = addon.strip_source.source_strip(scene)
    settings = scene.omnifoa
    remembered = (settings.model_fov, settings.model_fov_of)

    def labels() -> list[str]:
        panel = SimpleNamespace(layout=RecordingLayout())
        bpy.types.OMNIFOA_PT_generate.draw(panel, bpy.context)
        return panel.layout.labels

    try:
        settings.model_fov, settings.model_fov_of = 90.0, settings.model
        assert "model's 90°" in labels()
        strip.omnifoa_fov = 100.0
        assert "(model: 90°)" in labels()
        settings.model_fov_of = "another-model"  # listed for another model: not confirmed
        assert "(model: 90°?)" in labels()
    finally:
        (settings.model_fov, settings.model_fov_of), strip.omnifoa_fov = remembered, 0.0


def test_the_outline_is_the_strip_fov_or_else_the_remembered_model_fov(scene, addon) -> None:
    strip = addon.strip_source.source_strip(scene)
    settings = scene.omnifoa
    remembered, strip.omnifoa_yaw, strip.omnifoa_pitch = settings.model_fov, 0.0, 0.0

    def span() -> tuple[float, float]:
        lines = addon.preview_overlay.strip_outline(scene, strip)
        points = np.array([p for line in lines for p in line])
        return points[:, 0].min(), points[:, 0].max()

    try:
        assert strip.omnifoa_fov == 0.0
        settings.model_fov = 90.0  # as for a ViSAGe model: ±45° of yaw, ±64 px of 512
        assert span() == pytest.approx((-64.0, 64.0), abs=0.5)
        settings.model_fov = 120.0  # the bundled model's own: ±60°
        assert span() == pytest.approx((-512 / 6, 512 / 6), abs=0.5)
        strip.omnifoa_fov = 90.0  # the strip's own FoV wins over the model's
        assert span() == pytest.approx((-64.0, 64.0), abs=0.5)
    finally:
        settings.model_fov, strip.omnifoa_fov = remembered, 0.0


def test_the_preview_maps_directions_and_draws_the_fov_outline(addon) -> None:
    mapping = addon.preview_mapping
    x, y = mapping.direction_to_preview(90.0, 30.0, 512, 256)
    assert (x, y) == pytest.approx((-128.0, 42.6667), abs=1e-3)  # left of centre, above
    assert mapping.preview_to_direction(x, y, 512, 256) == pytest.approx((90.0, 30.0))
    lines = mapping.outline_in_preview(0.0, 0.0, 90.0, 512, 256)
    points = np.array([p for line in lines for p in line])
    # a 90° view straight ahead spans ±45° of yaw: ±64 px of a 512 px panorama
    assert points[:, 0].min() == pytest.approx(-64.0, abs=0.5)
    assert points[:, 0].max() == pytest.approx(64.0, abs=0.5)


def write_foa(path: Path, level: float) -> None:
    """One second of 4-channel 16-bit audio at a constant ``level`` (each take its own)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = np.full((48000, 4), round(level * 32767), "<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(4)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(samples.tobytes())


def stem_with_takes(folder: Path, count: int) -> Path:
    """``shot.wav`` with ``count`` takes as plugin_core.media.stem_takes lays them out (take 1
    chosen); with one take, a sidecar from before takes."""
    stem = folder / "shot.wav"
    document: dict = {"schema": "omnifoa-stem", "request": {"seed": 5}}
    if count == 1:
        write_foa(stem, 0.1)
    else:
        made = [{"by": "generate"}] + [{"by": "regenerate", "range": [3.0, 6.0]}] * (count - 1)
        takes = [
            {"number": n, "file": f"shot.wav.takes/take{n}.wav", "seed": 4 + n, "made": made[n - 1]}
            for n in range(1, count + 1)
        ]
        for n in range(1, count + 1):
            write_foa(folder / takes[n - 1]["file"], 0.1 * n)
        write_foa(stem, 0.1)  # a copy of the chosen take
        document |= {"takes": takes, "chosen": 1}
    (folder / "shot.wav.json").write_text(json.dumps(document))
    return stem


@pytest.fixture
def place(scene, addon):
    """Put a stem on the timeline as a finished job does (the active strip then); the strips
    are removed afterwards, by name (an undo replaces the Python objects)."""
    settings = scene.omnifoa
    remembered = (settings.job_source, settings.job_seed, settings.suggest_surround)
    settings.job_source, settings.job_seed = "pano", 5
    names: list[str] = []

    def placed(stem: Path):
        (strip,) = addon.jobs._place(bpy.context.scene, {"outputs": [str(stem)]})
        bpy.context.scene.sequence_editor.active_strip = strip
        names.append(strip.name)
        return strip

    yield placed
    current = bpy.context.scene
    editor = current.sequence_editor
    for name in names:
        if name in editor.strips:
            editor.strips.remove(editor.strips[name])
    editor.active_strip = editor.strips["pano"]
    settings = current.omnifoa
    settings.job_source, settings.job_seed, settings.suggest_surround = remembered


def playing(strip) -> Path:
    """The file a sound strip plays."""
    return Path(bpy.path.abspath(strip.sound.filepath)).resolve()


def take_rows(scene) -> list[tuple[str, str]]:
    """The panel's take list: (text, icon) of each take's label."""

    class Layout(RecordingLayout):
        def __init__(self) -> None:
            super().__init__()
            self.icons: list[str] = []

        def label(self, text: str = "", icon: str = "NONE", **_kw) -> None:
            self.labels.append(text)
            self.icons.append(icon)

    panel = SimpleNamespace(layout=Layout())
    bpy.types.OMNIFOA_PT_generate.draw(panel, bpy.context)
    rows = zip(panel.layout.labels, panel.layout.icons, strict=True)
    return [(text, icon) for text, icon in rows if text.startswith("take ")]


def test_a_stem_placed_on_the_timeline_records_which_stem_it_is(place, tmp_path) -> None:
    stem = stem_with_takes(tmp_path, 3)
    strip = place(stem)
    assert Path(strip.omnifoa_stem) == stem
    assert strip.omnifoa_take == 0  # the stem as delivered: its chosen take
    assert playing(strip) == stem


def test_use_take_plays_that_take_in_the_same_place_without_touching_the_files(
    place, tmp_path
) -> None:
    stem = stem_with_takes(tmp_path, 3)
    strip = place(stem)
    strip.volume, strip.pan = 0.5, 0.25
    before = (strip.frame_start, strip.frame_final_end, strip.channel, strip.volume, strip.pan)
    delivered = (stem.read_bytes(), (tmp_path / "shot.wav.json").read_text())
    takes = tmp_path / "shot.wav.takes"
    for number in (2, 3, 2, 1):
        assert bpy.ops.omnifoa.use_take(number=number) == {"FINISHED"}
        strip = bpy.context.scene.sequence_editor.active_strip
        assert playing(strip) == takes / f"take{number}.wav"
        assert strip.omnifoa_take == number
        assert (
            strip.frame_start,
            strip.frame_final_end,
            strip.channel,
            strip.volume,
            strip.pan,
        ) == before
        assert Path(strip.omnifoa_stem) == stem
    assert (stem.read_bytes(), (tmp_path / "shot.wav.json").read_text()) == delivered


def test_undo_returns_the_strip_to_the_take_it_played(place, tmp_path) -> None:
    assert "UNDO" in bpy.types.OMNIFOA_OT_use_take.bl_options
    stem = stem_with_takes(tmp_path, 3)
    name = place(stem).name
    bpy.ops.ed.undo_push(message="stem placed")
    # as the panel's button calls it: with an undo step (Python's calls skip it by default)
    bpy.ops.omnifoa.use_take("EXEC_DEFAULT", True, number=2)
    bpy.ops.omnifoa.use_take("EXEC_DEFAULT", True, number=3)

    def strip():
        return bpy.context.scene.sequence_editor.strips[name]

    assert bpy.ops.ed.undo() == {"FINISHED"}  # Ctrl+Z: back to take 2 (each use is a step)
    assert (playing(strip()), strip().omnifoa_take) == (
        stem.parent / "shot.wav.takes" / "take2.wav",
        2,
    )
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert (playing(strip()), strip().omnifoa_take) == (stem, 0)
    assert bpy.ops.ed.redo() == {"FINISHED"}
    assert strip().omnifoa_take == 2


def test_the_panel_lists_the_takes_with_the_one_playing_marked(scene, place, tmp_path) -> None:
    place(stem_with_takes(tmp_path, 3))
    assert take_rows(scene) == [
        ("take 1 · seed 5 · generate", "RADIOBUT_ON"),  # the stem plays the chosen take
        ("take 2 · seed 6 · regenerate 3.0–6.0 s", "RADIOBUT_OFF"),
        ("take 3 · seed 7 · regenerate 3.0–6.0 s", "RADIOBUT_OFF"),
    ]
    bpy.ops.omnifoa.use_take(number=3)
    assert [icon for _, icon in take_rows(scene)] == ["RADIOBUT_OFF", "RADIOBUT_OFF", "RADIOBUT_ON"]


def test_a_stem_without_takes_shows_no_take_list(scene, place, tmp_path) -> None:
    place(stem_with_takes(tmp_path, 1))
    assert take_rows(scene) == []
    with pytest.raises(RuntimeError, match=r"shot\.wav has no take 2\."):
        bpy.ops.omnifoa.use_take(number=2)


def test_a_take_whose_file_is_missing_is_refused_and_the_strip_kept(place, tmp_path) -> None:
    stem = stem_with_takes(tmp_path, 3)
    strip = place(stem)
    bpy.ops.omnifoa.use_take(number=2)
    (tmp_path / "shot.wav.takes" / "take3.wav").unlink()
    with pytest.raises(RuntimeError) as refused:
        bpy.ops.omnifoa.use_take(number=3)
    missing = tmp_path / "shot.wav.takes" / "take3.wav"
    assert str(refused.value).strip() == (
        f"Error: Take 3 of shot.wav cannot be played: its file {missing} is missing."
    )
    strip = bpy.context.scene.sequence_editor.active_strip
    assert (playing(strip), strip.omnifoa_take) == (tmp_path / "shot.wav.takes" / "take2.wav", 2)


def test_regenerate_range_renews_the_preview_range_as_a_new_take_the_strip_plays(
    scene, addon, workspace
) -> None:
    editor = scene.sequence_editor
    movie = addon.strip_source.source_strip(scene)
    bpy.context.preferences.addons[ADDON].preferences.executable = ""  # omnifoa on PATH
    scene.omnifoa.seed = 41
    assert bpy.ops.omnifoa.generate() == {"FINISHED"}
    settle(addon)
    follow(addon)
    assert scene.omnifoa.job_state == "done", scene.omnifoa.job_message
    [strip] = [s for s in editor.strips_all if s.type == "SOUND" and "seed 41" in s.name]
    stem = Path(strip.omnifoa_stem)
    before, rate = read_wav(stem)
    editor.active_strip = strip
    scene.use_preview_range = True  # 1.0 s to 2.5 s into the stem
    scene.frame_preview_start = int(strip.frame_start) + 24
    scene.frame_preview_end = int(strip.frame_start) + 60 - 1
    try:
        assert bpy.ops.omnifoa.regenerate() == {"FINISHED"}
        assert scene.omnifoa.job_state == "starting"  # a worker thread submits it
        settle(addon)
        follow(addon)
    finally:
        scene.use_preview_range = False
        editor.active_strip = movie
    assert scene.omnifoa.job_state == "done", scene.omnifoa.job_message
    assert scene.omnifoa.job_message == f"{strip.name} plays the new take 2"
    assert strip.omnifoa_take == 2
    assert Path(bpy.path.abspath(strip.sound.filepath)).name == "take2.wav"
    after, _ = read_wav(stem)  # the stem file plays the chosen take: the new one
    a, b = round(1.0 * rate), round(2.5 * rate)
    np.testing.assert_array_equal(after[:, :a], before[:, :a])
    np.testing.assert_array_equal(after[:, b:], before[:, b:])
    assert not np.allclose(
        after[:, a + rate // 10 : b - rate // 10], before[:, a + rate // 10 : b - rate // 10]
    )
    sidecar = json.loads(stem.with_name(stem.name + ".json").read_text())
    assert sidecar["chosen"] == 2
    assert sidecar["takes"][1]["made"]["range"] == [1.0, 2.5]
    editor.strips.remove(strip)


def test_regenerate_range_needs_a_range_inside_the_strip(scene, place, tmp_path) -> None:
    strip = place(stem_with_takes(tmp_path, 2))
    scene.sequence_editor.active_strip = strip
    scene.use_preview_range = False
    for marker in list(scene.timeline_markers):
        scene.timeline_markers.remove(marker)
    with pytest.raises(RuntimeError, match="Set a preview range"):
        bpy.ops.omnifoa.regenerate()
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = (
        strip.frame_final_end + 5,
        strip.frame_final_end + 30,
    )
    try:
        with pytest.raises(RuntimeError, match="must lie within"):
            bpy.ops.omnifoa.regenerate()
    finally:
        scene.use_preview_range = False
    assert scene.omnifoa.job_state != "starting"


def sound_strips(scene) -> dict[str, object]:
    return {s.name: s for s in scene.sequence_editor.strips_all if s.type == "SOUND"}


def test_generate_all_360_strips_is_one_batch_whose_stems_land_on_their_strips(
    scene, addon, workspace
) -> None:
    editor = scene.sequence_editor
    # two more 360 strips of the same video, named by Blender "pano.001", "pano.002", each
    # trimmed its own way, so that each stem is told apart by the span it was made for
    second = editor.strips.new_movie("pano", str(workspace["video"]), 1, 200)
    third = editor.strips.new_movie("pano", str(workspace["video"]), 3, 400)
    third.frame_offset_end = 24  # the last second left out
    movies = [editor.strips["pano"], second, third]
    assert [m.name for m in movies] == ["pano", "pano.001", "pano.002"]
    before = set(sound_strips(scene))
    running = (workspace["state"] / "service.json").exists()  # (not when run alone)
    jobs_before = len(service_call(workspace, "/v1/jobs")["jobs"]) if running else 0
    scene.omnifoa.seed = 11
    bpy.ops.ed.undo_push(message="three movie strips")
    added: list[str] = []
    try:
        assert bpy.ops.omnifoa.generate_all() == {"FINISHED"}
        assert scene.omnifoa.job_state == "starting"  # returned first: a worker submits
        assert not bpy.ops.omnifoa.generate_all.poll()
        assert not bpy.ops.omnifoa.generate.poll()
        percents, states = [], []
        deadline = time.monotonic() + 600
        while True:
            waiting = addon.pending.apply_outcomes() is not None
            polling = addon.jobs.poll_jobs() is not None
            settings = bpy.context.scene.omnifoa
            if settings.job_state in ("queued", "running", "done"):
                percents.append(settings.job_percent)
                states.append(settings.job_state)
            if not (waiting or polling):
                break
            assert time.monotonic() < deadline, settings.job_message
            time.sleep(0.2)
        scene = bpy.context.scene
        settings = scene.omnifoa
        assert settings.job_state == "done", settings.job_message
        assert settings.job_message == "added 3 sound strip(s)"
        assert settings.job_failures == ""
        assert not bpy.ops.omnifoa.send_to_reaper.poll()  # each stem has its own place
        # one job for the three strips, on one bar that only moves forward
        jobs_now = service_call(workspace, "/v1/jobs")["jobs"]
        assert len(jobs_now) == jobs_before + 1
        record = service_record(workspace, settings.job_id)
        assert record["kind"] == "batch"
        assert [s["shot"] for s in record["shots"]] == ["pano", "pano.001", "pano.002"]
        assert percents == sorted(percents)
        assert percents[-1] == 100.0
        assert any(0 < p < 100 for p in percents)
        assert "running" in states
        new = {n: s for n, s in sound_strips(scene).items() if n not in before}
        added = list(new)
        assert len(new) == 3
        for movie in movies:
            info = addon.strip_source.source_info(movie)
            (sound,) = [s for s in new.values() if s.name.startswith(f"{movie.name} FOA")]
            assert sound.name == f"{movie.name} FOA seed 11"
            stem = workspace["out"] / f"{movie.name}_seed11_foa.wav"
            assert playing(sound) == stem.resolve()
            assert Path(sound.omnifoa_stem) == stem
            assert sound.frame_start == movie.frame_final_start
            assert sound.channel > movie.channel
            request = json.loads(stem.with_name(stem.name + ".json").read_text())["request"]
            assert request["video"] == info.path
            assert request["start"] == pytest.approx(info.start_seconds, abs=1e-6)
            assert request["end"] == pytest.approx(info.end_seconds, abs=1e-6)
            assert request["seed"] == 11
        # Ctrl+Z takes the three strips away in one step; Ctrl+Shift+Z puts them back
        assert bpy.ops.ed.undo() == {"FINISHED"}
        assert set(sound_strips(bpy.context.scene)) == before
        assert bpy.ops.ed.redo() == {"FINISHED"}
        assert set(sound_strips(bpy.context.scene)) == before | set(added)
    finally:
        editor = bpy.context.scene.sequence_editor
        for name in [*added, "pano.001", "pano.002"]:
            if name in editor.strips:
                editor.strips.remove(editor.strips[name])
        editor.active_strip = editor.strips["pano"]
        bpy.context.scene.omnifoa.seed = 5


def test_a_batch_reports_each_strip_without_a_stem_in_one_line(scene, addon, tmp_path) -> None:
    settings = scene.omnifoa
    remembered = (settings.job_state, settings.job_message, settings.job_failures)
    before = set(sound_strips(scene))
    stem = stem_with_takes(tmp_path, 1)
    record = {
        "state": "done",
        "error": "2 of 3 shots failed; each failed shot gives its reason.",
        "shots": [
            {"shot": "pano", "state": "done", "output": str(stem), "reason": None},
            {"shot": "gone", "state": "done", "output": "/x/gone.wav", "reason": None},
            {"shot": "pano", "state": "failed", "output": "/x/y.wav", "reason": "Bad video."},
        ],
    }
    try:
        addon.jobs._end_batch(scene, record)
        lines = settings.job_failures.splitlines()
        assert lines == [
            "gone: the strip is gone; its stem is /x/gone.wav",
            "pano: Bad video.",
        ]
        assert settings.job_message == "added 1 sound strip(s); 2 strip(s) without a stem"
        panel = SimpleNamespace(layout=RecordingLayout())
        bpy.types.OMNIFOA_PT_generate.draw(panel, bpy.context)
        assert all(line in panel.layout.labels for line in lines)
    finally:
        for name in set(sound_strips(scene)) - before:
            scene.sequence_editor.strips.remove(scene.sequence_editor.strips[name])
        settings.job_state, settings.job_message, settings.job_failures = remembered


@pytest.fixture(scope="module")
def studio_server(workspace) -> Iterator[SimpleNamespace]:
    """A studio's server: ``omnifoa serve --listen 127.0.0.2:0`` (loopback) over TLS with a
    self-signed certificate, and the token ``omnifoa serve tokens add`` gave an artist."""
    state, program = workspace["root"] / "studio", str(workspace["program"])
    added = subprocess.run(
        [program, "serve", "tokens", "add", "artist", "--state-dir", str(state)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    process = subprocess.Popen(
        [program, "serve", "--state-dir", str(state), "--listen", "127.0.0.2:0",
         "--tls-self-signed"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    ready = re.search(r"on (https://\S+) .*fingerprint ([0-9A-F:]{95})", process.stdout.readline())
    assert ready is not None, process.stderr.read() if process.poll() is not None else ""
    url, fingerprint = ready.groups()
    yield SimpleNamespace(
        url=url, fingerprint=fingerprint, token=added.stdout.split()[-1], state=state
    )
    process.terminate()
    _, err = process.communicate(timeout=30)
    assert "Traceback" not in err


@contextlib.contextmanager
def on_server(server: SimpleNamespace, **changed: str) -> Iterator:
    """The add-on's preferences set to the studio server (``changed``: other values)."""
    prefs = bpy.context.preferences.addons[ADDON].preferences
    prefs.server = "REMOTE"
    prefs.server_url, prefs.server_token = server.url, server.token
    prefs.server_fingerprint = server.fingerprint
    for name, value in changed.items():
        setattr(prefs, name, value)
    try:
        yield prefs
    finally:
        prefs.server = "LOCAL"


def test_test_connection_names_the_servers_models_device_and_round_trip(
    addon, studio_server
) -> None:
    with on_server(studio_server) as prefs:
        assert bpy.ops.omnifoa.test_connection() == {"FINISHED"}
        line = prefs.connection_status
    pattern = rf"Server {re.escape(studio_server.url)}: models (.+); (.+); (\d+) ms round trip\."
    found = re.fullmatch(pattern, line)
    assert found is not None, line
    assert "omnifoa-mini" in found.group(1).split(", ")
    assert found.group(2) == "CPU" or found.group(2).endswith(("(CUDA)", "(MPS)"))


def test_a_server_with_another_certificate_is_refused_in_one_line(addon, studio_server) -> None:
    wrong = ":".join(["AB"] * 32)
    with on_server(studio_server, server_fingerprint=wrong) as prefs:
        assert bpy.ops.omnifoa.test_connection() == {"FINISHED"}
        line = prefs.connection_status
        assert "\n" not in line
        assert line.startswith(f"The server at {studio_server.url} is not the one pinned")
        assert studio_server.fingerprint in line  # what it has, to compare with what was given
        prefs.server_fingerprint = "not a fingerprint"
        bpy.ops.omnifoa.test_connection()
        assert "64 hexadecimal digits" in prefs.connection_status


def test_generate_through_a_studio_server_puts_its_stem_on_the_timeline(
    scene, addon, workspace, studio_server
) -> None:
    settings = scene.omnifoa
    before, seed = set(sound_strips(scene)), settings.seed
    settings.seed = 23  # a stem this file does not have yet
    uploads = studio_server.state / "files" / "artist" / "uploads"
    url = studio_server.url
    try:
        with on_server(studio_server):
            assert bpy.ops.omnifoa.generate() == {"FINISHED"}
            assert settings.job_state == "starting"  # returned first: a worker does the rest
            seen = [settings.job_message]
            deadline = time.monotonic() + 300
            while addon.pending.apply_outcomes() is not None or addon.jobs.poll_jobs():
                if settings.job_message != seen[-1]:
                    seen.append(settings.job_message)
                assert time.monotonic() < deadline, settings.job_message
                time.sleep(0.1)
        assert settings.job_state == "done", settings.job_message
        assert "uploading the video… 100%" in seen
        assert settings.job_message == "added 1 sound strip(s)"
        [added] = set(sound_strips(scene)) - before
        sound = scene.sequence_editor.strips[added]
        stem = workspace["out"] / "pano_seed23_foa.wav"  # where a local generation puts it
        assert Path(sound.omnifoa_stem) == stem
        made = json.loads((stem.parent / (stem.name + ".json")).read_text())
        assert made["source"]["video"] == str(workspace["video"])  # not the server's upload
        assert (made["request"]["output"], made["made_on"]) == (str(stem), {"server": url})
        assert sound.sound.channels == "CHANNELS_4"
        assert sound.frame_final_start == 22  # beside its movie strip, as a local stem is
        source = scene.sequence_editor.strips["pano"]
        assert abs(sound.frame_final_end - source.frame_final_end) <= 1  # the strip's length
        assert read_wav(stem)[0].shape[0] == 4
        assert len(list(uploads.iterdir())) >= 1  # the video went up; no path was shared
        # the same done job seen from a later session, its downloading worker gone with the
        # one it ran in: failed in one sentence, so Generate is possible again
        settings.job_state, settings.job_ticket = "running", ""
        with on_server(studio_server):
            assert addon.jobs.poll_scene(bpy.context, scene) is False
        assert (settings.job_state, settings.job_message) == ("failed", addon.jobs.DOWNLOAD_LOST)
        assert bpy.ops.omnifoa.generate.poll()
    finally:
        for name in set(sound_strips(scene)) - before:
            scene.sequence_editor.strips.remove(scene.sequence_editor.strips[name])
        settings.seed = seed


def test_disabling_the_add_on_removes_its_load_handler_and_timers(addon) -> None:
    handler = addon.reopen.resume_after_load
    addon.pending.watch()
    addon.jobs.follow_jobs()
    bpy.ops.preferences.addon_disable(module=ADDON)
    assert handler not in bpy.app.handlers.load_post
    assert not bpy.app.timers.is_registered(addon.jobs.poll_jobs)
    assert not bpy.app.timers.is_registered(addon.pending.apply_outcomes)


def test_the_program_may_be_a_venv_folder_or_a_python_with_omnifoa(addon, tmp_path) -> None:
    find = addon.service_start.find_program
    assert find(str(MAIN_VENV.parent)) == (
        [str(MAIN_VENV / "omnifoa")],
        f"in the venv {MAIN_VENV.parent}",
    )
    command, _ = find(str(MAIN_VENV / "python"))
    assert command == [str(MAIN_VENV / "python"), "-m", "plugin_core.cli"]
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=120)
    assert version.stdout.startswith("omnifoa ")  # that command really runs omnifoa
    with pytest.raises(addon.service_link.ServiceUnavailable, match="not a venv with omnifoa"):
        find(str(tmp_path))
