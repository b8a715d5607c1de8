"""What the preview plays and shows, without Qt: the FOA, the video, the binaural renderer,
the playhead, the energy map of the sound around the playhead, and the stem's takes (one
plays; switching feeds another take's samples from the same playhead on)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from plugin_core.errors import InputError
from plugin_core.media.audio_io import read_foa
from plugin_core.media.stem_sidecar import sidecar_path
from plugin_core.media.stem_takes import Take, read_sidecar, stem_takes
from plugin_core.media.video import probe
from plugin_core.spatial.analysis import HeatmapStyle, heat_overlay
from plugin_core.spatial.binaural import DEFAULT_SOFA, BinauralDecoder, BinauralRenderer
from plugin_core.spatial.directions import erp_pixel_directions
from plugin_core.spatial.metrics import energy_maps
from ui.video_cursor import VideoCursor

BLOCK = 512
MAP_WINDOW_S = 0.25  # the energy map shows this much sound around the playhead
MAP_SIZE = (128, 64)
LENGTH_TOLERANCE_S = 0.5
_MAP_STYLE = HeatmapStyle(width=MAP_SIZE[0], opacity=0.7)


@dataclass
class PreviewSession:
    """A loaded FOA (and optional video) with a playhead and a head rotation."""

    foa: np.ndarray  # AmbiX [4, N]
    rate: int
    renderer: BinauralRenderer
    video: VideoCursor | None = None
    warnings: list[str] = field(default_factory=list)
    position: int = 0  # samples
    loop: bool = False
    sofa: Path = DEFAULT_SOFA
    takes: dict[int, tuple[Take, np.ndarray]] = field(default_factory=dict)  # number: take, FOA
    take: int = 0  # the take playing; 0 when the FOA has no takes
    _grid: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: erp_pixel_directions(*MAP_SIZE)
    )

    @classmethod
    def load(
        cls, foa_path: Path, video_path: Path | None = None, sofa: Path | None = None
    ) -> PreviewSession:
        """Read the FOA (4 channels) and every take of it, the HRTF and the video; a length
        mismatch with the video is a warning."""
        takes, chosen, rate = load_takes(Path(foa_path))
        foa = takes[chosen][1]
        decoder = BinauralDecoder.from_sofa(sofa or DEFAULT_SOFA, rate)
        session = cls(foa, rate, BinauralRenderer(decoder, BLOCK), sofa=sofa or DEFAULT_SOFA)
        if len(takes) > 1:
            session.takes, session.take = takes, chosen
        if video_path is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                info = probe(video_path)
            session.video = VideoCursor(Path(video_path), info.duration, (info.width, info.height))
            audio_s = foa.shape[1] / rate
            if abs(info.duration - audio_s) > LENGTH_TOLERANCE_S:
                session.warnings.append(
                    f"The video lasts {info.duration:.2f} s but the FOA {audio_s:.2f} s; "
                    "they may not belong together (playing the FOA's length)."
                )
        return session

    @property
    def duration(self) -> float:
        return self.foa.shape[1] / self.rate

    @property
    def seconds(self) -> float:
        return self.position / self.rate

    def seek(self, seconds: float) -> None:
        self.position = int(np.clip(round(seconds * self.rate), 0, self.foa.shape[1]))

    def set_sofa(self, sofa: Path) -> None:
        """Switch HRTF sets (the rotation carries over)."""
        rotation = self.renderer.rotation
        self.renderer = BinauralRenderer(BinauralDecoder.from_sofa(sofa, self.rate), BLOCK)
        self.renderer.set_rotation(*rotation)
        self.sofa = sofa

    def swap_foa(self, foa_path: Path) -> None:
        """Play another FOA file from the same playhead time (e.g. a stem just conformed)."""
        seconds = self.seconds
        self.foa, rate = read_foa(foa_path)
        self.takes, self.take = {}, 0
        if rate != self.rate:
            self.rate = rate
            self.set_sofa(self.sofa)
        self.seek(seconds)

    def select_take(self, number: int) -> None:
        """Play take ``number`` from the playhead on (position and head rotation unchanged)."""
        self.foa = self.takes[number][1]
        self.take = number

    def next_block(self) -> np.ndarray | None:
        """The next ≤ 512 samples of both ears [2, n]; None at the end (unless looping)."""
        total = self.foa.shape[1]
        if self.position >= total:
            if not self.loop:
                return None
            self.position = 0
        block = self.foa[:, self.position : self.position + BLOCK]
        self.position += block.shape[1]
        return self.renderer.process(block)

    def frame(self) -> np.ndarray | None:
        return None if self.video is None else self.video.frame_at(self.seconds)

    def energy_image(self, background: np.ndarray | None) -> Image.Image:
        """The energy map of the sound around the playhead, over ``background``."""
        half = int(MAP_WINDOW_S * self.rate / 2)
        start = max(0, min(self.position - half, self.foa.shape[1] - 2 * half))
        segment = self.foa[:, start : start + 2 * half]
        energy = energy_maps(segment, self.rate, None, *self._grid)[0]
        return heat_overlay(energy, background, _MAP_STYLE)


def load_takes(stem: Path) -> tuple[dict[int, tuple[Take, np.ndarray]], int, int]:
    """Every take of ``stem`` with its FOA, the chosen take's number and the sample rate; a
    stem without a sidecar is its one take. Takes of another length or rate are refused."""
    if sidecar_path(stem).is_file():
        listed, chosen = stem_takes(stem, read_sidecar(stem))
    else:
        listed, chosen = [Take(1, stem.name, 0)], 1
    files = [stem] if len(listed) == 1 else [stem.parent / t.file for t in listed]
    read = [read_foa(f) for f in files]
    first, rate = read[0]
    for take, (foa, take_rate) in zip(listed, read, strict=True):
        if foa.shape != first.shape or take_rate != rate:
            raise InputError(
                f"Take {take.number} of {stem.name} ({take.file}) has {foa.shape[1]} samples at "
                f"{take_rate} Hz but take {listed[0].number} has {first.shape[1]} at {rate} Hz; "
                "the takes of a stem must be the same length and rate."
            )
    return {t.number: (t, foa) for t, (foa, _) in zip(listed, read, strict=True)}, chosen, rate


def check_inputs(foa_path: Path, video_path: Path | None) -> None:
    """Fail early, in one sentence, on files the preview cannot open."""
    if not Path(foa_path).is_file():
        raise InputError(f"{foa_path} does not exist; give a 4-channel FOA file.")
    if video_path is not None and not Path(video_path).is_file():
        raise InputError(f"{video_path} does not exist; give the 360 video or leave it out.")
