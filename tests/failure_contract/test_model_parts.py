"""Model files and parts that are not what they claim: a ViSAGe config.json with impossible
sizes, a CLIP or DAC part missing weights, a config.json that is missing, a folder, a pipe or
not text, a checkpoint that no family (or another family) owns or whose tensors cannot be
written, and a download that cannot reach Hugging Face. Each is refused in one sentence that
names what is wrong (exit 2), before any work, and leaves every file as it was."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from cli_runner import run_cli, run_main
from hostile_inputs import snapshot
from safetensors.torch import load_file, save_file
from visage_fixtures import save_release, tiny_network, tiny_registry

from models.visage.checkpoint import load_visage_weights
from models.visage.config import visage_preset
from models.visage.network import VisageNetwork
from plugin_core.media.stem_sidecar import sha256_of
from plugin_core.media.video import write_video
from plugin_core.synthsphere import make_scene, render_frames


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "scene.mp4"
    write_video(path, render_frames(make_scene(2, 2.0), 128, 64, 8.0), 8.0)
    return path


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registered tiny ViSAGe (``visage/``) with its DAC (``dac/``) and CLIP (``clip/``)."""
    monkeypatch.setenv("OMNIFOA_EXTRA_MODELS", str(tiny_registry(tmp_path / "models")))
    return tmp_path / "models"


def refused(tmp_path: Path, argv: list[str], unblock: Path | None = None) -> str:
    """The one sentence ``omnifoa ARGV`` refuses with (exit 2), having changed no file."""
    before = snapshot(tmp_path)
    done = run_main(argv, timeout=240, unblock=unblock)
    assert done.status == 2, (done.status, done.stderr)
    lines = done.messages()
    assert len(lines) == 1, lines
    assert "Traceback" not in done.stderr
    assert snapshot(tmp_path) == before
    return lines[0]


def generate(video: Path, tmp_path: Path) -> list[str]:
    return ["generate", str(video), "-o", str(tmp_path / "take.wav"), "--model", "visage-test"]


# --- ViSAGe's config.json: every field checked against the architecture's limits ----------

PAIRED = {  # written twice in the release, once for the encoder and once for the decoder
    "encoder_attention_heads": "decoder_attention_heads",
    "encoder_ffn_dim": "decoder_ffn_dim",
}
BAD_FIELDS = [
    ("encoder_attention_heads", 0),  # a division by zero
    ("d_model", -1024),
    ("d_model", float("inf")),  # written Infinity
    ("d_model", float("nan")),  # written NaN
    ("encoder_ffn_dim", 1e308),
    ("d_model", 10_000_000),  # asks the allocator for terabytes
    ("clip_frame_rate", 0),
    ("dac_pad_token_id", 5000),  # beyond the code tables' rows
]


@pytest.mark.parametrize(("key", "value"), BAD_FIELDS, ids=[f"{k}={v}" for k, v in BAD_FIELDS])
def test_a_config_field_out_of_the_architectures_range_is_named_with_its_value(
    release: Path, video: Path, tmp_path: Path, key: str, value: float
) -> None:
    config = release / "visage" / "config.json"
    document = json.loads(config.read_text())
    document[key] = value
    if key in PAIRED:
        document[PAIRED[key]] = value
    config.write_text(json.dumps(document))
    sentence = refused(tmp_path, generate(video, tmp_path))
    assert f"{key} is {json.dumps(value)}" in sentence
    assert str(config) in sentence


def test_a_d_clip_other_than_the_clip_parts_width_is_refused_before_loading(
    release: Path, video: Path, tmp_path: Path
) -> None:
    # weights and config agree on d_clip 24, but the CLIP part gives 16-wide embeddings
    wide = replace(visage_preset("visage-tiny"), d_clip=24)
    save_release(tiny_network(0, wide), release / "visage")
    sentence = refused(tmp_path, generate(video, tmp_path))
    assert "d_clip is 24" in sentence
    assert "16" in sentence
    assert str(release / "clip") in sentence


# --- CLIP and DAC parts: every weight present, never a random initialisation ----------------


