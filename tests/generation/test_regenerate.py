"""A stem's takes and regenerating a range of it: outside the range every sample is the
stem's own, inside it is new, the joins sound like the stem, the old audio stays a take, and
the stem's own path plays the chosen take. Bad ranges are refused with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_runner import run_main
from hostile_inputs import snapshot

from plugin_core.errors import InputError
from plugin_core.generation.loaded_model import LoadedModel, load_model
from plugin_core.generation.pipeline import generate
from plugin_core.generation.regenerate import RangeEdit, regenerate
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.stem_takes import choose_take, read_sidecar, stem_takes
from plugin_core.media.video import write_video
from plugin_core.synthsphere import make_scene, render_frames


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "scene.mp4"
    write_video(path, render_frames(make_scene(3, 4.0), 256, 128, 12.0), 12.0)
    return path


def made_stem(video: Path, folder: Path, loaded: LoadedModel, **changes) -> Path:
    stem = folder / "shot.wav"
    request = GenerationRequest(video=video, output=stem, steps=2, seed=3, **changes)
    generate(request, loaded)
    return stem


def exact(path: Path) -> np.ndarray:
    """The samples as stored (PCM as integers, float as float)."""
    pcm = sf.info(str(path)).subtype.startswith("PCM")
    return sf.read(str(path), dtype="int32" if pcm else "float32", always_2d=True)[0]


@pytest.mark.parametrize("subtype", ["pcm24", "float32"])
def test_outside_the_range_every_sample_is_the_stems_and_inside_it_is_new(
    loaded: LoadedModel, video: Path, tmp_path: Path, subtype: str
) -> None:
    stem = made_stem(video, tmp_path, loaded, start=0.5, end=3.5, subtype=subtype)
    before = exact(stem)
    rate = sf.info(str(stem)).samplerate
    [take] = regenerate(RangeEdit(stem, 1.0, 1.6, seed=9), loaded)
    after = exact(stem)
    a, b = round(1.0 * rate), round(1.6 * rate)
    assert after.shape == before.shape
    np.testing.assert_array_equal(after[:a], before[:a])  # bit-identical outside
    np.testing.assert_array_equal(after[b:], before[b:])
    inside = after[a + round(0.05 * rate) : b - round(0.05 * rate)]
    old = before[a + round(0.05 * rate) : b - round(0.05 * rate)]
    assert np.mean(inside != old) > 0.99  # new audio between the crossfades
    # the old audio is take 1, the new one take 2, chosen; the stem plays it
    takes, chosen = stem_takes(stem, read_sidecar(stem))
    assert [t.number for t in takes] == [1, 2]
    assert chosen == 2 == take.number
    np.testing.assert_array_equal(exact(stem.parent / takes[0].file), before)
    np.testing.assert_array_equal(exact(stem.parent / takes[1].file), after)
    made = takes[1].made
    assert (made["range"], made["from_take"], take.seed) == ([1.0, 1.6], 1, 9)
    assert made["join"] == {"start": "inpainted", "end": "inpainted"}  # the tiny codec encodes
    assert sf.info(str(stem)).subtype == {"pcm24": "PCM_24", "float32": "FLOAT"}[subtype]


def test_a_range_regenerated_twice_keeps_every_take_and_choosing_one_plays_it(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    stem = made_stem(video, tmp_path, loaded, end=3.0)
    original = exact(stem)
    regenerate(RangeEdit(stem, 0.5, 1.5, seed=1), loaded)
    second = exact(stem)
    regenerate(RangeEdit(stem, 2.0, 2.8, seed=2, takes=2), loaded)
    takes, chosen = stem_takes(stem, read_sidecar(stem))
    assert [t.number for t in takes] == [1, 2, 3, 4]
    assert chosen == 3
    assert takes[2].made["from_take"] == takes[3].made["from_take"] == 2
    assert not np.array_equal(
        exact(stem.parent / takes[2].file), exact(stem.parent / takes[3].file)
    )
    choose_take(stem, 1)
    np.testing.assert_array_equal(exact(stem), original)
    choose_take(stem, 2)
    np.testing.assert_array_equal(exact(stem), second)
    assert read_sidecar(stem)["chosen"] == 2


def test_a_range_covering_the_whole_stem_is_a_new_generation(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    stem = made_stem(video, tmp_path, loaded, end=2.0)
    rate, frames = sf.info(str(stem)).samplerate, sf.info(str(stem)).frames
    [take] = regenerate(RangeEdit(stem, 0.0, frames / rate, seed=4), loaded)
    again = tmp_path / "again.wav"  # what generating with the new seed gives
    generate(GenerationRequest(video=video, output=again, steps=2, seed=4, end=2.0), loaded)
    np.testing.assert_array_equal(exact(stem), exact(again))
    assert take.made["join"] == "whole"


def _frames_db(audio: np.ndarray, rate: int, hop: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Level (dB) of W and spectral flux of W in 100 ms frames every ``hop`` seconds."""
    w = audio[:, 0]
    size, step = round(0.1 * rate), round(hop * rate)
    starts = np.arange(0, len(w) - size, step)
    frames = np.stack([w[s : s + size] for s in starts]) * np.hanning(size)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    spectra = np.abs(np.fft.rfft(frames, axis=1))
    spectra /= np.linalg.norm(spectra, axis=1, keepdims=True) + 1e-12
    flux = np.r_[0.0, np.linalg.norm(np.diff(spectra, axis=0), axis=1)]
    return level, flux


