"""Procedural 360 scenes with ground truth: ERP video, AmbiX FOA and a JSON description.

``make_scene(seed)`` builds a scene description; ``render_frames`` and ``render_foa`` render
it in memory; ``render_scene`` and ``write_dataset`` write mp4 + wav + json files.
"""

from plugin_core.synthsphere.catalogue import MOTIONS, SOUND_CLASSES, VISUAL_EVENTS
from plugin_core.synthsphere.compose import make_scene
from plugin_core.synthsphere.dataset import ScenePaths, render_scene, write_dataset
from plugin_core.synthsphere.panorama import render_frames
from plugin_core.synthsphere.scene import (
    Scene,
    load_scene,
    save_scene,
    scene_from_json,
    scene_to_json,
)
from plugin_core.synthsphere.soundfield import render_foa

__all__ = [
    "MOTIONS",
    "SOUND_CLASSES",
    "VISUAL_EVENTS",
    "Scene",
    "ScenePaths",
    "load_scene",
    "make_scene",
    "render_foa",
    "render_frames",
    "render_scene",
    "save_scene",
    "scene_from_json",
    "scene_to_json",
    "write_dataset",
]