@pytest.mark.parametrize(("part", "says"), [("clip", "CLIP"), ("dac", "DAC")])
def test_a_part_holding_a_config_and_one_tensor_is_refused_naming_what_it_lacks(
    release: Path, video: Path, tmp_path: Path, part: str, says: str
) -> None:
    weights = release / part / "model.safetensors"
    full = load_file(str(weights))
    kept = sorted(full)[-1]
    save_file({kept: full[kept]}, str(weights))
    first_missing = sorted(set(full) - {kept})[0]
    # the registry has no hash for the tiny parts, so only the load can tell
    sentence = refused(tmp_path, generate(video, tmp_path))
    assert says in sentence
    assert str(release / part) in sentence
    assert first_missing in sentence


@pytest.mark.parametrize(("part", "says"), [("clip", "CLIP"), ("dac", "DAC")])
def test_a_part_weight_of_another_shape_is_refused_by_name(
    release: Path, video: Path, tmp_path: Path, part: str, says: str
) -> None:
    weights = release / part / "model.safetensors"
    state = load_file(str(weights))
    changed = sorted(state)[0]
    state[changed] = torch.zeros(3)
    save_file(state, str(weights))
    sentence = refused(tmp_path, generate(video, tmp_path))
    assert says in sentence
    assert changed in sentence


def test_verifying_a_model_verifies_its_parts(release: Path, tmp_path: Path) -> None:
    registry = release / "extra.toml"
    line = 'path = "clip/model.safetensors"\n'
    registry.write_text(registry.read_text().replace(line, f'{line}sha256 = "{"0" * 64}"\n'))
    done = run_main(["models", "verify", "visage-test"])
    assert done.status == 1
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    assert set(lines) == {"visage-test", "dac-test", "clip-test"}
    assert lines["clip-test"].startswith("mismatch")
    assert lines["dac-test"].startswith("no known hash")


def _as_downloaded(weights: Path, recorded: str, how: str) -> None:
    """Make ``weights`` look as huggingface_hub leaves a download for which the hub gave
    the SHA-256 ``recorded``: a cache snapshot's link to ``blobs/<sha256>``, or a folder
    download's metadata file (commit, ETag, time)."""
    if how == "hub cache":
        blob = weights.parent.parent / "blobs" / recorded
        blob.parent.mkdir(exist_ok=True)
        weights.rename(blob)
        weights.symlink_to(blob)
    else:
        metadata = weights.parent / ".cache" / "huggingface" / "download"
        metadata.mkdir(parents=True)
        (metadata / f"{weights.name}.metadata").write_text(f"{'c' * 40}\n{recorded}\n1.0\n")


@pytest.mark.parametrize("how", ["hub cache", "folder download"])
def test_a_downloaded_part_that_no_longer_has_the_hubs_hash_is_refused(
    release: Path, video: Path, tmp_path: Path, how: str
) -> None:
    weights = release / "dac" / "model.safetensors"
    _as_downloaded(weights, "ab" * 32, how)  # the bytes changed since the hub sent them
    sentence = refused(tmp_path, generate(video, tmp_path))
    assert "is not the file registered as dac-test" in sentence
    assert "abababababab" in sentence
    assert "when it was downloaded" in sentence
    done = run_main(["models", "verify", "dac-test"])
    assert done.status == 1
    assert done.stdout.startswith("dac-test: mismatch")


@pytest.mark.parametrize("how", ["hub cache", "folder download"])
def test_a_downloaded_part_with_the_hubs_hash_verifies(
    release: Path, tmp_path: Path, how: str
) -> None:
    weights = release / "clip" / "model.safetensors"
    _as_downloaded(weights, sha256_of(weights), how)
    done = run_main(["models", "verify", "clip-test"])
    assert done.status == 0, done.stdout
    assert done.stdout.startswith("clip-test: ok")


# --- config.json missing, a folder, a pipe, not text ----------------------------------------


@pytest.mark.parametrize("part", ["visage", "clip"])
def test_a_missing_config_json_beside_present_weights_is_named(
    release: Path, video: Path, tmp_path: Path, part: str
) -> None:
    (release / part / "config.json").unlink()
    sentence = refused(tmp_path, generate(video, tmp_path))
    assert "config.json" in sentence
    assert "missing" in sentence
    assert str(release / part / "model.safetensors") in sentence
    assert "not on this machine" not in sentence


