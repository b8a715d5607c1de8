"""The model registry of ``manifest.toml``: where each model's files live, fetching, hashes.

Files are looked for, in order: the ``OMNIFOA_MODELS`` folder (``<folder>/<model id>/<file>``),
the bundled ``path`` of the entry, then the Hugging Face cache (which honours ``HF_HOME``).
Downloads go through ``huggingface_hub``: into ``OMNIFOA_MODELS`` when it is set, else the
Hugging Face cache. Nothing here reaches the network unless ``download`` is called.

``OMNIFOA_EXTRA_MODELS`` may name a TOML file of more ``[[models]]`` entries (your own
fine-tuned models, say); their ``path`` is absolute or relative to that file. An id there
replaces the bundled entry of the same id.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from plugin_core.atomic_files import undone_additions
from plugin_core.errors import InputError
from plugin_core.file_checks import input_file
from plugin_core.install_paths import MANIFEST, PACKAGE_ROOT
from plugin_core.media.stem_sidecar import sha256_of

MODELS_ENV = "OMNIFOA_MODELS"
EXTRA_ENV = "OMNIFOA_EXTRA_MODELS"


@dataclass(frozen=True)
class ModelEntry:
    """One model of the registry."""

    id: str
    name: str
    kind: str  # "generator", "codec" or "frame_encoder"
    licence: str
    file: str  # the weights file
    alternatives: tuple[str, ...] = ()  # other names the weights may have (first found wins)
    companions: tuple[str, ...] = ()  # files needed beside the weights (config.json, …)
    requires: dict[str, str] = field(default_factory=dict)  # role → id of a part it needs
    repo: str | None = None  # Hugging Face repo id, for downloadable models
    revision: str = "main"
    path: str | None = None  # bundled file, relative to the repository root
    sha256: str | None = None
    preset: str | None = None
    family: str = "omniaudio"  # the model family that builds ``preset`` (models.families)
    frame_encoder: str | None = None

    @property
    def url(self) -> str | None:
        """Where a browser can fetch the file by hand."""
        if self.repo is None:
            return None
        return f"https://huggingface.co/{self.repo}/resolve/{self.revision}/{self.file}"


def _entries(manifest: Path, base: Path | None = None) -> dict[str, ModelEntry]:
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"Cannot read the model list {manifest} ({exc}).") from None
    entries = {}
    for raw in data.get("models", []):
        fields = {k: v for k, v in raw.items() if v != ""}
        if base is not None and "path" in fields:
            fields["path"] = str(base / fields["path"])
        for key in ("alternatives", "companions"):
            if isinstance(fields.get(key), list):
                fields[key] = tuple(fields[key])
        try:
            entry = ModelEntry(**fields)
        except TypeError as exc:
            raise InputError(f"A model entry in {manifest.name} is malformed ({exc}).") from None
        entries[entry.id] = entry
    return entries


def load_registry(manifest: Path = MANIFEST) -> dict[str, ModelEntry]:
    """All model entries of the manifest (and of ``OMNIFOA_EXTRA_MODELS``), by id."""
    entries = _entries(manifest)
    extra = os.environ.get(EXTRA_ENV)
    if extra:
        extra_path = Path(extra).expanduser().resolve()
        entries |= _entries(extra_path, base=extra_path.parent)
    return entries


def get_entry(model_id: str, manifest: Path = MANIFEST) -> ModelEntry:
    """The registry entry of ``model_id``; an unknown id lists the known ones."""
    registry = load_registry(manifest)
    if model_id not in registry:
        known = ", ".join(registry) or "none"
        raise InputError(f"No model {model_id!r} in the registry; known models: {known}.")
    return registry[model_id]


def _models_dir() -> Path | None:
    value = os.environ.get(MODELS_ENV)
    return Path(value).expanduser() if value else None


def _cached_file(entry: ModelEntry, name: str) -> Path | None:
    if entry.repo is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    from models.hub_cache import hub_cache_dir

    found = try_to_load_from_cache(
        entry.repo, name, revision=entry.revision, cache_dir=hub_cache_dir()
    )
    return Path(found) if isinstance(found, str) else None


def _complete(weights: Path, entry: ModelEntry) -> bool:
    """Whether the companions the model needs are beside its weights file."""
    return all((weights.parent / name).is_file() for name in entry.companions)


def _candidates(entry: ModelEntry, root: Path) -> Iterator[Path]:
    """Where the model's weights file may be, in the order it is looked for."""
    folder = _models_dir()
    for name in (entry.file, *entry.alternatives):
        if folder:
            yield folder / entry.id / name
        if entry.path and name == entry.file:
            yield root / entry.path
        cached = _cached_file(entry, name)
        if cached:
            yield cached


def local_path(entry: ModelEntry, root: Path = PACKAGE_ROOT) -> Path | None:
    """The model's weights file on this machine (its companions beside it), or None."""
    for candidate in _candidates(entry, root):
        if candidate.is_file() and _complete(candidate, entry):
            return candidate
    return None


