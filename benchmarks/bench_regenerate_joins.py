"""Regenerated ranges at their joins, per family: the level step and the spectral flux across
each boundary (100 ms on either side) against the stem's own variation of the same measures.

Run: ``python benchmarks/bench_regenerate_joins.py [--real] [--json out.json]`` (CPU). The
rows are the tiny test models (random weights: OmniAudio inpainting, OmniAudio without its
codec encoder, ViSAGe with forced codes) and the bundled object-Foley model (crossfades);
``--real`` (``--only-real``: alone) adds the bundled ``omniaudio-mini`` (the OmniAudio
architecture at a small size, 10 s windows), inpainted and with the encoder switched off.
For each join: the level step |L(after) − L(before)| of W in dB and the spectral flux
between the 100 ms before and after it, each as a ratio to the 95th percentile of the same
measure over every position of the stem before the edit (≤ 1: within the stem's own
variation). ``--seeds N`` makes N edits in a row per model (each of the take the previous
one made), since one edit is one draw.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
from timing import json_option

SUPPORT = Path(__file__).resolve().parents[1] / "tests" / "support"
sys.path.insert(0, str(SUPPORT))

from model_fixtures import tiny_family_model  # noqa: E402
from visage_fixtures import tiny_registry  # noqa: E402

from plugin_core.generation.loaded_model import LoadedModel, load_model, unregistered  # noqa: E402
from plugin_core.generation.pipeline import generate  # noqa: E402
from plugin_core.generation.regenerate import RangeEdit, regenerate  # noqa: E402
from plugin_core.generation.request import GenerationRequest  # noqa: E402
from plugin_core.media.video import write_video  # noqa: E402
from plugin_core.synthsphere import make_scene, render_frames  # noqa: E402

SIDE = 0.1  # seconds on each side of a join


def _measures(w: np.ndarray, at: int, size: int) -> tuple[float, float]:
    """Level step (dB) and spectral flux between the ``size`` samples before and after ``at``."""
    window = np.hanning(size)
    before, after = w[at - size : at] * window, w[at : at + size] * window
    levels = [10 * np.log10(np.mean(x**2) + 1e-20) for x in (before, after)]
    spectra = [np.abs(np.fft.rfft(x)) for x in (before, after)]
    spectra = [s / (np.linalg.norm(s) + 1e-20) for s in spectra]
    return abs(levels[1] - levels[0]), float(np.linalg.norm(spectra[1] - spectra[0]))


def join_rows(name: str, stem: Path, edit: RangeEdit, loaded: LoadedModel) -> list[list[str]]:
    """Regenerate ``edit`` and measure both joins against the stem's own variation."""
    before, rate = sf.read(str(stem), always_2d=True)
    size = round(SIDE * rate)
    own = np.array(
        [_measures(before[:, 0], at, size) for at in range(size, len(before) - size, size // 4)]
    )
    p95 = np.percentile(own, 95, axis=0)
    [take] = regenerate(edit, loaded)
    after, _ = sf.read(str(stem), always_2d=True)
    rows = []
    for end, seconds in zip(("start", "end"), (edit.start, edit.end), strict=True):
        step, flux = _measures(after[:, 0], round(seconds * rate), size)
        rows.append(
            [
                name,
                end,
                take.made["join"][end],
                f"{step:.2f}",
                f"{step / p95[0]:.2f}",
                f"{flux:.3f}",
                f"{flux / p95[1]:.2f}",
            ]
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="also omniaudio-mini (minutes)")
    parser.add_argument("--only-real", action="store_true", help="omniaudio-mini alone")
    parser.add_argument("--seeds", type=int, default=1, help="edits per model (seeds 7, 8, …)")
    json_option(parser)
    args = parser.parse_args()
    header = ["model", "end", "join", "level step dB", "÷ own p95", "flux", "÷ own p95", "seed"]
    print("regenerated range: joins against the stem's own variation (ratio ≤ 1: within it)")
    print(" | ".join(header), flush=True)
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        video = folder / "scene.mp4"
        write_video(video, render_frames(make_scene(3, 10.0), 256, 128, 8.0), 8.0)
        os.environ["OMNIFOA_EXTRA_MODELS"] = str(tiny_registry(folder / "visage"))

        def omniaudio(loaded: LoadedModel, encoder: bool) -> LoadedModel:
            loaded.model.codec_encoder = encoder  # type: ignore[attr-defined]
            return loaded

        tiny_steps = {"steps": 2}
        cases: list[tuple[str, Callable[[], LoadedModel], float, float, float, dict]] = [
            (
                "tiny omniaudio",
                lambda: unregistered(tiny_family_model(), "t"),
                4,
                1.5,
                2.5,
                tiny_steps,
            ),
            (
                "tiny omniaudio, no encoder",
                lambda: omniaudio(unregistered(tiny_family_model(), "t"), False),
                4,
                1.5,
                2.5,
                tiny_steps,
            ),
            (
                "tiny visage",
                lambda: load_model("visage-test", "cpu"),
                5,
                2.0,
                3.0,
                {"level": "peak"},
            ),
            ("omnifoa-mini (foley)", lambda: load_model("omnifoa-mini", "cpu"), 10, 3.0, 6.0, {}),
        ]
        if args.only_real:
            cases.clear()
        if args.real or args.only_real:
            for encoder in (True, False):
                name = "omniaudio-mini" + ("" if encoder else ", no encoder")
                load = lambda e=encoder: omniaudio(load_model("omniaudio-mini", "cpu"), e)  # noqa: E731
                cases.append((name, load, 10, 3.0, 6.0, {}))
        for i, (name, load, end, start, stop, changes) in enumerate(cases):
            loaded = load()
            stem = folder / f"case{i}" / "shot.wav"
            stem.parent.mkdir()
            generate(
                GenerationRequest(video=video, output=stem, seed=0, end=end, **changes), loaded
            )
            for seed in range(7, 7 + args.seeds):  # each edit of the take the last one made
                for row in join_rows(name, stem, RangeEdit(stem, start, stop, seed=seed), loaded):
                    rows.append([*row, str(seed)])
                    print(" | ".join(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(
            json.dumps([dict(zip(header, r, strict=True)) for r in rows], indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