@pytest.mark.parametrize(("kind", "says"), [("folder", "a folder"), ("fifo", "a pipe")])
def test_a_config_json_that_is_no_regular_file_is_named_and_never_opened(
    release: Path, video: Path, tmp_path: Path, kind: str, says: str
) -> None:
    config = release / "visage" / "config.json"
    config.unlink()
    if kind == "folder":
        config.mkdir()
    else:
        os.mkfifo(config)
    sentence = refused(tmp_path, generate(video, tmp_path), unblock=config)
    assert str(config) in sentence
    assert says in sentence


@pytest.mark.parametrize("part", ["visage", "clip"])
def test_a_config_json_that_is_not_utf8_text_is_named(
    release: Path, video: Path, tmp_path: Path, part: str
) -> None:
    config = release / part / "config.json"
    config.write_bytes(b'{"d_model": "\xff\xfe"}')
    sentence = refused(tmp_path, generate(video, tmp_path))
    assert str(config) in sentence


# --- models convert: the family from the keys, nothing written from an unusable file --------


def test_the_released_visage_file_converts_without_naming_its_family(tmp_path: Path) -> None:
    network = tiny_network(0)
    source = save_release(network, tmp_path / "release", "bin")
    target = tmp_path / "visage.safetensors"
    done = run_main(["models", "convert", str(source), str(target)])
    assert done.status == 0, done.stderr
    assert f"{len(network.state_dict())} tensors" in done.stdout
    reloaded = VisageNetwork(network.config)
    load_visage_weights(reloaded, target)
    for key, value in network.state_dict().items():
        assert torch.equal(reloaded.state_dict()[key], value), key


def test_converting_as_another_family_than_the_keys_say_is_refused(tmp_path: Path) -> None:
    source = save_release(tiny_network(0), tmp_path / "release", "bin")
    target = tmp_path / "out.safetensors"
    argv = ["models", "convert", str(source), str(target), "--family", "omniaudio"]
    sentence = refused(tmp_path, argv)
    assert "visage" in sentence
    assert "omniaudio" in sentence


def hostile_state(kind: str) -> dict:
    """A state dict whose tensors cannot make a usable safetensors file."""
    weight = torch.ones(4, 4)
    if kind == "no family's keys":
        return {"encoder.conv.weight": weight}
    if kind == "only weights inference leaves out":
        return {"diffusion.model.model.transformer.layers.0.cross_attn.to_q.weight": weight}
    if kind == "shared storage":
        return {"flow.dit.a.weight": weight, "flow.dit.b.weight": weight[:2]}
    if kind == "sparse":
        return {"flow.dit.a.weight": weight.to_sparse()}
    if kind == "complex":
        return {"flow.dit.a.weight": weight.to(torch.complex64)}
    if kind == "no tensors":
        return {"flow.dit.a.weight": [1.0, 2.0], "global_step": 3}
    if kind == "integer key":
        return {7: weight, "flow.dit.a.weight": weight}
    raise ValueError(kind)


HOSTILE = {
    "no family's keys": "encoder.conv.weight",
    "only weights inference leaves out": "nothing to convert",
    "shared storage": "share",
    "sparse": "sparse",
    "complex": "complex",
    "no tensors": "no tensors",
    "integer key": "key 7",
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_converting_a_file_with_nothing_usable_writes_nothing(tmp_path: Path, kind: str) -> None:
    source = tmp_path / "pytorch_model.bin"
    torch.save(hostile_state(kind), source)
    target = tmp_path / "out.safetensors"
    sentence = refused(tmp_path, ["models", "convert", str(source), str(target)])
    assert HOSTILE[kind] in sentence
    assert source.name in sentence


# --- models download: a failed download leaves the folders as they were ----------------------


@pytest.mark.parametrize("present", [False, True], ids=["new folder", "user's folder"])
def test_an_offline_download_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, present: bool
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    if present:
        (models / "visage").mkdir()
        (models / "visage" / "notes.txt").write_text("the user's own notes")
    monkeypatch.setenv("OMNIFOA_MODELS", str(models))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # never a real server
    before = snapshot(tmp_path)
    done = run_cli("models", "download", "visage")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("omnifoa: error: Could not download")
    assert snapshot(tmp_path) == before
