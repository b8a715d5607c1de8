"""The failure contract on every command: a matrix of bad inputs, bad outputs and bad numbers.

Each case runs the real command line (in this process, with a hang guard) and asserts what a
user sees: exit status 2, one sentence and no traceback, no new or changed file anywhere near
the command (a before/after listing with sizes and hashes, hidden temporaries included), and
the inputs unchanged. Each command first runs once on good inputs, so every refusal below is
the hostile input's doing and not a broken command line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import Outcome, run_main
from hostile_inputs import FILE_KINDS, fill_up, small_tmpfs, snapshot, spoil
from model_fixtures import reference_state, tiny_generator

from models.checkpoint_files import save_safetensors
from plugin_core.cli.main import build_parser
from plugin_core.media.audio_io import write_audio
from plugin_core.media.video import write_video
from plugin_core.spatial import foa
from plugin_core.spatial.binaural import DEFAULT_SOFA
from plugin_core.synthsphere import make_scene, render_frames

MODEL = "tiny-contract"
RATE = 48000


@dataclass(frozen=True)
class Kit:
    """Good inputs of every kind a command reads."""

    folder: Path
    video: Path
    foa: Path
    mono: Path
    path: Path
    sofa: Path
    ckpt: Path


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    folder = tmp_path_factory.mktemp("kit")
    video = folder / "scene.mp4"
    noise = 0.1 * np.random.default_rng(0).standard_normal(2 * RATE).astype(np.float32)
    field = foa.encode_mono(noise, 90, 0).astype(np.float32)
    frames = render_frames(make_scene(5, 2.0), 128, 64, 8.0)
    write_video(video, frames, 8.0, audio=field, audio_rate=RATE)
    write_audio(folder / "field.wav", field, RATE)
    write_audio(folder / "voice.wav", noise[None], RATE)
    (folder / "aim.json").write_text(
        json.dumps(
            {
                "format": "omnifoa-direction-path",
                "version": 1,
                "keys": [{"t": 0, "yaw": 0, "pitch": 0}, {"t": 2, "yaw": 90, "pitch": 10}],
            }
        )
    )
    shutil.copy(DEFAULT_SOFA, folder / "ears.sofa")
    state = {"diffusion." + k: v for k, v in reference_state(tiny_generator(0)).items()}
    torch.save({"state_dict": state, "global_step": 1}, folder / "model.ckpt")
    return Kit(
        folder,
        video,
        folder / "field.wav",
        folder / "voice.wav",
        folder / "aim.json",
        folder / "ears.sofa",
        folder / "model.ckpt",
    )


@pytest.fixture(scope="module", autouse=True)
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A registered tiny model, so ``generate`` runs in a second."""
    folder = tmp_path_factory.mktemp("registry")
    save_safetensors(tiny_generator(0).state_dict(), folder / "tiny.safetensors")
    registry = folder / "models.toml"
    registry.write_text(
        f'[[models]]\nid = "{MODEL}"\nname = "tiny"\nkind = "generator"\n'
        'licence = "Apache-2.0"\nfile = "tiny.safetensors"\npath = "tiny.safetensors"\n'
        'preset = "tiny"\nframe_encoder = "efficientnet-lite0"\n'
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMNIFOA_EXTRA_MODELS", str(registry))
        yield


def commands(k: Kit, out: Path) -> dict[str, list[str | Path]]:
    """Every command that reads or writes files, with good arguments writing into ``out``."""
    return {
        "info": ["info", k.video],
        "extract-audio": ["extract-audio", k.video, "-o", out / "x.wav"],
        "convert": ["convert", k.foa, out / "c.wav", "--to", "fuma"],
        "analyze": ["analyze", k.foa, "--video", k.video, "--png", out / "a.png"],
        "export-video": ["export-video", k.video, k.foa, "-o", out / "v.mp4"],
        "generate": ["generate", k.video, "-o", out / "g.wav", "--model", MODEL, "--steps", "1"],
        "generate --path": [
            *("generate", k.video, "-o", out / "g.wav", "--model", MODEL, "--steps", "1"),
            *("--path", k.path),
        ],
        "binaural": ["binaural", k.foa, "-o", out / "b.wav", "--sofa", k.sofa, "--path", k.path],
        "conform": ["conform", k.video, k.mono, "-o", out / "f.wav", "--at", "90,0", "--time", "1"],
        "conform --path": ["conform", k.video, k.mono, "-o", out / "f.wav", "--path", k.path],
        "models convert": ["models", "convert", k.ckpt, out / "m.safetensors"],
        "reaper export-rpp": ["reaper", "export-rpp", k.foa, "-o", out / "p.rpp"],
        "synth": ["synth", "--out", out / "set", "--count", "1", "--seconds", "1"],
    }


FAKE = Kit(
    Path("k"),
    *(Path("k") / n for n in ("scene.mp4", "field.wav", "voice.wav", "aim.json", "ears.sofa")),
    Path("k") / "model.ckpt",
)
COMMANDS = list(commands(FAKE, Path("o")))
WRITERS = [name for name in COMMANDS if name != "info"]
INPUT_SLOTS = [
    (name, slot, argv[slot].name)
    for name, argv in commands(FAKE, Path("o")).items()
    for slot in range(len(argv))
    if isinstance(argv[slot], Path) and argv[slot].parent == FAKE.folder
]


def with_overwrite(name: str, argv: list[str | Path]) -> list[str | Path]:
    """``argv`` allowing replacement (``export-rpp`` adds to a project with --merge instead)."""
    return argv if name == "reaper export-rpp" else [*argv, "--overwrite"]


def outputs_of(argv: list[str | Path], out: Path) -> list[Path]:
    return [a for a in argv if isinstance(a, Path) and a.parent == out]


def run(argv: list[str | Path], unblock: Path | None = None) -> Outcome:
    return run_main([str(a) for a in argv], timeout=120, unblock=unblock)


def assert_refused(done: Outcome, *words: str) -> None:
    """Exit 2, one sentence naming what is wrong, no traceback."""
    assert done.status is not None, "the command hung"
    assert done.status == 2, (done.status, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.messages()
    assert len(lines) == 1, lines
    assert lines[0].startswith("omnifoa: error: "), lines
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_works_on_good_inputs(kit: Kit, tmp_path: Path, name: str) -> None:
    argv = commands(kit, tmp_path)[name]
    done = run(argv)
    assert done.status == 0, done.stderr
    for output in outputs_of(argv, tmp_path):
        assert output.exists(), output
    leftovers = [p.name for p in tmp_path.rglob(".*")]
    assert leftovers == []  # no temporary left behind on success either


def wrong_kind(good: Path, k: Kit) -> Path:
    """A real file of another kind than ``good``: a WAV for a video, mono for FOA..."""
    return {k.video: k.mono, k.foa: k.mono, k.mono: k.path, k.path: k.foa, k.sofa: k.foa}.get(
        good, k.foa
    )


CASES = [
    (name, slot, kind)
    for name, slot, file in INPUT_SLOTS
    for kind in [*FILE_KINDS, *(["nan"] if file.endswith(".wav") else []), "wrong kind"]
]


@pytest.mark.parametrize(("name", "slot", "kind"), CASES)
def test_a_bad_input_is_refused_and_nothing_is_written(
    kit: Kit, tmp_path: Path, name: str, slot: int, kind: str
) -> None:
    out, bad_folder = tmp_path / "out", tmp_path / "bad"
    out.mkdir()
    bad_folder.mkdir()
    argv = commands(kit, out)[name]
    good = argv[slot]
    assert isinstance(good, Path)
    bad = wrong_kind(good, kit) if kind == "wrong kind" else spoil(kind, good, bad_folder)
    argv[slot] = bad
    before, inputs = snapshot(tmp_path), snapshot(kit.folder)
    done = run(argv, unblock=bad if kind == "fifo" else None)
    assert_refused(done)
    assert snapshot(tmp_path) == before
    assert snapshot(kit.folder) == inputs


@pytest.mark.parametrize("name", WRITERS)
def test_an_existing_output_is_never_replaced_without_overwrite(
    kit: Kit, tmp_path: Path, name: str
) -> None:
    argv = commands(kit, tmp_path)[name]
    assert run(argv).status == 0  # the user's first run
    before = snapshot(tmp_path)
    assert_refused(run(argv), "exist")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", [w for w in WRITERS if w != "synth"])
def test_an_input_is_never_an_output_even_with_overwrite(
    kit: Kit, tmp_path: Path, name: str
) -> None:
    work = tmp_path / "work"
    shutil.copytree(kit.folder, work)
    mine = Kit(work, *(work / p.relative_to(FAKE.folder) for p in list(vars(FAKE).values())[1:]))
    argv = commands(mine, tmp_path)[name]
    first_input = next(a for a in argv if isinstance(a, Path) and a.parent == work)
    output_at = argv.index(outputs_of(argv, tmp_path)[0])
    argv[output_at] = first_input
    argv = with_overwrite(name, argv)
    before = snapshot(tmp_path)
    assert_refused(run(argv))
    assert snapshot(tmp_path) == before


PLACES = ["no such folder", "a folder as the file", "read-only disk"]


@pytest.mark.parametrize(
    ("name", "place"),
    [
        (name, place)
        for name in WRITERS
        for place in PLACES
        if name != "synth" or place == "read-only disk"  # synth makes its folder, like mkdir -p
    ],
)
def test_an_output_that_cannot_be_written_is_refused(
    kit: Kit, tmp_path: Path, name: str, place: str
) -> None:
    target = tmp_path / "target"
    target.mkdir()
    with contextlib.ExitStack() as stack:
        out = target / "missing" if place == "no such folder" else target
        if place == "read-only disk":
            stack.enter_context(small_tmpfs(target, read_only=True))
        argv = commands(kit, out)[name]
        if place == "a folder as the file":
            for output in outputs_of(argv, out):
                output.mkdir()
                (output / "keep.txt").write_text("the user's own folder")
            argv = with_overwrite(name, argv)
        before = snapshot(tmp_path)
        assert_refused(run(argv))
        assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", WRITERS)
def test_a_full_disk_leaves_nothing_behind(kit: Kit, tmp_path: Path, name: str) -> None:
    disk = tmp_path / "disk"
    with small_tmpfs(disk, size_kib=64):
        fill_up(disk)
        argv = commands(kit, disk)[name]
        before = snapshot(tmp_path)
        done = run(argv)
        assert_refused(done)
        assert "full" in done.stderr or "no space" in done.stderr.lower()
        assert snapshot(tmp_path) == before


def numeric_flags() -> list[tuple[str, str]]:
    """(command, flag) for every flag whose value is a number, found in the parser itself."""
    found = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for command, sub in action.choices.items():
                    walk(sub, [*prefix, command])
            elif action.option_strings and action.type is not None:
                try:
                    value = action.type("1")
                except (argparse.ArgumentTypeError, TypeError, ValueError):
                    continue
                if isinstance(value, int | float) and not isinstance(value, bool):
                    found.append((" ".join(prefix), action.option_strings[-1]))

    walk(build_parser(), [])
    return found


NUMERIC_FLAGS = numeric_flags()
HOSTILE_NUMBERS = ["nan", "inf", "-inf", "1e999", "1e30", "-1e30", "twelve", ""]


def test_the_flag_walk_finds_the_numbers_users_type() -> None:
    found = set(NUMERIC_FLAGS)
    for expected in [("generate", "--yaw"), ("generate", "--seed"), ("serve", "--port")]:
        assert expected in found
    assert len(found) >= 30


@pytest.mark.parametrize(("command", "flag"), NUMERIC_FLAGS)
@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_every_numeric_flag_refuses_non_finite_and_absurd_numbers(
    kit: Kit, tmp_path: Path, command: str, flag: str, value: str
) -> None:
    argv = commands(kit, tmp_path).get(command, command.split())  # a whole, good command line
    before = snapshot(tmp_path)
    done = run([*argv, f"{flag}={value}"])
    assert_refused(done, flag)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 100000 + "]" * 100000, ["nested"]),
        (
            '{"format": "omnifoa-direction-path", "version": 1, "keys": '
            '[{"t": 0, "yaw": NaN, "pitch": 0}]}',
            ["yaw"],
        ),
        (
            '{"format": "omnifoa-direction-path", "version": 1, "keys": '
            '[{"t": 0, "yaw": 1e300, "pitch": 0}]}',
            ["yaw"],
        ),
        (
            '{"format": "omnifoa-direction-path", "version": 1, "keys": '
            '[{"t": Infinity, "yaw": 0, "pitch": 0}]}',
            ["t"],
        ),
        (
            '{"format": "omnifoa-direction-path", "version": 1, "keys": '
            '[{"t": 0, "yaw": [[[0]]], "pitch": 0}]}',
            ["yaw"],
        ),
        ('{"format": "something else", "version": 1, "keys": []}', ["direction path"]),
    ],
    ids=["deep", "nan", "absurd", "infinite-time", "nested-value", "wrong-format"],
)
@pytest.mark.parametrize("name", ["generate --path", "binaural", "conform --path"])
def test_a_hostile_direction_path_is_refused(
    kit: Kit, tmp_path: Path, name: str, text: str, words: list[str]
) -> None:
    hostile = tmp_path / "path.json"
    hostile.write_text(text)
    argv = commands(kit, tmp_path)[name]
    argv[argv.index(kit.path)] = hostile
    before = snapshot(tmp_path)
    assert_refused(run(argv), *words)
    assert snapshot(tmp_path) == before


def test_a_refused_stem_leaves_no_conversion_of_the_stems_before_it(
    kit: Kit, tmp_path: Path
) -> None:
    fuma = tmp_path / "fuma.wav"
    assert run(["convert", kit.foa, fuma, "--to", "fuma"]).status == 0
    out = tmp_path / "project"
    out.mkdir()
    before = snapshot(tmp_path)
    done = run(["reaper", "export-rpp", fuma, kit.mono, "-o", out / "p.rpp"])
    assert_refused(done, "channel")
    assert snapshot(tmp_path) == before  # no p_media/ with the FuMa stem's AmbiX copy
