"""The add-on's reader of a stem's takes (no bpy) against the format plugin_core defines."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from plugin_core.media.stem_takes import Take, take_path, takes_record

ROOT = Path(__file__).resolve().parents[2]


def _load_reader():
    """blender_addon/stem_takes.py alone (the add-on's package imports bpy)."""
    path = ROOT / "blender_addon" / "stem_takes.py"
    spec = importlib.util.spec_from_file_location("addon_stem_takes", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


reader = _load_reader()


def test_the_add_on_reads_the_takes_plugin_core_writes(tmp_path: Path) -> None:
    stem = tmp_path / "shot.wav"
    made = [{"by": "generate"}, {"by": "regenerate", "range": [3.0, 6.0], "seed": 9}]
    takes = [
        Take(n, take_path(stem, n).relative_to(tmp_path).as_posix(), 8 + n, made[n - 1])
        for n in (1, 2)
    ]
    document = {"schema": "omnifoa-stem", **takes_record(takes, 2)}
    (tmp_path / "shot.wav.json").write_text(json.dumps(document))
    read, chosen = reader.stem_takes(stem)
    assert chosen == 2
    assert [(t.number, t.path, t.seed, t.made) for t in read] == [
        (1, take_path(stem, 1), 9, "generate"),
        (2, take_path(stem, 2), 10, "regenerate 3.0–6.0 s"),
    ]


def test_a_sidecar_that_lists_no_takes_gives_none(tmp_path: Path) -> None:
    stem = tmp_path / "shot.wav"
    assert reader.stem_takes(stem) == ([], 0)  # no sidecar
    sidecar = tmp_path / "shot.wav.json"
    sidecar.write_text(json.dumps({"schema": "omnifoa-stem", "request": {"seed": 5}}))
    assert reader.stem_takes(stem) == ([], 0)  # from before takes: the stem alone
    for broken in ("{not json", "[]", json.dumps({"takes": [{"number": 1}], "chosen": 1})):
        sidecar.write_text(broken)
        assert reader.stem_takes(stem) == ([], 0)
