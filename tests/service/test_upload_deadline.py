"""How long a request may take to arrive, against a real ``omnifoa serve`` whose deadlines are
shortened (:mod:`quick_deadline_service`): an upload's body sent slowly but steadily arrives
whole even when it takes several times the request deadline; one that stalls is cut with a 408
and what came is kept for the resume; every other request (a JSON body, an upload's headers)
must still arrive whole within the deadline. A client whose link is slower than the minimum
rate still finishes its upload: every cut keeps bytes, and it goes on from there."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from quick_deadline_service import BODY_WINDOW_S, MIN_BODY_RATE, REQUEST_DEADLINE_S
from service_process import Service, exchange

from plugin_core.service.client import ServiceClient
from plugin_core.service.transfers import RETRIES, resume_upload, upload

KIB = 1024
STEADY_RATE = 32 * MIN_BODY_RATE  # far above the minimum however loaded the test machine is
BLOCK = 8 * KIB


@pytest.fixture(scope="module")
def service(tmp_path_factory, assets) -> Iterator[Service]:
    running = Service(
        tmp_path_factory.mktemp("state"), assets["registry"], module="quick_deadline_service"
    )
    yield running
    _, err = running.stop()
    assert "Traceback" not in err


def declare(service: Service, data: bytes) -> str:
    body = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "name": "c.mp4"}
    status, text = exchange(service, "POST", "/v1/uploads", json.dumps(body).encode())
    assert status == 201, text
    return json.loads(text)["upload"]["id"]


def upload_status(service: Service, upload_id: str) -> dict:
    status, text = exchange(service, "GET", f"/v1/uploads/{upload_id}")
    assert status == 200, text
    return json.loads(text)["upload"]


def connect(service: Service) -> socket.socket:
    where = urlsplit(service.client.url)
    return socket.create_connection((where.hostname, where.port), timeout=30)


def request_head(service: Service, method: str, path: str, length: int, *more: str) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {urlsplit(service.client.url).netloc}",
        f"Authorization: Bearer {service.client.token}",
        f"Content-Length: {length}",
        *more,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send_paced(sock: socket.socket, data: bytes, rate: float, block: int = BLOCK) -> float:
    """Send ``data`` at ``rate`` bytes per second (catching up after a late start); the
    seconds it took."""
    started = time.monotonic()
    for at in range(0, len(data), block):
        wait = started + at / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        sock.sendall(data[at : at + block])
    return time.monotonic() - started


def answer(sock: socket.socket) -> tuple[int | None, dict]:
    """The service's answer on ``sock``: (status, JSON), or (None, {}) if it just closed."""
    response = http.client.HTTPResponse(sock)
    try:
        response.begin()
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return None, {}
    return response.status, json.loads(response.read())


def test_a_steady_slow_upload_arrives_whole_though_it_outlasts_the_request_deadline(
    service,
) -> None:
    data = np.random.default_rng(1).integers(0, 256, 4 * STEADY_RATE, np.uint8).tobytes()
    upload_id = declare(service, data)
    with connect(service) as sock:
        head = request_head(
            service, "PATCH", f"/v1/uploads/{upload_id}", len(data), "Upload-Offset: 0"
        )
        sock.sendall(head)
        took = send_paced(sock, data, STEADY_RATE)
        assert took > 1.5 * REQUEST_DEADLINE_S  # the test's premise: the old deadline would cut
        status, reply = answer(sock)
    assert status == 200, reply
    assert reply["upload"] == {
        "id": upload_id,
        "size": len(data),
        "offset": len(data),
        "complete": True,
    }
    kept = service.state / "files" / "_local" / "uploads" / f"{upload_id}.mp4"
    assert kept.read_bytes() == data


def test_an_upload_that_stalls_is_cut_and_what_came_is_kept_for_the_resume(
    service, tmp_path: Path
) -> None:
    data = np.random.default_rng(2).integers(0, 256, 2 * STEADY_RATE, np.uint8).tobytes()
    upload_id = declare(service, data)
    sent = len(data) // 4
    with connect(service) as sock:
        head = request_head(
            service, "PATCH", f"/v1/uploads/{upload_id}", len(data), "Upload-Offset: 0"
        )
        sock.sendall(head + data[:sent])  # then nothing more: the link stalls
        status, reply = answer(sock)
        assert sock.recv(1) == b""  # and the service closed the connection
    assert status in (408, None), (status, reply)
    if status == 408:
        assert "slower than" in reply["error"]
    assert upload_status(service, upload_id)["offset"] == sent  # every byte that came is kept
    source = tmp_path / "clip.mp4"
    source.write_bytes(data)
    resume_upload(service.client, upload_id, source)
    assert upload_status(service, upload_id)["complete"] is True


