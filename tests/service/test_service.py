"""The local service as a real process on a random port, with a tiny registered model:
jobs with progress, duplicates, cancel, a kill -9 and restart, 50 jobs with random cancels,
and every kind of bad request refused with a 4xx and one sentence."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hostile_inputs import snapshot
from reaper_stub import OscSurface, Reaper, run_script
from service_process import MODEL, Service

from plugin_core.install_paths import LUA_DIR
from plugin_core.media.audio_io import read_foa
from plugin_core.media.video import write_video
from plugin_core.service.client import ServiceError
from plugin_core.service.jobs import INTERRUPTED
from plugin_core.synthsphere import make_scene, render_frames


def job(assets, out: Path, name: str = "stem.wav", **fields) -> dict:
    return {
        "video": str(assets["video"]),
        "output_dir": str(out),
        "name": name,
        "model": MODEL,
        "steps": 2,
        **fields,
    }


def raw(service: Service, method: str, path: str, body: bytes | None, token: str | None):
    request = urllib.request.Request(service.client.url + path, data=body, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_service_is_local_and_its_token_file_is_private(service: Service) -> None:
    assert service.client.url.startswith("http://127.0.0.1:")
    mode = stat.S_IMODE((service.state / "service.json").stat().st_mode)
    assert mode == 0o600
    assert service.client.health()["status"] == "ok"
    assert any(m["id"] == MODEL and m["installed"] for m in service.client.models())


@pytest.mark.parametrize("token", [None, "wrong", ""])
def test_requests_without_the_token_are_refused(service: Service, token) -> None:
    status, body = raw(service, "GET", "/v1/health", None, token)
    assert status == 401
    assert "token" in body["error"]
    status, _ = raw(service, "POST", "/v1/jobs", b"{}", token)
    assert status == 401


def test_a_job_reports_progress_and_delivers_its_stem(service, assets, tmp_path) -> None:
    record = service.client.submit(job(assets, tmp_path, seed=3))
    seen = []
    while record["state"] not in ("done", "failed", "cancelled"):
        seen.append((record["stage"], record["percent"]))
        time.sleep(0.05)
        record = service.client.job(record["id"])
    assert record["state"] == "done", record["error"]
    percents = [p for _, p in seen]
    assert percents == sorted(percents)
    assert record["percent"] == 100.0
    assert record["outputs"] == [str(tmp_path / "stem.wav")]
    audio, rate = read_foa(tmp_path / "stem.wav")
    assert audio.shape[0] == 4
    assert abs(audio.shape[1] - 3.0 * rate) <= 2
    sidecar = json.loads((tmp_path / "stem.wav.json").read_text())
    assert sidecar["request"]["seed"] == 3


def test_the_same_client_key_twice_is_one_job(service, assets, tmp_path) -> None:
    body = job(assets, tmp_path, end=1.0, client_key="blender-42")
    status, first = raw(
        service, "POST", "/v1/jobs", json.dumps(body).encode(), service.client.token
    )
    status_again, again = raw(
        service, "POST", "/v1/jobs", json.dumps(body).encode(), service.client.token
    )
    assert (status, status_again) == (202, 200)
    assert first["job"]["id"] == again["job"]["id"]
    assert service.client.wait(first["job"]["id"], 120)["state"] == "done"
    assert sum(j["client_key"] == "blender-42" for j in service.client.jobs()) == 1
    # the same request without the key would overwrite the stem: refused
    del body["client_key"]
    with pytest.raises(ServiceError, match="exists"):
        service.client.submit(body)


def test_cancel_stops_a_running_job_and_leaves_nothing(service, assets, tmp_path) -> None:
    record = service.client.submit(job(assets, tmp_path, steps=400))
    while (record := service.client.job(record["id"]))["percent"] <= 0:
        time.sleep(0.02)
    service.client.cancel(record["id"])
    final = service.client.wait(record["id"], 60)
    assert final["state"] == "cancelled"
    assert final["percent"] < 100
    assert list(tmp_path.iterdir()) == []


def test_fifty_jobs_with_random_cancels_all_end_in_a_final_state(service, assets, tmp_path):
    rng = np.random.default_rng(7)
    ids = [
        service.client.submit(job(assets, tmp_path, f"s{i}.wav", steps=1, end=1.0, seed=i))["id"]
        for i in range(50)
    ]
    cancelled = {ids[i] for i in rng.choice(50, size=15, replace=False)}
    for job_id in cancelled:
        service.client.cancel(job_id)
        time.sleep(float(rng.uniform(0, 0.05)))
    finals = {job_id: service.client.wait(job_id, 300) for job_id in ids}
    assert {r["state"] for r in finals.values()} <= {"done", "cancelled"}
    for job_id, record in finals.items():
        made = Path(record["request"]["output"]).exists()
        assert made == (record["state"] == "done")
        if job_id not in cancelled:
            assert record["state"] == "done"
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"video": "x"}).encode(), 400, "needs the field"),
        (b" " * (65 * 1024), 413, "at most"),
    ],
)
def test_malformed_and_oversized_bodies_are_refused(service, body, status, message) -> None:
    code, reply = raw(service, "POST", "/v1/jobs", body, service.client.token)
    assert code == status
    assert message in reply["error"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"video": "relative/scene.mp4"}, "must be absolute"),
        ({"video": "/nonexistent/scene.mp4"}, "does not exist"),
        ({"output_dir": "/nonexistent/out"}, "existing absolute folder"),
        ({"name": "../escape.wav"}, "plain file name"),
        ({"name": ".hidden.wav"}, "plain file name"),
        ({"name": "stem.exe"}, "plain file name"),
        ({"unexpected": 1}, "Unknown job field"),
        ({"seed": "7"}, "seed must be a number"),
        ({"steps": True}, "steps must be a number"),
        ({"variations": 500}, "variations must be between 1 and 16"),
        ({"aim": "yes"}, "aim must be true or false"),
        ({"yaw": 1e308 * 10}, "yaw must be a finite number"),
        ({"cfg": -1.0}, "cfg must be between 0 and 100"),
        ({"level": "loud"}, "level must be one of loudness, peak, off"),
        ({"sample_rate": 22050}, "sample_rate must be 44100 or 48000"),
        (
            {
                "aim": True,
                "path": {
                    "format": "omnifoa-direction-path",
                    "version": 1,
                    "keys": [{"t": 0, "yaw": 0, "pitch": 0}],
                },
            },
            "not both",
        ),
    ],
)
def test_bad_paths_and_fields_are_refused(service, assets, tmp_path, change, message) -> None:
    with pytest.raises(ServiceError, match=message) as caught:
        service.client.submit({**job(assets, tmp_path), **change})
    assert caught.value.status == 400
    assert list(tmp_path.iterdir()) == []


def test_waiting_for_a_job_is_answered_as_it_ends_without_polling(
    service, assets, tmp_path
) -> None:
    token = service.client.token
    record = service.client.submit(job(assets, tmp_path, end=2.0, steps=40))
    asked = time.monotonic()
    status, held = raw(service, "GET", f"/v1/jobs/{record['id']}?wait=0.3", None, token)
    # not over yet: the answer comes after the wait, with the job as it stands
    assert status == 200
    assert held["job"]["state"] in ("queued", "running")
    assert time.monotonic() - asked >= 0.3
    answers = 0
    while True:
        status, answer = raw(service, "GET", f"/v1/jobs/{record['id']}?wait=10", None, token)
        answers += 1
        if answer["job"]["state"] == "done":
            break
    heard = time.time()
    assert answers <= 3  # a long job costs a request every 10 s, not one every poll
    # answered the moment the job ended (its record says when), not up to a poll later
    assert heard - answer["job"]["finished"] < 0.25
    for wait, code in (("11", 400), ("-1", 400), ("1e3", 400), ("", 400)):
        assert raw(service, "GET", f"/v1/jobs/{record['id']}?wait={wait}", None, token)[0] == code
    assert raw(service, "GET", f"/v1/jobs/{'0' * 32}?wait=1", None, token)[0] == 404


def test_unknown_jobs_and_endpoints_are_404(service) -> None:
    with pytest.raises(ServiceError) as caught:
        service.client.job("0" * 32)
    assert caught.value.status == 404
    assert raw(service, "GET", "/v1/nothing", None, service.client.token)[0] == 404


def test_a_35_s_video_comes_back_as_one_file_of_its_length(service, tmp_path) -> None:
    video = tmp_path / "long.mp4"
    write_video(video, render_frames(make_scene(8, 35.0), 128, 64, 8.0), 8.0)
    out = tmp_path / "out"
    out.mkdir()
    body = {"video": str(video), "output_dir": str(out), "name": "long.wav", "model": MODEL}
    record = service.client.wait(service.client.submit({**body, "steps": 1})["id"], 300)
    assert record["state"] == "done", record["error"]
    audio, rate = read_foa(out / "long.wav")
    assert abs(audio.shape[1] - 35.0 * rate) <= 2
    windows = json.loads((out / "long.wav.json").read_text())["windows"]
    assert len(windows) == 47  # 1 s windows every 0.75 s
    assert windows[-1]["end"] == pytest.approx(35.0, abs=1e-4)


def test_a_killed_service_reports_the_cut_job_failed_and_leaves_no_file(
    assets, tmp_path_factory: pytest.TempPathFactory
) -> None:
    state = tmp_path_factory.mktemp("killed")
    out = tmp_path_factory.mktemp("killed_out")
    first = Service(state, assets["registry"])
    record = first.client.submit(job(assets, out, steps=400))
    while first.client.job(record["id"])["percent"] < 30:
        time.sleep(0.05)
    assert list(out.glob(".stem.*.partial.wav"))  # the stem was being written
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(30)
    second = Service(state, assets["registry"])
    try:
        after = second.client.job(record["id"])
        assert after["state"] == "failed"
        assert after["error"] == INTERRUPTED
        assert list(out.iterdir()) == []
    finally:
        second.stop()


def test_a_finished_job_goes_to_reaper_through_the_bridge(assets, tmp_path_factory) -> None:
    root = tmp_path_factory.mktemp("reaper")
    shutil.copytree(LUA_DIR, root / "REAPER" / "Scripts")
    reaper = Reaper(root / "REAPER")
    run_script(root / "REAPER" / "Scripts" / "omnifoa_install.lua", reaper)
    surface = OscSurface(reaper)
    bridge = root / "REAPER" / "omnifoa" / "bridge.json"
    running = Service(root / "state", assets["registry"], OMNIFOA_REAPER_CONFIG=str(bridge))
    try:
        out = root / "out"
        out.mkdir()
        record = running.client.submit(job(assets, out, start=0.5, end=2.0, variations=2))
        with pytest.raises(ServiceError, match="not done") as caught:
            running.client.send_to_reaper(record["id"], port=surface.port)
        assert caught.value.status == 409
        assert running.client.wait(record["id"], 120)["state"] == "done"
        ack = running.client.send_to_reaper(record["id"], port=surface.port)
    finally:
        running.stop()
        surface.close()
    assert ack["status"] == "ok", ack
    stem = reaper.tracks[1]
    assert stem.nchan == 4
    [item] = stem.items
    assert item.position == 0.5  # where the span starts in the video
    # the job's stem has a take per variation: one item, a REAPER take each, take 1 playing
    takes = out / "stem.wav.takes"
    assert [t.source.path for t in item.takes] == [
        str(takes / "take1.wav"),
        str(takes / "take2.wav"),
    ]
    assert item.active is item.takes[0]
    assert record["request"]["variations"] == 2


def test_cancel_needs_no_body(service, assets, tmp_path) -> None:
    record = service.client.submit(job(assets, tmp_path, steps=400))
    status, reply = raw(
        service, "POST", f"/v1/jobs/{record['id']}/cancel", None, service.client.token
    )
    assert status == 200, reply
    assert service.client.wait(record["id"], 60)["state"] == "cancelled"
    assert list(tmp_path.iterdir()) == []


def made_stem(service: Service, assets, folder: Path) -> Path:
    """A 2 s stem the service generated in ``folder``."""
    record = service.client.submit(job(assets, folder, end=2.0))
    record = service.client.wait(record["id"], 120)
    assert record["state"] == "done", record["error"]
    return Path(record["outputs"][0])


def test_regenerate_replaces_only_the_range_with_a_new_chosen_take(
    service, assets, tmp_path
) -> None:
    stem = made_stem(service, assets, tmp_path)
    before, rate = sf.read(str(stem), dtype="float64", always_2d=True)
    record = service.client.regenerate(stem, 0.5, 1.5, seed=5)
    assert (record["kind"], record["state"]) == ("regenerate", "queued")
    record = service.client.wait(record["id"], 120)
    assert record["state"] == "done", record["error"]
    assert record["edit"] == {"stem": str(stem), "from": 0.5, "to": 1.5, "seed": 5, "takes": 1}
    assert (record["outputs"], record["takes"]) == ([str(stem)], [2])
    after, _ = sf.read(str(stem), dtype="float64", always_2d=True)
    start, end = round(0.5 * rate), round(1.5 * rate)
    assert after.shape == before.shape
    assert np.array_equal(after[:start], before[:start])  # bit-identical outside the range
    assert np.array_equal(after[end:], before[end:])
    assert not np.array_equal(after[start:end], before[start:end])
    sidecar = json.loads((tmp_path / "stem.wav.json").read_text())
    assert [t["number"] for t in sidecar["takes"]] == [1, 2]
    assert sidecar["chosen"] == 2
    takes = sorted(p.name for p in (tmp_path / "stem.wav.takes").iterdir())
    assert takes == ["take1.wav", "take2.wav"]
    assert not list(tmp_path.rglob(".*partial*"))
    listed = {j["id"]: j for j in service.client.jobs()}
    assert listed[record["id"]]["kind"] == "regenerate"
    journal = json.loads((service.state / "jobs" / f"{record['id']}.json").read_text())
    planned = [str(stem), *(str(stem.parent / "stem.wav.takes" / t) for t in takes)]
    assert journal["planned"] == planned  # what a crash's recovery cleans up after


def test_a_cancelled_queued_regenerate_changes_no_file(service, assets, tmp_path) -> None:
    stem = made_stem(service, assets, tmp_path)
    (tmp_path / "busy").mkdir()
    before = snapshot(tmp_path)
    busy = service.client.submit(job(assets, tmp_path / "busy", steps=400))
    queued = service.client.regenerate(stem, 0.5, 1.5, client_key="regen-cancel")
    assert queued["state"] == "queued"
    assert service.client.cancel(queued["id"])["state"] == "cancelled"
    service.client.cancel(busy["id"])
    assert service.client.wait(busy["id"], 60)["state"] == "cancelled"
    final = service.client.wait(queued["id"], 60)
    assert (final["state"], final["takes"]) == ("cancelled", [])
    assert snapshot(tmp_path) == before


def test_a_taken_port_is_refused_and_sigterm_stops_the_service_cleanly(
    assets, tmp_path_factory: pytest.TempPathFactory
) -> None:
    state = tmp_path_factory.mktemp("stopped")
    running = Service(state, assets["registry"])
    port = running.client.url.rsplit(":", 1)[1]
    second = tmp_path_factory.mktemp("second")
    taken = subprocess.run(
        [sys.executable, "-m", "plugin_core.cli", "serve", "--port", port, "--state-dir", second],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert taken.returncode == 2
    assert f"Cannot listen on 127.0.0.1:{port}" in taken.stderr
    assert not (second / "service.json").exists()
    running.process.send_signal(signal.SIGTERM)
    _, err = running.stop()
    assert running.process.returncode == 0, err
    assert not (state / "service.json").exists()
    with pytest.raises(ServiceError, match="does not answer"):
        running.client.health()


def test_a_stopping_service_answers_the_clients_waiting_on_a_job(
    assets, tmp_path_factory: pytest.TempPathFactory
) -> None:
    state, out = tmp_path_factory.mktemp("stopping"), tmp_path_factory.mktemp("stopping_out")
    running = Service(state, assets["registry"])
    record = running.client.submit(job(assets, out, steps=400))
    token = running.client.token
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(raw, running, "GET", f"/v1/jobs/{record['id']}?wait=10", None, token)
        time.sleep(1.0)
        stopped = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        status, answer = waiting.result()
    assert status == 200
    assert answer["job"]["state"] in ("queued", "running")
    assert time.monotonic() - stopped < 5  # answered as the service stopped, not 10 s later
    _, err = running.stop()  # the job it ran ends with it; the journal reports it on restart
    assert "Traceback" not in err
    assert not (state / "service.json").exists()
