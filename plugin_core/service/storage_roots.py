"""Where the service reads and writes a person's files: their own folder under the service's
data root (``uploads/`` and ``results/``) and the shared-storage roots it was started with.

A service is *confined* once it listens beyond loopback or has a shared root: a job then reads
only its person's uploads or files under a shared root (links followed, so a link that leads
out is refused) and writes only into a results folder of its person. Shared roots are read-only
to jobs. An unconfined (loopback, no shared root) service reads and writes where the job says,
as it always has.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from plugin_core.errors import InputError

LOCAL_FOLDER = "_local"  # the loopback service's own user (no person name starts with _)
UPLOADS = "uploads"
RESULTS = "results"
_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def person_folder_name(person: str | None) -> str:
    """The folder name of ``person`` (None: the loopback service's user): the name itself
    when it is a plain one, else a digest."""
    if person is None:
        return LOCAL_FOLDER
    if _FOLDER_NAME.fullmatch(person) and ".." not in person and not person.startswith("p-"):
        return person
    return "p-" + hashlib.sha256(person.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class StorageRoots:
    """The data root (per-person folders) and the shared roots, all real (links resolved)."""

    data_root: Path
    shared: tuple[Path, ...] = ()
    confined: bool = False

    @classmethod
    def build(cls, data_root: Path, shared: list[Path], remote: bool = False) -> StorageRoots:
        """The roots for a service; InputError naming a shared root that is no folder."""
        real = tuple(shared_root(root) for root in shared)
        data_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(data_root.resolve(), real, remote or bool(real))

    def person_root(self, person: str | None) -> Path:
        return self.data_root / person_folder_name(person)

    def uploads(self, person: str | None) -> Path:
        """The person's uploads folder (made 0700 when missing)."""
        return _private_folder(self.person_root(person) / UPLOADS)

    def results(self, person: str | None) -> Path:
        """The person's results folder (made 0700 when missing)."""
        return _private_folder(self.person_root(person) / RESULTS)

    def new_results_folder(self, person: str | None) -> Path:
        """A new name for one job's folder among the person's results (not made yet)."""
        return self.results(person) / secrets.token_hex(8)

    def readable(self, text: str, person: str | None, what: str) -> str:
        """``text``, the path of a file a job of ``person`` reads: unchanged when unconfined,
        else its real path, which must lie under a shared root or the person's uploads."""
        if not self.confined:
            return text
        real = _real(text, what)
        allowed = (*self.shared, self.person_root(person) / UPLOADS)
        if not any(real.is_relative_to(root) for root in allowed):
            raise InputError(
                f"The {what} {text[:200]!r} lies outside the shared storage this service may "
                f"read ({self._shared_names()}); name a file under it, or upload the file."
            )
        return str(real)

    def writable(self, text: str, person: str | None, what: str) -> str:
        """``text``, a folder a job of ``person`` writes into: unchanged when unconfined, else
        its real path, which must lie under the person's results folder."""
        if not self.confined:
            return text
        real = _real(text, what)
        if not real.is_relative_to(self.person_root(person) / RESULTS):
            raise InputError(
                f"The {what} {text[:200]!r} is not among your results on this service; "
                "leave output_dir out and download the files the job makes."
            )
        return str(real)

    def _shared_names(self) -> str:
        return ", ".join(map(str, self.shared)) or "no shared root is configured"


def shared_root(root: Path) -> Path:
    """The real folder of shared root ``root``; InputError unless it is an absolute folder."""
    if not root.is_absolute() or not root.is_dir():
        raise InputError(
            f"The shared root {root} must be an existing absolute folder; "
            "choose another --shared-root."
        )
    return root.resolve()


def _real(text: str, what: str) -> Path:
    """The real path of absolute ``text`` (every link followed; it need not exist)."""
    path = Path(text)
    if not path.is_absolute():
        raise InputError(f"The {what} path must be absolute, not {text[:200]!r}.")
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a link loop
        raise InputError(f"The {what} path {text[:200]!r} cannot be resolved.") from None


def _private_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder
