"""An omnifoa stem's takes (its sidecar, :mod:`plugin_core.media.stem_takes`) as the takes
of the stem REAPER gets: one item, a REAPER take each, the chosen one active."""

from __future__ import annotations

from dataclasses import replace

from plugin_core.errors import InputError
from plugin_core.media.stem_sidecar import sidecar_path
from plugin_core.media.stem_takes import read_sidecar, stem_takes
from reaper_bridge.job_file import Stem, StemTake


def with_takes(stem: Stem) -> Stem:
    """``stem`` with the takes its sidecar lists (as it is when it has no sidecar, one
    omnifoa did not write, or one take: the stem itself)."""
    if not sidecar_path(stem.path).exists():
        return stem
    try:
        document = read_sidecar(stem.path)
    except InputError:  # a JSON file omnifoa did not write: the stem alone, as before takes
        return stem
    takes, chosen = stem_takes(stem.path, document)
    if len(takes) == 1 and takes[0].file == stem.path.name:
        return stem
    listed = tuple(
        StemTake(stem.path.parent / t.file, f"take {t.number} (seed {t.seed})") for t in takes
    )
    return replace(stem, takes=listed, active=[t.number for t in takes].index(chosen))
