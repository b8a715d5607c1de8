"""A figure of two W channels' spectrograms one above the other (generated, the scene's)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray
from PIL import Image
from scipy.signal import stft

WINDOW = 2048
HOP = 512
RANGE_DB = 80.0
TOP_HZ = 8000.0


def spectrogram_figure(
    signals: Sequence[tuple[str, NDArray[np.floating]]], sample_rate: float
) -> Image.Image:
    """Spectrograms (dB, 0–8 kHz, 80 dB range) of the named signals, stacked, shared axes."""
    figure = Figure(figsize=(9.0, 2.4 * len(signals)), dpi=100)
    canvas = FigureCanvasAgg(figure)
    axes = figure.subplots(len(signals), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (title, signal) in zip(axes, signals, strict=True):
        freqs, times, spec = stft(
            np.asarray(signal, dtype=np.float64), fs=sample_rate, nperseg=WINDOW,
            noverlap=WINDOW - HOP,
        )  # fmt: skip
        level = 20.0 * np.log10(np.maximum(np.abs(spec), 1e-12))
        level -= level.max()
        keep = freqs <= TOP_HZ
        image = ax.pcolormesh(
            times, freqs[keep] / 1000.0, level[keep], vmin=-RANGE_DB, vmax=0.0,
            cmap="magma", shading="auto",
        )  # fmt: skip
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("kHz")
        figure.colorbar(image, ax=ax, label="dB")
    axes[-1].set_xlabel("seconds")
    figure.tight_layout()
    canvas.draw()
    return Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy())
