"""Batch jobs on the real service (``POST /v1/batches``): every shot checked before any work,
one failure that does not stop the others, one overall progress with each shot's state, a
rerun that skips what is made, and a cancel that leaves nothing partial."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from service_process import Service, exchange, job_body

from plugin_core.batch.runner import NOT_STARTED
from plugin_core.media.audio_io import read_foa
from plugin_core.service.batch_job import INTERRUPTED_BATCH
from plugin_core.service.client import ServiceError

FINAL = ("done", "failed", "cancelled")
SHOT_KEYS = {"shot", "origin", "video", "output", "state", "percent", "seconds", "reason"}


def corrupt_video(folder: Path) -> Path:
    video = folder / "corrupt.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    return video


def followed(service, record: dict) -> tuple[dict, list[dict]]:
    """Poll the job to its end: the final record and every record seen on the way."""
    seen = [record]
    while record["state"] not in FINAL:
        time.sleep(0.05)
        record = service.client.job(record["id"])
        seen.append(record)
    return record, seen


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_two_good_shots_and_a_corrupt_one_give_two_stems_and_one_reason(
    service, assets, tmp_path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    shots = [
        job_body(assets, out, name="a.wav", seed=1, shot="A"),
        job_body(assets, out, name="b.wav", shot="B", video=str(corrupt_video(tmp_path))),
        job_body(assets, out, name="c.wav", seed=2, shot="C"),
    ]
    record, seen = followed(service, service.client.submit_batch(shots))
    assert record["kind"] == "batch"
    assert record["state"] == "done", record["error"]
    assert record["error"] == "1 of 3 shots failed; each failed shot gives its reason."
    assert record["outputs"] == [str(out / "a.wav"), str(out / "c.wav")]
    percents = [r["percent"] for r in seen]
    assert percents == sorted(percents)
    assert percents[-1] == 100.0
    assert any(0 < p < 100 for p in percents)  # one bar that moves, not a jump at the end
    shots_seen = record["shots"]
    assert [set(s) for s in shots_seen] == [SHOT_KEYS] * 3
    assert [(s["shot"], s["origin"], s["state"]) for s in shots_seen] == [
        ("A", "shot 1", "done"),
        ("B", "shot 2", "failed"),
        ("C", "shot 3", "done"),
    ]
    reason = shots_seen[1]["reason"]
    assert reason
    assert "\n" not in reason
    assert "Traceback" not in reason
    assert "corrupt.mp4" in reason, reason
    assert shots_seen[0]["reason"] is None
    assert shots_seen[2]["reason"] is None
    for name in ("a.wav", "c.wav"):
        audio, rate = read_foa(out / name)
        assert audio.shape == (4, pytest.approx(rate, abs=2))  # the 1 s each shot asked for
    assert files_in(out) == ["a.wav", "a.wav.json", "c.wav", "c.wav.json"]  # no scratch left
    # the journal holds the same record, each shot's end included
    journal = json.loads((service.state / "jobs" / f"{record['id']}.json").read_text())
    assert [s["state"] for s in journal["shots"]] == ["done", "failed", "done"]

    # run again: the made shots are skipped, byte for byte untouched; the corrupt one fails again
    made = {name: (out / name).read_bytes() for name in ("a.wav", "c.wav")}
    again, _ = followed(service, service.client.submit_batch(shots))
    assert [s["state"] for s in again["shots"]] == ["skipped", "failed", "skipped"]
    assert again["outputs"] == record["outputs"]
    assert {name: (out / name).read_bytes() for name in made} == made


def test_a_shot_that_cannot_be_read_refuses_the_whole_batch_naming_it(
    service, assets, tmp_path
) -> None:
    before = len(service.client.jobs())
    good = job_body(assets, tmp_path, name="a.wav")
    for bad, words in [
        ({**good, "name": "b.wav", "seed": -1}, "shot 2: "),
        ({**good, "name": "b.wav", "client_key": "x"}, "shot 2: Unknown shot field 'client_key'"),
        ({**good, "name": "b.wav", "video": "relative.mp4"}, "shot 2: The video path"),
    ]:
        with pytest.raises(ServiceError, match=words):
            service.client.submit_batch([good, bad])
    for body in (b'{"shots": []}', b'{"shots": [1]}', b'{"jobs": []}', b"[]"):
        status, text = exchange(service, "POST", "/v1/batches", body)
        assert status == 400, text
        assert "\n" not in json.loads(text)["error"]
    assert len(service.client.jobs()) == before  # nothing was queued
    assert files_in(tmp_path) == []


def test_two_shots_writing_one_stem_fail_the_batch_before_any_work(
    service, assets, tmp_path
) -> None:
    shots = [job_body(assets, tmp_path, seed=1), job_body(assets, tmp_path, seed=2)]
    record, _ = followed(service, service.client.submit_batch(shots))
    assert record["state"] == "failed"
    assert record["error"].startswith("shot 2: ")
    assert "Nothing was made" in record["error"]
    assert [s["state"] for s in record["shots"]] == ["queued", "queued"]
    assert files_in(tmp_path) == []


def test_cancel_stops_the_running_shot_starts_no_other_and_leaves_nothing_partial(
    service, assets, tmp_path
) -> None:
    shots = [
        job_body(assets, tmp_path, name="a.wav", shot="quick"),
        job_body(assets, tmp_path, name="b.wav", steps=400, end=3.0, shot="long"),
        job_body(assets, tmp_path, name="c.wav", shot="never"),
    ]
    record = service.client.submit_batch(shots)
    while (record := service.client.job(record["id"]))["shots"][1]["percent"] <= 0:
        assert record["state"] not in FINAL, record
        time.sleep(0.02)
    service.client.cancel(record["id"])
    final = service.client.wait(record["id"], 60)
    assert final["state"] == "cancelled"
    assert [s["state"] for s in final["shots"]] == ["done", "cancelled", "cancelled"]
    assert final["shots"][1]["reason"] == "Cancelled; nothing of this shot was written."
    assert final["outputs"] == [str(tmp_path / "a.wav")]  # the shot done before the cancel
    assert files_in(tmp_path) == ["a.wav", "a.wav.json"]  # nothing of the others, no scratch


def test_a_service_killed_mid_batch_keeps_the_whole_shots_and_removes_the_rest(
    assets, tmp_path_factory: pytest.TempPathFactory
) -> None:
    state, out = tmp_path_factory.mktemp("killed_batch"), tmp_path_factory.mktemp("batch_out")
    first = Service(state, assets["registry"])
    shots = [
        job_body(assets, out, name="a.wav"),
        job_body(assets, out, name="b.wav", steps=400, end=3.0),
    ]
    record = first.client.submit_batch(shots)
    while first.client.job(record["id"])["shots"][1]["percent"] < 30:
        time.sleep(0.05)
    assert list(out.glob(".b.wav.*.batch"))  # the second shot was being made
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(30)
    second = Service(state, assets["registry"])
    try:
        after = second.client.job(record["id"])
    finally:
        second.stop()
    assert after["state"] == "failed"
    assert after["error"] == INTERRUPTED_BATCH
    assert [s["state"] for s in after["shots"]] == ["done", "failed"]
    assert after["outputs"] == [str(out / "a.wav")]
    assert files_in(out) == ["a.wav", "a.wav.json"]


def test_a_batch_cancelled_while_queued_says_each_shot_never_started(
    service, assets, tmp_path
) -> None:
    busy = service.client.submit(job_body(assets, tmp_path, name="busy.wav", steps=400, end=3.0))
    batch = service.client.submit_batch(
        [job_body(assets, tmp_path, name=f"{n}.wav", shot=n) for n in ("a", "b")]
    )
    assert service.client.job(batch["id"])["state"] == "queued"  # behind the busy job
    cancelled = service.client.cancel(batch["id"])
    service.client.cancel(busy["id"])
    assert cancelled["state"] == "cancelled"
    assert [(s["state"], s["reason"]) for s in cancelled["shots"]] == [
        ("cancelled", NOT_STARTED),
        ("cancelled", NOT_STARTED),
    ]
    service.client.wait(busy["id"], 60)
    assert files_in(tmp_path) == []


def test_a_batch_is_not_handed_to_reaper_as_one_stem(service, assets, tmp_path) -> None:
    record = service.client.submit_batch([job_body(assets, tmp_path, name="a.wav", shot="a")])
    assert service.client.wait(record["id"], 120)["state"] == "done"
    with pytest.raises(ServiceError) as refused:
        service.client.send_to_reaper(record["id"], position=0.0)
    assert refused.value.status == 409
    assert "one by one" in str(refused.value)
