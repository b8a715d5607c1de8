"""Uploads and downloads in remote use (``omnifoa serve --listen 127.0.0.2:0`` over TLS, people
with their own tokens): a person's upload, results and files are theirs alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from remote_service import RemoteService, add_token
from service_process import MODEL

from plugin_core.service.client import ServiceClient, ServiceError
from plugin_core.service.transfers import download, upload


@pytest.fixture(scope="module")
def remote(
    tmp_path_factory, assets
) -> Iterator[tuple[RemoteService, ServiceClient, ServiceClient]]:
    """The service over TLS with no shared root, and alice's and bob's clients."""
    state = tmp_path_factory.mktemp("remote_uploads")
    tokens = {name: add_token(state, name) for name in ("alice", "bob")}
    running = RemoteService(state, assets["registry"])
    yield running, running.client(tokens["alice"]), running.client(tokens["bob"])
    _, err = running.stop()
    assert "Traceback" not in err


def status_of(client: ServiceClient, method: str, path: str) -> int:
    """The status of one request of ``client``'s over its trusted TLS connection."""
    where = urlsplit(client.url)
    conn = client.trust.connection(where.hostname, where.port, timeout=30)
    headers = {"Authorization": f"Bearer {client.token}", "Upload-Offset": "0"}
    conn.request(method, path, b"" if method == "PATCH" else None, headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def test_a_persons_upload_job_and_files_are_theirs_alone(remote, assets, tmp_path) -> None:
    service, alice, bob = remote
    upload_id = upload(alice, assets["video"])
    body = {"upload": upload_id, "name": "stem.wav", "model": MODEL, "steps": 1, "end": 1.0}
    with pytest.raises(ServiceError, match="no upload") as caught:
        bob.submit(body)
    assert caught.value.status == 400
    for method in ("HEAD", "GET", "PATCH", "DELETE"):
        assert status_of(bob, method, f"/v1/uploads/{upload_id}") == 404, method

    record = alice.wait(alice.submit(body)["id"], 300)
    assert record["state"] == "done", record["error"]
    stem = Path(record["outputs"][0])
    assert stem.is_relative_to(service.state / "files" / "alice" / "results")
    for path in ("files", "files/stem.wav"):
        assert status_of(bob, "GET", f"/v1/jobs/{record['id']}/{path}") == 404
    mine = tmp_path / "mine"
    mine.mkdir()
    download(alice, record["id"], mine)  # over TLS, verified
    assert (mine / "stem.wav").read_bytes() == stem.read_bytes()

    # alice reads no file of bob's, and writes nowhere but among her results
    bobs = upload(bob, assets["video"])
    bobs_file = next((service.state / "files" / "bob" / "uploads").glob(f"{bobs}.*"))
    by_path = {k: v for k, v in body.items() if k != "upload"}
    for video in (bobs_file, assets["video"]):
        with pytest.raises(ServiceError, match="outside the shared storage"):
            alice.submit({**by_path, "video": str(video)})
    with pytest.raises(ServiceError, match="not among your results"):
        alice.submit({**body, "output_dir": str(service.state / "files" / "bob" / "results")})
