"""FOA rendering of a scene: objects along their trajectories over a diffuse ambience bed."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfilt

from plugin_core.spatial.directions import wrap_az
from plugin_core.spatial.foa import encode_gains, encode_mono
from plugin_core.spatial.metrics import fibonacci_grid
from plugin_core.synthsphere.scene import Scene, SceneObject
from plugin_core.synthsphere.sounds import PEAK_LIMIT, REFERENCE_RMS, synthesize

Float = NDArray[np.float64]
AMBIENCE_SOURCES = 16


def object_signal(scene: Scene, obj: SceneObject) -> Float:
    """The object's mono sound [N] shaped by its level envelope (before peak normalisation)."""
    n = scene.num_samples
    sound = synthesize(obj.sound_class, obj.onsets, n, scene.sample_rate, obj.sound_seed)
    t = np.arange(n) / scene.sample_rate
    level_db = np.interp(t, obj.trajectory.times, obj.level_db)
    return sound * 10.0 ** (level_db / 20.0)


def ambience(scene: Scene) -> Float:
    """AmbiX [4, N] diffuse bed: decorrelated, gusting filtered noises from all around."""
    n, sr = scene.num_samples, scene.sample_rate
    rng = np.random.default_rng(scene.ambience_seed)
    az, el = fibonacci_grid(AMBIENCE_SOURCES)
    az = wrap_az(az + rng.uniform(-180.0, 180.0))
    band = butter(2, [50.0, 1500.0], btype="bandpass", fs=sr, output="sos")
    noises = sosfilt(band, rng.standard_normal((AMBIENCE_SOURCES, n)), axis=-1)
    # Each source swells and fades on its own, a few times per ten seconds.
    keys = max(2, int(scene.duration * 0.5) + 2)
    swell = rng.uniform(0.4, 1.0, (AMBIENCE_SOURCES, keys))
    grid = np.linspace(0.0, keys - 1, n)
    noises *= np.stack([np.interp(grid, np.arange(keys), s) for s in swell])
    bed = encode_gains(az, el).T @ noises
    target = REFERENCE_RMS * 10.0 ** (scene.ambience_db / 20.0)
    return bed * (target / max(float(np.sqrt(np.mean(bed[0] ** 2))), 1e-12))


def render_foa(scene: Scene) -> NDArray[np.float32]:
    """The scene's AmbiX FOA [4, N] at its sample rate, float32, peak at -1 dBFS."""
    mix = ambience(scene)
    for obj in scene.objects:
        traj = obj.trajectory
        mix += encode_mono(
            object_signal(scene, obj), traj.az, traj.el, traj.times, scene.sample_rate
        )
    peak = float(np.max(np.abs(mix)))
    return (mix * (PEAK_LIMIT / max(peak, 1e-12))).astype(np.float32)