def test_the_joins_stay_within_the_stems_own_variation_of_level_and_flux(tmp_path: Path) -> None:
    """With the bundled model on the demo scene: the level and the spectral flux in the
    100 ms around each join, and the sample-to-sample steps at it, are within the range
    the stem itself moves in."""
    from plugin_core.synthsphere.splits import DEMO_SEED

    loaded = load_model("omnifoa-mini", "cpu")
    video = tmp_path / "demo.mp4"
    write_video(video, render_frames(make_scene(DEMO_SEED, 10.0), 512, 256, 24.0), 24.0)
    stem = tmp_path / "demo.wav"
    generate(GenerationRequest(video=video, output=stem, seed=0), loaded)
    before, rate = sf.read(str(stem), always_2d=True)
    regenerate(RangeEdit(stem, 3.0, 6.0, seed=7), loaded)
    after, _ = sf.read(str(stem), always_2d=True)
    level, flux = _frames_db(before, rate)
    new_level, new_flux = _frames_db(after, rate)
    hop = 0.05
    steps = np.abs(np.diff(before, axis=0))  # sample to sample: a cut would be a click
    for join in (3.0, 6.0):
        at = round(join * rate)
        click = np.abs(np.diff(after[at - rate // 200 : at + rate // 200], axis=0)).max(axis=0)
        assert (click <= steps.max(axis=0)).all(), (join, click, steps.max(axis=0))
        near = slice(round((join - 0.1) / hop), round((join + 0.05) / hop) + 1)
        assert level.min() - 1.0 <= new_level[near].min(), join
        assert new_level[near].max() <= level.max() + 1.0, join
        assert new_flux[near].max() <= np.percentile(flux, 99), join
    # and the range really is new
    a, b = round(3.2 * rate), round(5.8 * rate)
    assert not np.allclose(after[a:b], before[a:b])


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        (2.0, 1.0, "end after it starts"),
        (1.0, 99.0, "must lie within"),
        (1.0, 1.1, "at least"),
        (float("nan"), 1.0, "numbers of seconds"),
    ],
)
def test_a_range_the_stem_cannot_take_is_refused_and_nothing_changes(
    loaded: LoadedModel, video: Path, tmp_path: Path, start: float, end: float, says: str
) -> None:
    stem = made_stem(video, tmp_path, loaded, end=2.0)
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match=says):
        regenerate(RangeEdit(stem, start, end), loaded)
    assert snapshot(tmp_path) == before


def test_a_cancelled_regeneration_leaves_every_file_as_it_was(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    from models.family import SamplingCancelled

    stem = made_stem(video, tmp_path, loaded, end=2.0)
    before = snapshot(tmp_path)
    with pytest.raises(SamplingCancelled):
        regenerate(RangeEdit(stem, 0.5, 1.5), loaded, cancel=lambda: True)
    assert snapshot(tmp_path) == before


def test_the_cli_lists_chooses_and_refuses_takes(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    stem = made_stem(video, tmp_path, loaded, end=2.0, variations=3)
    listed = run_main(["takes", str(stem)])
    assert listed.status == 0
    assert listed.stdout.splitlines()[0].startswith("* take 1: shot.wav.takes/take1.wav, seed 3")
    chosen = run_main(["takes", str(stem), "--choose", "3"])
    assert chosen.status == 0
    np.testing.assert_array_equal(exact(stem), exact(stem.parent / "shot.wav.takes/take3.wav"))
    assert json.loads((tmp_path / "shot.wav.json").read_text())["chosen"] == 3
    before = snapshot(tmp_path)
    refused = run_main(["takes", str(stem), "--choose", "7"])
    assert refused.status == 2
    assert refused.messages() == ["omnifoa: error: shot.wav has no take 7; its takes are 1, 2, 3."]
    assert snapshot(tmp_path) == before
    bad = run_main(["regenerate", str(stem), "--from", "nan", "--to", "1"])
    assert bad.status == 2
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d["takes"][1].pop("seed"), "in a form omnifoa did not write"),
        (lambda d: d.update(chosen=9), "no take 9"),
        (lambda d: d["takes"][2].update(file="../elsewhere.wav"), "outside the stem's folder"),
    ],
    ids=["a take without its seed", "a chosen take it does not list", "a take outside"],
)
def test_a_sidecar_whose_takes_are_not_omnifoas_is_refused(
    loaded: LoadedModel, video: Path, tmp_path: Path, change, says: str
) -> None:
    stem = made_stem(video, tmp_path, loaded, end=2.0, variations=3)
    sidecar = tmp_path / "shot.wav.json"
    document = json.loads(sidecar.read_text())
    change(document)
    sidecar.write_text(json.dumps(document))
    before = snapshot(tmp_path)
    for argv in (
        ["takes", str(stem), "--choose", "2"],
        ["regenerate", str(stem), "--from", "0.5", "--to", "1.5"],
    ):
        done = run_main(argv)
        assert done.status == 2
        assert len(done.messages()) == 1
        assert says in done.messages()[0]
    assert snapshot(tmp_path) == before


def test_without_a_seed_the_new_take_gets_one_no_take_used(
    loaded: LoadedModel, video: Path, tmp_path: Path
) -> None:
    stem = made_stem(video, tmp_path, loaded, end=2.0, variations=2)  # seed 3, both takes
    before = exact(stem)
    [take] = regenerate(RangeEdit(stem, 0.5, 1.5), loaded)
    assert take.seed == 4
    rate = sf.info(str(stem)).samplerate
    inside = slice(round(0.6 * rate), round(1.4 * rate))
    assert np.mean(exact(stem)[inside] != before[inside]) > 0.99
