"""The failure contract on the local service, against a real ``omnifoa serve`` process: every
request field with non-finite, absurd or mistyped values, every endpoint without its token,
malformed HTTP, deeply nested bodies, idle and trickling connections, a client that hangs up,
more long-polls than it answers at once, bad ``?wait=`` values, foreign ``Host`` names, output
folders another user owns or could swap, an output folder swapped for a link after submit, and
regenerate requests naming no omnifoa stem, a bad range or a stem in another user's folder.
Each refusal is a 4xx (or a 503 with ``Retry-After``) with one sentence naming what is wrong; no
job is accepted that could only fail later, no file appears, and the service keeps answering
(health above all) and never prints a traceback."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest
from hostile_inputs import snapshot
from service_process import Service, exchange, job_body

from plugin_core.generation.request import field_specs
from plugin_core.service.connections import REQUEST_DEADLINE_S


def post(service: Service, text: str | bytes, path: str = "/v1/jobs") -> tuple[int, dict]:
    data = text.encode() if isinstance(text, str) else text
    status, reply = exchange(service, "POST", path, data)
    return status, json.loads(reply)


def job_count(service: Service) -> int:
    return len(service.client.jobs())


def assert_refused(
    service: Service, out: Path, text: str | bytes, *words: str, path: str = "/v1/jobs"
) -> None:
    """A 4xx with one sentence holding ``words``; no job queued, nothing in ``out`` changed."""
    jobs, before = job_count(service), snapshot(out)
    status, reply = post(service, text, path)
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
    assert_refused(service, tmp_path, text, path="/v1/batches")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"video": str(Path("/dev/zero"))}, ["shot 2: ", "regular file"]),
        ({"name": "stem.wav/../../x.wav"}, ["shot 2: ", "plain file name"]),
        ({"seed": "NaN"}, ["shot 2: ", "seed"]),
        ({"shot": "x" * 300}, ["shot 2: ", "name"]),
        ({"client_key": "k"}, ["shot 2: ", "client_key"]),
    ],
)
def test_a_batch_with_one_hostile_shot_is_refused_whole_naming_the_shot(
    service, assets, tmp_path: Path, change: dict, words: list[str]
) -> None:
    shots = [job_body(assets, tmp_path), job_body(assets, tmp_path, **{"name": "b.wav", **change})]
    assert_refused(service, tmp_path, json.dumps({"shots": shots}), *words, path="/v1/batches")


ENDPOINTS = [
    ("GET", "/v1/health"),
    ("GET", "/v1/models"),
    ("GET", "/v1/schema"),
    ("GET", "/v1/jobs"),
    ("GET", "/v1/jobs/" + "0" * 32),
    ("POST", "/v1/jobs"),
    ("POST", "/v1/batches"),
    ("POST", "/v1/jobs/" + "0" * 32 + "/cancel"),
    ("POST", "/v1/jobs/" + "0" * 32 + "/reaper"),
    ("POST", "/v1/uploads"),
    ("GET", "/v1/uploads/" + "0" * 32),
    ("PATCH", "/v1/uploads/" + "0" * 32),
    ("DELETE", "/v1/uploads/" + "0" * 32),
    ("GET", "/v1/jobs/" + "0" * 32 + "/files"),
    ("GET", "/v1/jobs/" + "0" * 32 + "/files/stem.wav"),
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
    [
        ("/v1/jobs/../../etc/passwd", 404),
        ("/v1/jobs/" + "Z" * 32, 404),
        ("/" + "a" * 5000, 404),
        ("/v1/uploads/../../etc/passwd", 404),
        ("/v1/uploads/" + "0" * 32 + "/../../service.json", 404),
    ],
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
        b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
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
                b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
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


class Answer(NamedTuple):
    status: int | None
    reply: dict
    retry_after: str | None


def answer(service: Service, path: str, headers: dict[str, str] | None = None) -> Answer:
    """One GET with the token: its status, JSON and ``Retry-After`` (status None: the
    connection was closed without an HTTP answer)."""
    request = urllib.request.Request(service.client.url + path)
    request.add_header("Authorization", f"Bearer {service.client.token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, json.loads(response.read()), None)
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, json.loads(exc.read()), exc.headers.get("Retry-After"))
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return Answer(None, {}, None)


def test_past_the_request_limit_long_polls_are_told_when_to_retry_and_health_answers(
    service, assets, tmp_path: Path
) -> None:
    blocker = service.client.submit(job_body(assets, tmp_path, steps=400))
    wait = f"/v1/jobs/{blocker['id']}?wait=4"
    try:
        with ThreadPoolExecutor(40) as pool:
            polls = [pool.submit(answer, service, wait) for _ in range(40)]
            time.sleep(1.5)  # they are all waiting (or refused) now
            health = [answer(service, "/v1/health").status for _ in range(5)]
            answers = [poll.result() for poll in polls]
    finally:
        service.client.cancel(blocker["id"])
        service.client.wait(blocker["id"], 60)
    assert health == [200] * 5
    assert None not in [a.status for a in answers], "a connection was closed without an answer"
    busy = [a for a in answers if a.status == 503]
    assert busy, "40 long-polls at once are past the limit"
    assert {a.status for a in answers} == {200, 503}
    for refused in busy:
        assert refused.retry_after is not None
        assert refused.retry_after.isdigit()
        assert refused.reply["error"].endswith(".")


def test_forty_trickling_requests_do_not_starve_health(service) -> None:
    host, port = service.client.url.removeprefix("http://").split(":")
    slow = [socket.create_connection((host, int(port)), timeout=5) for _ in range(40)]
    stop = threading.Event()

    def trickle() -> None:
        for sock in slow:
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nX-Slow: ")
        while not stop.wait(0.2):
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.sendall(b"a")

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        time.sleep(0.5)
        answered = [answer(service, "/v1/health").status for _ in range(20)]
    finally:
        stop.set()
        trickler.join()
        for sock in slow:
            sock.close()
    assert answered == [200] * 20


BAD_WAITS = ["-1", "nan", ".5", "9.9999", "abc", "", "11", "1e3", "inf", "1,5", "2&wait=3"]


def test_wait_is_0_to_10_seconds_and_anything_else_is_a_400_naming_it(service) -> None:
    for wait in BAD_WAITS:
        status, reply = exchange(service, "GET", f"/v1/jobs/{'0' * 32}?wait={wait}")
        assert status == 400, (wait, status, reply)
        message = json.loads(reply)["error"]
        for word in ("wait", "0", "10"):
            assert word in message, (wait, message)
    for wait in ("0", "0.5", "10", "2.125"):
        assert exchange(service, "GET", f"/v1/jobs/{'0' * 32}?wait={wait}")[0] == 404  # no job


def test_only_loopback_host_names_are_answered(service) -> None:
    port = service.client.url.rsplit(":", 1)[1]
    foreign = ["evil.example", f"evil.example:{port}", f"127.0.0.1.nip.io:{port}"]
    foreign += ["127.0.0.1:1", f"localhost.evil.example:{port}", f"10.0.0.1:{port}", ""]
    for host in foreign:
        reply = send_raw(
            service,
            f"GET /v1/health HTTP/1.1\r\nHost: {host}\r\n".encode()
            + authorised(service)
            + b"Connection: close\r\n\r\n",
        )
        status = int(reply.split(b" ")[1])
        assert 400 <= status < 500, (host, reply[:200])
        assert "Host" in json.loads(reply[reply.index(b"{") :])["error"]
    for host in (
        "127.0.0.1",
        f"127.0.0.1:{port}",
        "localhost",
        f"LocalHost:{port}",
        f"[::1]:{port}",
    ):
        assert exchange(service, "GET", "/v1/health", headers={"Host": host})[0] == 200, host


NOBODY = 65534


def given_away(folder: Path, mode: int = 0o700) -> Path:
    """``folder`` (made now) owned by another user (uid 65534), as only root can do."""
    if os.geteuid() != 0:
        pytest.skip("only root can give a folder to another user")
    folder.mkdir(mode=mode)
    os.chown(folder, NOBODY, NOBODY)
    return folder


def open_to_all(folder: Path) -> Path:
    """``folder`` (made now) writable by every user, without the sticky bit."""
    folder.mkdir()
    folder.chmod(0o777)
    return folder


def theirs(tmp: Path) -> tuple[Path, Path]:
    folder = given_away(tmp / "theirs")
    return folder, folder


def link_to_theirs(tmp: Path) -> tuple[Path, Path]:
    folder = given_away(tmp / "theirs")
    (tmp / "link").symlink_to(folder, target_is_directory=True)
    return tmp / "link", folder


def mine_inside_theirs(tmp: Path) -> tuple[Path, Path]:
    shared = given_away(tmp / "theirs", mode=0o755)
    (shared / "mine").mkdir()  # mine, but they can rename it and put a link in its place
    return shared / "mine", shared


def mine_through_a_link_to_theirs(tmp: Path) -> tuple[Path, Path]:
    _, shared = mine_inside_theirs(tmp)
    (tmp / "via").symlink_to(shared, target_is_directory=True)
    return tmp / "via" / "mine", shared


def open_folder(tmp: Path) -> tuple[Path, Path]:
    folder = open_to_all(tmp / "open")
    return folder, folder


def mine_inside_an_open_folder(tmp: Path) -> tuple[Path, Path]:
    parent = open_to_all(tmp / "open")
    (parent / "mine").mkdir()
    return parent / "mine", parent


@pytest.mark.parametrize(
    "make",
    [
        theirs,
        link_to_theirs,
        mine_inside_theirs,
        mine_through_a_link_to_theirs,
        open_folder,
        mine_inside_an_open_folder,
    ],
)
def test_an_output_folder_another_user_owns_or_could_swap_is_refused(
    service, assets, tmp_path: Path, make
) -> None:
    output_dir, watched = make(tmp_path)
    assert_refused(service, watched, json.dumps(job_body(assets, output_dir)), "output folder")


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/v1/jobs", {"GET", "POST"}), ("/v1/health", {"GET"}), (f"/v1/jobs/{'a' * 32}", {"GET"})],
)
def test_a_method_an_endpoint_does_not_take_is_a_405_naming_the_ones_it_does(
    service, path: str, allowed: set[str]
) -> None:
    request = urllib.request.Request(service.client.url + path, method="DELETE")
    request.add_header("Authorization", f"Bearer {service.client.token}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 405
    named = {m.strip() for m in refused.value.headers["Allow"].split(",")} - {"HEAD"}
    assert named == allowed
    assert "error" in json.loads(refused.value.read())


@pytest.fixture(scope="module")
def stem(service, assets, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 s stem the service generated, for regenerate requests to name."""
    record = service.client.submit(job_body(assets, tmp_path_factory.mktemp("stem")))
    record = service.client.wait(record["id"], 120)
    assert record["state"] == "done", record["error"]
    return Path(record["outputs"][0])


