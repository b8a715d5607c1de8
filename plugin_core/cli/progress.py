"""A tqdm bar driven by ``progress(step, steps)`` callbacks, for the command-line jobs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def step_bar(desc: str = "sampling") -> Iterator[Callable[[int, int], None]]:
    """Yield a ``progress(step, steps)`` callback that moves a tqdm bar to ``step``.

    The bar appears with the first step, so a job that fails before sampling prints only
    its error.
    """
    bars: list[tqdm] = []

    def progress(step: int, steps: int) -> None:
        if not bars:
            bars.append(tqdm(desc=desc, unit="step", total=steps))
        bar = bars[0]
        bar.total = steps
        bar.update(step - bar.n)

    try:
        yield progress
    finally:
        for bar in bars:
            bar.close()
