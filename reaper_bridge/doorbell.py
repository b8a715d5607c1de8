"""The OSC doorbell: trigger the ingest action, then wait for its ack, ringing again with
exponential backoff (a UDP datagram can be lost) until a deadline.

The trigger is ``/action/_<named command id>`` with no arguments, sent to REAPER's OSC port
on 127.0.0.1: the only form REAPER's default OSC surface turns into an action. It is a few
dozen bytes, far under REAPER's 1024-byte limit, and carries no N/T/F/h typed values.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from reaper_bridge.bridge_config import HOST, BridgeConfig

MAX_DATAGRAM = 1024


class NoAnswer(Exception):
    """REAPER did not acknowledge the job in time; the message says what to check."""


def trigger_datagram(config: BridgeConfig) -> bytes:
    """The bytes of one doorbell message."""
    datagram = OscMessageBuilder(address=config.address).build().dgram
    if len(datagram) > MAX_DATAGRAM:
        raise ValueError("the OSC trigger would exceed REAPER's 1024-byte limit")
    return datagram


def ack_path(config: BridgeConfig, job_id: str) -> Path:
    return config.spool / "acks" / f"{job_id}.ack.json"


def _read_ack(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def ring(
    config: BridgeConfig, job_id: str, timeout: float = 10.0, first_wait: float = 0.25
) -> dict[str, Any]:
    """Ring until REAPER's final ack for ``job_id`` appears (an ``applying`` ack is only its
    promise that one will); returns it, or raises NoAnswer."""
    client = SimpleUDPClient(HOST, config.port)
    trigger_datagram(config)  # checks the size
    target = ack_path(config, job_id)
    deadline = time.monotonic() + timeout
    wait, rings = first_wait, 0
    while True:
        client.send_message(config.address, [])
        rings += 1
        until = min(time.monotonic() + wait, deadline)
        while time.monotonic() < until:
            ack = _read_ack(target)
            if ack is not None and ack.get("status") != "applying":  # REAPER's final word
                return ack
            time.sleep(0.02)
        if time.monotonic() >= deadline:
            break
        wait *= 2
    raise NoAnswer(
        f"REAPER did not answer after {rings} OSC trigger(s) in {timeout:g} s. Check that "
        f"REAPER is running with an OSC control surface listening on {HOST}:{config.port} "
        "(Preferences ▸ Control/OSC/web), that omnifoa_install.lua was run, and that "
        f"{config.command_id} is in its Actions list; or write a project with "
        "`omnifoa reaper export-rpp`."
    )
