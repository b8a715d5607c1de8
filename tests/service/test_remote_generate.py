"""``omnifoa generate --server``: the same request made on a real TLS server on 127.0.0.2
(loopback) gives the same stem as a local run; a server it must not trust, a token it refuses
and an output in the way stop it with one sentence before anything is sent or written; the
stem that comes back names this machine's video, so it is regenerated here; an interrupted
upload leaves nothing on the server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from addon_modules import addon_module
from cli_runner import run_main
from remote_service import RemoteService, add_token
from service_process import MODEL

from plugin_core.errors import InputError
from plugin_core.generation.request import GenerationRequest
from plugin_core.generation.sidecar import MADE_ON, OUTPUT_FIELDS, VIDEO_FIELDS
from plugin_core.media.stem_takes import read_sidecar, stem_takes
from plugin_core.service.client_config import ServerSettings, server_settings
from plugin_core.service.remote_generate import job_body, remote_generate
from plugin_core.service.transfers import file_sha256, upload

QUICK = ["--model", MODEL, "--steps", "2", "--end", "1.0", "--seed", "7"]


@pytest.fixture(scope="module")
def remote(tmp_path_factory, assets) -> Iterator[tuple[RemoteService, str]]:
    """The service over TLS (no shared root: videos arrive as uploads) and alice's token."""
    state = tmp_path_factory.mktemp("remote_generate")
    token = add_token(state, "alice")
    running = RemoteService(state, assets["registry"])
    yield running, token
    _, err = running.stop()
    assert "Traceback" not in err


@pytest.fixture
def laptop(monkeypatch, tmp_path: Path, assets) -> Path:
    """This process as an artist's laptop: its own (empty) config folder, the tiny model."""
    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("OMNIFOA_CONFIG_DIR", str(config))
    monkeypatch.setenv("OMNIFOA_EXTRA_MODELS", str(assets["registry"]))
    for name in ("TOKEN", "CA", "FINGERPRINT"):
        monkeypatch.delenv(f"OMNIFOA_SERVER_{name}", raising=False)
    return config


def uploads_of(service: RemoteService, person: str) -> list[Path]:
    folder = service.state / "files" / person / "uploads"
    return sorted(folder.rglob("*")) if folder.exists() else []


def test_a_server_generation_makes_the_stem_a_local_one_makes(
    remote, laptop, monkeypatch, assets, tmp_path: Path
) -> None:
    service, token = remote
    monkeypatch.setenv("OMNIFOA_SERVER_TOKEN", token)
    monkeypatch.setenv("OMNIFOA_SERVER_FINGERPRINT", service.fingerprint)
    video = str(assets["video"])
    local, far = tmp_path / "local.wav", tmp_path / "far.wav"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the server runs (OMP_NUM_THREADS=1): the same sums
    try:
        assert run_main(["generate", video, "-o", str(local), *QUICK], timeout=300).status == 0
    finally:
        torch.set_num_threads(threads)
    done = run_main(
        ["generate", video, "-o", str(far), *QUICK, "--server", service.url], timeout=300
    )
    assert done.status == 0, done.stderr
    assert "uploading" in done.stderr
    assert "generating on the server" in done.stderr
    here, rate = sf.read(local, dtype="float32")
    there, far_rate = sf.read(far, dtype="float32")
    assert (far_rate, there.shape) == (rate, here.shape)
    assert np.array_equal(here, there)  # sample for sample
    assert (tmp_path / "far.wav.json").is_file()


