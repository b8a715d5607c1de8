"""Binaural rendering of AmbiX FOA for headphone review, with head rotation.

The decoder is spaudiopy's first-order MagLS (magnitude least squares: exact at low
frequencies, magnitude-matched above the transition frequency) fitted to a SOFA HRTF set —
by default the MIT KEMAR set (Gardner & Martin, 1994) that Debian's libmysofa1 installs,
vendored in ``hrtf_data/`` with its notice. Its filters [2 ears, 4 channels, taps] act on
AmbiX directly (the SN3D→orthonormal scaling spaudiopy expects is folded in).

:class:`BinauralRenderer` runs block by block (≤ 512 samples): the head rotation is applied
to the field with a crossfade from the previous block's rotation
(:class:`plugin_core.spatial.foa.BlockRotator`), then the block is convolved by overlap-add, so a
rotation change is audible within the block it arrives in and never clicks.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import fft, signal

from plugin_core.errors import InputError
from plugin_core.file_checks import input_file
from plugin_core.install_paths import HRTF_DIR
from plugin_core.spatial.foa import BlockRotator, check_foa

DEFAULT_SOFA = HRTF_DIR / "MIT_KEMAR_normal_pinna.sofa"
MAX_BLOCK = 512
# Filters are cut to this length (with a short fade) so a 512-sample block convolves in one
# 1024-point FFT; for MIT KEMAR at 48 kHz what is cut lies 59 dB below the filters' energy.
MAX_TAPS = 512
FADE_TAPS = 32
# AmbiX (SN3D) first-order channels → spaudiopy's orthonormal real SH (ACN order alike).
_SN3D_TO_ORTHONORMAL = np.array([1.0, math.sqrt(3), math.sqrt(3), math.sqrt(3)]) / math.sqrt(
    4 * math.pi
)


@dataclass(frozen=True)
class BinauralDecoder:
    """First-order binaural filters [2, 4, taps] for AmbiX at ``sample_rate``."""

    filters: np.ndarray
    sample_rate: int
    source: str

    @classmethod
    def from_sofa(cls, path: Path = DEFAULT_SOFA, sample_rate: int = 48000) -> BinauralDecoder:
        """MagLS filters from a SOFA file (SimpleFreeFieldHRIR), resampled to the audio."""
        input_file(path, "HRTF (SOFA) file")
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                # spaudiopy prints and warns about the audio devices it will not use here
                warnings.simplefilter("ignore")
                import spaudiopy

                hrirs = spaudiopy.io.load_sofa_hrirs(str(path))
                sh_filters = spaudiopy.decoder.magls_bin(hrirs, 1)
        except Exception as exc:  # h5py/netCDF and spaudiopy raise many kinds
            raise InputError(
                f"{Path(path).name} is not a usable SOFA HRTF set ({type(exc).__name__}: "
                f"{exc}); give a SimpleFreeFieldHRIR .sofa file."
            ) from None
        filters = np.asarray(sh_filters, dtype=np.float64) * _SN3D_TO_ORTHONORMAL[None, :, None]
        if not np.isfinite(filters).all():
            raise InputError(
                f"The HRTF set {Path(path).name} holds responses that are not numbers (NaN or "
                "infinity); give another SOFA file."
            )
        if int(hrirs.fs) != sample_rate:
            g = math.gcd(int(hrirs.fs), sample_rate)
            filters = signal.resample_poly(filters, sample_rate // g, int(hrirs.fs) // g, axis=-1)
        if filters.shape[-1] > MAX_TAPS:
            filters = filters[..., :MAX_TAPS].copy()
            filters[..., -FADE_TAPS:] *= np.hanning(2 * FADE_TAPS)[FADE_TAPS:]
        return cls(filters.astype(np.float32), sample_rate, Path(path).name)

    def render(self, foa: np.ndarray) -> np.ndarray:
        """Ears [2, N] of a whole AmbiX signal [4, N] (no rotation)."""
        check_foa(foa)
        n = foa.shape[1]
        out = np.zeros((2, n), dtype=np.float64)
        for ear in range(2):
            for ch in range(4):
                out[ear] += signal.oaconvolve(foa[ch], self.filters[ear, ch])[:n]
        return out.astype(np.float32)


class BinauralRenderer:
    """Streaming binaural renderer: blocks of AmbiX in, ears out, head rotation per block."""

    def __init__(self, decoder: BinauralDecoder, block_size: int = MAX_BLOCK) -> None:
        if not 1 <= block_size <= MAX_BLOCK:
            raise ValueError(f"block size must be 1 to {MAX_BLOCK}, got {block_size}")
        self.decoder = decoder
        self.block_size = block_size
        taps = decoder.filters.shape[-1]
        self._fft = 1 << math.ceil(math.log2(block_size + taps - 1))
        self._spectra = fft.rfft(decoder.filters, self._fft, axis=-1)  # [2, 4, F] complex64
        self._tail = np.zeros((2, self._fft), dtype=np.float32)
        self._padded = np.zeros((4, self._fft), dtype=np.float32)  # a block, zero-padded
        self._rotator = BlockRotator("head")
        self.rotation = (0.0, 0.0, 0.0)  # head yaw, pitch, roll in degrees

    def set_rotation(self, yaw: float, pitch: float, roll: float) -> None:
        """The head rotation the next block moves to (a plain attribute swap: thread-safe)."""
        self.rotation = (float(yaw), float(pitch), float(roll))

    def process(self, block: np.ndarray) -> np.ndarray:
        """Render one AmbiX block [4, n ≤ block size] to ears [2, n]."""
        n = block.shape[1]
        if n > self.block_size:
            raise ValueError(f"blocks hold at most {self.block_size} samples, got {n}")
        rotated = self._rotator.process(np.asarray(block, dtype=np.float32), *self.rotation)
        self._padded[:, :n] = rotated
        self._padded[:, n:] = 0.0
        spectrum = fft.rfft(self._padded, axis=-1)  # [4, F]
        mixed = (self._spectra * spectrum[None]).sum(axis=1)  # [2, F]: each ear, all channels
        ears = fft.irfft(mixed, self._fft, axis=-1, overwrite_x=True)
        ears += self._tail
        out = ears[:, :n].copy()
        self._tail[:, : self._fft - n] = ears[:, n:]
        self._tail[:, self._fft - n :] = 0.0
        return out

    def render(
        self,
        foa: np.ndarray,
        rotations: np.ndarray | None = None,
    ) -> np.ndarray:
        """Ears [2, N] of AmbiX [4, N]; ``rotations`` [blocks, 3] gives (yaw, pitch, roll)
        per block (None: the current rotation throughout)."""
        check_foa(foa)
        total = foa.shape[1]
        blocks = -(-total // self.block_size)
        out = np.empty((2, total), dtype=np.float32)
        for b in range(blocks):
            if rotations is not None:
                self.set_rotation(*rotations[b])
            sl = slice(b * self.block_size, min(total, (b + 1) * self.block_size))
            out[:, sl] = self.process(foa[:, sl])
        return out
