"""Tracking and saliency errors on SynthSphere scenes with ground truth; prints a table.

    python -m plugin_core.evaluation.tracking_eval --scenes 12 --out DIR

Scenes cycle through single objects moving "static", "pan", "seam" and "climb" and scenes of
two or three objects. Each object is marked at its true direction in the middle of the clip
(so tracking runs backward and forward) and tracked; errors are great-circle angles to the
true trajectory per frame. Each object's own dry sound is then conformed along its track and
its intensity-vector direction compared, per 0.5 s window where it sounds, with the object's
true FOA (its sound encoded along the true trajectory). Single-object scenes also get the
strongest saliency path, with no mark. Results go to DIR/scene_eval.json; the videos to DIR/videos.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from plugin_core.conform.encoding import conform_audio
from plugin_core.media.video import write_video
from plugin_core.spatial.directions import az_el_to_vector, great_circle_deg, vector_to_az_el
from plugin_core.spatial.foa import encode_mono, intensity_directions
from plugin_core.synthsphere import Scene, make_scene, render_frames
from plugin_core.synthsphere.scene import SceneObject
from plugin_core.synthsphere.soundfield import object_signal
from plugin_core.tracking.saliency import propose_paths
from plugin_core.tracking.spherical_tracker import track_object
from plugin_core.tracking.track import Track

Float = NDArray[np.float64]
KINDS = ("static", "pan", "seam", "climb", "several")


@dataclass(frozen=True)
class ObjectResult:
    """Tracking errors of one object, and the saliency error when it is alone in its scene."""

    seed: int
    kind: str
    index: int
    motion: str
    diameter_deg: float
    size_estimate_deg: float
    mean_error_deg: float
    max_error_deg: float
    lost_share: float
    track_seconds: float
    conform_error_deg: float
    saliency_error_deg: float | None


def truth_at(obj: SceneObject, times: Float) -> tuple[Float, Float]:
    """An object's true direction at ``times``: keyframes interpolated along the sphere."""
    traj = obj.trajectory
    keys = az_el_to_vector(traj.az, traj.el)
    mixed = np.stack([np.interp(times, traj.times, keys[:, i]) for i in range(3)], axis=-1)
    return vector_to_az_el(mixed)


def errors(track: Track, obj: SceneObject) -> Float:
    """Great-circle error (degrees) of a track against an object's truth, per frame."""
    az, el = truth_at(obj, track.times)
    return great_circle_deg(track.az, track.el, az, el)


def conform_error(scene: Scene, obj: SceneObject, track: Track) -> float:
    """Mean intensity-vector angle (degrees) between the object's dry sound conformed along
    ``track`` and its true FOA, over the 0.5 s windows where it sounds."""
    dry, rate = object_signal(scene, obj), scene.sample_rate
    traj = obj.trajectory
    truth = intensity_directions(encode_mono(dry, traj.az, traj.el, traj.times, rate), rate, 0.5)
    placed = intensity_directions(conform_audio(dry, rate, track.to_direction_path()), rate, 0.5)
    sounding = truth.energy > 0.05 * truth.energy.max()
    angles = great_circle_deg(placed.az, placed.el, truth.az, truth.el)
    return float(angles[sounding].mean())