@pytest.mark.parametrize(
    ("trust", "words"),
    [
        ({"OMNIFOA_SERVER_FINGERPRINT": ":".join(["AB"] * 32)}, "not the pinned"),
        ({}, "CERTIFICATE_VERIFY_FAILED"),  # the system's CAs do not know a self-signed one
        ({"token": "wrong", "OMNIFOA_SERVER_FINGERPRINT": "right"}, "refused the token"),
        ({"url": "https://127.0.0.2:1", "OMNIFOA_SERVER_FINGERPRINT": "right"}, "URL"),
    ],
)
def test_a_server_it_must_not_trust_or_reach_or_a_refused_token_stops_it_with_nothing_written(
    remote, laptop, monkeypatch, assets, tmp_path: Path, trust, words
) -> None:
    service, token, trust = *remote, dict(trust)
    monkeypatch.setenv("OMNIFOA_SERVER_TOKEN", trust.pop("token", token))
    url = trust.pop("url", service.url)  # port 1: nothing listens there
    for name, value in trust.items():
        monkeypatch.setenv(name, service.fingerprint if value == "right" else value)
    before = uploads_of(service, "alice")
    out = tmp_path / "out"
    out.mkdir()
    done = run_main(
        ["generate", str(assets["video"]), "-o", str(out / "stem.wav"), *QUICK, "--server", url],
    )  # fmt: skip
    assert done.status == 2
    [message] = done.messages()
    assert message.startswith("omnifoa: error: ")
    assert words in message
    assert list(out.iterdir()) == []
    assert uploads_of(service, "alice") == before


def test_an_output_in_the_way_is_refused_before_any_upload(
    remote, laptop, monkeypatch, assets, tmp_path: Path
) -> None:
    service, token = remote
    (laptop / "client.toml").write_text(  # the file's settings, for this server
        f'url = "{service.url}"\ntoken = "{token}"\nfingerprint = "{service.fingerprint}"\n'
    )
    stem = tmp_path / "stem.wav"
    stem.write_bytes(b"the artist's earlier stem")
    before = uploads_of(service, "alice")
    done = run_main(["generate", str(assets["video"]), "-o", str(stem), *QUICK, "--server",
                     service.url])  # fmt: skip
    assert done.status == 2
    [message] = done.messages()
    assert "--overwrite" in message
    assert stem.read_bytes() == b"the artist's earlier stem"
    assert uploads_of(service, "alice") == before  # the server saw no upload


def test_settings_come_from_the_environment_before_the_file_and_only_for_its_server(
    laptop, monkeypatch
) -> None:
    url = "https://gpu.studio.example:8765"
    pin = ":".join(["CD"] * 32)
    (laptop / "client.toml").write_text(f'url = "{url}"\ntoken = "from-file"\nca = "/ca.pem"\n')
    assert server_settings(url).token == "from-file"
    monkeypatch.setenv("OMNIFOA_SERVER_TOKEN", "from-env")
    assert server_settings(url).token == "from-env"
    monkeypatch.setenv("OMNIFOA_SERVER_FINGERPRINT", pin)
    with pytest.raises(InputError, match="not both"):
        server_settings(url)  # the file's CA and the environment's fingerprint
    monkeypatch.delenv("OMNIFOA_SERVER_TOKEN")
    with pytest.raises(InputError, match="No token"):
        server_settings("https://another.example:8765")  # the file's token is not for it
    with pytest.raises(InputError, match="HTTPS"):
        server_settings("http://gpu.studio.example:8765")


