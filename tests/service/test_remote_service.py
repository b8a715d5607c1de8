"""The service in remote mode, as a real process over TLS on 127.0.0.2 (loopback): it starts only
with TLS and people's tokens, clients trust it only through its certificate or fingerprint,
every route refuses a wrong or revoked token, a person sees and cancels only their own jobs,
the request limit holds over TLS, and the OpenAPI document carries every job field."""

from __future__ import annotations

import dataclasses
import http.client
import json
import re
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cli_runner import run_main
from remote_service import REMOTE_HOST, RemoteService, add_token, omnifoa
from service_process import job_body

from plugin_core.errors import InputError
from plugin_core.generation.request import field_default, field_specs
from plugin_core.service.api import MAX_IN_FLIGHT, service_app
from plugin_core.service.client import ServiceClient, ServiceError
from plugin_core.service.files_api import FileSettings, files_api
from plugin_core.service.job_schema import job_fields
from plugin_core.service.jobs import JobQueue
from plugin_core.service.pinning import fingerprint_of
from plugin_core.service.tls import load_certificate, self_signed
from plugin_core.service.tokens import LocalToken, add_person, revoke_person

JSON_TYPES = {"int": "integer", "float": "number", "bool": "boolean", "str": "string"}
JSON_TYPES |= {"path": "string", "direction_path": "object"}


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A state folder where ``omnifoa serve tokens add`` gave alice and bob a token each."""
    state = tmp_path_factory.mktemp("remote_state")
    return state, {name: add_token(state, name) for name in ("alice", "bob")}


@pytest.fixture(scope="module")
def remote(people, assets):
    """The service over TLS; jobs read videos from the assets' folder (a shared root)."""
    shared = str(assets["video"].parent)
    running = RemoteService(people[0], assets["registry"], "--shared-root", shared)
    yield running
    _, err = running.stop()
    assert "Traceback" not in err


def exchange(
    remote: RemoteService,
    method: str,
    path: str,
    token: str | None,
    body: bytes | None = None,
    host: str | None = None,
) -> tuple[int, dict, http.client.HTTPMessage]:
    """One request over TLS (trusting the server's certificate), sent as written."""
    port = int(remote.url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=remote.cert)
    conn = http.client.HTTPSConnection(REMOTE_HOST, port, context=context, timeout=30)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    if host is not None:
        headers["Host"] = host
    try:
        conn.request(method, path, body, headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}"), response.headers
    finally:
        conn.close()


def app_routes(tmp_path: Path) -> list[tuple[str, str]]:
    """Every (method, path template) the service's app really has."""
    jobs = JobQueue(tmp_path / "jobs", lambda *_: pytest.fail("no model is loaded"))
    try:
        files = files_api(tmp_path / "files", jobs, FileSettings(), remote=True)
        app = service_app(jobs, files, 1, LocalToken("unused"))
    finally:
        jobs.close()
    return [
        (method, route.path_format)
        for route in app.routes
        for method in sorted(route.methods - {"HEAD"})
    ]


def filled(template: str) -> str:
    """A path of ``template`` with every parameter given (a job id's shape)."""
    return re.sub(r"\{[^}]+\}", "0" * 32, template)


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--listen", f"{REMOTE_HOST}:0"], ["needs TLS", "--tls-self-signed"]),
        (["--listen", f"{REMOTE_HOST}:0", "--tls-self-signed"], ["needs people's tokens"]),
        (["--tls-self-signed"], ["--listen"]),
        (["--listen", f"{REMOTE_HOST}:0", "--tls-cert", "/nonexistent.pem"], ["together"]),
        (["--listen", REMOTE_HOST, "--tls-self-signed"], ["HOST:PORT"]),
    ],
)
def test_listening_beyond_loopback_needs_tls_and_tokens(tmp_path: Path, flags, words) -> None:
    if "needs TLS" in words:
        add_person(tmp_path, "alice")  # tokens there: only TLS is missing
    outcome = run_main(["serve", "--state-dir", str(tmp_path), *flags])
    assert outcome.status == 2
    [message] = outcome.messages()
    assert message.startswith("omnifoa: error: ")
    assert message.endswith(".")
    for word in words:
        assert word in message
    assert not (tmp_path / "tls").exists()  # no certificate made for a service that never ran
    assert not (tmp_path / "service.json").exists()


def test_tokens_are_given_once_and_kept_only_hashed_in_a_private_file(people) -> None:
    state, tokens = people
    path = state / "tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = path.read_text()
    assert all(token not in kept for token in tokens.values())
    listed = omnifoa("serve", "tokens", "list", "--state-dir", str(state))
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["alice", "bob"]
    again = omnifoa("serve", "tokens", "add", "alice", "--state-dir", str(state))
    assert again.returncode == 2
    assert "alice has a token already" in again.stderr
    assert path.read_text() == kept


