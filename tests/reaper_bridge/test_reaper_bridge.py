"""The REAPER bridge end to end around REAPER: the Lua scripts in real Lua 5.4 against the
recording stand-in, OSC on loopback against the emulated surface, job files good and
hostile, and the .RPP fallback read back by two independent parsers."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import rpp
import rppxml
import soundfile as sf
from cli_runner import run_cli
from lupa import lua54
from reaper_stub import OscSurface, Reaper, run_script

from plugin_core.install_paths import LUA_DIR
from plugin_core.media.audio_io import read_foa, write_audio
from plugin_core.media.stem_sidecar import sidecar_path
from plugin_core.media.stem_takes import Take as StemTakeRecord
from plugin_core.media.stem_takes import take_path, takes_folder, takes_record
from plugin_core.spatial.foa import encode_mono, from_ambix
from reaper_bridge.bridge_config import BridgeError, load_config
from reaper_bridge.doorbell import NoAnswer, ring, trigger_datagram
from reaper_bridge.drop import drop_stems
from reaper_bridge.job_file import Stem, StemTake
from reaper_bridge.rpp_export import export_rpp

RATE = 48000
AWKWARD = 'my "FOA" stem – ü\'s take.wav'  # spaces, both quotes, non-ASCII


def stem_file(folder: Path, name: str = "stem.wav", seconds: float = 2.0, channels: int = 4):
    rng = np.random.default_rng(len(name))
    foa = encode_mono(0.1 * rng.standard_normal(round(seconds * RATE)), 45.0, 10.0)
    path = folder / name
    write_audio(path, foa[:channels], RATE)
    return path


@pytest.fixture
def reaper(tmp_path: Path) -> Reaper:
    """REAPER with the bridge installed by running omnifoa_install.lua."""
    resource = tmp_path / "REAPER"
    resource.mkdir()
    scripts = resource / "Scripts" / "omnifoa"
    shutil.copytree(LUA_DIR, scripts)
    stub = Reaper(resource)
    run_script(scripts / "omnifoa_install.lua", stub)
    return stub


@pytest.fixture
def surface(reaper: Reaper):
    osc = OscSurface(reaper)
    yield osc
    osc.close()


def config_for(reaper: Reaper, surface: OscSurface):
    return load_config(reaper.resource / "omnifoa" / "bridge.json", port=surface.port)


def test_install_registers_the_ingest_action_and_writes_the_bridge_config(reaper) -> None:
    config = json.loads((reaper.resource / "omnifoa" / "bridge.json").read_text())
    assert config["command_id"].startswith("_RS")
    spool = Path(config["spool"])
    assert all((spool / d).is_dir() for d in ("pending", "done", "acks"))
    [(_number, path)] = reaper.scripts.items()
    assert path.endswith("omnifoa_ingest.lua")
    assert reaper.ext_state[("omnifoa", "command_id")] == config["command_id"]


def test_drop_puts_a_4_channel_track_under_the_monitoring_bus(reaper, surface, tmp_path) -> None:
    path = stem_file(tmp_path, AWKWARD, seconds=2.5)
    ack = drop_stems([Stem(path, "pano FOA seed 5", 12.25)], config_for(reaper, surface))
    assert ack["status"] == "ok", ack
    bus, track = reaper.tracks
    assert bus.name == "omnifoa FOA monitor"
    assert bus.nchan == 4
    assert bus.fx == ["VST3:IEM SceneRotator (IEM)", "VST3:IEM BinauralDecoder (IEM)"]
    assert (bus.folder_depth, track.folder_depth) == (1, -1)
    assert track.name == "pano FOA seed 5"
    assert track.nchan == 4
    [item] = track.items
    assert item.position == 12.25
    assert item.length == pytest.approx(2.5)
    assert item.takes[0].source.path == str(path)  # spaces, quotes and ü survive
    assert reaper.undo_blocks == ["omnifoa: add FOA stems"]
    assert reaper.changes_outside_undo == 0
    assert ack["tracks"] == [{"name": "pano FOA seed 5", "guid": track.guid, "replayed": False}]
    assert [f["ok"] for f in ack["fx"]] == [True, True]
    spool = config_for(reaper, surface).spool
    assert list((spool / "pending").iterdir()) == []
    assert len(list((spool / "done").iterdir())) == 1


def test_a_replayed_job_changes_nothing(reaper, surface, tmp_path) -> None:
    config = config_for(reaper, surface)
    ack = drop_stems([Stem(stem_file(tmp_path), "a", 0.0)], config)
    job = config.spool / "done" / f"{ack['job_id']}.json"
    shutil.copy(job, config.spool / "pending" / job.name)
    (config.spool / "acks" / f"{ack['job_id']}.ack.json").unlink()
    again = ring(config, ack["job_id"], timeout=5)
    assert again["status"] == "ok"
    assert again["tracks"][0]["replayed"] is True
    assert again["tracks"][0]["guid"] == ack["tracks"][0]["guid"]
    assert len(reaper.tracks) == 2
    # a second job adds its track to the same bus, as the folder's new last child
    drop_stems([Stem(stem_file(tmp_path, "b.wav"), "b", 1.0)], config)
    assert [t.name for t in reaper.tracks] == ["omnifoa FOA monitor", "a", "b"]
    assert [t.folder_depth for t in reaper.tracks] == [1, 0, -1]


def test_each_drop_gets_the_ack_of_its_own_job(reaper, surface, tmp_path) -> None:
    config = config_for(reaper, surface)
    stale = "ef" * 16  # an earlier job's final ack, still in the spool
    (config.spool / "acks" / f"{stale}.ack.json").write_text(
        json.dumps(
            {
                "schema": "omnifoa-reaper-ack",
                "version": 1,
                "job_id": stale,
                "status": "ok",
                "tracks": [{"name": "old", "guid": "{0}"}],
            }
        ),
        encoding="utf-8",
    )
    acks = {n: drop_stems([Stem(stem_file(tmp_path, f"{n}.wav"), n, 0.0)], config) for n in "ab"}
    done = {p.stem: json.loads(p.read_text()) for p in (config.spool / "done").iterdir()}
    assert len(done) == 2
    for name, ack in acks.items():
        job = done[ack["job_id"]]  # the job file REAPER applied carries the ack's id
        assert job["job_id"] == ack["job_id"] != stale
        assert [s["name"] for s in job["stems"]] == [name]
        assert [t["name"] for t in ack["tracks"]] == [name]
    assert acks["a"]["job_id"] != acks["b"]["job_id"]


def test_a_missing_plugin_is_reported_not_fatal(tmp_path) -> None:
    resource = tmp_path / "REAPER"
    shutil.copytree(LUA_DIR, resource / "Scripts")
    stub = Reaper(resource, plugins={"VST3:IEM SceneRotator (IEM)"})
    run_script(resource / "Scripts" / "omnifoa_install.lua", stub)
    osc = OscSurface(stub)
    try:
        ack = drop_stems([Stem(stem_file(tmp_path), "s", 0.0)], config_for(stub, osc))
    finally:
        osc.close()
    assert ack["status"] == "ok"
    assert ack["fx"] == [
        {"name": "VST3:IEM SceneRotator (IEM)", "ok": True},
        {"name": "VST3:IEM BinauralDecoder (IEM)", "ok": False},
    ]
    assert len(stub.tracks[1].items) == 1


def hostile_job(spool: Path, body: str | dict, job_id: str = "ab" * 16) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    (spool / "pending" / f"{job_id}.json").write_text(text, encoding="utf-8")
    return job_id


def good_job(path: Path, job_id: str = "ab" * 16) -> dict:
    return {
        "schema": "omnifoa-reaper-job",
        "version": 1,
        "job_id": job_id,
        "stems": [{"path": str(path), "name": "s", "position": 1.0, "format": "ambix"}],
    }


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("{not json", "not valid JSON"),
        ('{"schema": "omnifoa-reaper-job", "version": 1, "job_id": "x"}', "job id"),
        ({"stems": []}, "1 to 64 stems"),
        ({"stems": [{"path": "relative.wav", "name": "s", "position": 0, "format": "ambix"}]},
         "absolute file path"),
        ({"stems": [{"path": "/tmp/a\nb.wav", "name": "s", "position": 0, "format": "ambix"}]},
         "absolute file path"),
        ({"stems": [{"path": "/tmp/a.wav", "name": "s\u0007", "position": 0, "format": "ambix"}]},
         "plain text"),
        ({"stems": [{"path": "/tmp/a.wav", "name": "s", "position": 1e12, "format": "ambix"}]},
         "position"),
        ({"stems": [{"path": "/tmp/a.wav", "name": "s", "position": -1, "format": "ambix"}]},
         "position"),
        ({"stems": [{"path": "/tmp/a.wav", "name": "s", "position": 0, "format": "fuma"}]},
         "AmbiX"),
        ({"fx": ["rm -rf /"]}, "fx names"),
        ({"job_id": "cd" * 16}, "does not match"),
    ],
)  # fmt: skip
def test_malformed_or_hostile_jobs_are_rejected_without_touching_the_project(
    reaper, surface, tmp_path, change, error
) -> None:
    config = config_for(reaper, surface)
    body = change if isinstance(change, str) else {**good_job(stem_file(tmp_path)), **change}
    job_id = hostile_job(config.spool, body)
    ack = ring(config, job_id, timeout=5)
    assert ack["status"] == "rejected"
    assert any(error in e for e in ack["errors"]), ack["errors"]
    assert reaper.tracks == []
    assert reaper.undo_blocks == []


def test_a_file_without_four_channels_is_rejected_before_any_change(
    reaper, surface, tmp_path
) -> None:
    config = config_for(reaper, surface)
    job = good_job(stem_file(tmp_path, "stereo.wav", channels=2))
    ack = ring(config, hostile_job(config.spool, job), timeout=5)
    assert ack["status"] == "rejected"
    assert ack["errors"] == ["stem 1: has 2 channels, not 4"]
    assert reaper.tracks == []


def test_windows_and_mac_paths_pass_the_checks_unchanged(reaper, surface) -> None:
    config = config_for(reaper, surface)
    paths = ["C:\\Users\\Zoë\\FOA stems\\take 1.wav", '/Users/zoë/Music/it\'s "FOA".wav']
    job = good_job(Path("x"))
    job["stems"] = [{"path": p, "name": "s", "position": 0, "format": "ambix"} for p in paths]
    ack = ring(config, hostile_job(config.spool, job), timeout=5)
    # the checks let them through; REAPER (here) has no such files, and says so verbatim
    assert ack["errors"] == [f"stem {i + 1}: REAPER cannot read {p}" for i, p in enumerate(paths)]


def test_the_doorbell_is_small_plain_and_retried_after_a_lost_datagram(reaper, tmp_path) -> None:
    osc = OscSurface(reaper, drop_first=1)
    try:
        config = config_for(reaper, osc)
        datagram = trigger_datagram(config)
        assert len(datagram) <= 1024
        assert datagram.endswith(b",\x00\x00\x00")  # no arguments at all
        ack = drop_stems([Stem(stem_file(tmp_path), "s", 0.0)], config, timeout=10)
    finally:
        osc.close()
    assert ack["status"] == "ok"
    assert len(osc.received) >= 2  # the first was lost, a later ring got through
    assert osc.ignored == []
    assert len(reaper.tracks) == 2


def test_the_surface_ignores_what_reaper_ignores(reaper, surface) -> None:
    from pythonosc.udp_client import SimpleUDPClient

    client = SimpleUDPClient("127.0.0.1", surface.port)
    config = config_for(reaper, surface)
    client.send_message(config.address, [True])  # T: dropped by REAPER
    client.send_message(config.address, [2**40])  # h: dropped
    client.send_message(config.address, ["x" * 1100])  # over 1024 bytes
    import time

    deadline = time.monotonic() + 5
    while len(surface.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(surface.ignored) == 3
    assert surface.triggered == []


def test_no_answer_says_what_to_check(tmp_path) -> None:
    config_file = tmp_path / "bridge.json"
    config_file.write_text(json.dumps({"command_id": "_RSdead", "spool": str(tmp_path)}))
    (tmp_path / "pending").mkdir()
    with pytest.raises(
        NoAnswer, match=r"OSC control surface listening on 127\.0\.0\.1:9"
    ) as caught:
        drop_stems([Stem(stem_file(tmp_path), "s", 0.0)], load_config(config_file, 9), 1.0)
    assert "export-rpp" in str(caught.value)
    assert "omnifoa_install.lua" in str(caught.value)


def test_fuma_stems_are_converted_to_ambix_before_they_are_dropped(
    reaper, surface, tmp_path
) -> None:
    ambix = encode_mono(0.1 * np.sin(np.arange(RATE) * 0.05), 90.0, 0.0)
    fuma = tmp_path / "fuma.wav"
    write_audio(fuma, from_ambix(ambix, "fuma"), RATE, comment="FuMa (W, X, Y, Z)")
    ack = drop_stems([Stem(fuma, "f", 0.0)], config_for(reaper, surface))
    assert ack["status"] == "ok"
    dropped = Path(reaper.tracks[1].items[0].takes[0].source.path)
    assert dropped != fuma
    np.testing.assert_allclose(read_foa(dropped)[0], ambix, atol=1e-6)


def test_drop_refuses_a_stem_that_is_not_4_channel(reaper, surface, tmp_path) -> None:
    config = config_for(reaper, surface)
    with pytest.raises(BridgeError, match="2 channel"):
        drop_stems([Stem(stem_file(tmp_path, "st.wav", channels=2), "s", 0.0)], config)
    assert list((config.spool / "pending").iterdir()) == []


def test_the_rpp_parses_with_two_parsers_and_round_trips(tmp_path) -> None:
    a = stem_file(tmp_path, AWKWARD, seconds=1.5)
    b = stem_file(tmp_path, "b.wav", seconds=2.0)
    project = export_rpp([Stem(a, "pano FOA", 3.0), Stem(b, "b", 4.5)], tmp_path / "p.rpp")
    text = project.read_text(encoding="utf-8")
    assert rpp.dumps(rpp.loads(text)) == text
    parsed = rppxml.loads(text)
    tracks = [c for c in parsed.children if getattr(c, "name", None) == "TRACK"]
    assert len(tracks) == 3
    fields = [{c[0]: c[1:] for c in t.children if isinstance(c, list)} for t in tracks]
    assert [f["NCHAN"] for f in fields] == [[4], [4], [4]]
    assert [f["ISBUS"] for f in fields] == [[1, 1], [0, 0], [0, -1]]
    item = next(c for c in tracks[1].children if getattr(c, "name", None) == "ITEM")
    values = {c[0]: c[1] for c in item.children if isinstance(c, list)}
    assert values["POSITION"] == pytest.approx(3.0)
    assert values["LENGTH"] == pytest.approx(1.5)
    source = next(c for c in item.children if getattr(c, "name", None) == "SOURCE")
    assert source.children[0] == ["FILE", str(a)]
    top = {c[0]: c[1:] for c in parsed.children if isinstance(c, list)}
    assert top["SAMPLERATE"][0] == 48000
    assert top["MASTER_NCH"] == [4, 2]


def test_merging_keeps_what_the_project_had(tmp_path) -> None:
    existing = tmp_path / "mix.rpp"
    original = (
        '<REAPER_PROJECT 0.1 "7.22/linux-x86_64" 1700000000\n'
        "  TEMPO 97 4 4\n"
        "  <TRACK {0A0B0C0D-0000-4000-8000-000000000001}\n"
        '    NAME "Dialogue"\n'
        "    <FXCHAIN\n"
        '      <VST "VST3: ReaEQ (Cockos)" reaeq.vst3 0 "" 1{56534545} ""\n'
        "        ZXE3ZWY0YWYAAAAAAAAAAAAAAAA=\n"
        "      >\n"
        "    >\n"
        "  >\n"
        "  <MARKER 1 2.0 intro\n"
        "  >\n"
        ">\n"
    )
    existing.write_text(original)
    export_rpp([Stem(stem_file(tmp_path), "foa", 0.0)], existing, merge=True)
    merged = existing.read_text()
    assert merged.startswith(original[: original.rindex(">")])  # every byte kept, in place
    assert merged.endswith(">\n")
    assert merged.count("<TRACK") == 3
    names = [
        t.children[0] for t in rppxml.loads(merged).children if getattr(t, "name", "") == "TRACK"
    ]
    assert names == [["NAME", "Dialogue"], ["NAME", "omnifoa FOA monitor"], ["NAME", "foa"]]
    assert rpp.loads(merged).find(".//MARKER") is not None
    with pytest.raises(BridgeError, match="--merge"):
        export_rpp([Stem(stem_file(tmp_path), "foa", 0.0)], existing)


def folder_layout(text: str) -> list[tuple[str, int]]:
    """(track name, folder depth it sits at) for every track, as REAPER nests them."""
    layout, depth = [], 0
    for track in rppxml.loads(text).children:
        if getattr(track, "name", "") != "TRACK":
            continue
        fields = {child[0]: child[1:] for child in track.children if isinstance(child, list)}
        layout.append((fields["NAME"][0], depth))
        depth += int(fields.get("ISBUS", ["0", "0"])[1])
    assert depth == 0  # every folder closed
    return layout


def test_a_merge_puts_new_stems_in_the_existing_monitor_folder(tmp_path) -> None:
    project = tmp_path / "mix.rpp"
    export_rpp([Stem(stem_file(tmp_path, "a.wav"), "take A", 0.0)], project)
    text = project.read_text()
    end = text.rstrip().rfind("\n>")  # the user adds a dialogue track after the folder
    text = (
        text[: end + 1]
        + '  <TRACK {0A0B0C0D-0000-4000-8000-000000000002}\n    NAME "Dialogue"\n  >\n'
        + text[end + 1 :]
    )
    project.write_text(text)
    export_rpp([Stem(stem_file(tmp_path, "b.wav"), "take B", 1.0)], project, merge=True)
    merged = project.read_text()
    assert folder_layout(merged) == [
        ("omnifoa FOA monitor", 0), ("take A", 1), ("take B", 1), ("Dialogue", 0),
    ]  # fmt: skip
    before, after = text.splitlines(), merged.splitlines()
    edits = [
        (op, before[i1:i2], after[j1:j2])
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after).get_opcodes()
        if op != "equal"
    ]
    replaced = [(old, new) for op, old, new in edits if op != "insert"]
    assert replaced == [(["    ISBUS 0 -1"], ["    ISBUS 0 0"])]  # only take A stops closing it
    assert merged.count("omnifoa FOA monitor") == 1


def test_the_reaper_commands(reaper, surface, tmp_path) -> None:
    config = reaper.resource / "omnifoa" / "bridge.json"
    stem = stem_file(tmp_path, AWKWARD)
    done = run_cli(
        "reaper", "drop", str(stem), "--config", str(config), "--port", str(surface.port),
        "--position", "2.5",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "REAPER: ok" in done.stdout
    assert reaper.tracks[1].items[0].position == 2.5
    help_text = run_cli("reaper", "install-help")
    assert help_text.returncode == 0
    assert [line[:2] for line in help_text.stdout.splitlines() if line[:1].isdigit()] == [
        "1.", "2.", "3.", "4.", "5.",
    ]  # fmt: skip
    out = tmp_path / "project.rpp"
    made = run_cli("reaper", "export-rpp", str(stem), "-o", str(out))
    assert made.returncode == 0, made.stderr
    assert out.read_text().count("NCHAN 4") == 2
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~current_umask()  # the user's usual


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_fuma_stem_goes_into_a_project_as_its_ambix_copy(tmp_path) -> None:
    stem = stem_file(tmp_path, "take.wav")
    fuma = tmp_path / "take_fuma.wav"
    assert run_cli("convert", str(stem), str(fuma), "--to", "fuma").returncode == 0
    out = tmp_path / "project.rpp"
    made = run_cli("reaper", "export-rpp", str(fuma), "-o", str(out))
    assert made.returncode == 0, made.stderr
    media = next(p for p in out.read_text().split() if p.strip('"').endswith("_ambix.wav"))
    copy = Path(media.strip('"'))
    np.testing.assert_allclose(read_foa(copy)[0], read_foa(stem)[0], atol=1e-6)
    assert stat.S_IMODE(copy.stat().st_mode) == 0o666 & ~current_umask()


@pytest.mark.parametrize(
    "fx", [["JS:../../Scripts/evil"], ["VST3:Some Other Plugin (Vendor)"], ["JS:IEM SceneRotator"]]
)
def test_only_iem_monitoring_plugins_may_be_named(reaper, surface, tmp_path, fx) -> None:
    config = config_for(reaper, surface)
    job = {**good_job(stem_file(tmp_path)), "fx": fx}
    ack = ring(config, hostile_job(config.spool, job), timeout=5)
    assert ack["status"] == "rejected"
    assert any("must be IEM plug-ins" in e for e in ack["errors"])
    assert reaper.tracks == []


def test_an_allowed_plugin_list_is_used(reaper, surface, tmp_path) -> None:
    config = config_for(reaper, surface)
    job = {**good_job(stem_file(tmp_path)), "fx": ["VST3:IEM AllRADecoder (IEM)"]}
    ack = ring(config, hostile_job(config.spool, job), timeout=5)
    assert ack["status"] == "ok"
    assert [f["name"] for f in ack["fx"]] == ["VST3:IEM AllRADecoder (IEM)"]


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_stem_that_is_not_a_regular_file_is_refused_before_any_change(
    reaper, surface, tmp_path, kind
) -> None:
    config = config_for(reaper, surface)
    odd = tmp_path / "odd.wav"
    if kind == "folder":
        odd.mkdir()
    else:
        os.mkfifo(odd)
    ack = ring(config, hostile_job(config.spool, good_job(odd)), timeout=5)
    assert ack["status"] == "rejected"
    assert ack["errors"] == [f"stem 1: REAPER cannot read {odd}"]
    assert reaper.tracks == []


def test_an_oversized_job_file_is_rejected_unread(reaper, surface, tmp_path) -> None:
    config = config_for(reaper, surface)
    job = {**good_job(stem_file(tmp_path)), "padding": "x" * (300 * 1024)}
    ack = ring(config, hostile_job(config.spool, job), timeout=5)
    assert ack["status"] == "rejected"
    assert any("larger than" in e for e in ack["errors"])
    assert reaper.tracks == []


def test_an_ack_that_cannot_be_written_leaves_the_job_pending_and_the_batch_goes_on(
    reaper, surface, tmp_path
) -> None:
    config = config_for(reaper, surface)
    blocked, fine = "ab" * 16, "cd" * 16
    taken = config.spool / "acks" / f"{blocked}.ack.json"
    taken.mkdir()  # the ack's name is taken by a folder that is not empty
    (taken / "keep").write_text("x")
    hostile_job(config.spool, good_job(stem_file(tmp_path, "a.wav"), blocked), blocked)
    hostile_job(config.spool, good_job(stem_file(tmp_path, "b.wav"), fine), fine)
    ack = ring(config, fine, timeout=5)
    assert ack["status"] == "ok"
    assert [t.name for t in reaper.tracks][1:] == ["s"]  # only the job with an ack was applied
    assert (config.spool / "pending" / f"{blocked}.json").is_file()  # left for the next run
    assert any("cannot write" in m for m in reaper.console)


def test_a_stem_without_samples_is_rejected_before_any_change(reaper, surface, tmp_path) -> None:
    config = config_for(reaper, surface)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 4), np.float32), RATE, subtype="FLOAT")
    ack = ring(config, hostile_job(config.spool, good_job(empty)), timeout=5)
    assert ack["status"] == "rejected"
    assert ack["errors"] == [f"stem 1: {empty} has no audio (0 samples)"]
    assert reaper.tracks == []
    assert reaper.undo_blocks == []


def test_drop_refuses_a_stem_without_samples_before_writing_a_job(
    reaper, surface, tmp_path
) -> None:
    config = config_for(reaper, surface)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 4), np.float32), RATE, subtype="FLOAT")
    with pytest.raises(BridgeError, match=r"empty\.wav has no audio \(0 samples\)"):
        drop_stems([Stem(empty, "s", 0.0)], config)
    assert list((config.spool / "pending").iterdir()) == []
    assert reaper.tracks == []


@pytest.mark.parametrize("number", ["01", "-01", "00", "1.", "-1.", "1.e3"])
def test_a_number_json_does_not_allow_is_rejected(reaper, surface, tmp_path, number) -> None:
    config = config_for(reaper, surface)
    text = json.dumps(good_job(stem_file(tmp_path)))
    assert '"position": 1.0' in text
    body = text.replace('"position": 1.0', f'"position": {number}')
    ack = ring(config, hostile_job(config.spool, body), timeout=5)
    assert ack["status"] == "rejected"
    assert any("not valid JSON" in e for e in ack["errors"]), ack["errors"]
    assert reaper.tracks == []


JSON_NUMBERS = ["0", "-0", "7", "-12", "10", "1.5", "-0.25", "1e3", "1E-3", "2.5e+2", "0.0e0",
                "01", "-01", "00", "1.", "-1.", "1.e3", ".5", "+1", "1e", "1e+", "-", "0x1",
                "1.5.2", "--1", "1ee3"]  # fmt: skip


@pytest.mark.parametrize("text", JSON_NUMBERS)
def test_the_lua_json_reader_takes_exactly_the_numbers_json_allows(text: str) -> None:
    lua = lua54.LuaRuntime(unpack_returned_tuples=True, register_eval=False)
    decode = lua.execute(f"return dofile({str(LUA_DIR / 'omnifoa_json.lua')!r}).decode")
    try:
        expected = json.loads(f"[{text}]")[0]
    except json.JSONDecodeError:
        with pytest.raises(lua54.LuaError, match="json: "):
            decode(f"[{text}]")
    else:
        assert decode(f"[{text}]")[1] == expected


def stem_with_takes(folder: Path, chosen: int = 2, seeds: tuple[int, ...] = (5, 6, 7)) -> Path:
    """``shot.wav`` with a take per seed in ``shot.wav.takes/``, the sidecar listing them and
    the stem a copy of the chosen one."""
    stem = folder / "shot.wav"
    takes_folder(stem).mkdir()
    takes = []
    for number, seed in enumerate(seeds, start=1):
        path = stem_file(takes_folder(stem), take_path(stem, number).name, seconds=1.5)
        takes.append(StemTakeRecord(number, str(path.relative_to(folder)), seed, {"by": "x"}))
    shutil.copyfile(take_path(stem, chosen), stem)
    header = {"schema": "omnifoa-stem", "stem": stem.name, "request": {"seed": seeds[0]}}
    sidecar_path(stem).write_text(json.dumps({**header, **takes_record(takes, chosen)}))
    return stem


def test_a_stem_with_takes_lands_as_one_item_with_a_reaper_take_each(
    reaper, surface, tmp_path
) -> None:
    stem = stem_with_takes(tmp_path, chosen=2)
    config = reaper.resource / "omnifoa" / "bridge.json"
    done = run_cli(
        "reaper", "drop", str(stem), "--config", str(config), "--port", str(surface.port)
    )
    assert done.returncode == 0, done.stderr
    assert "3 takes, take 2 plays" in done.stdout
    _bus, track = reaper.tracks
    assert track.name == "shot"
    [item] = track.items
    assert [t.name for t in item.takes] == ["take 1 (seed 5)", "take 2 (seed 6)", "take 3 (seed 7)"]
    assert [t.source.path for t in item.takes] == [str(take_path(stem, n)) for n in (1, 2, 3)]
    assert item.active is item.takes[1]
    assert item.active.source.path == str(take_path(stem, 2))
    assert item.length == pytest.approx(1.5)
    assert reaper.undo_blocks == ["omnifoa: add FOA stems"]
    assert reaper.changes_outside_undo == 0
    job = json.loads(next((reaper_spool(reaper) / "done").iterdir()).read_text())
    [entry] = job["stems"]
    assert entry["path"] == str(take_path(stem, 2))
    assert entry["active"] == 1
    assert len(entry["takes"]) == 3


def reaper_spool(reaper: Reaper) -> Path:
    return Path(json.loads((reaper.resource / "omnifoa" / "bridge.json").read_text())["spool"])


def test_a_replayed_job_with_takes_changes_nothing(reaper, surface, tmp_path) -> None:
    stem = stem_with_takes(tmp_path, chosen=3)
    takes = tuple(StemTake(take_path(stem, n), f"t{n}") for n in (1, 2, 3))
    config = config_for(reaper, surface)
    ack = drop_stems([Stem(stem, "shot", 0.0, takes=takes, active=2)], config)
    assert ack["tracks"][0]["takes"] == 3
    assert ack["tracks"][0]["active"] == 2
    job = config.spool / "done" / f"{ack['job_id']}.json"
    shutil.copy(job, config.spool / "pending" / job.name)
    (config.spool / "acks" / f"{ack['job_id']}.ack.json").unlink()
    again = ring(config, ack["job_id"], timeout=5)
    assert again["tracks"] == [{**ack["tracks"][0], "replayed": True}]
    [item] = reaper.tracks[1].items
    assert len(item.takes) == 3
    assert item.active is item.takes[2]


@pytest.mark.parametrize("odd", ["longer", "stereo"])
def test_a_take_of_another_length_or_channel_count_is_refused_before_any_change(
    reaper, surface, tmp_path, odd
) -> None:
    stem = stem_with_takes(tmp_path)
    other = take_path(stem, 3)
    stem_file(other.parent, other.name, *((1.6, 4) if odd == "longer" else (1.5, 2)))
    takes = tuple(StemTake(take_path(stem, n), f"t{n}") for n in (1, 2, 3))
    config = config_for(reaper, surface)
    # omnifoa refuses it before writing a job ...
    refusal = "must be one length" if odd == "longer" else "2 channel"
    with pytest.raises(BridgeError, match=refusal):
        drop_stems([Stem(stem, "shot", 0.0, takes=takes, active=1)], config)
    assert list((config.spool / "pending").iterdir()) == []
    # ... and REAPER refuses a job that carries it anyway, before touching the project
    job = good_job(take_path(stem, 2))
    job["stems"][0] |= {"takes": [{"path": str(t.path), "name": t.name} for t in takes]}
    job["stems"][0] |= {"active": 1}
    ack = ring(config, hostile_job(config.spool, job), timeout=5)
    assert ack["status"] == "rejected"
    expected = "not as long as take 1" if odd == "longer" else "has 2 channels, not 4"
    assert [e.startswith("stem 1, take 3: ") and expected in e for e in ack["errors"]] == [True]
    assert reaper.tracks == []
    assert reaper.undo_blocks == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"takes": []}, "1 to 64 takes"),
        ({"takes": [{"path": "rel.wav", "name": "t"}], "active": 0}, "absolute file path"),
        ({"takes": "x", "active": 0}, "1 to 64 takes"),
        ({"active": 0}, "lists none"),
        ({"takes": [{"path": "/tmp/a.wav", "name": "t"}], "active": 1}, "index of one"),
        ({"takes": [{"path": "/tmp/a.wav", "name": "t"}], "active": 0.5}, "index of one"),
        ({"takes": [{"path": "/tmp/a.wav", "name": "t\n"}], "active": 0}, "plain text"),
        ({"takes": [{"path": "/tmp/other.wav", "name": "t"}], "active": 0}, "active take's file"),
    ],
)  # fmt: skip
def test_malformed_takes_are_rejected_without_touching_the_project(
    reaper, surface, change, error
) -> None:
    config = config_for(reaper, surface)
    job = good_job(Path("/tmp/a.wav"))
    job["stems"][0] |= change
    ack = ring(config, hostile_job(config.spool, job), timeout=5)
    assert ack["status"] == "rejected"
    assert any(e.startswith("stem 1: ") and error in e for e in ack["errors"]), ack["errors"]
    assert reaper.tracks == []


def rpp_takes(item_children: list) -> tuple[list[str], list[str], int]:
    """An RPP item's take names, files and selected take (0-based), from either parser's
    children (rpp gives a lone ``TAKE`` as a string, rppxml as a list)."""
    names, files, selected = [], [], 0
    for child in item_children:
        line = [child] if isinstance(child, str) else child
        if isinstance(line, list) and line[0] == "TAKE":
            selected = len(names) if line[1:] == ["SEL"] else selected
        elif isinstance(line, list) and line[0] == "NAME":
            names.append(str(line[1]))
        elif "SOURCE" in (getattr(child, "tag", None), getattr(child, "name", None)):
            files.append(str(child.children[0][1]))
    return names, files, selected


@pytest.mark.parametrize("chosen", [2, 1])  # the first take plays when no TAKE SEL follows
def test_export_rpp_writes_a_stem_with_takes_as_one_item_with_the_chosen_take_selected(
    tmp_path, chosen
) -> None:
    stem = stem_with_takes(tmp_path, chosen=chosen)
    out = tmp_path / "takes.rpp"
    made = run_cli("reaper", "export-rpp", str(stem), "-o", str(out))
    assert made.returncode == 0, made.stderr
    text = out.read_text(encoding="utf-8")
    assert rpp.dumps(rpp.loads(text)) == text
    track = rpp.loads(text).findall("TRACK")[1]
    [item] = track.findall("ITEM")
    tracks = [c for c in rppxml.loads(text).children if getattr(c, "name", "") == "TRACK"]
    other = next(c for c in tracks[1].children if getattr(c, "name", "") == "ITEM")
    by_rpp, by_rppxml = rpp_takes(item.children), rpp_takes(other.children)
    assert (
        by_rpp
        == by_rppxml
        == (
            ["take 1 (seed 5)", "take 2 (seed 6)", "take 3 (seed 7)"],
            [str(take_path(stem, n)) for n in (1, 2, 3)],
            chosen - 1,
        )
    )
    assert text.count("TAKE SEL") == (chosen != 1)


@pytest.mark.parametrize("sidecar", ["none", "old", "one take", "not omnifoa's"])
def test_a_stem_without_takes_goes_as_it_did_beside_one_with_takes(
    reaper, surface, tmp_path, sidecar
) -> None:
    plain = stem_file(tmp_path, "plain.wav")
    header = {"schema": "omnifoa-stem", "stem": "plain.wav", "request": {"seed": 3}}
    one = [StemTakeRecord(1, "plain.wav", 3, {})]
    documents = {
        "old": header,
        "one take": {**header, **takes_record(one, 1)},
        "not omnifoa's": {"whatever": 1},
    }
    if sidecar in documents:
        sidecar_path(plain).write_text(json.dumps(documents[sidecar]))
    shot = stem_with_takes(tmp_path)
    config = reaper.resource / "omnifoa" / "bridge.json"
    done = run_cli(
        "reaper", "drop", str(plain), str(shot), "--config", str(config),
        "--port", str(surface.port),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = json.loads(next((reaper_spool(reaper) / "done").iterdir()).read_text())
    assert job["stems"][0] == {
        "path": str(plain), "name": "plain", "position": 0.0, "format": "ambix",
    }  # fmt: skip
    assert len(job["stems"][1]["takes"]) == 3
    ack = json.loads(next((reaper_spool(reaper) / "acks").iterdir()).read_text())
    assert set(ack["tracks"][0]) == {"name", "guid", "replayed"}
    [item] = reaper.tracks[1].items
    assert [(t.name, t.source.path) for t in item.takes] == [("", str(plain))]
    assert len(reaper.tracks[2].items[0].takes) == 3
