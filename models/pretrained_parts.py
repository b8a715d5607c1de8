"""Parts a family takes from ``transformers`` (CLIP, the DAC codec), read from the folders
``save_pretrained`` writes: quietly, never online, and whole. transformers fills a weight the
folder lacks with random numbers and goes on; here that is refused, naming the weight.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from models.family import ModelLoadError

Loaded = TypeVar("Loaded")


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and progress bars while loading."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _some(keys: list[str]) -> str:
    """The first three keys, and how many more there are."""
    more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
    return ", ".join(keys[:3]) + more


def part_config(
    kind: type[Loaded], folder: str | os.PathLike[str], part: str, fetch: str
) -> Loaded:
    """The config.json of a part's folder read as the config class ``kind``; ModelLoadError
    naming the file when it is missing or no config (a folder or a pipe is never opened)."""
    config = Path(folder) / "config.json"
    if not config.exists():
        raise ModelLoadError(f"The {part} folder {folder} has no config.json; {fetch}.")
    if not config.is_file():
        raise ModelLoadError(f"The {part} config {config} is not a regular file; {fetch}.")
    try:
        with quiet_transformers():
            return kind.from_pretrained(  # type: ignore[attr-defined, no-any-return]
                os.fspath(folder), local_files_only=True
            )
    except (OSError, ValueError):
        raise ModelLoadError(
            f"The {part} config {config} is not a config transformers can read; {fetch}."
        ) from None


def load_part(
    kind: type[Loaded], folder: str | os.PathLike[str], part: str, fetch: str, **options: Any
) -> Loaded:
    """The model class ``kind`` from a part's folder, every weight it has read from the folder
    with its shape; ModelLoadError naming the part and what is wrong (``fetch``: how to get it
    again)."""
    from safetensors import SafetensorError

    try:
        with quiet_transformers():
            model, info = kind.from_pretrained(  # type: ignore[attr-defined]
                os.fspath(folder),
                local_files_only=True,
                output_loading_info=True,
                ignore_mismatched_sizes=True,  # reported below, by name
                **options,
            )
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelLoadError(
            f"The {part} in {folder} cannot be loaded ({reason}); {fetch}."
        ) from None
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        raise ModelLoadError(
            f"The {part} in {folder} lacks {len(missing)} of its weights ({_some(missing)}), "
            f"which would be random numbers; {fetch}."
        )
    wrong = sorted(key for key, *_ in info.get("mismatched_keys") or ())
    if wrong:
        raise ModelLoadError(
            f"The {part} in {folder} has {len(wrong)} weight(s) of another shape ({_some(wrong)}); "
            f"{fetch}."
        )
    return model  # type: ignore[no-any-return]
