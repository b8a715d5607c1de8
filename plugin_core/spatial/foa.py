"""First-Order Ambisonics conventions: AmbiX encoding, FuMa/N3D conversion, rotation, direction.

AmbiX is ACN channel order (W, Y, Z, X) with SN3D normalisation. A plane wave ``s`` from
(az, el) encodes as W = s, Y = s·sin(az)·cos(el), Z = s·sin(el), X = s·cos(az)·cos(el).
FOA arrays are float [4, N] (channels first) everywhere in omnifoa.

Rotations come in two flavours, always named: a *scene* rotation turns the sources
(yaw: front → left, pitch: front → up, roll: left → up); a *head* rotation is the listener
turning (yaw left, pitch up, roll right ear down), which turns the field the opposite way.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from plugin_core.spatial.directions import az_el_to_vector, vector_to_az_el

Float = NDArray[np.float64]
Convention = Literal["ambix", "fuma", "n3d"]
CONVENTIONS: tuple[str, ...] = ("ambix", "fuma", "n3d")
ACN_CHANNELS = ("W", "Y", "Z", "X")
FUMA_CHANNELS = ("W", "X", "Y", "Z")
# AmbiX channel of each Cartesian axis x, y, z.
_ACN_OF_XYZ = (3, 1, 2)
_ACN_BLOCK = np.ix_(_ACN_OF_XYZ, _ACN_OF_XYZ)  # where a Cartesian [3, 3] sits in AmbiX [4, 4]
_SQRT3 = float(np.sqrt(3.0))
_SQRT2 = float(np.sqrt(2.0))


def check_foa(foa: np.ndarray) -> None:
    """Raise ValueError unless ``foa`` is shaped [4, N]."""
    if foa.ndim != 2 or foa.shape[0] != 4:
        raise ValueError(f"FOA must be shaped [4, samples], got {tuple(foa.shape)}")


def encode_gains(az: ArrayLike, el: ArrayLike) -> Float:
    """AmbiX (ACN/SN3D) gains [..., 4] of plane waves from (az, el) in degrees."""
    return gains_from_vectors(az_el_to_vector(az, el))


def gains_from_vectors(vec: ArrayLike) -> Float:
    """AmbiX gains [..., 4] of plane waves arriving from unit vectors [..., 3]."""
    v = np.asarray(vec, dtype=np.float64)
    return np.stack([np.ones(v.shape[:-1]), v[..., 1], v[..., 2], v[..., 0]], axis=-1)


def direction_per_sample(
    num_samples: int,
    az: ArrayLike,
    el: ArrayLike,
    times: ArrayLike | None = None,
    sample_rate: float | None = None,
) -> Float:
    """Unit vectors [N, 3] along a direction path, interpolated per sample.

    ``az``/``el`` are scalars (a fixed direction) or keyframes at ``times`` seconds. Between
    keyframes the direction moves along the great circle at constant speed (slerp), so it
    crosses the ±180° seam the short way and never steps between samples.
    """
    keys = az_el_to_vector(az, el)
    if keys.ndim == 1:
        return np.broadcast_to(keys, (num_samples, 3))
    if times is None or sample_rate is None:
        raise ValueError("a direction path needs keyframe times and a sample rate")
    t_keys = np.asarray(times, dtype=np.float64)
    if t_keys.shape != keys.shape[:1]:
        raise ValueError("direction keyframes and their times must have the same length")
    t = np.arange(num_samples) / float(sample_rate)
    if len(t_keys) == 1:
        return np.broadcast_to(keys[0], (num_samples, 3))
    seg = np.clip(np.searchsorted(t_keys, t, side="right") - 1, 0, len(t_keys) - 2)
    span = np.maximum(t_keys[seg + 1] - t_keys[seg], 1e-12)
    frac = np.clip((t - t_keys[seg]) / span, 0.0, 1.0)[:, None]
    a, b = keys[seg], keys[seg + 1]
    omega = np.arccos(np.clip(np.sum(a * b, axis=-1, keepdims=True), -1.0, 1.0))
    sin_omega = np.sin(omega)
    straight = sin_omega < 1e-6
    safe = np.where(straight, 1.0, sin_omega)
    wa = np.where(straight, 1.0 - frac, np.sin((1.0 - frac) * omega) / safe)
    wb = np.where(straight, frac, np.sin(frac * omega) / safe)
    vec = wa * a + wb * b
    return vec / np.maximum(np.linalg.norm(vec, axis=-1, keepdims=True), 1e-12)


def encode_mono(
    signal: ArrayLike,
    az: ArrayLike,
    el: ArrayLike,
    times: ArrayLike | None = None,
    sample_rate: float | None = None,
) -> Float:
    """Encode a mono signal [N] into AmbiX [4, N] from a fixed direction or along a path."""
    s = np.asarray(signal, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"a mono signal must be one-dimensional, got shape {s.shape}")
    gains = gains_from_vectors(direction_per_sample(s.shape[0], az, el, times, sample_rate))
    return (gains * s[:, None]).T


def to_ambix(foa: np.ndarray, convention: Convention) -> np.ndarray:
    """Convert FOA in ``convention`` to AmbiX."""
    check_foa(foa)
    if convention == "ambix":
        return foa.copy()
    if convention == "n3d":
        return foa * np.array([1.0, 1 / _SQRT3, 1 / _SQRT3, 1 / _SQRT3], dtype=foa.dtype)[:, None]
    if convention == "fuma":
        w, x, y, z = foa
        return np.stack([w * _SQRT2, y, z, x]).astype(foa.dtype, copy=False)
    raise ValueError(f"unknown FOA convention {convention!r}; use one of {', '.join(CONVENTIONS)}")


def from_ambix(foa: np.ndarray, convention: Convention) -> np.ndarray:
    """Convert AmbiX FOA to ``convention``."""
    check_foa(foa)
    if convention == "ambix":
        return foa.copy()
    if convention == "n3d":
        return foa * np.array([1.0, _SQRT3, _SQRT3, _SQRT3], dtype=foa.dtype)[:, None]
    if convention == "fuma":
        w, y, z, x = foa
        return np.stack([w / _SQRT2, x, y, z]).astype(foa.dtype, copy=False)
    raise ValueError(f"unknown FOA convention {convention!r}; use one of {', '.join(CONVENTIONS)}")


def convert(foa: np.ndarray, source: Convention, target: Convention) -> np.ndarray:
    """Convert FOA between AmbiX, FuMa and N3D (ACN order)."""
    return from_ambix(to_ambix(foa, source), target)


def _axis_rotation(axis: int, degrees: float) -> Float:
    """Active right-handed rotation by ``degrees`` about Cartesian ``axis`` (0=x, 1=y, 2=z)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    if axis == 0:
        return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    if axis == 1:
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def scene_rotation_matrix(yaw: float, pitch: float, roll: float) -> Float:
    """Cartesian matrix [3, 3] that turns the *scene*: roll, then pitch, then yaw (degrees).

    yaw > 0 moves a front source to the left, pitch > 0 moves it up, roll > 0 lifts the left.
    """
    return _axis_rotation(2, yaw) @ _axis_rotation(1, -pitch) @ _axis_rotation(0, roll)


