"""Regenerate part of a stem: new audio inside a time range, joined to the audio around it,
every sample outside the range bit-identical. Each result is a new take of the stem and the
first becomes the chosen one; the audio it replaces stays a take.

The joins use what the family can do (:class:`models.family.KnownAudioJoins`): the stem's
audio around the range, taken back to what the model made (gain undone, AmbiX, the model's
rate), is given to it, and ViSAGe continues from the codes of the audio before the range,
OmniAudio inpaints between the latents of the audio on both sides. Such a join still gets a
short equal-power crossfade (codecs do not give the stem's samples back exactly); any other
end gets a longer one. All crossfades lie inside the range; the sidecar names each end's join.

The video, model, camera path and settings come from the stem's sidecar. The model is given
the range with context around it (at least a window's worth where the stem has it), and the
new audio gets the gain the stem's level stage gave the take it replaces, so both sides of a
join are at the same level. A range that covers the whole stem is a normal generation.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr
import torch

from models.family import Cancel, Join, KnownAudio, KnownAudioJoins
from plugin_core.atomic_files import new_folder, output_transaction, own_transaction, write_atomic
from plugin_core.errors import InputError
from plugin_core.generation.loaded_model import LoadedModel, load_model
from plugin_core.generation.pipeline import StepProgress, generate
from plugin_core.generation.request import MAX_SEED, MAX_TAKES, request_from_record
from plugin_core.media.stem_sidecar import sha256_of, write_sidecar
from plugin_core.media.stem_takes import (
    Take,
    read_sidecar,
    stem_takes,
    take_path,
    takes_folder,
    takes_record,
)
from plugin_core.media.takes_journal import journal_path, write_journal
from plugin_core.spatial.foa import to_ambix

CROSSFADE_S = 0.05  # a crossfade join, inside the range
CODEC_FADE_S = 0.01  # the crossfade hiding a codec's difference at a forced-codes/inpainted join
RESAMPLE_MARGIN_S = 0.1  # stem audio read beyond the model's span, so resampling has no edge
MIN_RANGE_S = 4 * CROSSFADE_S
CONTEXT_S = 0.5  # audio the model makes on each side of the range at least (then discarded)


@dataclass(frozen=True)
class RangeEdit:
    """What to regenerate: seconds into the stem, the seed of the new takes (None: one past
    the highest seed the stem's takes used, so the audio is new), how many."""

    stem: Path
    start: float
    end: float
    seed: int | None = None
    takes: int = 1

    def check(self, duration: float) -> None:
        """InputError (one sentence) for a range the stem cannot take."""
        name = self.stem.name
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise InputError(f"--from and --to must be numbers of seconds into {name}.")
        if not 0.0 <= self.start < self.end <= duration + 1e-6:
            raise InputError(
                f"The range {self.start:g} to {self.end:g} s must lie within {name} "
                f"(0 to {duration:.3f} s) and end after it starts."
            )
        if self.end - self.start < MIN_RANGE_S:
            raise InputError(
                f"Regenerate at least {MIN_RANGE_S:g} s (asked for {self.end - self.start:g} s); "
                "the range holds a crossfade at each end."
            )
        seed_ok = self.seed is None or 0 <= self.seed <= MAX_SEED
        if not seed_ok or not 1 <= self.takes <= MAX_TAKES:
            raise InputError(f"--seed must be 0 to {MAX_SEED} and --takes 1 to {MAX_TAKES}.")


def written_files(edit: RangeEdit) -> list[Path]:
    """The files regenerate(edit) writes, the stem first: the stem, take 1 when the stem is
    its only take, the new takes (their sidecar entry is the stem's)."""
    takes, _ = stem_takes(edit.stem, read_sidecar(edit.stem))
    kept = [take_path(edit.stem, takes[0].number)] if _is_only_take(edit.stem, takes) else []
    return [edit.stem, *kept, *(take_path(edit.stem, n) for n in _new_numbers(takes, edit))]


def _new_numbers(takes: list[Take], edit: RangeEdit) -> range:
    """The numbers of the takes ``edit`` adds to a stem that has ``takes``."""
    first = max(t.number for t in takes) + 1
    return range(first, first + edit.takes)


def fresh_seed(takes: list[Take]) -> int:
    """A seed none of ``takes`` used: one past the highest."""
    return (max(t.seed for t in takes) + 1) % (MAX_SEED + 1)


def _is_only_take(stem: Path, takes: list[Take]) -> bool:
    """Whether the stem's own file is its one take (no takes folder yet)."""
    return len(takes) == 1 and takes[0].file == stem.name


def regenerate(
    edit: RangeEdit,
    loaded: LoadedModel | None = None,
    progress: StepProgress | None = None,
    cancel: Cancel | None = None,
    device: str = "auto",
) -> list[Take]:
    """Add ``edit.takes`` takes of the stem, new inside the range; returns them (the first
    is now the chosen take). Nothing is written when it fails or is cancelled."""
    stem = edit.stem
    document = read_sidecar(stem)
    takes, chosen = stem_takes(stem, document)
    seed = edit.seed if edit.seed is not None else fresh_seed(takes)
    base_take = next(t for t in takes if t.number == chosen)
    base_file = stem.parent / base_take.file
    info = sf.info(str(base_file))
    rate, frames = info.samplerate, info.frames
    edit.check(frames / rate)
    numbers = _new_numbers(takes, edit)
    kept = [takes[0].number] if _is_only_take(stem, takes) else []
    for number in (*kept, *numbers):
        if take_path(stem, number).exists():  # a file the sidecar does not list: not ours
            raise InputError(
                f"{take_path(stem, number)} is in the way of the new take {number}; move it."
            )
    original = request_from_record(document["request"], stem)
    loaded = loaded or load_model(original.model, device, "ema" if original.ema else "model")
    whole = edit.start <= 0.5 / rate and edit.end >= (frames - 0.5) / rate
    window_s = loaded.model.window.seconds
    pad = max(CONTEXT_S, (window_s - (edit.end - edit.start)) / 2)
    first, last = (
        (0.0, frames / rate)
        if whole
        else (
            max(0.0, edit.start - pad),
            min(frames / rate, edit.end + pad),
        )
    )
    source_start = float(document["source"]["start"])
    level = base_take.made.get("level") or document.get("level") or {}  # one take: the stem's
    gain_db = 0.0 if whole else float(level.get("gain_db") or 0.0)
    known = None
    if not whole and isinstance(loaded.model, KnownAudioJoins):
        known = _known_audio(base_file, original.convention, gain_db, (first, last), edit, loaded)
    with tempfile.TemporaryDirectory(prefix="omnifoa-regenerate-") as scratch:
        section = replace(
            original,
            output=Path(scratch) / "section.wav",
            start=source_start + first,
            end=source_start + last,
            seed=seed,
            variations=edit.takes,
            subtype="float32",
            overwrite=False,
            **({} if whole else {"level": "off"}),
        )
        with own_transaction():  # read back below, even inside a job's transaction
            result = generate(section, loaded, progress, cancel, known=known)
        sections = [sf.read(str(p), dtype="float64", always_2d=True)[0] for p in result.paths]
        levels = [level.as_dict() for level in result.levels]
    base, native = _read_exact(base_file)
    offset = round(first * rate)
    start, end = round(edit.start * rate), round(edit.end * rate)
    joins = _joins(result.known_joins)
    longest = min(CROSSFADE_S, (edit.end - edit.start) / 4)
    fades = {
        side: 0 if whole else round((longest if join == "crossfade" else CODEC_FADE_S) * rate)
        for side, join in joins.items()
    }
    made_takes: list[tuple[Take, np.ndarray]] = []
    for i, audio in enumerate(sections):
        # the section's own gain taken off (level "off" still keeps it under the ceiling)
        section_db = 0.0 if whole else float(levels[i]["gain_db"])
        new = audio[start - offset : end - offset] * 10 ** ((gain_db - section_db) / 20)
        joined = _spliced(base, native, new, start, end, fades["start"], fades["end"])
        made: dict[str, Any] = {
            "by": "regenerate",
            "from_take": chosen,
            "range": [edit.start, edit.end],
            "context": [first, last],
            "variation": i,
            "join": "whole" if whole else joins,
            "crossfade_s": {side: fade / rate for side, fade in fades.items()},
            "level": levels[i] if whole else {"gain_db": gain_db, "from_take": chosen},
        }
        number = numbers[i]
        made_takes.append(
            (Take(number, _relative(stem, take_path(stem, number)), seed, made), joined)
        )
    _commit(stem, document, takes, made_takes, info)
    return [take for take, _ in made_takes]


def _known_audio(
    base_file: Path,
    convention: str,
    gain_db: float,
    span: tuple[float, float],
    edit: RangeEdit,
    loaded: LoadedModel,
) -> KnownAudio:
    """The stem's audio over ``span`` (seconds into the stem) as the model made it: the gain
    undone, in AmbiX, at the model's rate; known outside the edit's range."""
    info = sf.info(str(base_file))
    rate, model_rate = info.samplerate, loaded.model.window.sample_rate
    margin = round(RESAMPLE_MARGIN_S * rate)
    a = max(0, round(span[0] * rate) - margin)
    b = min(info.frames, round(span[1] * rate) + margin)
    data, _ = sf.read(str(base_file), start=a, stop=b, dtype="float64", always_2d=True)
    ambix = to_ambix(data.T * 10 ** (-gain_db / 20), convention)  # type: ignore[arg-type]
    if rate != model_rate:
        ambix = soxr.resample(ambix.T, rate, model_rate, quality="VHQ").T
    skip = round((span[0] - a / rate) * model_rate)
    length = round((span[1] - span[0]) * model_rate)
    audio = np.zeros((4, length))
    part = ambix[:, skip : skip + length]
    audio[:, : part.shape[1]] = part
    times = np.arange(length) / model_rate + span[0]
    known = (times < edit.start) | (times >= edit.end)
    return KnownAudio(torch.from_numpy(audio).float(), torch.from_numpy(known))


def _joins(window_joins: list[tuple[Join | None, Join | None]]) -> dict[str, Join]:
    """Each end's join: what the window holding that end said (a crossfade where none did)."""
    starts = [s for s, _ in window_joins if s is not None]
    ends = [e for _, e in window_joins if e is not None]
    return {
        "start": starts[0] if starts else "crossfade",
        "end": ends[-1] if ends else "crossfade",
    }


def _read_exact(path: Path) -> tuple[np.ndarray, bool]:
    """The file's frames [n, 4] as stored: integers for PCM (exactly the stored values) or
    floats; and whether they are integers."""
    subtype = sf.info(str(path)).subtype
    native = subtype.startswith("PCM")
    dtype = "int32" if native else ("float64" if subtype == "DOUBLE" else "float32")
    data, _ = sf.read(str(path), dtype=dtype, always_2d=True)
    return data, native


def _spliced(
    base: np.ndarray,
    native: bool,
    new: np.ndarray,
    start: int,
    end: int,
    fade_in: int,
    fade_out: int,
) -> np.ndarray:
    """``base`` with ``new`` in frames [start, end), equal-power crossfades of ``fade_in``
    and ``fade_out`` frames at its ends inside them; every other frame is base's, untouched."""
    scale = 2.0**31 if native else 1.0
    old = base[start:end].astype(np.float64) / scale
    n = min(len(new), len(old))
    theta = np.full(n, np.pi / 2)  # 0: the old audio alone, π/2: the new alone
    if fade_in:
        theta[:fade_in] = (np.arange(fade_in) + 0.5) / fade_in * (np.pi / 2)
    if fade_out:
        ramp = (np.arange(fade_out) + 0.5) / fade_out * (np.pi / 2)
        theta[n - fade_out :] = np.minimum(theta[n - fade_out :], ramp[::-1])
    mixed = old[:n] * np.cos(theta)[:, None] + new[:n] * np.sin(theta)[:, None]
    out = base.copy()
    if native:
        out[start : start + n] = np.clip(np.round(mixed * scale), -(2.0**31), 2.0**31 - 1)
    else:
        out[start : start + n] = mixed.astype(base.dtype)
    return out


def _relative(stem: Path, path: Path) -> str:
    return str(path.relative_to(stem.parent))


def _commit(
    stem: Path,
    document: dict[str, Any],
    takes: list[Take],
    made: list[tuple[Take, np.ndarray]],
    info: Any,
) -> None:
    """The new takes, then the stem (now the first new take), then the sidecar, written
    together under a journal (so a killed commit is finished or undone by the next reader);
    a stem that had one take gets its takes folder, its audio kept as take 1."""

    with sf.SoundFile(str(stem)) as playing:
        comment = playing.comment  # the convention label generate wrote
    added: dict[str, str] = {}

    def write(path: Path, audio: np.ndarray) -> None:
        def to(tmp: Path) -> None:
            with sf.SoundFile(
                str(tmp), "w", info.samplerate, 4, info.subtype, format=info.format
            ) as out:
                if comment:
                    out.comment = comment
                out.write(audio)
            if path != stem:
                added[_relative(stem, path)] = sha256_of(tmp)

        write_atomic(path, to)

    kept = list(takes)
    try:
        with output_transaction(), new_folder(takes_folder(stem)):
            if _is_only_take(stem, takes):  # the stem itself becomes take 1
                first = take_path(stem, takes[0].number)
                base_audio, _ = _read_exact(stem)
                write(first, base_audio)
                kept = [replace(takes[0], file=_relative(stem, first))]
            for take, audio in made:
                write(stem.parent / take.file, audio)
            write(stem, made[0][1])
            listed = kept + [take for take, _ in made]
            final = {**document, **takes_record(listed, made[0][0].number)}
            write_sidecar(stem, final)
            write_journal(stem, added, made[0][0].file, final)  # the moves follow
    finally:
        journal_path(stem).unlink(missing_ok=True)
