"""The shipped omnifoa-mini: its file verifies, it generates from the demo video, and on a few
held-out SynthSphere clips it places sound better than leaving everything at the front."""

import json
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli

from plugin_core.evaluation import HELD_OUT_SEEDS, run_evaluation
from plugin_core.evaluation.artefacts import frame_rate_artefacts
from plugin_core.evaluation.model_systems import model_systems
from plugin_core.generation.loudness import integrated_loudness
from plugin_core.generation.model_registry import get_entry, verify
from plugin_core.generation.pipeline import load_model
from plugin_core.install_paths import DEMO_DIR
from plugin_core.media.audio_io import read_foa, resample

MODEL = "omnifoa-mini"
DEMO_VIDEO = DEMO_DIR / "demo.mp4"
LIGHT_SEEDS = HELD_OUT_SEEDS[:4]


def test_the_bundled_weights_match_their_registered_hash() -> None:
    result = verify(get_entry(MODEL))
    assert result.status == "ok", f"{result.path}: {result.status}"
    assert result.path is not None
    assert result.path.stat().st_size < 40 * 2**20


def test_generate_writes_ambix_for_the_demo_video(tmp_path: Path) -> None:
    out = tmp_path / "demo_foa.wav"
    result = run_cli("generate", str(DEMO_VIDEO), "-o", str(out), "--seed", "1", timeout=300)
    assert result.returncode == 0, result.stderr
    audio, rate = read_foa(out)
    assert rate == 48000
    assert audio.shape[0] == 4
    assert abs(audio.shape[1] / rate - 10.0) < 0.05
    # a sound field, not silence and not W alone, at the loudness its sidecar reports
    level = json.loads(out.with_name(out.name + ".json").read_text())["level"]
    assert level["measured_lufs"] > -50
    assert integrated_loudness(audio, rate) == pytest.approx(level["output_lufs"], abs=0.5)
    assert level["limited"] or level["output_lufs"] == pytest.approx(-23.0, abs=0.01)
    assert np.sqrt(np.mean(audio[1:] ** 2)) > 0.05 * np.sqrt(np.mean(audio[0] ** 2))
    # not a buzz: W does not repeat at the codec's frame rate (1024 samples at 44.1 kHz)
    buzz = frame_rate_artefacts(resample(audio, rate, 44100)[0])
    assert abs(buzz["autocorr_hop"]) <= 0.3
    assert abs(buzz["autocorr_2hop"]) <= 0.3
    assert buzz["comb_db"] <= 3.0


@pytest.fixture(scope="module")
def light_report(tmp_path_factory: pytest.TempPathFactory):
    systems = model_systems(load_model(MODEL, "cpu"))
    cache = tmp_path_factory.mktemp("probe")
    return run_evaluation(systems, LIGHT_SEEDS, 10.0, progress=False, cache_dir=cache)


def test_the_model_places_sound_better_than_the_front_baseline(light_report) -> None:
    model = light_report.summary[MODEL]
    front = light_report.summary["front"]
    assert model["angular_rad"].mean < front["angular_rad"].mean
    assert model["cc_clip"].mean > front["cc_clip"].mean


def test_no_held_out_clip_buzzes_at_the_codec_frame_rate(light_report) -> None:
    for row in light_report.rows:
        if row.system == MODEL:
            assert abs(row.metrics["autocorr_hop"]) <= 0.3, row.seed
            assert abs(row.metrics["autocorr_2hop"]) <= 0.3, row.seed
            assert row.metrics["comb_db"] <= 3.0, row.seed
