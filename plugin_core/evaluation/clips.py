"""Held-out SynthSphere clips: what every evaluated system is given, rendered once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from plugin_core.spatial.foa import check_foa
from plugin_core.synthsphere import Scene, make_scene, render_foa
from plugin_core.synthsphere.panorama import sampled_frames
from plugin_core.synthsphere.splits import HELD_OUT_SEEDS

__all__ = ["HELD_OUT_SEEDS", "EvalClip", "GenerateFn", "fit_length", "render_clip"]
SAMPLE_RATE = 44100
FPS = 8.0


@dataclass(frozen=True)
class EvalClip:
    """One held-out clip: its scene, ground-truth AmbiX FOA [4, N] and (on demand) frames."""

    scene: Scene
    foa: NDArray[np.float32]

    @cached_property
    def frames(self) -> NDArray[np.uint8]:
        """ERP frames [T, 256, 512, 3] at 8 fps as the pipeline takes them from the scene's
        24 fps video, rendered on first use."""
        return self.frames_at(FPS)

    def frames_at(self, fps: float) -> NDArray[np.uint8]:
        """ERP frames [T, 256, 512, 3] at ``fps`` as decoding takes them from the scene's
        video (8 fps ones rendered once)."""
        if fps == FPS and "frames" in self.__dict__:
            return self.__dict__["frames"]
        return sampled_frames(self.scene, fps)[0]


# A system under evaluation: a clip in, AmbiX FOA [4, M] at 44.1 kHz out.
GenerateFn = Callable[[EvalClip], np.ndarray]


def render_clip(seed: int, seconds: float) -> EvalClip:
    """The clip of SynthSphere scene ``seed`` lasting ``seconds``."""
    scene = make_scene(seed, seconds)
    return EvalClip(scene, render_foa(scene))


def fit_length(foa: np.ndarray, num_samples: int) -> NDArray[np.float64]:
    """FOA [4, M] trimmed or zero-padded to [4, num_samples], as float64."""
    x = np.asarray(foa, dtype=np.float64)
    check_foa(x)
    if x.shape[1] >= num_samples:
        return x[:, :num_samples]
    return np.pad(x, ((0, 0), (0, num_samples - x.shape[1])))
