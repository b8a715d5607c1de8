"""Any-length generation: model windows with overlap, per-window seeds, equal-power joins.

A span longer than the model's window is cut into windows that start every
``window - overlap`` samples; each is generated on its own (seed from the request seed and
the window's index) and consecutive windows are joined over their overlap with an
equal-power crossfade in the FOA domain (the same gain on all four channels, so directions
are untouched). :class:`CrossfadeJoiner` takes the windows one at a time and hands back the
finished samples, so a one-hour span never sits in memory whole.

Equal power keeps the level of two uncorrelated windows steady across a join, but their sum
can peak up to 3 dB above either when they are correlated. A join whose equal-power sum would
peak more than 1 dB above both windows' own peaks over the overlap (a coherent join:
uncorrelated windows stay within that) switches to an amplitude-complementary crossfade (gains
out/(out+in) and in/(out+in), which sum to one), whose peak cannot exceed the louder
window's: a join never sets the stem's peak, so it never turns the whole stem down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_COHERENT_OVERSHOOT = 10 ** (1.0 / 20)  # 1 dB


@dataclass(frozen=True)
class Window:
    """One model window of a span: its index and where it sits, in samples from the start."""

    index: int
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


def plan_windows(total: int, window: int, overlap: int, max_pad: int = 0) -> list[Window]:
    """Windows of at most ``window`` samples covering ``total``, overlapping by ``overlap``.

    Every window but the last is full; the last ends exactly at ``total``, unless it would
    add no more than ``max_pad`` new samples: then it is dropped and the span ends with those
    few samples of padding (a model window that decodes a little short of its nominal length
    would otherwise cost a whole extra window for a few milliseconds).
    """
    if total <= 0:
        raise ValueError(f"a span must have samples, got {total}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in [0, {window}), got {overlap}")
    hop = window - overlap
    windows = [Window(0, 0, min(window, total))]
    while windows[-1].end < total:
        if total - windows[-1].end <= max_pad:
            break
        start = windows[-1].start + hop
        windows.append(Window(len(windows), start, min(window, total - start)))
    return windows


def window_seed(seed: int, index: int) -> int:
    """The sampling seed of window ``index`` of a request seeded with ``seed``: distinct per
    window, the same on every run, independent of how many windows the span has."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0] >> 1)


def equal_power_fades(length: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade-out, fade-in) gains over ``length`` samples with out² + in² = 1 throughout."""
    phase = (np.arange(length) + 0.5) / length * (np.pi / 2)
    return np.cos(phase), np.sin(phase)


class CrossfadeJoiner:
    """Joins windows of FOA [C, n] in order; :meth:`add` returns the samples that are final."""

    def __init__(self, windows: list[Window], limit_join_peaks: bool = True) -> None:
        self._windows = windows
        self._limit = limit_join_peaks
        self._next = 0
        self._tail: np.ndarray | None = None  # the previous window's overlap, not yet final
        self.amplitude_joins = 0  # joins switched to amplitude crossfades (no new peak)

    def add(self, audio: np.ndarray) -> np.ndarray:
        """Take the next window's audio [C, length]; return every sample now final."""
        if self._next >= len(self._windows):
            raise ValueError("every planned window has already been added")
        window = self._windows[self._next]
        if audio.shape[-1] != window.length:
            raise ValueError(
                f"window {window.index} must have {window.length} samples, got {audio.shape[-1]}"
            )
        self._next += 1
        if self._tail is not None:
            n = self._tail.shape[-1]
            fade_out, fade_in = equal_power_fades(n)
            incoming = audio[:, :n]
            head = self._tail * fade_out + incoming * fade_in
            own_peak = max(np.abs(self._tail).max(initial=0), np.abs(incoming).max(initial=0))
            if self._limit and np.abs(head).max(initial=0) > own_peak * _COHERENT_OVERSHOOT:
                head = head / (fade_out + fade_in)
                self.amplitude_joins += 1
            audio = np.concatenate([head, audio[:, n:]], axis=-1)
        following = self._windows[self._next] if self._next < len(self._windows) else None
        if following is None:
            self._tail = None
            return audio
        keep = following.start - window.start
        self._tail = audio[:, keep:]
        return audio[:, :keep]

    @property
    def done(self) -> bool:
        return self._next == len(self._windows)
