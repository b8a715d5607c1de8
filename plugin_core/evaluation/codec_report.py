"""The codec alone: held-out scenes and dry sounds at known directions, encoded and decoded.

Read beside an 8-bit mu-law quantiser (a simple reference that keeps waveforms) and the scenes
themselves (what the buzz measures read on natural sound).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from models.family import CodecRoundTrip, VoicePlacement
from plugin_core.evaluation.artefacts import (
    frame_rate_artefacts,
    mu_law_round_trip,
    multi_resolution_stft_distance,
    si_sdr_db,
)
from plugin_core.evaluation.clips import SAMPLE_RATE, render_clip
from plugin_core.evaluation.spatial import whole_clip_direction
from plugin_core.spatial.directions import great_circle_deg
from plugin_core.spatial.foa import encode_gains
from plugin_core.synthsphere import SOUND_CLASSES
from plugin_core.synthsphere.sounds import synthesize

# Directions of the dry-sound round trip (az, el degrees): both elevation signs, the back,
# the seam and a steep source.
ROUND_TRIP_DIRECTIONS: tuple[tuple[float, float], ...] = (
    (90.0, -20.0),
    (30.0, 60.0),
    (-120.0, 0.0),
    (180.0, -45.0),
    (0.0, 30.0),
    (-60.0, -60.0),
)
ROUND_TRIP_SECONDS = 2.0
ROUND_TRIP_ONSETS = (0.2, 0.9, 1.5)
CODEC_REPORT_NAME = "codec_round_trip.txt"
PLACEMENT_REPORT_NAME = "placement_round_trip.txt"


@dataclass(frozen=True)
class CodecRow:
    """Mean measures of one way of carrying the held-out scenes."""

    name: str
    stft_distance: float  # all four channels, lower is better
    si_sdr_db: float  # W
    autocorr_hop: float  # W
    autocorr_2hop: float
    comb_db: float
    direction_error_deg: float  # whole-clip intensity direction against the scene's


@dataclass(frozen=True)
class DirectionTrip:
    """One dry sound placed at (az, el) and where the codec's output says it is."""

    sound_class: str
    az: float
    el: float
    decoded_az: float
    decoded_el: float

    @property
    def error_deg(self) -> float:
        return float(great_circle_deg(self.az, self.el, self.decoded_az, self.decoded_el))


def _round_trip(model: CodecRoundTrip, seed: int) -> Callable[[NDArray[np.floating]], NDArray]:
    """FOA [4, N] → the codec's [4, N] (the tail past the last whole codec frame left silent)."""

    def run(foa: NDArray[np.floating]) -> NDArray[np.float64]:
        usable = foa.shape[-1] // model.codec_hop * model.codec_hop
        audio = torch.from_numpy(np.ascontiguousarray(foa[:, :usable], dtype=np.float32))[None]
        decoded = np.zeros(foa.shape, dtype=np.float64)
        decoded[:, :usable] = model.round_trip(audio, seed)[0].double().numpy()
        return decoded

    return run


def codec_round_trip(
    model: CodecRoundTrip, seeds: Sequence[int], seconds: float = 10.0
) -> list[CodecRow]:
    """The scenes themselves, ``codec`` and 8-bit mu-law on each held-out scene, averaged."""
    carriers: dict[str, Callable[[NDArray[np.floating]], NDArray]] = {
        "scene itself": lambda foa: np.asarray(foa, dtype=np.float64),
        "codec": _round_trip(model, 0),
        "mu-law 8-bit": mu_law_round_trip,
    }
    measures: dict[str, list[list[float]]] = {name: [] for name in carriers}
    for seed in seeds:
        foa = render_clip(seed, seconds).foa
        truth = whole_clip_direction(foa, SAMPLE_RATE)
        for name, carry in carriers.items():
            out = carry(foa)
            artefacts = frame_rate_artefacts(out[0], model.codec_hop)
            measures[name].append(
                [
                    multi_resolution_stft_distance(out, foa),
                    si_sdr_db(out[0], foa[0]),
                    artefacts["autocorr_hop"],
                    artefacts["autocorr_2hop"],
                    artefacts["comb_db"],
                    float(great_circle_deg(*truth, *whole_clip_direction(out, SAMPLE_RATE))),
                ]
            )
    return [CodecRow(name, *np.mean(values, axis=0).tolist()) for name, values in measures.items()]


# A way of carrying a dry sound [N] at (az, el) degrees into FOA [4, N].
Carrier = Callable[[NDArray[np.float64], float, float], NDArray[np.floating]]


def codec_carrier(model: CodecRoundTrip) -> Carrier:
    """The dry sound as a plane wave, through the codec."""
    run = _round_trip(model, 0)
    return lambda dry, az, el: run(encode_gains(az, el)[:, None] * dry[None, :])


def placement_carrier(model: VoicePlacement) -> Carrier:
    """The dry sound placed as the model places its voices."""

    def carry(dry: NDArray[np.float64], az: float, el: float) -> NDArray[np.floating]:
        voice = torch.from_numpy(np.ascontiguousarray(dry, dtype=np.float32))
        return model.place_voice(voice, az, el).double().numpy()

    return carry


def direction_round_trip(
    carry: Carrier,
    directions: Sequence[tuple[float, float]] = ROUND_TRIP_DIRECTIONS,
    classes: Sequence[str] = SOUND_CLASSES,
) -> list[DirectionTrip]:
    """Each class's dry sound from each direction, carried, and where its field says it is."""
    trips = []
    samples = int(ROUND_TRIP_SECONDS * SAMPLE_RATE)
    for index, sound_class in enumerate(classes):
        dry = synthesize(sound_class, ROUND_TRIP_ONSETS, samples, SAMPLE_RATE, seed=index)
        for az, el in directions:
            heard = whole_clip_direction(carry(dry, az, el), SAMPLE_RATE)
            trips.append(DirectionTrip(sound_class, az, el, *heard))
    return trips


def format_direction_trips(trips: Sequence[DirectionTrip]) -> str:
    """The direction round trip's summary as one line."""
    errors = np.array([t.error_deg for t in trips])
    signed = [t for t in trips if t.el != 0.0]
    kept = sum(np.sign(t.decoded_el) == np.sign(t.el) for t in signed)
    return (
        f"dry sounds at {len({(t.az, t.el) for t in trips})} directions × "
        f"{len({t.sound_class for t in trips})} classes: mean error {errors.mean():.1f}°, "
        f"worst {errors.max():.1f}°, elevation sign kept {kept}/{len(signed)}"
    )


def format_codec_report(rows: Sequence[CodecRow], trips: Sequence[DirectionTrip]) -> str:
    """The round-trip table and the direction round trip's summary as text."""
    lines = [
        f"{'held-out scenes':<14}  {'STFT dist':>9}  {'SI-SDR W':>8}  {'ac 1 hop':>8}  "
        f"{'ac 2 hops':>9}  {'comb dB':>7}  {'direction':>9}"
    ]
    for r in rows:
        lines.append(
            f"{r.name:<14}  {r.stft_distance:9.3f}  {r.si_sdr_db:8.1f}  {r.autocorr_hop:8.3f}  "
            f"{r.autocorr_2hop:9.3f}  {r.comb_db:7.1f}  {r.direction_error_deg:8.1f}°"
        )
    lines.append(format_direction_trips(trips))
    return "\n".join(lines)
