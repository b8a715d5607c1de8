"""Core timings, each against a plain reference implementation measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_core.py``. Prints one table row per task:
our time, the reference's time and the speed-up (reference / ours).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image
from scipy.ndimage import map_coordinates
from spaudiopy.sph import sh_rotation_matrix
from timing import Table, json_option, median_of

from plugin_core.media.video import decode_range, write_video
from plugin_core.spatial import foa
from plugin_core.spatial.metrics import beam_weights, energy_maps, fibonacci_grid
from plugin_core.spatial.projection import erp_to_perspective, global_view, perspective_grid

RATE = 44100


def make_video(path: Path, width: int, height: int, seconds: float, fps: float) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    frames = (np.roll(base, 8 * i, axis=1) for i in range(int(seconds * fps)))
    # A keyframe every 2 s, as cameras and delivery encodes typically have.
    gop = str(int(2 * fps))
    write_video(path, frames, fps, options={"preset": "ultrafast", "crf": "28", "g": gop})


def reference_decode(path: Path, start: float, end: float, fps: float, size: tuple[int, int]):
    """Decode every frame from the start at full size, then pick by time and resize."""
    picked, targets = [], list(start + np.arange(int((end - start) * fps)) / fps)
    with av.open(str(path)) as container:
        last = None
        for frame in container.decode(video=0):
            t = float(frame.time)
            while targets and t > targets[0] + 1e-9 and last is not None:
                picked.append(np.asarray(Image.fromarray(last).resize(size, Image.BICUBIC)))
                targets.pop(0)
            if not targets:
                break
            last = frame.to_ndarray(format="rgb24")
    return np.stack(picked)


def reference_perspective(erp: np.ndarray, yaw: float) -> np.ndarray:
    """Bicubic sampling with scipy, frame by frame and channel by channel."""
    grid = perspective_grid(yaw, 0.0, 120.0, 224).numpy()[0]
    h, w = erp.shape[1:3]
    cols = (grid[..., 0] * w - 0.5) % w
    rows = grid[..., 1] * h - 0.5
    out = np.empty((erp.shape[0], 3, 224, 224), dtype=np.float32)
    for t in range(erp.shape[0]):
        for c in range(3):
            out[t, c] = map_coordinates(erp[t, :, :, c], [rows, cols], order=3, mode="grid-wrap")
    return out / 255.0


def reference_energy_map(field: np.ndarray) -> np.ndarray:
    """Steer a beam at every grid point over every sample and average the power."""
    az, el = fibonacci_grid()
    weights = beam_weights(az, el)
    return np.stack([np.mean((chunk @ field) ** 2, axis=1) for chunk in np.split(weights, 16)])


def reference_rotation(field: np.ndarray, yaw: np.ndarray, block: int) -> np.ndarray:
    """spaudiopy's SH rotation matrix per block, no crossfade."""
    out = np.empty_like(field)
    for b, angle in enumerate(yaw):
        matrix = sh_rotation_matrix(1, -np.radians(angle), 0.0, 0.0, sh_type="real")
        out[:, b * block : (b + 1) * block] = matrix @ field[:, b * block : (b + 1) * block]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    json_option(parser)
    args = parser.parse_args()
    torch.set_num_threads(2)
    table = Table(
        "core tasks on 2 CPU threads",
        "decode from the start at full size + PIL resize; scipy map_coordinates per frame; "
        "beamforming every sample; spaudiopy's SH rotation per block without the crossfade "
        "(ours applies two matrices per block to crossfade, so it does twice the work)",
    )
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "erp_2k.mp4"
        print("writing a 2048x1024, 12 s, 24 fps test video ...", file=sys.stderr)
        make_video(video, 2048, 1024, 12.0, 24.0)
        ours = median_of(lambda: decode_range(video, 8.0, 10.0, fps=8.0, size=(512, 256)), 2)
        ref = median_of(lambda: reference_decode(video, 8.0, 10.0, 8.0, (512, 256)), 2)
        table.add("decode 8-10 s of a 2K ERP at 8 fps, 512x256", ours, ref)
        video = Path(tmp) / "erp_4k.mp4"
        print("writing a 3840x1920, 10 s, 24 fps test video ...", file=sys.stderr)
        make_video(video, 3840, 1920, 10.0, 24.0)

        def ours_4k() -> None:
            frames = torch.from_numpy(
                decode_range(video, 0.0, 10.0, fps=8.0, size=(512, 256)).frames
            )
            erp_to_perspective(frames, 30.0, 0.0, 120.0, 224)
            global_view(frames, 224)

        def ref_4k() -> None:
            frames = reference_decode(video, 0.0, 10.0, 8.0, (512, 256))
            reference_perspective(frames, 30.0)
            global_view(torch.from_numpy(frames), 224)

        table.add(
            "10 s 4K ERP at 8 fps: decode + 80 FoV + 80 global",
            median_of(ours_4k, 1),
            median_of(ref_4k, 1, warm_up=False),
        )

    erp = np.random.default_rng(1).integers(0, 255, (80, 256, 512, 3), dtype=np.uint8)
    erp_t = torch.from_numpy(erp)
    ours = median_of(lambda: erp_to_perspective(erp_t, 30.0, 0.0, 120.0, 224))
    ref = median_of(lambda: reference_perspective(erp, 30.0), 1)
    table.add("80 FoV crops 224x224 from 512x256 (bicubic)", ours, ref)

    field = foa.encode_mono(np.random.default_rng(2).standard_normal(10 * RATE), 40, 10)
    ours = median_of(lambda: energy_maps(field, RATE, 0.2))
    ref = median_of(
        lambda: [
            reference_energy_map(field[:, i : i + 8820]) for i in range(0, field.shape[1], 8820)
        ],
        1,
    )
    table.add("energy maps, 10 s FOA, 200 ms windows, 1024 pts", ours, ref)

    block = 512
    yaw = np.linspace(0, 360, -(-field.shape[1] // block))
    ours = median_of(lambda: foa.rotate_path(field, yaw, 0, 0, block, frame="head"))
    ref = median_of(lambda: reference_rotation(field, yaw, block))
    table.add("head rotation, 10 s FOA, 512-sample blocks", ours, ref)
    table.print()
    table.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