def test_a_request_that_is_no_upload_must_still_arrive_within_the_deadline(service) -> None:
    body = b" " * (64 * KIB - 2) + b"{}"  # a JSON body at its size limit, sent above the
    with connect(service) as sock:  # uploads' minimum rate but slower than the deadline allows
        sock.sendall(request_head(service, "POST", "/v1/uploads", len(body)))
        with contextlib.suppress(OSError):  # cut off while sending: what should happen
            send_paced(sock, body, 2 * len(body) / (4 * REQUEST_DEADLINE_S))
        status, reply = answer(sock)
    assert status in (408, None), (status, reply)
    if status == 408:
        assert f"within {REQUEST_DEADLINE_S:g} s" in reply["error"]


def test_an_uploads_headers_trickled_are_cut_at_the_deadline(service) -> None:
    head = request_head(service, "PATCH", f"/v1/uploads/{'0' * 32}", 10, "X-Slow: " + "a" * 400)
    with connect(service) as sock:
        try:
            send_paced(sock, head, len(head) / (4 * REQUEST_DEADLINE_S), block=8)
            pytest.fail("the service kept an upload's trickling headers past the deadline")
        except OSError:
            pass  # cut off: what should happen
    assert exchange(service, "GET", "/v1/health")[0] == 200


class SlowLink:
    """A loopback proxy to ``service`` that forwards each request's body at ``rate`` bytes per
    second (its head, with the service's own Host, and the answers unslowed), counting the
    upload requests that pass."""

    def __init__(self, service: Service, rate: float) -> None:
        where = urlsplit(service.client.url)
        self.upstream, self.rate, self.patches = (where.hostname, where.port), rate, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.hosts = (urlsplit(self.url).netloc.encode(), where.netloc.encode())
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._requests, args=(client, server), daemon=True).start()
            threading.Thread(target=self._answers, args=(server, client), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket) -> None:
        reader = client.makefile("rb")
        try:
            while head := _head(reader):
                server.sendall(head.replace(*self.hosts) + b"\r\n")
                self.patches += head.startswith(b"PATCH ")
                length = re.search(rb"Content-Length: (\d+)", head, re.IGNORECASE)
                left = int(length[1]) if length else 0
                while left and (block := reader.read(min(512, left))):
                    time.sleep(len(block) / self.rate)
                    server.sendall(block)
                    left -= len(block)
        except OSError:
            pass
        _close(client, server)

    def _answers(self, server: socket.socket, client: socket.socket) -> None:
        try:
            while block := server.recv(65536):
                client.sendall(block)
        except OSError:
            pass
        _close(client, server)

    def close(self) -> None:
        self.listener.close()


def _head(reader: Any) -> bytes:
    """A request's line and headers, without the empty line after them (b"" at the end)."""
    lines = []
    while (line := reader.readline()) not in (b"\r\n", b""):
        lines.append(line)
    return b"".join(lines)


def _close(*ends: socket.socket) -> None:
    """One side gone: the other is closed too."""
    for end in ends:
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)


def test_an_upload_over_a_link_slower_than_the_minimum_rate_still_finishes(
    service, tmp_path: Path
) -> None:
    rate = MIN_BODY_RATE / 2
    data = np.random.default_rng(3).integers(0, 256, int(9 * rate * BODY_WINDOW_S), np.uint8)
    source = tmp_path / "clip.mp4"
    source.write_bytes(data.tobytes())
    link = SlowLink(service, rate)
    try:
        upload_id = upload(ServiceClient(link.url, service.client.token, timeout=30), source)
    finally:
        link.close()
    assert link.patches > RETRIES + 1  # the test's premise: more cuts than drops allowed
    kept = service.state / "files" / "_local" / "uploads" / f"{upload_id}.mp4"
    assert kept.read_bytes() == source.read_bytes()
