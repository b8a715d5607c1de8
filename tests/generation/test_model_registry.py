"""The model registry: listing, finding files offline, hashes, and what to do without them."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plugin_core.errors import InputError
from plugin_core.generation.model_registry import get_entry, load_registry, require_local, verify

OFFICIAL = "omniaudio-v2sa"


def run_models(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "OMNIFOA_MODELS"}
    full = {**base, "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "plugin_core.cli", "models", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full,
        check=False,
    )


def test_registry_holds_the_official_checkpoint() -> None:
    entry = get_entry(OFFICIAL)
    assert entry.repo == "omniaudio/OmniAudio360V2SA"
    assert entry.file == "model.ckpt"
    assert entry.licence == "Apache-2.0"
    assert entry.preset == "omniaudio"
    assert OFFICIAL in load_registry()
    with pytest.raises(InputError, match=r"known models: .*omniaudio-v2sa"):
        get_entry("nope")


def test_missing_model_says_what_to_download_and_where(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OMNIFOA_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError) as err:
        require_local(get_entry(OFFICIAL), root=tmp_path)
    message = str(err.value)
    assert "omnifoa models download omniaudio-v2sa" in message
    assert "huggingface.co/omniaudio/OmniAudio360V2SA/resolve/main/model.ckpt" in message
    assert str(tmp_path / "models" / OFFICIAL / "model.ckpt") in message


def test_offline_download_fails_with_one_sentence(tmp_path: Path) -> None:
    done = run_models("download", OFFICIAL, env={"HF_HOME": str(tmp_path / "hf")})
    assert done.returncode == 2
    assert done.stderr.startswith("omnifoa: error: Could not download model.ckpt")
    assert "Traceback" not in done.stderr


def test_a_file_in_omnifoa_models_is_found_and_hashed(tmp_path: Path) -> None:
    folder = tmp_path / "models" / OFFICIAL
    folder.mkdir(parents=True)
    (folder / "model.ckpt").write_bytes(b"weights")
    env = {"OMNIFOA_MODELS": str(tmp_path / "models"), "HF_HOME": str(tmp_path / "hf")}
    listed = run_models("list", env=env)
    assert str(folder / "model.ckpt") in listed.stdout
    checked = run_models("verify", OFFICIAL, env=env)
    assert checked.returncode == 0
    assert "no known hash" in checked.stdout
    assert hashlib.sha256(b"weights").hexdigest() in checked.stdout


def test_the_hugging_face_cache_is_used_offline(tmp_path: Path) -> None:
    repo = tmp_path / "hf" / "hub" / "models--omniaudio--OmniAudio360V2SA"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "model.ckpt").write_bytes(b"cached")
    env = {"HF_HOME": str(tmp_path / "hf")}
    assert str(snapshot / "model.ckpt") in run_models("list", env=env).stdout
    fetched = run_models("download", OFFICIAL, env=env)
    assert fetched.returncode == 0, fetched.stderr
    assert "model.ckpt" in fetched.stdout


def test_verify_catches_a_corrupted_file(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    good = hashlib.sha256(b"right").hexdigest()
    manifest.write_text(
        '[[models]]\nid = "mini"\nname = "mini"\nkind = "generator"\nlicence = "MIT"\n'
        f'file = "w.safetensors"\npath = "w.safetensors"\nsha256 = "{good}"\n'
    )
    entry = get_entry("mini", manifest)
    (tmp_path / "w.safetensors").write_bytes(b"right")
    assert verify(entry, root=tmp_path).status == "ok"
    (tmp_path / "w.safetensors").write_bytes(b"wrong")
    assert verify(entry, root=tmp_path).status == "mismatch"