def regenerate_body(stem: Path, changes: dict | None = None) -> str:
    """A regenerate request of 0.2 to 0.8 s of ``stem`` with ``changes`` (None: left out)."""
    body = {"stem": str(stem), "from": 0.2, "to": 0.8, **(changes or {})}
    return json.dumps({k: v for k, v in body.items() if v is not None})


def refuse_regenerate(service: Service, folder: Path, text: str, *words: str) -> None:
    assert_refused(service, folder, text, *words, path="/v1/regenerate")


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"stem": "relative/stem.wav"}, ["stem path must be absolute"]),
        ({"stem": None}, ["needs the field 'stem'"]),
        ({"stem": "/nonexistent/stem.wav"}, ["stem", "does not exist"]),
        ({"stem": 7}, ["'stem' must be text"]),
        ({"from": None}, ["needs the field 'from'"]),
        ({"from": 0.8, "to": 0.2}, ["range", "end after it starts"]),
        ({"from": 0.5, "to": 0.5}, ["range"]),
        ({"to": 30.0}, ["range", "must lie within stem.wav"]),
        ({"to": 0.25}, ["Regenerate at least"]),
        ({"seed": -1}, ["'seed'"]),
        ({"seed": 2**64}, ["'seed'"]),
        ({"takes": 0}, ["'takes'"]),
        ({"takes": 17}, ["'takes'", "1 to 16"]),
        ({"client_key": ""}, ["client key"]),
        ({"model": "tiny-test"}, ["Unknown regenerate field 'model'"]),
    ],
)
def test_a_bad_regenerate_request_is_refused_by_name(
    service, stem: Path, fields: dict, words: list[str]
) -> None:
    refuse_regenerate(service, stem.parent, regenerate_body(stem, fields), *words)


