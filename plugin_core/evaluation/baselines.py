"""FOA baselines that keep the reference's sound but drop or scramble its directions.

The model ablations (global branch zeroed, FoV branch zeroed) come from the model itself;
the caller passes them to ``run_evaluation`` as further systems.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from plugin_core.evaluation.clips import EvalClip
from plugin_core.spatial.directions import vector_to_az_el
from plugin_core.spatial.foa import encode_mono

# Mixed into the clip's seed so the random direction is not tied to the scene's own draws.
_RANDOM_STREAM = 0x5EED


def reference(clip: EvalClip) -> NDArray[np.float32]:
    """The ground truth itself: the ceiling of every metric."""
    return clip.foa


def front(clip: EvalClip) -> NDArray[np.float64]:
    """The reference's W signal as one plane wave from the front (az 0, el 0)."""
    return encode_mono(clip.foa[0], 0.0, 0.0)


def random_direction(clip: EvalClip) -> NDArray[np.float64]:
    """The reference's W signal from one direction drawn uniformly on the sphere per clip."""
    rng = np.random.default_rng([clip.scene.seed, _RANDOM_STREAM])
    vec = rng.standard_normal(3)
    az, el = vector_to_az_el(vec / np.linalg.norm(vec))
    return encode_mono(clip.foa[0], float(az), float(el))
