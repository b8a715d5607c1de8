"""Generation jobs from Blender: build the request, submit it, follow it, place the result.

Plain Python over the scene's properties, so the state machine works headless: the timer
registered by the Generate operator calls :func:`poll_jobs`, and tests call it directly
(Blender has no event loop when it runs without a window).
"""

from __future__ import annotations

import re
from pathlib import Path

import bpy

from .direction_keys import direction_path
from .preferences import preferences, state_file
from .service_link import ServiceLink, ServiceRefused, ServiceUnavailable
from .strip_source import SourceInfo, free_channel, source_info, strips_of

POLL_SECONDS = 0.5
FINAL = ("done", "failed", "cancelled")


def link(context) -> ServiceLink:
    return ServiceLink(state_file(context))


def output_folder(context, scene: bpy.types.Scene) -> Path:
    """The absolute folder stems go to (created if missing)."""
    chosen = scene.omnifoa.output_dir or preferences(context).output_dir
    if chosen.startswith("//") and not bpy.data.filepath:
        raise ValueError("Save the .blend first, or choose an absolute output folder.")
    folder = Path(bpy.path.abspath(chosen)).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stem_name(info: SourceInfo, seed: int) -> str:
    """A plain file name from the strip's name and the seed."""
    base = re.sub(r"[^\w.()+-]+", "_", Path(info.name).stem).strip("._") or "strip"
    return f"{base}_seed{seed}_foa.wav"


def build_job(context, scene: bpy.types.Scene, strip) -> dict:
    """The service request for ``strip`` with the scene's settings."""
    settings = scene.omnifoa
    info = source_info(strip)
    job = {
        "video": info.path,
        "output_dir": str(output_folder(context, scene)),
        "name": stem_name(info, settings.seed),
        "start": info.start_seconds,
        "end": info.end_seconds,
        "model": settings.model,
        "seed": settings.seed,
        "variations": settings.variations,
        "yaw": float(strip.omnifoa_yaw),
        "pitch": float(strip.omnifoa_pitch),
        "fov": float(strip.omnifoa_fov),
        "convention": settings.convention,
    }
    if settings.steps:
        job["steps"] = settings.steps
    if settings.guidance:
        job["cfg"] = settings.guidance
    if settings.aim_action:
        job["aim"] = True  # the service finds the path; yaw/pitch keys are not sent
        return job
    path = direction_path(scene, strip, info.start_seconds, info.end_seconds)
    if path is not None:
        job["path"] = path
    return job


def submit(context, scene: bpy.types.Scene, strip) -> dict:
    """Submit the job for ``strip``; the scene's job fields follow it from now on."""
    job = build_job(context, scene, strip)
    record = link(context).submit(job)
    settings = scene.omnifoa
    settings.job_id = record["id"]
    settings.job_source = strip.name
    settings.job_seed = settings.seed
    settings.job_state = record["state"]
    settings.job_percent = 0.0
    settings.job_message = "queued"
    settings.job_path_keys = len(job.get("path", {}).get("keys", []))
    return record


def _place(scene: bpy.types.Scene, record: dict) -> list:
    """Add a sound strip per stem, aligned with the source strip, on free channels."""
    settings = scene.omnifoa
    source = next((s for s in strips_of(scene) if s.name == settings.job_source), None)
    if source is None:
        raise ValueError(f"The movie strip {settings.job_source!r} is gone; stems are in place.")
    info = source_info(source)
    added = []
    channel = info.channel
    for index, path in enumerate(record["outputs"]):
        channel = free_channel(scene, info.final_start, info.final_end, channel)
        suffix = f" v{index}" if len(record["outputs"]) > 1 else ""
        name = f"{info.name} FOA seed {settings.job_seed}{suffix}"
        added.append(scene.sequence_editor.strips.new_sound(name, path, channel, info.final_start))
    if scene.render.ffmpeg.audio_channels != "SURROUND4":
        settings.suggest_surround = True
    return added


def poll_scene(context, scene: bpy.types.Scene) -> bool:
    """Update the scene's job from the service; True while it is still running."""
    settings = scene.omnifoa
    if settings.job_state in FINAL or not settings.job_id:
        return False
    try:
        record = link(context).job(settings.job_id)
    except (ServiceUnavailable, ServiceRefused) as exc:
        settings.job_state, settings.job_message = "failed", str(exc)
        return False
    settings.job_percent = record["percent"]
    eta = record.get("eta_s")
    settings.job_message = record["stage"] + (f", about {eta:.0f} s left" if eta else "")
    if record["state"] == "done":
        try:
            added = _place(scene, record)
        except ValueError as exc:
            settings.job_state, settings.job_message = "failed", str(exc)
            return False
        settings.job_message = f"added {len(added)} sound strip(s)"
    elif record["state"] == "failed":
        settings.job_message = record["error"] or "the job failed"
    settings.job_state = record["state"]
    return record["state"] not in FINAL


def poll_jobs() -> float | None:
    """The timer: follow every scene's job; stop when none is running."""
    context = bpy.context
    running = False
    for scene in bpy.data.scenes:
        running |= poll_scene(context, scene)
    _status_text(context)
    return POLL_SECONDS if running else None


def _status_text(context) -> None:
    """Show the running job in the status bar (there is none without a window)."""
    workspace = getattr(context, "workspace", None)
    if workspace is None:
        return
    running = [s for s in bpy.data.scenes if s.omnifoa.job_state in ("queued", "running")]
    text = None
    if running:
        s = running[0].omnifoa
        text = f"omnifoa: {s.job_source} {s.job_percent:.0f}% ({s.job_message})"
    workspace.status_text_set(text)


def cancel(context, scene: bpy.types.Scene) -> dict:
    record = link(context).cancel(scene.omnifoa.job_id)
    scene.omnifoa.job_message = "cancelling"
    return record
