"""The add-on's upload of a strip's video to a studio server (its module alone, no bpy; a real
TLS server on 127.0.0.2): an upload stopped partway is deleted on the server, as the CLI's is,
and one cut by a server that is gone fails with the transfer's own error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from addon_modules import addon_module
from remote_service import RemoteService, add_token

addon = addon_module("remote_server")
CHUNK = 4096  # a few PATCHes for the test video


@pytest.fixture
def server(tmp_path: Path, assets) -> Iterator[tuple[RemoteService, str]]:
    """A server of its own (a test stops it) and alice's token."""
    state = tmp_path / "server"
    state.mkdir()
    token = add_token(state, "alice")
    running = RemoteService(state, assets["registry"])
    yield running, token
    _, err = running.stop()
    assert "Traceback" not in err


def uploads_of(service: RemoteService) -> list[Path]:
    folder = service.state / "files" / "alice" / "uploads"
    return sorted(folder.rglob("*")) if folder.exists() else []


def test_an_upload_stopped_partway_is_deleted_on_the_server(
    server, assets, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, token = server
    monkeypatch.setattr(addon, "CHUNK", CHUNK)
    video = assets["video"]
    assert video.stat().st_size > 2 * CHUNK
    far = addon.Remote.checked(service.url, token, service.fingerprint)
    before = uploads_of(service)
    during: list[list[Path]] = []

    def stop(done: int, size: int) -> None:
        if done > 0:  # the first chunk is on the server
            during.append(uploads_of(service))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        addon.upload(far, video, stop)
    [partial] = during
    assert partial != before
    assert uploads_of(service) == before
    # the whole video still goes up after that
    assert addon.upload(far, video) in {p.stem for p in uploads_of(service)}


def test_an_upload_cut_by_a_server_that_is_gone_fails_with_its_own_error(
    server, assets, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, token = server
    monkeypatch.setattr(addon, "CHUNK", CHUNK)
    far = addon.Remote.checked(service.url, token, service.fingerprint)
    sent: list[int] = []

    def server_goes(done: int, size: int) -> None:
        sent.append(done)
        if done > 0 and service.process.poll() is None:
            service.stop()

    with pytest.raises(ConnectionRefusedError):
        addon.upload(far, assets["video"], server_goes)
    assert sent[-1] < assets["video"].stat().st_size  # it never finished
