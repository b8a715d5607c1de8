"""Uploads, shared-storage roots and result downloads against the real service (uvicorn on a
random loopback port): an upload whose connection really drops halfway resumes from the offset
HEAD reports; oversized uploads leave nothing; paths outside the shared root are refused; a
job on an uploaded video gives a stem that downloads byte for byte; retention removes old
files."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from cli_runner import run_main
from service_process import MODEL, Service

from plugin_core.errors import InputError
from plugin_core.service.client import ServiceError
from plugin_core.service.transfers import download, resume_upload, upload
from plugin_core.service.uploads import FLUSH, GIB

CAP_GIB = 0.02  # about 21 MB: the cap of the module's service
MIB = 1024 * 1024


def start(tmp_path_factory, assets, *args: str) -> Service:
    return Service(tmp_path_factory.mktemp("state"), assets["registry"], args=args)


def stop(service: Service) -> None:
    _, err = service.stop()
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def capped(tmp_path_factory, assets) -> Iterator[Service]:
    """A loopback service with a small upload cap."""
    service = start(tmp_path_factory, assets, "--upload-cap", str(CAP_GIB))
    yield service
    stop(service)


def uploads_folder(service: Service) -> Path:
    return service.state / "files" / "_local" / "uploads"


def call(
    service: Service,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], dict]:
    """One request: (status, headers, JSON body or {})."""
    where = urlsplit(service.client.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    sent = {"Authorization": f"Bearer {service.client.token}", **(headers or {})}
    conn.request(method, path, body, sent)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    headers = {name.lower(): value for name, value in response.getheaders()}
    return response.status, headers, json.loads(raw) if raw else {}


def declare(service: Service, data: bytes, size: int | None = None) -> tuple[int, dict]:
    body = {"size": len(data) if size is None else size, "sha256": sha(data), "name": "c.mp4"}
    status, _, answer = call(service, "POST", "/v1/uploads", json.dumps(body).encode())
    return status, answer


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def random_bytes(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def offset_of(service: Service, upload_id: str) -> int:
    status, headers, _ = call(service, "HEAD", f"/v1/uploads/{upload_id}")
    assert status == 200
    return int(headers["upload-offset"])


def raw_patch(service: Service, upload_id: str, head: str, *parts: bytes) -> tuple[int, dict]:
    """A PATCH from offset 0 sent by hand (``head``: more header lines, ``parts``: the body
    as sent, no more), and the service's answer."""
    where = urlsplit(service.client.url)
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(
            f"PATCH /v1/uploads/{upload_id} HTTP/1.1\r\nHost: {where.netloc}\r\n"
            f"Authorization: Bearer {service.client.token}\r\nUpload-Offset: 0\r\n"
            f"{head}\r\n".encode()
        )
        for part in parts:
            sock.sendall(part)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


