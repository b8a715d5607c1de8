"""The binaural renderer on one core: cost per 512-sample block and real-time factor.

Run: ``.venv/bin/python benchmarks/bench_binaural.py``. Rows: the streaming renderer with a
steady head, and with the head turning every block (a crossfade in each block); the
reference is the straightforward renderer measured in the same run: direct time-domain
convolution of each block by each filter (numpy.convolve), with the same rotation.
Latency: a rotation set before a block is heard in that block's output (measured below).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch
from timing import Table, json_option

from plugin_core.spatial.binaural import BinauralDecoder, BinauralRenderer
from plugin_core.spatial.foa import BlockRotator, encode_mono

RATE = 48000
BLOCK = 512
SECONDS = 10.0


class DirectRenderer:
    """The reference: per block, rotate, then np.convolve each channel by each filter."""

    def __init__(self, decoder: BinauralDecoder) -> None:
        self.filters = decoder.filters.astype(np.float64)
        self.tail = np.zeros((2, self.filters.shape[-1] - 1))
        self.rotator = BlockRotator("head")
        self.rotation = (0.0, 0.0, 0.0)

    def process(self, block: np.ndarray) -> np.ndarray:
        rotated = self.rotator.process(block.astype(np.float64), *self.rotation)
        n = block.shape[1]
        full = np.zeros((2, n + self.filters.shape[-1] - 1))
        for ear in range(2):
            for ch in range(4):
                full[ear] += np.convolve(rotated[ch], self.filters[ear, ch])
        full[:, : self.tail.shape[1]] += self.tail
        self.tail = full[:, n:]
        return full[:, :n]


def run(renderer, foa: np.ndarray, turning: bool) -> float:
    start = time.perf_counter()
    for b in range(foa.shape[1] // BLOCK):
        if turning:
            renderer.rotation = (float(b % 360), 10.0, 0.0)
        renderer.process(foa[:, b * BLOCK : (b + 1) * BLOCK])
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    json_option(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    decoder = BinauralDecoder.from_sofa(sample_rate=RATE)
    foa = encode_mono(
        0.1 * np.random.default_rng(0).standard_normal(int(SECONDS * RATE)), 60, 0
    ).astype(np.float32)  # as read_foa gives it
    blocks = foa.shape[1] // BLOCK
    table = Table(
        f"{decoder.source}, {decoder.filters.shape[-1]} taps at {RATE} Hz, blocks of {BLOCK}, "
        "one thread; seconds per block",
        "np.convolve per channel and filter after the same rotation",
    )
    for turning in (False, True):
        ours = statistics.median(run(BinauralRenderer(decoder, BLOCK), foa, turning) for _ in "abc")
        ref = statistics.median(run(DirectRenderer(decoder), foa, turning) for _ in "abc")
        name = "head turning every block" if turning else "steady head"
        table.add(name, ours / blocks, ref / blocks, real_time_factor=SECONDS / ours)
        table.notes.append(f"{name}: {SECONDS / ours:.0f}x real time")
    renderer = BinauralRenderer(decoder, BLOCK)
    renderer.process(foa[:, :BLOCK])
    renderer.set_rotation(90.0, 0.0, 0.0)
    turned = renderer.process(foa[:, BLOCK : 2 * BLOCK])
    steady = BinauralRenderer(decoder, BLOCK)
    steady.process(foa[:, :BLOCK])
    unturned = steady.process(foa[:, BLOCK : 2 * BLOCK])
    heard = np.abs(turned - unturned).max() > 1e-3 * np.abs(unturned).max()
    table.notes.append(
        f"rotation latency: {'within the same block' if heard else 'later'} "
        f"(≤ {BLOCK / RATE * 1e3:.1f} ms)"
    )
    table.print()
    table.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
