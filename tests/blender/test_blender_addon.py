"""The Blender extension in real Blender (bpy 5.0, headless) against a real service running
the bundled model: build, install, a keyframed direction, generate, the stem on the
timeline, a 4-channel mixdown, cancel, and a stopped service."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("blender")
    subprocess.run(
        [str(MAIN_VENV / "omnifoa"), "synth", "--count", "1", "--seconds", "4", "--out",
         str(root / "scene"), "--seed", "2", "--fps", "24"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    video = next((root / "scene").glob("*.mp4"))
    zip_path = build(Path(sys.executable), root / "dist")
    out = root / "stems"
    out.mkdir()
    return {"root": root, "video": video, "zip": zip_path, "state": root / "state", "out": out}


@pytest.fixture(scope="module")
def reaper(workspace):
    """REAPER's stand-in (real Lua ingest, emulated OSC surface) in a main-venv process."""
    folder = workspace["root"] / "reaper"
    folder.mkdir()
    process = subprocess.Popen(
        [str(MAIN_VENV / "python"), str(ROOT / "tests" / "reaper_emulator.py"), str(folder)],
        cwd=ROOT / "tests",
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
    prefs.executable = str(MAIN_VENV / "omnifoa")
    prefs.output_dir = str(workspace["out"])
    return module


@pytest.fixture(scope="module")
def scene(workspace, addon):
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
    scene.omnifoa.steps = 2
    scene.omnifoa.seed = 5
    return scene


def service_record(workspace, job_id: str) -> dict:
    state = json.loads((workspace["state"] / "service.json").read_text())
    request = urllib.request.Request(f"{state['url']}/v1/jobs/{job_id}")
    request.add_header("Authorization", f"Bearer {state['token']}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["job"]


def follow(addon, scene, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while addon.jobs.poll_jobs() is not None:
        assert time.monotonic() < deadline, scene.omnifoa.job_message
        time.sleep(0.2)


def test_the_extension_builds_validates_and_declares_its_network_use(workspace) -> None:
    import zipfile

    with zipfile.ZipFile(workspace["zip"]) as z:
        names = set(z.namelist())
        manifest = z.read("blender_manifest.toml").decode()
    assert {"__init__.py", "directions.py", "blender_manifest.toml"} <= names
    assert "build.py" not in names
    assert 'network = "' in manifest
    product = (ROOT / "manifest.toml").read_text()
    version = next(line for line in manifest.splitlines() if line.startswith("version"))
    assert version in product  # kept in step with the plugin manifest


def test_the_panel_sees_the_strip_and_its_trim(scene, addon) -> None:
    strip = addon.strip_source.source_strip(scene)
    info = addon.strip_source.source_info(strip)
    assert (info.width, info.height, info.fps) == (512, 256, 24.0)
    assert (info.final_start, info.final_end) == (22, 106)
    assert info.start_seconds == pytest.approx(0.5)
    assert info.end_seconds == pytest.approx(4.0)
    assert info.warning is None
    assert bpy.types.OMNIFOA_PT_generate.bl_space_type == "SEQUENCE_EDITOR"


def test_generate_puts_a_4_channel_stem_on_the_timeline(scene, addon, workspace) -> None:
    assert bpy.ops.omnifoa.generate() == {"FINISHED"}  # starts the service from preferences
    job_id = scene.omnifoa.job_id
    follow(addon, scene)
    assert scene.omnifoa.job_state == "done", scene.omnifoa.job_message
    sounds = [s for s in scene.sequence_editor.strips_all if s.type == "SOUND"]
    assert len(sounds) == 1
    sound = sounds[0]
    assert sound.name == "pano FOA seed 5"
    assert sound.channel == 2
    assert sound.frame_final_start == 22
    assert sound.sound.channels == "CHANNELS_4"
    assert abs(sound.frame_final_end - 106) <= 1
    # the job carried the keyframed direction: 0° at 0.5 s rising to 90° at 2.5 s, then held
    path = service_record(workspace, job_id)["request"]["path"]
    keys = {round(k["t"], 3): k["yaw"] for k in path["keys"]}
    assert keys[0.5] == pytest.approx(0.0, abs=0.5)
    assert keys[2.5] == pytest.approx(90.0, abs=0.5)
    assert keys[4.0] == pytest.approx(90.0, abs=0.5)
    assert 0.0 < keys[1.5] < 90.0
    assert scene.omnifoa.suggest_surround


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


def test_cancel_stops_the_job_and_adds_nothing(scene, addon, workspace) -> None:
    before = len(scene.sequence_editor.strips_all)
    scene.omnifoa.seed, scene.omnifoa.steps = 6, 200
    assert bpy.ops.omnifoa.generate() == {"FINISHED"}
    deadline = time.monotonic() + 120
    while service_record(workspace, scene.omnifoa.job_id)["percent"] <= 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert bpy.ops.omnifoa.cancel() == {"FINISHED"}
    follow(addon, scene, 60)
    assert scene.omnifoa.job_state == "cancelled"
    assert len(scene.sequence_editor.strips_all) == before
    assert not list(workspace["out"].glob("pano_seed6*"))
    scene.omnifoa.steps = 2


def test_aim_at_the_action_lets_the_service_follow_the_moving_object(
    scene, addon, workspace
) -> None:
    scene.omnifoa.aim_action, scene.omnifoa.seed = True, 7
    try:
        assert bpy.ops.omnifoa.generate() == {"FINISHED"}
        job_id = scene.omnifoa.job_id
        follow(addon, scene)
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


def test_a_stopped_service_gives_a_clear_report(scene, addon, workspace) -> None:
    state = json.loads((workspace["state"] / "service.json").read_text())
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 30
    while (workspace["state"] / "service.json").exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    prefs = bpy.context.preferences.addons[ADDON].preferences
    prefs.executable = ""
    # headless, Blender turns an operator's ERROR report into RuntimeError with its text
    with pytest.raises(RuntimeError, match="start it with `omnifoa serve`"):
        bpy.ops.omnifoa.generate()
    assert scene.omnifoa.job_state == "failed"
    assert "omnifoa serve" in scene.omnifoa.job_message
    prefs.executable = str(workspace["root"] / "no-such-program")
    with pytest.raises(RuntimeError, match="is not a program"):
        bpy.ops.omnifoa.generate()
    assert "not a program" in scene.omnifoa.job_message


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
