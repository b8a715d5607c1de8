"""The main job on the bundled demo: generate FOA for the demo 360 video and check it.

The bundled model turns ``examples/demo/demo.mp4`` into an AmbiX file; the demo then
analyses it (direction over time, an energy map over the panorama) and scores it against the
scene's ground-truth FOA with the evaluation's spatial metrics, beside the front-fixed
baseline, so a user sees at once whether the sound sits where the picture says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plugin_core.atomic_files import write_atomic
from plugin_core.errors import InputError
from plugin_core.evaluation.artefacts import frame_rate_artefacts
from plugin_core.evaluation.clips import fit_length
from plugin_core.evaluation.onsets import detect_onsets, ground_truth_onsets, onset_f1
from plugin_core.evaluation.sound_measures import onset_envelope_correlation, tonal_share
from plugin_core.evaluation.spatial import spatial_scores
from plugin_core.evaluation.spectrogram import spectrogram_figure
from plugin_core.generation.pipeline import StepProgress, generate
from plugin_core.generation.request import DEFAULT_MODEL, GenerationRequest
from plugin_core.install_paths import DEMO_DIR
from plugin_core.media.audio_io import read_foa, resample
from plugin_core.media.video import iter_frames
from plugin_core.spatial.analysis import direction_table, energy_heatmap, save_png
from plugin_core.spatial.foa import encode_mono, intensity_directions
from plugin_core.synthsphere import Scene, load_scene

DEMO_FILES = ("demo.mp4", "demo.flac", "demo.json")
OUTPUT_NAME = "demo_foa.wav"


def _score_lines(generated: np.ndarray, truth: np.ndarray, rate: int) -> list[str]:
    """Angular error and energy-map CC of the generated FOA and of the front baseline."""
    front = encode_mono(truth[0], 0.0, 0.0)
    lines = ["system        angular error   CC clip   CC 1 s"]
    for name, foa in (("generated", generated), ("front-fixed", front)):
        s = spatial_scores(foa, truth, rate)
        lines.append(
            f"{name:<12}  {np.degrees(s['angular_rad']):>9.1f} deg   {s['cc_clip']:>7.2f}"
            f"   {s['cc_1s']:>6.2f}"
        )
    return lines


def _sound_lines(generated: np.ndarray, truth: np.ndarray, rate: int, scene: Scene) -> list[str]:
    """Tonal share, onset-envelope correlation and onset F1 against the scene's events, and
    the codec-buzz measures, beside the truth's."""
    onsets = ground_truth_onsets(scene)
    lines = [
        "sound (W)     tonal share   onset envelope r   onset F1 ±50 ms   autocorr 1 hop"
        "   2 hops   frame comb"
    ]
    for name, foa in (("generated", generated), ("scene itself", truth)):
        f1 = onset_f1(onsets, detect_onsets(foa[0], rate))
        buzz = frame_rate_artefacts(foa[0])
        envelope = onset_envelope_correlation(foa[0], truth[0], rate)
        lines.append(
            f"{name:<12}  {tonal_share(foa[0]):>11.2f}   {envelope:>16.2f}   "
            f"{'n/a' if f1 is None else f'{f1:.2f}':>15}   "
            f"{buzz['autocorr_hop']:>14.2f}   {buzz['autocorr_2hop']:>6.2f}   "
            f"{buzz['comb_db']:>7.1f} dB"
        )
    return lines


def run_demo(
    out_dir: Path,
    demo_dir: Path = DEMO_DIR,
    model_id: str = DEFAULT_MODEL,
    seed: int = 0,
    progress: StepProgress | None = None,
) -> str:
    """Generate and analyse FOA for the demo video into ``out_dir``; return the report."""
    missing = [name for name in DEMO_FILES if not (demo_dir / name).is_file()]
    if missing:
        raise InputError(
            f"The bundled demo is missing {', '.join(missing)} in {demo_dir}; "
            "run omnifoa from a full checkout."
        )
    video = demo_dir / "demo.mp4"
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / OUTPUT_NAME
    request = GenerationRequest(
        video=video, output=output, model=model_id, seed=seed, overwrite=True
    )
    generate(request, progress=progress)
    scene = load_scene(demo_dir / "demo.json")
    truth, truth_rate = read_foa(demo_dir / "demo.flac")
    delivered, rate = read_foa(output)
    generated = fit_length(resample(delivered, rate, truth_rate), truth.shape[1])
    track = intensity_directions(generated, truth_rate, 0.5)
    middle = next(iter_frames(video, scene.duration / 2, None, 8.0)).image
    png = out_dir / "demo_energy.png"
    save_png(energy_heatmap(generated, truth_rate, middle, track), png)
    spectrogram = out_dir / "demo_spectrogram.png"
    pair = (("generated W", generated[0]), ("the scene's own W", truth[0]))
    save_png(spectrogram_figure(pair, truth_rate), spectrogram)
    objects = ", ".join(f"{o.sound_class} ({o.motion})" for o in scene.objects)
    report = "\n".join(
        [
            f"demo video: {video} (SynthSphere seed {scene.seed}, {scene.duration:g} s; "
            f"objects: {objects})",
            f"generated with {model_id}, seed {seed}: {output}",
            f"energy map of the generated FOA over the middle frame: {png}",
            f"spectrogram of the generated W above the scene's: {spectrogram}",
            "",
            "direction of arrival per 0.5 s (intensity vector of the generated FOA)",
            direction_table(track),
            "",
            "against the scene's ground-truth FOA (whole clip):",
            *_score_lines(generated, truth, truth_rate),
            "",
            *_sound_lines(generated, truth, truth_rate, scene),
        ]
    )
    write_atomic(out_dir / "report.txt", lambda tmp: tmp.write_text(report + "\n"))
    return report