def head_rotation_matrix(yaw: float, pitch: float, roll: float) -> Float:
    """Cartesian matrix [3, 3] for the field heard by a *head* turned by (yaw, pitch, roll).

    The head turns left (yaw > 0), looks up (pitch > 0), tilts right ear down (roll > 0);
    the sound field turns the opposite way.
    """
    return scene_rotation_matrix(yaw, pitch, roll).T


def foa_rotation_matrix(cartesian: np.ndarray) -> Float:
    """AmbiX matrix [4, 4] applying a Cartesian rotation [3, 3] to a first-order field."""
    m = np.zeros((4, 4))
    m[0, 0] = 1.0
    m[_ACN_BLOCK] = cartesian
    return m


def rotate(
    foa: np.ndarray, yaw: float, pitch: float, roll: float, *, frame: Literal["scene", "head"]
) -> np.ndarray:
    """Rotate AmbiX FOA by a fixed rotation of the scene or of the listener's head."""
    check_foa(foa)
    cart = (scene_rotation_matrix if frame == "scene" else head_rotation_matrix)(yaw, pitch, roll)
    return (foa_rotation_matrix(cart).astype(foa.dtype) @ foa).astype(foa.dtype, copy=False)


class BlockRotator:
    """Rotates a stream of AmbiX blocks, crossfading each block from the previous rotation.

    The matrix moves linearly from the last block's rotation to the new one across the
    block, so a change of angle never makes a step in the output.
    """

    def __init__(self, frame: Literal["scene", "head"]) -> None:
        self._matrix_of = scene_rotation_matrix if frame == "scene" else head_rotation_matrix
        self._previous: Float | None = None
        self._angles: tuple[float, float, float] | None = None
        self._target: Float | None = None

    def process(self, block: np.ndarray, yaw: float, pitch: float, roll: float) -> np.ndarray:
        """Rotate one block [4, n] to (yaw, pitch, roll), crossfading from the last block."""
        check_foa(block)
        angles = (yaw, pitch, roll)
        if angles != self._angles or self._target is None:  # matrices only when angles move
            self._angles = angles
            self._target = foa_rotation_matrix(self._matrix_of(yaw, pitch, roll))
        target = self._target
        start = target if self._previous is None else self._previous
        self._previous = target
        n = block.shape[1]
        if start is target or n == 0:
            return (target.astype(block.dtype) @ block).astype(block.dtype, copy=False)
        before = start.astype(block.dtype) @ block
        change = (target - start).astype(block.dtype) @ block
        return before + self._ramp(n, block.dtype) * change

    @functools.lru_cache(maxsize=4)  # noqa: B019 (a handful of block sizes per rotator)
    def _ramp(self, n: int, dtype: np.dtype) -> np.ndarray:
        """0 → 1 across ``n`` samples (reaching 1 on the last), as a row."""
        return (np.arange(1, n + 1) / n).astype(dtype)[None, :]


