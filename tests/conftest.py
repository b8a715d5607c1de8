"""Test collection: the Blender tests run only under the Blender venv (bpy importable)."""

import importlib.util
import os
import tempfile

collect_ignore = [] if importlib.util.find_spec("bpy") else ["blender"]

# Remembered model-file hashes go to a folder of this test run, not the user's cache.
os.environ.setdefault("OMNIFOA_CACHE_DIR", tempfile.mkdtemp(prefix="omnifoa-test-cache-"))
