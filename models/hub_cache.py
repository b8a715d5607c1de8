"""The local Hugging Face hub cache: where it is, resolved when asked (not at import), and
the hash the hub gave for a file it downloaded."""

from __future__ import annotations

import os
import re
from pathlib import Path


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, resolved now from HF_HUB_CACHE / HF_HOME / XDG_CACHE_HOME."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


_SHA256 = re.compile(r"[0-9a-f]{64}")


def hub_recorded_sha256(path: Path) -> str | None:
    """The SHA-256 the hub gave for a file huggingface_hub downloaded (a large file's ETag is
    its SHA-256): a cache snapshot links it to ``blobs/<sha256>``; a download into a folder
    left ``.cache/huggingface/download/<name>.metadata`` (commit, ETag, time) beside it. None
    for a file placed by hand, or a small file whose ETag is a git hash."""
    if path.is_symlink():
        blob = path.resolve()
        if blob.parent.name == "blobs" and _SHA256.fullmatch(blob.name):
            return blob.name
    metadata = path.parent / ".cache" / "huggingface" / "download" / f"{path.name}.metadata"
    if metadata.is_file():
        lines = metadata.read_text(encoding="utf-8", errors="replace").splitlines()
        if len(lines) > 1 and _SHA256.fullmatch(lines[1].strip()):
            return lines[1].strip()
    return None
