"""A service killed (SIGKILL) at each moment of a job, then started again on the same journal:
what the user finds in the output folder always matches what the journal reports, partial
files are gone, and files a job was replacing are back. A journal holding records that cannot
be read does not stop the service."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hostile_inputs import snapshot
from service_process import Service, exchange, job_body

from plugin_core.service.jobs import INTERRUPTED


def crash_then_restart(
    assets: dict[str, Path], state: Path, moment: str, request: dict
) -> tuple[dict, str]:
    """Submit ``request`` to a service that dies at ``moment``; the job's record as a fresh
    service reports it, and what that service printed."""
    crashing = Service(
        state, assets["registry"], module="crashing_service", OMNIFOA_TEST_CRASH=moment
    )
    job_id = crashing.client.submit(request)["id"]
    assert crashing.process.wait(120) == -9  # it really was killed
    fresh = Service(state, assets["registry"])
    try:
        record = fresh.client.job(job_id)
    finally:
        out, _ = fresh.stop()
    return record, out


@pytest.mark.parametrize(
    ("moment", "state", "files", "says"),
    [
        ("execute", "failed", [], INTERRUPTED),
        ("move:1", "failed", [], INTERRUPTED),
        ("move:2", "done", ["stem.wav"], "sidecar(s) stem.wav.json were not written"),
        ("done", "done", ["stem.wav", "stem.wav.json"], None),
    ],
    ids=["starting", "before-any-move", "between-stem-and-sidecar", "after-the-moves"],
)
def test_a_job_killed_at_each_moment_is_reported_as_what_is_on_disk(
    assets, tmp_path: Path, moment: str, state: str, files: list[str], says: str | None
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    record, _ = crash_then_restart(assets, tmp_path / "state", moment, job_body(assets, out))
    assert record["state"] == state
    assert sorted(p.name for p in out.iterdir()) == files  # no partials, no orphans
    if says is None:
        assert record["error"] is None
    else:
        assert says in record["error"]
    if state == "done":
        assert record["outputs"] == [str(out / "stem.wav")]


def test_files_a_killed_job_was_replacing_are_put_back(assets, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "stem.wav").write_bytes(b"the take the mixer approved")
    (out / "stem.wav.json").write_text('{"the": "sidecar of that take"}')
    before = snapshot(out)
    request = job_body(assets, out, overwrite=True)
    record, _ = crash_then_restart(assets, tmp_path / "state", "move:2", request)
    assert record["state"] == "failed"
    assert snapshot(out) == before  # the old stem had been set aside; it is back


def strictly_parsed(text: str) -> object:
    def refuse(constant: str) -> float:
        raise AssertionError(f"the service sent {constant}, which is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    "record",
    [
        b"",
        b"\xff\xfe garbage",
        b"[1, 2, 3]",
        b'{"id": "../../etc/passwd", "state": "running"}',
        b"[" * 50000 + b"]" * 50000,
        b'{"id": "' + b"a" * 32 + b'", "state": "running", "planned": [1, {"x": NaN}]',
    ],
    ids=["empty", "binary", "list", "bad-id", "deep", "truncated"],
)
def test_a_malformed_journal_record_is_set_aside_and_the_service_starts(
    assets, tmp_path: Path, record: bytes
) -> None:
    journal = tmp_path / "state" / "jobs"
    journal.mkdir(parents=True)
    bad = journal / ("f" * 32 + ".json")
    bad.write_bytes(record)
    good = {"id": "e" * 32, "state": "done", "stage": "done", "error": None, "eta_s": math.inf}
    (journal / ("e" * 32 + ".json")).write_text(json.dumps(good))  # a NaN-ish field, too
    service = Service(tmp_path / "state", assets["registry"])
    try:
        listing = service.client.jobs()
        status, text = exchange(service, "GET", "/v1/jobs")
    finally:
        out, err = service.stop()
    assert [j["id"] for j in listing] == ["e" * 32]
    assert status == 200
    strictly_parsed(text)
    assert not bad.exists()
    assert bad.with_suffix(".bad").read_bytes() == record  # kept for the user, not deleted
    said = [line for line in out.splitlines() if "journal record" in line]
    assert len(said) == 1
    assert bad.name in said[0]
    assert "Traceback" not in err