def test_interrupting_the_wait_cancels_the_job_on_the_server(
    remote, laptop, assets, tmp_path: Path
) -> None:
    service, token = remote
    out = tmp_path / "out"
    out.mkdir()
    alice = ServerSettings(service.url, token, fingerprint=service.fingerprint).client()
    request = GenerationRequest(
        video=assets["video"], output=out / "stem.wav", model=MODEL, steps=200, end=3.0
    )
    request.validate()

    def interrupt(percent: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        remote_generate(alice, request, progress=interrupt)
    [record] = [r for r in alice.jobs() if r["request"]["steps"] == 200]
    assert alice.wait(record["id"], 120)["state"] == "cancelled"
    assert list(out.iterdir()) == []


def test_a_stem_made_on_the_server_is_regenerated_here_from_its_sidecar(
    remote, laptop, monkeypatch, assets, tmp_path: Path
) -> None:
    service, token = remote
    monkeypatch.setenv("OMNIFOA_SERVER_TOKEN", token)
    monkeypatch.setenv("OMNIFOA_SERVER_FINGERPRINT", service.fingerprint)
    video, stem = assets["video"], tmp_path / "shot.wav"
    argv = ["generate", str(video), "-o", str(stem), *QUICK, "--end", "2.0"]
    done = run_main([*argv, "--server", service.url], timeout=300)
    assert done.status == 0, done.stderr
    [far_sidecar] = (service.state / "files").rglob("shot.wav.json")  # the server's own copy
    far, here = json.loads(far_sidecar.read_text()), read_sidecar(stem)
    for record, name in VIDEO_FIELDS:
        assert here[record][name] == str(video.absolute()) != far[record][name]
    for record, name in OUTPUT_FIELDS:
        assert here[record][name] == str(stem.absolute()) != far[record][name]
    assert here[MADE_ON] == {"server": service.url}
    assert here["source"]["sha256"] == file_sha256(video) == far["source"]["sha256"]
    server_video = Path(far["source"]["video"])
    for record, name in (*VIDEO_FIELDS, *OUTPUT_FIELDS):
        far[record][name] = here[record][name]
    assert {**far, MADE_ON: here[MADE_ON]} == here  # every other field as the server wrote it
    before = sf.read(str(stem), dtype="float32")[0]
    hidden = server_video.with_name("hidden-from-the-laptop")
    os.rename(server_video, hidden)  # the laptop cannot read the server's upload
    try:
        again = run_main(["regenerate", str(stem), "--from", "0.6", "--to", "1.2", "--seed",
                          "9"], timeout=300)  # fmt: skip
    finally:
        os.rename(hidden, server_video)
    assert again.status == 0, again.stderr
    after, rate = sf.read(str(stem), dtype="float32")
    a, b = round(0.6 * rate), round(1.2 * rate)
    assert after.shape == before.shape
    np.testing.assert_array_equal(after[:a], before[:a])  # bit-identical outside the range
    np.testing.assert_array_equal(after[b:], before[b:])
    inside = slice(a + round(0.05 * rate), b - round(0.05 * rate))
    assert np.mean(after[inside] != before[inside]) > 0.99  # new audio inside
    takes, chosen = stem_takes(stem, read_sidecar(stem))
    assert ([t.number for t in takes], chosen) == ([1, 2], 2)


def test_an_interrupted_upload_is_deleted_on_the_server(remote, assets) -> None:
    service, token = remote
    alice = ServerSettings(service.url, token, fingerprint=service.fingerprint).client()
    before = uploads_of(service, "alice")
    partial: list[list[Path]] = []

    def interrupt(done: int, size: int) -> None:
        if done > 0:  # the first chunk is on the server
            partial.append(uploads_of(service, "alice"))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        upload(alice, assets["video"], interrupt, chunk=4096)
    [during] = partial
    assert during != before
    assert uploads_of(service, "alice") == before


def test_the_blender_add_on_downloads_the_sidecar_the_cli_does(
    remote, laptop, assets, tmp_path: Path
) -> None:
    service, token = remote
    addon = addon_module("remote_server")
    far = addon.Remote.checked(service.url, token, service.fingerprint)
    alice = ServerSettings(service.url, token, fingerprint=service.fingerprint).client()
    video = assets["video"]
    for folder in ("blender", "cli"):
        (tmp_path / folder).mkdir()
    request = GenerationRequest(
        video=video, output=tmp_path / "blender" / "shot.wav", model=MODEL, steps=2, end=1.0
    )
    request.validate()
    digest = addon.file_sha256(video)
    job = alice.submit(job_body(request, addon.upload(far, video, None, digest)))
    assert alice.wait(job["id"], 300)["state"] == "done"
    addon.download(far, job["id"], request.output.parent, "shot.wav", video, digest)
    remote_generate(alice, replace(request, output=tmp_path / "cli" / "shot.wav"))
    from_blender = read_sidecar(request.output)
    from_cli = read_sidecar(tmp_path / "cli" / "shot.wav")
    assert from_blender["source"]["video"] == str(video.absolute())
    for record, name in OUTPUT_FIELDS:
        assert from_cli[record][name] == str(tmp_path / "cli" / "shot.wav")
        from_cli[record][name] = from_blender[record][name]
    for document in (from_blender, from_cli):
        del document["created"]  # when each job ran
    assert from_blender == from_cli
