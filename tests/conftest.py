"""Test collection: the Blender tests run only under the Blender venv (bpy importable)."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("bpy") else ["blender"]
