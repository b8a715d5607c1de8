"""``omnifoa reaper drop``: stems → job file → doorbell → REAPER's ack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reaper_bridge.bridge_config import BridgeConfig
from reaper_bridge.doorbell import ring
from reaper_bridge.job_file import Job, Stem, write_job


def drop_stems(
    stems: list[Stem],
    config: BridgeConfig,
    timeout: float = 10.0,
    fx: list[str] | None = None,
    bus: str | None = None,
) -> dict[str, Any]:
    """Queue the stems for REAPER and wait for its ack (NoAnswer when it stays silent; the
    job then stays pending and REAPER picks it up the next time the action runs)."""
    job = Job(stems, fx=fx, bus=bus)
    write_job(job, config.spool)
    return ring(config, job.job_id, timeout)


def describe_ack(ack: dict[str, Any]) -> list[str]:
    """Lines for a person: what REAPER did with the job."""
    lines = [f"REAPER: {ack.get('status', '?')} (job {ack.get('job_id', '?')[:8]})"]
    for track in ack.get("tracks", []):
        again = " (already there)" if track.get("replayed") else ""
        takes = ""
        if "takes" in track:
            takes = f", {track['takes']} takes, take {track.get('active', -1) + 1} plays"
        lines.append(f"  track {track.get('name')} {track.get('guid')}{takes}{again}")
    for fx in ack.get("fx", []):
        lines.append(f"  monitor FX {fx.get('name')}: {'added' if fx.get('ok') else 'NOT FOUND'}")
    lines += [f"  error: {e}" for e in ack.get("errors", [])]
    return lines


def stems_from_paths(paths: list[Path], position: float, convention: str | None) -> list[Stem]:
    """One stem per file, named after it, all starting at ``position`` seconds."""
    return [Stem(p, p.stem, position, convention) for p in paths]
