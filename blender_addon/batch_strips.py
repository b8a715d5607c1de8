"""Generate all 360 strips: one batch job of every equirectangular movie strip.

Each shot is the job Generate would send for that strip (:func:`.jobs.build_job`: its file,
trim, direction keys, the scene's settings), named after the strip so that the finished
batch's stems go back onto their strips (:func:`.jobs.poll_scene`).
"""

from __future__ import annotations

from collections import Counter

import bpy

from . import jobs
from .strip_source import movie_strips, source_info

ALL_STRIPS = "all 360 strips"  # what the panel names the batch's source


def strips_360(scene: bpy.types.Scene) -> list:
    """The sequencer's 360 movie strips (2:1, as the panel's check has it), in timeline
    order."""
    found = [s for s in movie_strips(scene) if source_info(s).warning is None]
    return sorted(found, key=lambda s: (s.frame_final_start, s.channel, s.name))


def batch_body(context, scene: bpy.types.Scene) -> dict:
    """The ``POST /v1/batches`` body for every 360 strip; ValueError when there is none."""
    strips = strips_360(scene)
    if not strips:
        raise ValueError("The sequencer has no 360 movie strip (a 2:1 equirectangular video).")
    shots = [{**jobs.build_job(context, scene, s), "shot": s.name} for s in strips]
    names = Counter(shot["name"] for shot in shots)
    for strip, shot in zip(strips, shots, strict=True):
        if names[shot["name"]] > 1:  # "pano" and "pano.001": their whole names differ
            shot["name"] = jobs.stem_name(source_info(strip), scene.omnifoa.seed, whole=True)
    return {"shots": shots}