def test_a_client_trusts_the_server_only_through_its_certificate_or_fingerprint(
    remote, people
) -> None:
    token = people[1]["alice"]
    der = ssl.PEM_cert_to_DER_cert(remote.cert.read_text())
    assert remote.fingerprint == fingerprint_of(der)  # what the service printed
    assert remote.client(token).health()["status"] == "ok"  # the CA: its own certificate
    assert remote.client(token, fingerprint=remote.fingerprint.lower()).health()["status"] == "ok"
    with pytest.raises(ServiceError, match="CERTIFICATE_VERIFY_FAILED"):
        ServiceClient(remote.url, token).health()  # the system's CAs do not know it
    wrong = ":".join(["AB"] * 32)
    with pytest.raises(ServiceError, match="not the pinned"):
        remote.client(token, fingerprint=wrong).health()


def test_every_route_refuses_a_wrong_or_revoked_token(remote, people, tmp_path: Path) -> None:
    state, tokens = people
    revoked = add_person(state, "erin")
    assert exchange(remote, "GET", "/v1/models", revoked)[0] == 200  # erin's token worked
    revoke_person(state, "erin")
    routes = app_routes(tmp_path)
    assert ("GET", "/v1/models") in routes
    assert ("GET", "/v1/openapi.json") in routes
    for method, path in routes:
        for token in (None, "", tokens["alice"][:-1], revoked):
            body = b"{}" if method not in ("GET", "DELETE") else None
            status, reply, _ = exchange(remote, method, filled(path), token, body)
            assert status == 401, (method, path, token, status, reply)
            assert reply["error"] == "A valid token is needed (Authorization: Bearer)."
    assert exchange(remote, "GET", "/v1/models", tokens["alice"])[0] == 200


def test_a_revoked_token_is_refused_from_the_next_request_without_a_restart(remote, people) -> None:
    state = people[0]
    dave = remote.client(add_token(state, "dave"))  # added while it runs: good at once
    assert dave.models()
    revoked = omnifoa("serve", "tokens", "revoke", "dave", "--state-dir", str(state))
    assert revoked.returncode == 0, revoked.stderr
    with pytest.raises(ServiceError) as caught:
        dave.models()
    assert caught.value.status == 401


def test_only_the_listening_host_is_answered(remote, people) -> None:
    token = people[1]["alice"]
    port = remote.url.rsplit(":", 1)[1]
    for host in ("evil.example", f"127.0.0.1:{port}", f"localhost:{port}", f"{REMOTE_HOST}:1"):
        status, reply, _ = exchange(remote, "GET", "/v1/health", token, host=host)
        assert status == 421, host
        assert "Host" in reply["error"]
    assert exchange(remote, "GET", "/v1/health", token, host=f"{REMOTE_HOST}:{port}")[0] == 200


def remote_job(assets, **fields: object) -> dict:
    """A job of the shared scene video; its stem goes to the person's results."""
    body = job_body(assets, Path("unused"), **fields)
    del body["output_dir"]
    return body


def test_a_person_sees_and_cancels_only_their_own_jobs(remote, people, assets) -> None:
    state, tokens = people
    alice, bob = remote.client(tokens["alice"]), remote.client(tokens["bob"])
    record = alice.submit(remote_job(assets, steps=400, end=3.0, client_key="take-1"))
    job_id = record["id"]
    assert record["owner"] == "alice"
    assert json.loads((state / "jobs" / f"{job_id}.json").read_text())["owner"] == "alice"
    assert job_id in [j["id"] for j in alice.jobs()]
    assert job_id not in [j["id"] for j in bob.jobs()]
    others = {
        "read": bob.job,
        "wait": lambda i: bob.wait(i, 1.0),
        "cancel": bob.cancel,
        "hand to REAPER": bob.send_to_reaper,
    }
    for what, call in others.items():
        with pytest.raises(ServiceError) as caught:
            call(job_id)
        assert caught.value.status == 404, what  # as if there were no such job
    # bob's client key is his own: the same key is a job of his, not alice's
    his = bob.submit(remote_job(assets, client_key="take-1"))
    assert (his["owner"], his["id"] != job_id) == ("bob", True)
    assert bob.cancel(his["id"])["owner"] == "bob"
    assert alice.job(job_id)["state"] in ("queued", "running")  # bob changed nothing of hers
    with pytest.raises(ServiceError, match="REAPER runs on the artist's machine") as caught:
        alice.send_to_reaper(job_id)  # her own job: REAPER is on her machine, not here
    assert caught.value.status == 409
    alice.cancel(job_id)
    assert alice.wait(job_id, 60)["state"] == "cancelled"