def rotate_path(
    foa: np.ndarray,
    yaw: ArrayLike,
    pitch: ArrayLike,
    roll: ArrayLike,
    block_size: int,
    *,
    frame: Literal["scene", "head"],
) -> np.ndarray:
    """Rotate AmbiX FOA with one (yaw, pitch, roll) per block of ``block_size`` samples."""
    check_foa(foa)
    num_blocks = -(-foa.shape[1] // block_size)
    angles = [
        np.broadcast_to(np.asarray(a, dtype=np.float64), (num_blocks,)) for a in (yaw, pitch, roll)
    ]
    rotator = BlockRotator(frame)
    out = np.empty_like(foa)
    for b in range(num_blocks):
        sl = slice(b * block_size, (b + 1) * block_size)
        out[:, sl] = rotator.process(foa[:, sl], angles[0][b], angles[1][b], angles[2][b])
    return out


@dataclass(frozen=True)
class DirectionTrack:
    """Direction of arrival per analysis window, from the active intensity vector."""

    times: Float  # window centres, seconds
    az: Float  # degrees
    el: Float  # degrees
    energy: Float  # mean W² per window
    diffuseness: Float  # 0 = one plane wave, 1 = no net energy flow


def _windows(num_samples: int, window: int, hop: int) -> list[slice]:
    if num_samples <= window:
        return [slice(0, num_samples)]
    starts = range(0, num_samples - window + 1, hop)
    return [slice(s, s + window) for s in starts]


def intensity_directions(
    foa: np.ndarray, sample_rate: float, window_s: float | None = None, hop_s: float | None = None
) -> DirectionTrack:
    """Direction of arrival per window (``window_s``) or of the whole clip (``None``).

    I = mean(W·X, W·Y, W·Z); az = atan2(Iy, Ix), el = atan2(Iz, |I_xy|), as in OmniAudio.
    """
    check_foa(foa)
    x = np.asarray(foa, dtype=np.float64)
    n = x.shape[1]
    window = n if window_s is None else max(1, round(window_s * sample_rate))
    hop = window if hop_s is None else max(1, round(hop_s * sample_rate))
    slices = _windows(n, window, hop)
    w, y, z, xx = x
    intensity = np.stack(
        [[np.mean(w[s] * xx[s]), np.mean(w[s] * y[s]), np.mean(w[s] * z[s])] for s in slices]
    )
    energy = np.array([np.mean(w[s] ** 2) for s in slices])
    field = np.array([np.mean(xx[s] ** 2 + y[s] ** 2 + z[s] ** 2) for s in slices])
    total = 0.5 * (energy + field)
    diffuseness = 1.0 - np.linalg.norm(intensity, axis=-1) / np.maximum(total, 1e-20)
    az, el = vector_to_az_el(intensity)
    times = np.array([(s.start + s.stop) / 2.0 / sample_rate for s in slices])
    return DirectionTrack(times, az, el, energy, np.clip(diffuseness, 0.0, 1.0))
