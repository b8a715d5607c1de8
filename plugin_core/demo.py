"""The main job on the bundled demo scene: render it, analyse it, report direction errors.

Until a generator ships, the demo re-renders the bundled SynthSphere scene from its JSON,
checks the result against the bundled FOA, and analyses that FOA.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from plugin_core.analysis import direction_table, energy_heatmap, save_png
from plugin_core.atomic_files import write_atomic
from plugin_core.audio_io import read_foa
from plugin_core.errors import InputError
from plugin_core.foa import intensity_directions
from plugin_core.synthsphere import load_scene, render_scene
from plugin_core.synthsphere.evaluation import error_table, object_direction_errors
from plugin_core.video import iter_frames

DEMO_DIR = Path(__file__).resolve().parents[1] / "examples" / "demo"
# The bundled FOA is 16-bit FLAC: a re-render matches it to within a few quantisation steps.
MATCH_TOLERANCE = 4 / 32768


def run_demo(out_dir: Path, demo_dir: Path = DEMO_DIR) -> str:
    """Render and analyse the demo scene into ``out_dir``; print and return the report."""
    truth = demo_dir / "demo.json"
    if not truth.is_file():
        raise InputError(
            f"The bundled demo scene is missing ({truth}); run omnifoa from a full checkout."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    with tqdm(total=4, desc="demo", unit="step") as bar:
        bar.set_postfix_str("render scene")
        scene = load_scene(truth)
        paths = render_scene(
            scene, out_dir, "demo", scene.video.width, scene.video.height, scene.video.fps
        )
        bar.update()
        bar.set_postfix_str("check against bundle")
        rendered, rate = read_foa(paths.audio)
        bundled, _ = read_foa(demo_dir / "demo.flac")
        mismatch = float(np.max(np.abs(rendered - bundled)))
        if mismatch > MATCH_TOLERANCE:
            raise InputError(
                f"The re-rendered demo differs from the bundled FOA by {mismatch:.2g}; "
                "reinstall omnifoa so the scene generator matches its data."
            )
        bar.update()
        bar.set_postfix_str("directions and energy map")
        track = intensity_directions(rendered, rate, 0.5)
        middle = next(iter_frames(paths.video, scene.duration / 2, None, 8.0)).image
        png = out_dir / "demo_energy.png"
        save_png(energy_heatmap(rendered, rate, middle, track), png)
        bar.update()
        bar.set_postfix_str("per-object errors")
        errors = error_table(object_direction_errors(rendered, rate, scene))
        bar.update()
    objects = ", ".join(f"{o.sound_class} ({o.motion})" for o in scene.objects)
    report = "\n".join(
        [
            f"demo scene: seed {scene.seed}, {scene.duration:g} s, objects: {objects}",
            f"rendered: {paths.video}, {paths.audio} (matches the bundle within {mismatch:.1e})",
            f"energy map over the middle frame: {png}",
            "",
            "direction of arrival per 0.5 s (intensity vector of the whole mix)",
            direction_table(track),
            "",
            "per-object direction error, intensity of the bins each object dominates, 0.2 s",
            errors,
        ]
    )
    write_atomic(out_dir / "report.txt", lambda tmp: tmp.write_text(report + "\n"))
    print(report)
    return report