@pytest.mark.parametrize("field", ["from", "to", "seed", "takes"])
@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_regenerate_numbers_refuse_hostile_values(service, stem: Path, field, value) -> None:
    text = regenerate_body(stem)[:-1] + f', "{field}": {value}}}'  # the raw JSON token
    finite = value in ("1e30", "-1e30", "1.5e308") and field in ("from", "to")
    refuse_regenerate(service, stem.parent, text, "range" if finite else f"'{field}'")


def test_regenerate_refuses_a_body_that_is_no_object(service, stem: Path) -> None:
    refuse_regenerate(service, stem.parent, "[1]", "JSON object")


@pytest.mark.parametrize(
    ("sidecar", "words"),
    [(None, ["sidecar", "does not exist"]), ('{"x": 1}', ["not a sidecar omnifoa wrote"])],
)
def test_regenerate_refuses_a_wav_omnifoa_did_not_make(
    service, stem: Path, tmp_path: Path, sidecar: str | None, words: list[str]
) -> None:
    plain = tmp_path / "plain.wav"
    shutil.copyfile(stem, plain)
    if sidecar is not None:
        (tmp_path / "plain.wav.json").write_text(sidecar)
    refuse_regenerate(service, tmp_path, regenerate_body(plain), *words)


@pytest.mark.parametrize("make", [theirs, mine_inside_theirs, open_folder])
def test_a_stem_in_a_folder_another_user_owns_or_could_swap_is_refused(
    service, stem: Path, tmp_path: Path, make
) -> None:
    folder, watched = make(tmp_path)
    for name in (stem.name, stem.name + ".json"):
        shutil.copyfile(stem.parent / name, folder / name)
    refuse_regenerate(service, watched, regenerate_body(folder / stem.name), "stem's folder")
