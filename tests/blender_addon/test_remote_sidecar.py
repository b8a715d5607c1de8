"""The add-on's rewrite of a server's sidecar (no bpy) against plugin_core's: the same fields,
the same document, the same refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from addon_modules import addon_module

from plugin_core.generation import sidecar as core
from plugin_core.generation.request import GenerationRequest
from plugin_core.media.stem_takes import Take, takes_record

SERVER = "https://127.0.0.2:8765"
DIGEST = "ab" * 32
addon = addon_module("remote_server")


def server_sidecar() -> dict:
    """A sidecar as a server writes it: its upload as the video, its results as the output."""
    far = Path("/srv/omnifoa/files/alice")
    request = GenerationRequest(
        video=far / "uploads" / "0f3c.mp4", output=far / "results" / "j1" / "shot.wav"
    )
    document = core.generation_sidecar(
        request, request.output, 0, {"id": "tiny-test"}, DIGEST, (0.0, 2.0),
        [(0.0, 2.0)], {"gain_db": -3.0}, 0, [{"seed": 7}],
    )  # fmt: skip
    takes = [Take(n, f"shot.wav.takes/take{n}.wav", 7, {"by": "generate"}) for n in (1, 2)]
    return {**document, **takes_record(takes, 1)}


def test_the_add_on_rewrites_the_same_fields_to_the_same_document(tmp_path: Path) -> None:
    assert (addon.VIDEO_FIELDS, addon.OUTPUT_FIELDS, addon.MADE_ON) == (
        core.VIDEO_FIELDS,
        core.OUTPUT_FIELDS,
        core.MADE_ON,
    )
    document = server_sidecar()
    video, stem = tmp_path / "scene.mp4", tmp_path / "stems" / "shot.wav"
    here = core.localized_sidecar(document, video, DIGEST, stem, SERVER)
    assert addon.localized_sidecar(document, video, DIGEST, stem, SERVER) == here
    assert here["request"]["video"] == here["source"]["video"] == str(video)
    assert here["request"]["output"] == str(stem)
    assert here["made_on"] == {"server": SERVER}
    assert document["source"]["video"].startswith("/srv/")  # the server's is not changed
    unchanged = {k: v for k, v in here.items() if k not in ("request", "source", "made_on")}
    assert unchanged == {k: v for k, v in document.items() if k not in ("request", "source")}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d["source"].update(sha256="cd" * 32), "records a video other than"),
        (lambda d: d.pop("source"), "not a generation sidecar"),
        (lambda d: d["request"].update(video=None), "not a generation sidecar"),
    ],
    ids=["another video", "no source", "a video that is not a path"],
)
def test_both_refuse_a_sidecar_of_another_video_or_not_omnifoas(
    tmp_path: Path, change, says: str
) -> None:
    document = server_sidecar()
    change(document)
    args = (document, tmp_path / "scene.mp4", DIGEST, tmp_path / "shot.wav", SERVER)
    with pytest.raises(ValueError, match=says):
        core.localized_sidecar(*args)
    with pytest.raises(addon.TransferFailed, match=says):
        addon.localized_sidecar(*args)
