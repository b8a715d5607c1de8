"""A tqdm bar driven by ``progress(step, steps)`` callbacks, for the command-line jobs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def step_bar(desc: str = "sampling") -> Iterator[Callable[[int, int], None]]:
    """Yield a ``progress(step, steps)`` callback that moves a tqdm bar to ``step``."""
    with tqdm(desc=desc, unit="step") as bar:

        def progress(step: int, steps: int) -> None:
            bar.total = steps
            bar.update(step - bar.n)

        yield progress