def test_an_upload_cut_halfway_resumes_from_the_offset_head_reports(capped, tmp_path) -> None:
    data = random_bytes(12 * MIB)
    source = tmp_path / "clip.mp4"
    source.write_bytes(data)
    status, answer = declare(capped, data)
    assert status == 201
    upload_id = answer["upload"]["id"]
    where = urlsplit(capped.client.url)
    cut = socket.create_connection((where.hostname, where.port))
    head = (
        f"PATCH /v1/uploads/{upload_id} HTTP/1.1\r\nHost: {where.netloc}\r\n"
        f"Authorization: Bearer {capped.client.token}\r\nUpload-Offset: 0\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    sent = 7 * MIB
    cut.sendall(head.encode() + data[:sent])
    deadline = time.monotonic() + 60
    while offset_of(capped, upload_id) < FLUSH:  # the service has written some to disk
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cut.close()  # the connection drops mid-body

    offset = offset_of(capped, upload_id)
    assert FLUSH <= offset <= sent
    part = uploads_folder(capped) / f"{upload_id}.part"
    assert part.read_bytes() == data[:offset]  # what came is kept, in order

    head = f"Content-Length: {len(data)}\r\nExpect: 100-continue\r\n"
    status, answer = raw_patch(capped, upload_id, head)  # from 0 again: refused, nothing lost
    assert status == 409
    assert f"at offset {offset}," in answer["error"]
    assert offset_of(capped, upload_id) == offset

    resume_upload(capped.client, upload_id, source)
    answer = call(capped, "GET", f"/v1/uploads/{upload_id}")[2]
    assert answer["upload"] == {
        "id": upload_id,
        "size": len(data),
        "offset": len(data),
        "complete": True,
    }
    kept = uploads_folder(capped) / f"{upload_id}.mp4"
    assert sha(kept.read_bytes()) == sha(data)
    assert not part.exists()


def test_an_upload_resumes_on_a_restarted_service(tmp_path_factory, assets, tmp_path) -> None:
    data = random_bytes(3 * MIB, seed=5)
    source = tmp_path / "clip.mp4"
    source.write_bytes(data)
    state = tmp_path_factory.mktemp("state")
    first = Service(state, assets["registry"])
    status, answer = declare(first, data)
    upload_id = answer["upload"]["id"]
    status, _, answer = call(
        first, "PATCH", f"/v1/uploads/{upload_id}", data[:MIB], {"Upload-Offset": "0"}
    )
    assert (status, answer["upload"]["offset"]) == (200, MIB)
    stop(first)
    again = Service(state, assets["registry"])  # the sha256 so far is read back from disk
    try:
        resume_upload(again.client, upload_id, source)
        assert call(again, "GET", f"/v1/uploads/{upload_id}")[2]["upload"]["complete"]
        assert (uploads_folder(again) / f"{upload_id}.mp4").read_bytes() == data
    finally:
        stop(again)


def test_bytes_that_do_not_match_the_sha256_are_refused_and_removed(capped) -> None:
    data = random_bytes(MIB, seed=1)
    upload_id = declare(capped, data)[1]["upload"]["id"]
    damaged = bytes([data[0] ^ 1]) + data[1:]
    status, _, answer = call(
        capped, "PATCH", f"/v1/uploads/{upload_id}", damaged, {"Upload-Offset": "0"}
    )
    assert status == 400
    assert "sha256" in answer["error"]
    assert not list(uploads_folder(capped).glob(f"{upload_id}.*"))


def test_an_upload_declared_over_the_cap_is_refused_and_nothing_is_kept(capped) -> None:
    before = sorted(uploads_folder(capped).iterdir()) if uploads_folder(capped).exists() else []
    status, answer = declare(capped, b"x", size=int(CAP_GIB * GIB) + 1)
    assert status == 413
    assert "at most" in answer["error"]
    after = sorted(uploads_folder(capped).iterdir()) if uploads_folder(capped).exists() else []
    assert after == before


def test_a_body_longer_than_the_declared_size_is_refused_unread(capped) -> None:
    data = random_bytes(MIB, seed=2)
    upload_id = declare(capped, data)[1]["upload"]["id"]
    head = f"Content-Length: {2 * MIB}\r\nExpect: 100-continue\r\n"
    status, answer = raw_patch(capped, upload_id, head)  # refused before a byte is sent
    assert status == 413
    assert "declared size" in answer["error"]
    assert not list(uploads_folder(capped).glob(f"{upload_id}.*"))
    assert call(capped, "HEAD", f"/v1/uploads/{upload_id}")[0] == 404


def test_bytes_sent_past_the_declared_size_remove_the_upload(capped) -> None:
    data = random_bytes(FLUSH + MIB, seed=3)  # some of it is on disk before the excess comes
    upload_id = declare(capped, data)[1]["upload"]["id"]
    excess = b"\0" * 65536

    def chunk(block: bytes) -> bytes:  # no length said: the service counts bytes as they come
        return f"{len(block):x}\r\n".encode() + block + b"\r\n"

    status, answer = raw_patch(
        capped, upload_id, "Transfer-Encoding: chunked\r\n", chunk(data), chunk(excess)
    )
    assert status == 413
    assert "declared size" in answer["error"]
    assert not list(uploads_folder(capped).glob(f"{upload_id}.*"))
    assert call(capped, "HEAD", f"/v1/uploads/{upload_id}")[0] == 404


def test_a_job_on_an_uploaded_video_gives_a_stem_that_downloads_byte_identical(
    capped, assets, tmp_path
) -> None:
    upload_id = upload(capped.client, assets["video"])
    body = {"upload": upload_id, "name": "stem.wav", "model": MODEL, "steps": 1, "end": 1.0}
    record = capped.client.wait(capped.client.submit(body)["id"], 300)
    assert record["state"] == "done", record["error"]
    made = Path(record["outputs"][0])
    assert made.is_relative_to(capped.state / "files" / "_local" / "results")
    folder = tmp_path / "here"
    folder.mkdir()
    files = download(capped.client, record["id"], folder)
    assert sorted(p.name for p in files) == ["stem.wav", "stem.wav.json"]
    assert (folder / "stem.wav").read_bytes() == made.read_bytes()
    assert (folder / "stem.wav.json").read_bytes() == Path(record["sidecars"][0]).read_bytes()

    # again into the same folder: refused before a byte is written, nothing replaced
    (folder / "stem.wav").write_bytes(b"mine")
    with pytest.raises(InputError, match="exists"):
        download(capped.client, record["id"], folder)
    assert (folder / "stem.wav").read_bytes() == b"mine"
    assert sorted(p.name for p in folder.iterdir()) == ["stem.wav", "stem.wav.json"]

    status, _, _ = call(capped, "GET", f"/v1/jobs/{record['id']}/files/../../service.json")
    assert status == 404


def test_an_unfinished_upload_cannot_be_a_jobs_video(capped) -> None:
    results = uploads_folder(capped).parent / "results"
    before = sorted(results.iterdir()) if results.exists() else []
    data = random_bytes(MIB, seed=4)
    upload_id = declare(capped, data)[1]["upload"]["id"]
    body = {"upload": upload_id, "name": "stem.wav", "model": MODEL}
    with pytest.raises(ServiceError, match="not complete") as caught:
        capped.client.submit(body)
    assert caught.value.status == 400
    with pytest.raises(ServiceError, match="no upload"):
        capped.client.submit({**body, "upload": "0" * 32})
    for odd in (5, None, "../service", upload_id + "/../x"):
        with pytest.raises(ServiceError, match="must be the id POST /v1/uploads gave"):
            capped.client.submit({**body, "upload": odd})
    with pytest.raises(ServiceError, match="not both"):
        capped.client.submit({**body, "video": "/x.mp4"})
    assert (sorted(results.iterdir()) if results.exists() else []) == before  # no folder made


# ---------------------------------------------------------------- shared storage root


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("shared")


@pytest.fixture(scope="module")
def confined(tmp_path_factory, assets, shared) -> Iterator[Service]:
    """A loopback service with a shared root: jobs read only there and in their uploads."""
    shutil.copy(assets["video"], shared / "scene.mp4")
    service = start(tmp_path_factory, assets, "--shared-root", str(shared))
    yield service
    stop(service)


def test_a_video_under_the_shared_root_is_read_and_its_stem_kept_for_download(
    confined, shared
) -> None:
    body = {"video": str(shared / "scene.mp4"), "name": "s.wav", "model": MODEL, "steps": 1}
    record = confined.client.wait(confined.client.submit({**body, "end": 1.0})["id"], 300)
    assert record["state"] == "done", record["error"]
    assert Path(record["outputs"][0]).is_relative_to(confined.state / "files")
    assert not list(shared.glob("*.wav*"))  # shared storage is only read


@pytest.mark.parametrize("how", ["dot-dot", "absolute", "symlink"])
def test_a_path_outside_the_shared_root_is_refused(confined, assets, shared, tmp_path, how):
    if how == "dot-dot":
        video = f"{shared}/../{assets['video'].parent.name}/{assets['video'].name}"
    elif how == "absolute":
        video = str(assets["video"])
    else:
        link = shared / "sneaky.mp4"
        link.unlink(missing_ok=True)
        link.symlink_to(assets["video"])
        video = str(link)
    body = {"video": video, "name": "s.wav", "model": MODEL}
    with pytest.raises(ServiceError, match="outside the shared storage") as caught:
        confined.client.submit(body)
    assert caught.value.status == 400


@pytest.mark.parametrize("root", ["relative/videos", "/nonexistent/videos"])
def test_a_shared_root_that_is_no_absolute_folder_stops_the_start(tmp_path, root) -> None:
    outcome = run_main(["serve", "--state-dir", str(tmp_path), "--shared-root", root])
    assert outcome.status == 2
    assert "must be an existing absolute folder" in outcome.stderr
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


def test_a_confined_job_writes_only_among_its_persons_results(confined, shared, tmp_path) -> None:
    body = {"video": str(shared / "scene.mp4"), "name": "s.wav", "model": MODEL}
    for folder in (tmp_path, shared):
        with pytest.raises(ServiceError, match="not among your results"):
            confined.client.submit({**body, "output_dir": str(folder)})
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- retention


def test_retention_removes_the_oldest_and_the_expired_files(
    tmp_path_factory, assets, tmp_path
) -> None:
    mib = 1024 * 1024
    keep = 20 * mib  # what the person may keep
    service = Service(
        tmp_path_factory.mktemp("state"),
        assets["registry"],
        args=("--keep-gib", str(keep / 1024**3), "--keep-days", "7"),
    )
    try:
        client, uploads = service.client, service.state / "files" / "_local" / "uploads"
        files = []
        for i in range(3):
            path = tmp_path / f"clip{i}.mp4"
            path.write_bytes(os.urandom(8 * mib))
            files.append(path)
        first, second = upload(client, files[0]), upload(client, files[1])
        third = upload(client, files[2])  # 24 MiB would pass 20: the oldest goes
        assert not list(uploads.glob(f"{first}.*"))
        assert sorted(p.name for p in uploads.glob(f"{second}.*")) == [
            f"{second}.json",
            f"{second}.mp4",
        ]
        assert list(uploads.glob(f"{third}.*"))

        month_ago = time.time() - 30 * 86400
        for path in uploads.glob(f"{second}.*"):
            os.utime(path, (month_ago, month_ago))
        small = tmp_path / "small.mp4"
        small.write_bytes(b"small")
        upload(client, small)  # a sweep: the expired upload goes, though there is room
        assert not list(uploads.glob(f"{second}.*"))
        assert list(uploads.glob(f"{third}.*"))
    finally:
        _, err = service.stop()
    assert "Traceback" not in err