def where_to_put(entry: ModelEntry) -> str:
    """One sentence telling a user how to get the model's file onto this machine."""
    folder = _models_dir()
    target = (
        f"{folder / entry.id / entry.file}"
        if folder
        else f"${MODELS_ENV}/{entry.id}/{entry.file} (with {MODELS_ENV} set)"
    )
    extra = ""
    if entry.alternatives:
        extra += f" (or {' or '.join(entry.alternatives)})"
    if entry.companions:
        extra += f" with {', '.join(entry.companions)} beside it"
    parts = f" and its parts ({', '.join(entry.requires.values())})" if entry.requires else ""
    return (
        f"run `omnifoa models download {entry.id}` on a machine with internet{parts}, "
        f"or fetch {entry.url} by hand and place it at {target}{extra}"
    )


def with_parts(entry: ModelEntry) -> list[ModelEntry]:
    """The entry and the entries of the parts it requires (codec, frame encoder, …)."""
    return [entry, *(get_entry(part) for part in entry.requires.values())]


def require_local(entry: ModelEntry, root: Path = PACKAGE_ROOT) -> Path:
    """The model's file, or an InputError saying what to download and where to put it; when
    the weights are here but a companion is not usable, what is wrong with that file."""
    found = local_path(entry, root)
    if found is not None:
        return found
    weights = next((c for c in _candidates(entry, root) if c.is_file()), None)
    if weights is not None:
        for name in entry.companions:
            companion = weights.parent / name
            if not companion.exists():
                raise InputError(
                    f"{weights} is here but the {name} that belongs beside it is missing; put "
                    f"{entry.id}'s {name} in {weights.parent} or run "
                    f"`omnifoa models download {entry.id}`."
                )
            input_file(companion, f"{name} of {entry.id}")  # a folder, a pipe, unreadable
    raise InputError(f"Model {entry.id} is not on this machine: {where_to_put(entry)}.")


def _weights_name(entry: ModelEntry) -> str:
    """Which of the entry's weights names the hub repo holds (a listing, over the network)."""
    if not entry.alternatives:
        return entry.file
    from huggingface_hub import HfApi

    try:
        present = set(HfApi().list_repo_files(entry.repo, revision=entry.revision))
    except Exception:  # any failure of the HTTP stack: the listing did not come back
        raise _Unreachable("Hugging Face could not be asked which files the model has") from None
    for name in (entry.file, *entry.alternatives):
        if name in present:
            return name
    names = " or ".join((entry.file, *entry.alternatives))
    raise InputError(f"{entry.repo} holds no {names}; its files are {', '.join(sorted(present))}.")


class _Unreachable(Exception):
    """The hub did not answer; the message says what could not be done."""


def download(entry: ModelEntry) -> Path:
    """Fetch the model's weights and companions through huggingface_hub (or find them here).

    The companions come first: they are small, and a hub that cannot be reached says so at
    once; then the weights, under whichever of the entry's names the repo holds.
    """
    if entry.repo is None:
        return require_local(entry)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    folder = _models_dir()
    local_dir = folder / entry.id if folder else None
    try:  # a failed download leaves the model's folder as it was (no lock files, no parts)
        with undone_additions(local_dir) if local_dir else contextlib.nullcontext():
            for companion in entry.companions:
                hf_hub_download(entry.repo, companion, revision=entry.revision, local_dir=local_dir)
            name = _weights_name(entry)
            fetched = hf_hub_download(
                entry.repo, name, revision=entry.revision, local_dir=local_dir
            )
    except LocalEntryNotFoundError:
        reason = "Hugging Face cannot be reached and the file is not in the local cache"
    except _Unreachable as exc:
        reason = str(exc)
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", None)
        reason = f"Hugging Face answered HTTP {status}" if status else "Hugging Face refused it"
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    else:
        return Path(fetched)
    raise InputError(
        f"Could not download {entry.file} of {entry.repo} ({reason}); {where_to_put(entry)}."
    )


@dataclass(frozen=True)
class Verification:
    """The outcome of checking one model's file against the registry's hash."""

    entry: ModelEntry
    path: Path | None
    sha256: str | None
    status: str  # "ok", "mismatch", "missing", "no known hash"


def expected_sha256(entry: ModelEntry, path: Path) -> tuple[str, str] | None:
    """The SHA-256 ``path`` must have, and whose word it is: the registry's, or (for a part
    the registry names by repository and revision) the hub's for the file it downloaded."""
    if entry.sha256:
        return entry.sha256, "the registry's"
    from models.hub_cache import hub_recorded_sha256

    recorded = hub_recorded_sha256(path)
    return (recorded, f"the one {entry.repo} gave when it was downloaded") if recorded else None


def verify(entry: ModelEntry, root: Path = PACKAGE_ROOT) -> Verification:
    """Check the local file of ``entry`` against its registered (or hub-recorded) SHA-256."""
    path = local_path(entry, root)
    if path is None:
        return Verification(entry, None, None, "missing")
    digest = sha256_of(path)
    expected = expected_sha256(entry, path)
    if expected is None:
        return Verification(entry, path, digest, "no known hash")
    return Verification(entry, path, digest, "ok" if digest == expected[0] else "mismatch")