def test_past_the_request_limit_over_tls_requests_get_503_and_health_answers(
    remote, people
) -> None:
    token = people[1]["alice"]
    port = int(remote.url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=remote.cert)
    held = []
    try:
        for _ in range(MAX_IN_FLIGHT):  # each holds a place while its body is awaited
            sock = socket.create_connection((REMOTE_HOST, port), timeout=30)
            held.append(context.wrap_socket(sock, server_hostname=REMOTE_HOST))
            held[-1].sendall(
                f"POST /v1/jobs HTTP/1.1\r\nHost: {REMOTE_HOST}:{port}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n{{".encode()
            )
        for _ in range(500):  # until the service has taken in every held request
            status, reply, headers = exchange(remote, "GET", "/v1/jobs", token)
            if status == 503:
                break
        assert status == 503, reply
        assert reply["error"].endswith(".")
        assert "\n" not in reply["error"]
        assert headers["Retry-After"].isdigit()
        assert [exchange(remote, "GET", "/v1/health", token)[0] for _ in range(5)] == [200] * 5
    finally:
        for sock in held:
            sock.close()
    for _ in range(500):  # the held places come free as their connections close
        if (status := exchange(remote, "GET", "/v1/jobs", token)[0]) != 503:
            break
    assert status == 200


def test_the_openapi_document_lists_every_job_field_with_its_type_and_range(
    remote, people, tmp_path: Path
) -> None:
    status, doc, _ = exchange(remote, "GET", "/v1/openapi.json", people[1]["alice"])
    assert status == 200
    assert doc["openapi"].startswith("3.1")
    body = doc["components"]["schemas"]["JobRequest"]
    assert set(body["properties"]) == {*job_fields(), "upload"}
    assert all(p["description"] for p in body["properties"].values())
    for name, spec in field_specs().items():
        if name not in job_fields():
            continue
        schema = body["properties"][name]
        kind = JSON_TYPES[spec.kind]
        assert schema["type"] == ([kind, "null"] if spec.nullable else kind), name
        assert schema.get("minimum") == spec.minimum, name
        assert schema.get("maximum") == spec.maximum, name
        assert schema.get("enum") == (None if spec.choices is None else list(spec.choices))
        if field_default(name) is not dataclasses.MISSING:
            assert schema["default"] == field_default(name), name
    assert set(body["required"]) == {"name"}  # no output_dir: the person's results
    assert body["oneOf"] == [{"required": ["video"]}, {"required": ["upload"]}]
    assert "not with video" in body["properties"]["upload"]["description"]
    for method, path in app_routes(tmp_path):
        operation = doc["paths"].get(path, {}).get(method.lower())
        assert operation is not None, (method, path)
        named = [p["name"] for p in operation.get("parameters", [])]
        assert named == re.findall(r"\{(\w+)\}", path), (method, path)
    assert "/v1/jobs/{job_id}/files/{name}" in doc["paths"]  # not {name:path}
    [operation] = [doc["paths"]["/v1/jobs"]["post"]]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/JobRequest"
    )


def test_a_wrongly_pinned_client_sends_nothing_after_the_handshake(remote, people) -> None:
    """A stand-in server with the real certificate records what a client pinning another
    fingerprint sends: nothing, so its token never leaves."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(remote.cert, remote.state / "tls" / f"{REMOTE_HOST}.key")
    heard: list[bytes] = []
    with socket.create_server((REMOTE_HOST, 0)) as listener:
        port = listener.getsockname()[1]

        def serve_one() -> None:
            conn, _ = listener.accept()
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(30)
                try:
                    while chunk := tls.recv(4096):
                        heard.append(chunk)
                except (ssl.SSLError, OSError):
                    pass  # the client closed without a TLS goodbye

        server = threading.Thread(target=serve_one)
        server.start()
        wrong = ":".join(["AB"] * 32)
        client = ServiceClient(
            f"https://{REMOTE_HOST}:{port}", people[1]["alice"], fingerprint=wrong
        )
        with pytest.raises(ServiceError, match="not the pinned"):
            client.health()
        server.join(60)
    assert heard == []


def test_a_self_signed_certificate_is_made_once_and_kept(tmp_path: Path) -> None:
    first = self_signed(tmp_path, REMOTE_HOST)
    assert first.names == (REMOTE_HOST,)
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    assert self_signed(tmp_path, REMOTE_HOST).fingerprint == first.fingerprint  # laptops' pin
    with pytest.raises(InputError, match="Cannot serve TLS"):
        load_certificate(first.cert, first.cert)  # a certificate is no key