def evaluate_scene(
    seed: int, kind: str, folder: Path, seconds: float, width: int, fps: float
) -> list[ObjectResult]:
    """Render one scene, track each object from a mid-clip mark, and score the saliency path."""
    if kind == "several":
        scene = make_scene(seed, seconds, objects=2 + seed % 2)
    else:
        scene = make_scene(seed, seconds, objects=1, motions=[kind])
    video = folder / f"scene_{seed:03d}_{kind}.mp4"
    write_video(video, render_frames(scene, width, width // 2, fps), fps)
    mark_time = round(seconds * fps / 2) / fps
    results = []
    for index, obj in enumerate(scene.objects):
        az, el = truth_at(obj, np.array([mark_time]))
        began = time.perf_counter()
        track = track_object(video, float(az[0]), float(el[0]), mark_time, fps=fps)
        took = time.perf_counter() - began
        error = errors(track, obj)
        salient = None
        if len(scene.objects) == 1:
            paths = propose_paths(video, k=1, fps=fps)
            salient = float(errors(paths[0].track, obj).mean()) if paths else float("nan")
        results.append(
            ObjectResult(
                seed=seed,
                kind=kind,
                index=index,
                motion=obj.motion,
                diameter_deg=round(2.0 * obj.look.radius_deg, 2),
                size_estimate_deg=round(float(np.median(track.size_deg)), 2),
                mean_error_deg=round(float(error.mean()), 3),
                max_error_deg=round(float(error.max()), 3),
                lost_share=round(float(track.lost.mean()), 3),
                track_seconds=round(took, 2),
                conform_error_deg=round(conform_error(scene, obj, track), 3),
                saliency_error_deg=None if salient is None else round(salient, 3),
            )
        )
    return results


def table(results: list[ObjectResult]) -> str:
    """The results as a plain-text table with a summary line."""
    lines = [
        "seed  kind     obj motion  diam  size est  mean err  max err  lost  conform err"
        "  saliency err  secs",
    ]
    for r in results:
        salient = "—" if r.saliency_error_deg is None else f"{r.saliency_error_deg:.2f}"
        lines.append(
            f"{r.seed:4d}  {r.kind:<8} {r.index:3d} {r.motion:<7} {r.diameter_deg:5.1f} "
            f"{r.size_estimate_deg:9.1f} {r.mean_error_deg:9.2f} {r.max_error_deg:8.2f} "
            f"{r.lost_share:5.0%} {r.conform_error_deg:12.2f} {salient:>13} "
            f"{r.track_seconds:5.1f}"
        )
    summary = summarise(results)
    lines.append(
        f"all {summary['objects']} objects: mean error {summary['mean_error_deg']:.2f}°, "
        f"worst frame {summary['max_error_deg']:.2f}°, lost {summary['lost_share']:.1%}; "
        f"conformed dry sound {summary['conform_error_deg']:.2f}° from its true FOA; "
        f"saliency (single objects) mean error {summary['saliency_mean_error_deg']:.2f}°"
    )
    return "\n".join(lines)


def summarise(results: list[ObjectResult]) -> dict[str, float]:
    """Means over all objects (and over single-object scenes for saliency)."""
    salient = [r.saliency_error_deg for r in results if r.saliency_error_deg is not None]
    return {
        "objects": len(results),
        "mean_error_deg": float(np.mean([r.mean_error_deg for r in results])),
        "max_error_deg": float(np.max([r.max_error_deg for r in results])),
        "lost_share": float(np.mean([r.lost_share for r in results])),
        "conform_error_deg": float(np.mean([r.conform_error_deg for r in results])),
        "saliency_mean_error_deg": float(np.mean(salient)) if salient else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: evaluate ``--scenes`` scenes and write DIR/scene_eval.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=12, help="number of scenes (seeds)")
    parser.add_argument("--out", type=Path, required=True, help="folder for results and videos")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each scene")
    parser.add_argument("--width", type=int, default=1024, help="ERP video width (height: half)")
    parser.add_argument("--fps", type=float, default=8.0)
    args = parser.parse_args(argv)
    folder = args.out / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    results: list[ObjectResult] = []
    for i in range(args.scenes):
        seed, kind = args.first_seed + i, KINDS[i % len(KINDS)]
        results += evaluate_scene(seed, kind, folder, args.seconds, args.width, args.fps)
        print(f"scene {i + 1}/{args.scenes} (seed {seed}, {kind}) done", file=sys.stderr)
    report = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "summary": summarise(results),
        "objects": [asdict(r) for r in results],
    }
    (args.out / "scene_eval.json").write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
