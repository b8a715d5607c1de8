"""Test collection: the Blender tests run only under the Blender venv (bpy importable)."""

import importlib.util
import os
import tempfile

IN_BLENDER = importlib.util.find_spec("bpy") is not None
collect_ignore = [] if IN_BLENDER else ["blender"]
# Fixtures of the running service, shared by the service and failure-contract tests.
pytest_plugins = [] if IN_BLENDER else ["service_process"]

# Remembered model-file hashes go to a folder of this test run, not the user's cache.
os.environ.setdefault("OMNIFOA_CACHE_DIR", tempfile.mkdtemp(prefix="omnifoa-test-cache-"))
