"""SHA-256 of model files, remembered by size and modification time so a multi-gigabyte
checkpoint is hashed once, not at every load.

The memory is a small JSON file in the user's cache folder (``OMNIFOA_CACHE_DIR`` overrides):
path → size, mtime and digest. A file whose size or mtime changed is hashed again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from platformdirs import user_cache_dir

from plugin_core.atomic_files import write_atomic
from plugin_core.media.stem_sidecar import sha256_of

CACHE_ENV = "OMNIFOA_CACHE_DIR"
CACHE_NAME = "file_hashes.json"


def cache_file() -> Path:
    """Where the remembered digests are kept."""
    folder = Path(os.environ.get(CACHE_ENV) or user_cache_dir("omnifoa", appauthor=False))
    return folder / CACHE_NAME


def _remembered() -> dict[str, dict[str, object]]:
    try:
        data = json.loads(cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def file_sha256(path: Path) -> str:
    """The file's hex SHA-256, from memory when its size and mtime are unchanged."""
    resolved = path.resolve()
    stat = resolved.stat()
    key = str(resolved)
    known = _remembered()
    entry = known.get(key)
    if (
        isinstance(entry, dict)
        and entry.get("size") == stat.st_size
        and entry.get("mtime_ns") == stat.st_mtime_ns
        and isinstance(entry.get("sha256"), str)
    ):
        return str(entry["sha256"])
    digest = sha256_of(resolved)
    known[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
    target = cache_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(known, indent=1)
        write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError:
        pass  # a cache that cannot be written only costs hashing again next time
    return digest
