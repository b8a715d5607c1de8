"""The REAPER action that regenerates a time selection of an omnifoa item: real Lua 5.4 against
the recording stand-in, whose ExecProcess runs the real ``omnifoa regenerate`` on a real stem
made by a tiny registered model. The item gains the new take, active; the stem's files change
only inside the range the selection maps to; anything wrong is one message and no change."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_runner import run_main
from hostile_inputs import snapshot
from reaper_stub import Item, Reaper, Take, Track, run_script
from service_process import MODEL

from plugin_core.install_paths import LUA_DIR
from plugin_core.media.stem_takes import read_sidecar, stem_takes, take_path

ACTION = "omnifoa_regenerate_selection.lua"
UNDO = "omnifoa: regenerate a range"
FOLDER = "my 'FOA' stems – ü"  # spaces, a single quote, non-ASCII: all quoted through


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory, assets) -> dict[int, Path]:
    """Stems of 2 s made once by the tiny model: one take, and two takes (take 1 chosen)."""
    made = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMNIFOA_EXTRA_MODELS", str(assets["registry"]))
        for variations in (1, 2):
            folder = tmp_path_factory.mktemp(f"stem{variations}")
            argv = ["generate", str(assets["video"]), "-o", str(folder / "shot.wav")]
            argv += ["--model", MODEL, "--steps", "1", "--end", "2", "--seed", "3"]
            done = run_main([*argv, "--variations", str(variations)], timeout=120)
            assert done.status == 0, done.stderr
            made[variations] = folder
    return made


@pytest.fixture(autouse=True)
def registry(assets, monkeypatch: pytest.MonkeyPatch) -> None:
    """The omnifoa that REAPER runs finds the tiny model the stems name."""
    monkeypatch.setenv("OMNIFOA_EXTRA_MODELS", str(assets["registry"]))


@pytest.fixture
def reaper(tmp_path: Path) -> Reaper:
    """REAPER with the bridge installed and linked (`omnifoa reaper link`)."""
    resource = tmp_path / "REAPER"
    scripts = resource / "Scripts" / "omnifoa"
    shutil.copytree(LUA_DIR, scripts)
    stub = Reaper(resource)
    run_script(scripts / "omnifoa_install.lua", stub)
    linked = run_main(["reaper", "link", "--config", str(bridge_json(stub))])
    assert linked.status == 0, linked.stderr
    stub.console.clear()
    return stub


def bridge_json(reaper: Reaper) -> Path:
    return reaper.resource / "omnifoa" / "bridge.json"


def copy_stem(templates: dict[int, Path], takes: int, folder: Path) -> Path:
    shutil.copytree(templates[takes], folder)
    return folder / "shot.wav"


def place(reaper: Reaper, files: list[Path], active: int, position: float, offset: float) -> Item:
    """A selected item on a 4-channel track playing ``files`` as takes, as the ingest action
    leaves it (the take ``active``, 0-based, playing), moved and trimmed by the user."""
    sources = [reaper.PCM_Source_CreateFromFile(str(f)) for f in files]
    takes = [
        Take(s, f"take {k + 1}" if len(files) > 1 else "", start_offset=offset)
        for k, s in enumerate(sources)
    ]
    item = Item(position, sources[0].length - offset, takes, takes[active], selected=True)
    reaper.tracks.append(Track("{00000000-0000-4000-8000-0000000000A1}", "shot", 4, items=[item]))
    return item


def project(reaper: Reaper) -> list:
    """Everything the action could change in the project, and the undo history."""
    tracks = [
        [
            (
                i.position,
                i.length,
                [(t.name, t.source.path, t.start_offset, t.playrate) for t in i.takes],
                i.takes.index(i.active),
            )
            for i in track.items
        ]
        for track in reaper.tracks
    ]
    return [tracks, list(reaper.undo_blocks), reaper.changes_outside_undo]


def exact(path: Path) -> np.ndarray:
    """The samples as stored (PCM as integers, float as float)."""
    pcm = sf.info(str(path)).subtype.startswith("PCM")
    return sf.read(str(path), dtype="int32" if pcm else "float32", always_2d=True)[0]


def run_action(reaper: Reaper) -> None:
    run_script(reaper.resource / "Scripts" / "omnifoa" / ACTION, reaper)


def test_a_time_selection_over_part_of_an_item_adds_the_new_take_and_makes_it_active(
    reaper, templates, tmp_path
) -> None:
    stem = copy_stem(templates, 2, tmp_path / FOLDER)
    files = [take_path(stem, 1), take_path(stem, 2)]
    before = {f: f.read_bytes() for f in files}
    item = place(reaper, files, active=0, position=2.0, offset=0.0)
    old = list(item.takes)
    reaper.time_selection = (2.5, 3.3)  # 0.5 to 1.3 s into the stem
    run_action(reaper)
    assert reaper.console == []
    assert len(item.takes) == 3
    assert item.takes[:2] == old  # the old takes, as they were
    assert [t.source.path for t in old] == [str(f) for f in files]
    assert [t.name for t in old] == ["take 1", "take 2"]
    new = item.takes[2]
    assert item.active is new
    assert new.source.path == str(take_path(stem, 3))
    assert new.name == "take 3 (seed 4)"
    assert (new.start_offset, item.position, item.length) == (0.0, 2.0, pytest.approx(2.0))
    assert {f: f.read_bytes() for f in files} == before  # the old takes' files untouched
    assert stem.read_bytes() == take_path(stem, 3).read_bytes()  # the stem plays the new take
    takes, chosen = stem_takes(stem, read_sidecar(stem))
    assert (chosen, takes[2].made["range"], takes[2].made["from_take"]) == (3, [0.5, 1.3], 1)
    assert reaper.undo_blocks == [UNDO]
    assert reaper.changes_outside_undo == 0
    [command] = reaper.executed
    assert command.startswith(f'"{sys.executable}" "-m" "plugin_core.cli" "regenerate"')


@pytest.mark.parametrize(
    ("selection", "stem_range"),
    [((10.5, 11.3), (0.75, 1.55)), ((8.0, 10.6), (0.25, 0.85))],
    ids=["inside the item", "starting before the item"],
)
def test_position_and_start_offset_map_the_selection_to_seconds_in_the_stem(
    reaper, templates, tmp_path, selection, stem_range
) -> None:
    stem = copy_stem(templates, 1, tmp_path / FOLDER)
    original = exact(stem)
    rate = sf.info(str(stem)).samplerate
    item = place(reaper, [stem], active=0, position=10.0, offset=0.25)
    reaper.time_selection = selection
    run_action(reaper)
    assert reaper.console == []
    after = exact(stem)
    start, end = (round(s * rate) for s in stem_range)
    np.testing.assert_array_equal(after[:start], original[:start])  # outside: as before
    np.testing.assert_array_equal(after[end:], original[end:])
    fade = round(0.05 * rate)
    assert np.mean(after[start + fade : end - fade] != original[start + fade : end - fade]) > 0.99
    assert np.any(after[end - fade - 1] != original[end - fade - 1])  # new up to the range's end
    takes, _ = stem_takes(stem, read_sidecar(stem))
    assert takes[1].made["range"] == list(stem_range)  # the very seconds that reached the CLI
    # the take that played the stem's own file now plays take 1, the same audio as before
    first, new = item.takes
    assert first.source.path == str(take_path(stem, 1))
    np.testing.assert_array_equal(exact(take_path(stem, 1)), original)
    assert item.active is new
    assert new.source.path == str(take_path(stem, 2))
    assert new.start_offset == first.start_offset == 0.25  # the new take lines up with the old


def test_the_active_take_is_the_audio_that_is_regenerated(reaper, templates, tmp_path) -> None:
    stem = copy_stem(templates, 2, tmp_path / "stems")  # take 1 chosen in its sidecar ...
    item = place(reaper, [take_path(stem, 1), take_path(stem, 2)], 1, 0.0, 0.0)  # ... 2 plays
    second = exact(take_path(stem, 2))
    rate = sf.info(str(stem)).samplerate
    reaper.time_selection = (0.5, 1.5)
    run_action(reaper)
    assert reaper.console == []
    new = exact(take_path(stem, 3))
    np.testing.assert_array_equal(new[: round(0.5 * rate)], second[: round(0.5 * rate)])
    takes, chosen = stem_takes(stem, read_sidecar(stem))
    assert (chosen, takes[2].made["from_take"]) == (3, 2)
    assert item.active is item.takes[2]
    assert [c.split('" "')[3] for c in reaper.executed] == ["takes", "regenerate"]


def unlink(reaper: Reaper) -> None:
    config = json.loads(bridge_json(reaper).read_text())
    del config["omnifoa_command"]
    bridge_json(reaper).write_text(json.dumps(config))


def second_item(reaper: Reaper) -> None:
    take = Take(reaper.tracks[0].items[0].active.source)
    reaper.tracks[0].items.append(Item(5.0, 1.0, [take], take, selected=True))


def plain_wav(reaper: Reaper) -> None:
    item = reaper.tracks[0].items[0]
    plain = Path(item.active.source.path).parent / "plain.wav"
    shutil.copyfile(item.active.source.path, plain)
    item.active.source = reaper.PCM_Source_CreateFromFile(str(plain))


REFUSALS: dict[str, tuple[Callable[[Reaper], None], str]] = {
    "no item selected": (lambda r: setattr(r.tracks[0].items[0], "selected", False), "none is"),
    "two items selected": (second_item, "(2 are selected)"),
    "no time selection": (lambda r: setattr(r, "time_selection", (0.0, 0.0)), "Make a time"),
    "a selection beside the item": (
        lambda r: setattr(r, "time_selection", (5.0, 6.0)),
        "does not overlap the selected item",
    ),
    "an item that is not omnifoa's": (plain_wav, "is not an omnifoa stem"),
    "a playrate other than 1": (
        lambda r: setattr(r.tracks[0].items[0].active, "playrate", 1.5),
        "plays at rate 1.5",
    ),
    "omnifoa not linked": (unlink, "run `omnifoa reaper link`"),
    "a command that fails": (
        lambda r: setattr(r, "time_selection", (1.0, 1.1)),
        "Regenerate at least 0.2 s (asked for 0.1 s)",  # the CLI's own sentence
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_what_cannot_be_regenerated_gets_one_message_and_nothing_changes(
    reaper, templates, tmp_path, case
) -> None:
    stem = copy_stem(templates, 2, tmp_path / "stems")
    place(reaper, [take_path(stem, 1), take_path(stem, 2)], 0, 0.0, 0.0)
    reaper.time_selection = (0.5, 1.5)
    change, says = REFUSALS[case]
    change(reaper)
    files, state = snapshot(tmp_path / "stems"), project(reaper)
    run_action(reaper)
    assert len(reaper.console) == 1, reaper.console
    assert says in reaper.console[0]
    assert project(reaper) == state
    assert snapshot(tmp_path / "stems") == files
    ran = [c for c in reaper.executed if '"regenerate"' in c]
    assert len(ran) == (case == "a command that fails")


def test_a_stem_path_a_command_line_could_misread_is_refused_before_anything_runs(
    reaper, templates, tmp_path
) -> None:
    stem = copy_stem(templates, 2, tmp_path / "cost $HOME")
    place(reaper, [take_path(stem, 1), take_path(stem, 2)], 0, 0.0, 0.0)
    reaper.time_selection = (0.5, 1.5)
    files, state = snapshot(tmp_path), project(reaper)
    run_action(reaper)
    assert len(reaper.console) == 1
    assert "safely on a command line" in reaper.console[0]
    assert reaper.executed == []
    assert (snapshot(tmp_path), project(reaper)) == (files, state)


def test_link_writes_how_to_run_omnifoa_and_installing_again_keeps_it(reaper, tmp_path) -> None:
    config = json.loads(bridge_json(reaper).read_text())
    assert config["omnifoa_command"] == [sys.executable, "-m", "plugin_core.cli"]
    assert config["command_id"].startswith("_RS")
    run_script(reaper.resource / "Scripts" / "omnifoa" / "omnifoa_install.lua", reaper)
    again = json.loads(bridge_json(reaper).read_text())
    assert again["omnifoa_command"] == config["omnifoa_command"]
    missing = tmp_path / "nowhere" / "bridge.json"
    refused = run_main(["reaper", "link", "--config", str(missing)])
    assert refused.status == 2
    assert refused.messages() == [
        f"omnifoa: error: The REAPER bridge is not installed ({missing} is missing); run "
        "`omnifoa reaper install-help` and follow its steps."
    ]
    assert not missing.parent.exists()
