"""The failure contract on the local service, against a real ``omnifoa serve`` process: every
request field with non-finite, absurd or mistyped values, every endpoint without its token,
malformed HTTP, deeply nested bodies, idle and trickling connections, a client that hangs up,
and an output folder swapped for a link after submit. Each refusal is a 4xx with one sentence
naming what is wrong; no job is accepted that could only fail later, no file appears, and the
service keeps answering and never prints a traceback."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from hostile_inputs import snapshot
from service_process import Service, exchange, job_body

from plugin_core.generation.request import field_specs
from plugin_core.service.http_server import REQUEST_DEADLINE_S


def post(service: Service, text: str | bytes) -> tuple[int, dict]:
    data = text.encode() if isinstance(text, str) else text
    status, reply = exchange(service, "POST", "/v1/jobs", data)
    return status, json.loads(reply)


def job_count(service: Service) -> int:
    return len(service.client.jobs())


def assert_refused(service: Service, out: Path, text: str | bytes, *words: str) -> None:
    """A 4xx with one sentence holding ``words``; no job queued, nothing in ``out``."""
    jobs, before = job_count(service), snapshot(out)
    status, reply = post(service, text)
    assert 400 <= status < 500, (status, reply)
    message = reply["error"]
    assert "\n" not in message
    assert "Traceback" not in message
    for word in words:
        assert word in message, (word, message)
    assert job_count(service) == jobs
    assert snapshot(out) == before


NUMERIC = [name for name, spec in field_specs().items() if spec.kind in ("int", "float")]
HOSTILE_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "1e30", "-1e30", '"12"', "true"]
HOSTILE_NUMBERS += ["[1]", '{"n": 1}', "1.5e308"]


def test_the_numeric_fields_are_the_ones_users_set() -> None:
    assert {"seed", "steps", "cfg", "yaw", "pitch", "fov", "start", "end", "loudness"} <= set(
        NUMERIC
    )


@pytest.mark.parametrize("field", NUMERIC)
@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_every_numeric_field_refuses_hostile_values_by_name(
    service, assets, tmp_path: Path, field: str, value: str
) -> None:
    good = json.dumps(job_body(assets, tmp_path))
    text = good[:-1] + f', "{field}": {value}}}'  # the raw JSON token, NaN included
    assert_refused(service, tmp_path, text, field)


TEXT_FIELDS = [name for name, spec in field_specs().items() if spec.kind == "str" and spec.wire]


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("value", [7, ["euler"], "x" * 10_000, "\u0000"])
def test_every_text_field_refuses_what_is_not_one_of_its_words(
    service, assets, tmp_path: Path, field: str, value: object
) -> None:
    assert_refused(
        service, tmp_path, json.dumps(job_body(assets, tmp_path, **{field: value})), field
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"video": str(Path("/dev/zero"))}, ["regular file"]),
        ({"name": "stem.wav/../../x.wav"}, ["plain file name"]),
        ({"name": "a" * 300 + ".wav"}, ["name"]),
        ({"output_dir": "/proc"}, ["write"]),
        ({"model": "no-such-model"}, ["no-such-model"]),
        ({"sampler": "joint"}, ["joint"]),  # a ViSAGe option asked of an OmniAudio model
        ({"fov": 0.5}, ["fov"]),
        ({"start": 2.0, "end": 2.01}, ["at least"]),
        ({"path": {"format": "omnifoa-direction-path", "version": 1, "keys": "x"}}, ["keys"]),
        (
            {"path": {"format": "omnifoa-direction-path", "version": 1, "keys": [{"t": 0}]}},
            ["yaw"],
        ),
    ],
)
def test_a_job_that_could_only_fail_later_is_refused_at_submit(
    service, assets, tmp_path: Path, change: dict, words: list[str]
) -> None:
    assert_refused(service, tmp_path, json.dumps(job_body(assets, tmp_path, **change)), *words)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 60_000 + "]" * 60_000,
        '{"a":' * 30_000 + "1" + "}" * 30_000,
        "\udcff".encode("utf-8", "surrogatepass"),
        b"\xff\xfe{}",
        "",
    ],
    ids=["nested-list", "nested-object", "lone-surrogate", "not-utf8", "empty"],
)
def test_bodies_that_are_not_json_objects_are_400(service, tmp_path: Path, text) -> None:
    assert_refused(service, tmp_path, text)


ENDPOINTS = [
    ("GET", "/v1/health"),
    ("GET", "/v1/models"),
    ("GET", "/v1/schema"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs/" + "0" * 32),
    ("POST", "/v1/jobs"),
    ("POST", "/v1/jobs/" + "0" * 32 + "/cancel"),
    ("POST", "/v1/jobs/" + "0" * 32 + "/reaper"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("token", [None, "", "wrong", "x" * 5000])
def test_every_endpoint_wants_the_token(service, method: str, path: str, token) -> None:
    data = b"{}" if method == "POST" else None
    status, reply = exchange(service, method, path, data, token=token)
    assert status == 401
    assert "token" in json.loads(reply)["error"]


@pytest.mark.parametrize(
    ("path", "status"),
    [("/v1/jobs/../../etc/passwd", 404), ("/v1/jobs/" + "Z" * 32, 404), ("/" + "a" * 5000, 404)],
)
def test_odd_paths_are_404_not_files(service, path: str, status: int) -> None:
    code, reply = exchange(service, "GET", path)
    assert code == status
    assert "root:" not in reply


def send_raw(service: Service, data: bytes, wait: float = 5.0) -> bytes:
    """Send bytes as they are on a fresh connection; what comes back before it closes."""
    host, port = service.client.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def authorised(service: Service) -> bytes:
    return f"Authorization: Bearer {service.client.token}\r\n".encode()


@pytest.mark.parametrize(
    ("length", "status"),
    [
        ("\u0661\u0662".encode(), b"400"),  # Arabic-Indic digits: int() would take them
        (b"-1", b"400"),
        (b"99999999999999999999", b"400"),
        (b"70000", b"413"),
        (b"1_0", b"400"),
    ],
)
def test_a_bad_content_length_is_a_clear_4xx(service, length: bytes, status: bytes) -> None:
    reply = send_raw(
        service,
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\n"
        + authorised(service)
        + b"Content-Length: "
        + length
        + b"\r\n\r\n{}",
    )
    assert reply.split(b" ")[1] == status, reply[:200]
    assert service.client.health()["status"] == "ok"


def test_garbage_instead_of_http_is_answered_and_forgotten(service) -> None:
    for garbage in (b"\x00\x01\x02 not http at all\r\n\r\n", b"BREW /pot HTTP/1.1\r\n\r\n"):
        reply = send_raw(service, garbage)
        sentence = json.loads(reply[reply.index(b"{") :])["error"]  # JSON, even for HTTP/0.9
        assert sentence.endswith(".")
    assert service.client.health()["status"] == "ok"


def test_a_client_that_hangs_up_mid_body_costs_nothing(service) -> None:
    host, port = service.client.url.removeprefix("http://").split(":")
    for _ in range(5):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\n"
                + authorised(service)
                + b'Content-Length: 5000\r\n\r\n{"video":'
            )
    assert service.client.health()["status"] == "ok"


def service_threads(service: Service) -> int:
    status = Path(f"/proc/{service.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads")))


def test_idle_connections_are_bounded_and_dropped(service) -> None:
    host, port = service.client.url.removeprefix("http://").split(":")
    baseline = service_threads(service)
    idle = [socket.create_connection((host, int(port)), timeout=30) for _ in range(60)]
    try:
        time.sleep(1.0)
        assert service_threads(service) <= baseline + 32  # no thread per connection beyond that
        deadline = time.monotonic() + 30
        for sock in idle:  # each is closed by the service, not left open forever
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                assert sock.recv(1024) == b""
            except ConnectionResetError:
                pass
            except TimeoutError:
                pytest.fail("an idle connection was still open 30 s later")
    finally:
        for sock in idle:
            sock.close()
    assert service.client.health()["status"] == "ok"


def test_a_request_trickled_a_byte_at_a_time_is_cut_off(service) -> None:
    host, port = service.client.url.removeprefix("http://").split(":")
    started = time.monotonic()
    request = b"GET /v1/health HTTP/1.1\r\n" + b"X-Slow: " + b"a" * 1000
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                time.sleep(0.5)
                if time.monotonic() - started > REQUEST_DEADLINE_S + 15:
                    pytest.fail("the service kept a trickling request open past its deadline")
        except OSError:
            pass  # cut off: what should happen
    assert time.monotonic() - started <= REQUEST_DEADLINE_S + 15
    assert service.client.health()["status"] == "ok"


def test_jobs_are_always_strict_json(service, assets, tmp_path: Path) -> None:
    record = service.client.submit(job_body(assets, tmp_path))
    service.client.wait(record["id"], 120)
    status, text = exchange(service, "GET", "/v1/jobs")
    assert status == 200

    def refuse(constant: str) -> float:
        raise AssertionError(f"{constant} is not JSON")

    listing = json.loads(text, parse_constant=refuse)
    assert any(j["id"] == record["id"] for j in listing["jobs"])


def test_a_folder_swapped_for_a_link_after_submit_gets_no_stem(
    service, assets, tmp_path: Path
) -> None:
    real, elsewhere, other = tmp_path / "takes", tmp_path / "elsewhere", tmp_path / "other"
    for folder in (real, elsewhere, other):
        folder.mkdir()
    blocker = service.client.submit(job_body(assets, other, name="first.wav", steps=300))
    swapped = service.client.submit(job_body(assets, real, name="second.wav"))
    real.rename(tmp_path / "takes-moved")
    real.symlink_to(elsewhere, target_is_directory=True)
    service.client.cancel(blocker["id"])
    final = service.client.wait(swapped["id"], 120)
    assert final["state"] == "failed"
    assert "link" in final["error"]
    assert list(elsewhere.iterdir()) == []
