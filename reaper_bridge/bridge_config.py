"""The bridge's settings: the ingest action's command id and the spool folder, as written by
``omnifoa_install.lua`` to ``<REAPER resource path>/omnifoa/bridge.json``, plus where REAPER's
OSC surface listens (127.0.0.1:8000 unless set otherwise), and the command that runs omnifoa
(``omnifoa reaper link`` adds it) for the REAPER actions that call omnifoa."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from plugin_core import host_folders
from plugin_core.atomic_files import write_atomic

CONFIG_ENV = "OMNIFOA_REAPER_CONFIG"
DEFAULT_PORT = 8000
HOST = "127.0.0.1"  # REAPER's OSC is IPv4 only
_COMMAND = re.compile(r"^_[A-Za-z0-9_]{1,64}$")
OMNIFOA_COMMAND_KEY = "omnifoa_command"  # bridge.json: the argv that runs omnifoa


class BridgeError(Exception):
    """A problem with the stems, the bridge settings or the spool; the message says what to
    do."""


def reaper_resource_dir() -> Path:
    """REAPER's resource folder on this machine (what ``GetResourcePath()`` returns)."""
    return Path(host_folders.reaper_resource_dir())


def default_config_path() -> Path:
    override = os.environ.get(CONFIG_ENV)
    return Path(override) if override else reaper_resource_dir() / "omnifoa" / "bridge.json"


@dataclass(frozen=True)
class BridgeConfig:
    """Where to ring and where to put jobs."""

    command_id: str  # the ingest action's named command id, "_RS…"
    spool: Path
    port: int = DEFAULT_PORT

    @property
    def address(self) -> str:
        return f"/action/{self.command_id}"


def load_config(path: Path | None = None, port: int = DEFAULT_PORT) -> BridgeConfig:
    """Read bridge.json; a missing or broken one says how to install the REAPER side."""
    path = path or default_config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BridgeError(
            f"The REAPER bridge is not installed ({path} is missing); run "
            "`omnifoa reaper install-help` and follow its steps."
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise BridgeError(f"Cannot read the REAPER bridge settings {path} ({exc}).") from None
    command, spool = data.get("command_id"), data.get("spool")
    if not isinstance(command, str) or not _COMMAND.match(command):
        raise BridgeError(f"{path} holds no valid command id; run omnifoa_install.lua again.")
    if not isinstance(spool, str) or not Path(spool).is_absolute():
        raise BridgeError(f"{path} holds no absolute spool folder; run omnifoa_install.lua again.")
    if not 1 <= port <= 65535:
        raise BridgeError(f"An OSC port lies between 1 and 65535, not {port}.")
    return BridgeConfig(command, Path(spool), port)


def link_omnifoa(path: Path | None = None) -> list[str]:
    """Record in bridge.json the command that runs this omnifoa (this Python with the
    package), keeping every other setting; returns the command."""
    path = path or default_config_path()
    load_config(path)  # the REAPER side must be installed first
    data = json.loads(path.read_text(encoding="utf-8"))
    command = [sys.executable, "-m", "plugin_core.cli"]
    data[OMNIFOA_COMMAND_KEY] = command
    text = json.dumps(data, indent=1, ensure_ascii=False)
    try:
        write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise BridgeError(f"Cannot write the REAPER bridge settings {path} ({exc}).") from None
    return command
