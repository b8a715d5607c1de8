"""Generation jobs from Blender: build the request, follow the job, place the result (a
batch job's stems each on its own movie strip).

Plain Python over the scene's properties, so the state machine works headless: a persistent
timer calls :func:`poll_jobs` (registered when a job is submitted, and again after a .blend
is opened while a job runs), and tests call it directly (Blender has no event loop when it
runs without a window). Submitting happens on a worker thread (:mod:`.pending`).
"""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import bpy

from .direction_keys import direction_path
from .preferences import preferences, remote, state_file
from .service_link import ServiceBusy, ServiceLink, ServiceRefused, ServiceUnavailable
from .strip_source import SourceInfo, free_channel, source_info, strips_of
from .take_strip import use_take
from .workers import in_flight

POLL_SECONDS = 0.5
POLL_TIMEOUT = 1.0  # the timer runs on Blender's main thread: never wait long
SILENT_LIMIT_SECONDS = 30.0  # a service that answers no poll for this long is given up
FOLLOWED = ("queued", "running")  # on the service: the timer follows these
# Generate waits; "starting": a worker is submitting; "downloading": a server's job is done
# and the worker that submitted it brings its stem down
BUSY = ("starting", "downloading", *FOLLOWED)
FINAL = ("done", "failed", "cancelled")
REOPENED_UNKNOWN = (
    "The job from before the file was reopened is no longer known to the service; generate again."
)
REOPENED_NO_SERVICE = (
    "The omnifoa service is not running, so the job from before the file was reopened is "
    "lost; generate again."
)
DOWNLOAD_LOST = (
    "The job is done on the server, but what was to download its stem ended with the Blender "
    "session it ran in; generate again."
)

_silent_since: dict[str, float] = {}  # job id -> when polls began to time out


def link(context) -> ServiceLink:
    """The link to the service the preferences name: this computer's, or a server's."""
    try:
        return ServiceLink(state_file(context), remote(context))
    except ValueError as exc:  # the server's URL, token or fingerprint is not right
        raise ServiceUnavailable(str(exc)) from None


def output_folder(context, scene: bpy.types.Scene) -> Path:
    """The absolute folder stems go to (created if missing)."""
    chosen = scene.omnifoa.output_dir or preferences(context).output_dir
    if chosen.startswith("//") and not bpy.data.filepath:
        raise ValueError("Save the .blend first, or choose an absolute output folder.")
    folder = Path(bpy.path.abspath(chosen)).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stem_name(info: SourceInfo, seed: int, whole: bool = False) -> str:
    """A plain file name from the strip's name (``whole``: with what follows its last dot,
    "pano.001"; else without, "pano") and the seed."""
    name = info.name if whole else Path(info.name).stem
    base = re.sub(r"[^\w.()+-]+", "_", name).strip("._") or "strip"
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
        "convention": settings.convention,
    }
    if strip.omnifoa_fov > 0:  # 0: not sent, so the service uses the model's own
        job["fov"] = float(strip.omnifoa_fov)
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


def _place(scene: bpy.types.Scene, record: dict) -> list:
    """Add a sound strip per stem, aligned with the source strip, on free channels; each
    strip records its stem."""
    settings = scene.omnifoa
    source = next((s for s in strips_of(scene) if s.name == settings.job_source), None)
    if source is None:
        raise ValueError(f"The movie strip {settings.job_source!r} is gone; stems are in place.")
    added = []
    channel = source.channel
    for path in record["outputs"]:  # one stem per job; its takes are listed by its sidecar
        added.append(_place_stem(scene, source, path, channel))
        channel = added[-1].channel
    _suggest_surround(scene)
    return added


def _place_stem(scene: bpy.types.Scene, source, path: str, above: int):
    """A sound strip of the stem at ``path`` where ``source`` starts, on the first channel
    above ``above`` free for its length; it records its stem."""
    info = source_info(source)
    channel = free_channel(scene, info.final_start, info.final_end, above)
    name = f"{info.name} FOA seed {scene.omnifoa.job_seed}"
    strip = scene.sequence_editor.strips.new_sound(name, path, channel, info.final_start)
    strip.omnifoa_stem = str(Path(path).absolute())  # the panel finds its takes from here
    return strip


def _suggest_surround(scene: bpy.types.Scene) -> None:
    if scene.render.ffmpeg.audio_channels != "SURROUND4":
        scene.omnifoa.suggest_surround = True


def _place_batch(scene: bpy.types.Scene, record: dict) -> tuple[list, list[str]]:
    """Each stem of a batch job on the movie strip its shot is named after; the strips
    added, and one line per strip that has none (why not)."""
    by_name = {s.name: s for s in strips_of(scene) if s.type == "MOVIE"}
    added, failures = [], []
    for shot in record.get("shots") or []:
        source = by_name.get(shot["shot"])
        if shot["state"] in ("done", "skipped") and source is None:
            failures.append(f"{shot['shot']}: the strip is gone; its stem is {shot['output']}")
        elif shot["state"] in ("done", "skipped"):
            added.append(_place_stem(scene, source, shot["output"], source.channel))
        elif shot["state"] == "failed":
            failures.append(f"{shot['shot']}: {shot['reason']}")
    if added:
        _suggest_surround(scene)
    return added, failures


def report(message: str, error: bool) -> None:
    """Blender's report (status bar and Info log; printed when headless)."""
    with contextlib.suppress(RuntimeError):  # headless Blender raises an ERROR report
        bpy.ops.omnifoa.report(level="ERROR" if error else "INFO", message=message)


def busy(scene: bpy.types.Scene) -> bool:
    """Whether a job is being submitted or run, or its stems are on their way to REAPER."""
    settings = scene.omnifoa
    return settings.job_state in BUSY or settings.reaper_state == "waiting"


def _fail(settings, message: str) -> bool:
    settings.job_state, settings.job_message = "failed", message
    return False


def _unanswered(settings) -> bool:
    """A poll timed out: keep following, unless the service has been silent too long."""
    since = _silent_since.setdefault(settings.job_id, time.monotonic())
    if time.monotonic() - since < SILENT_LIMIT_SECONDS:
        settings.job_message = "the omnifoa service is busy; asking again"
        return True
    del _silent_since[settings.job_id]
    return _fail(
        settings,
        f"The omnifoa service has not answered for {SILENT_LIMIT_SECONDS:.0f} s; "
        "stopped following the job.",
    )


def poll_scene(context, scene: bpy.types.Scene) -> bool:
    """Update the scene's job from the service; True while it is still running."""
    settings = scene.omnifoa
    if settings.job_state not in FOLLOWED or not settings.job_id:
        return False
    try:
        service = link(context)
        record = service.job(settings.job_id, POLL_TIMEOUT)
    except ServiceBusy:
        return _unanswered(settings)
    except ServiceRefused as exc:
        _silent_since.pop(settings.job_id, None)
        unknown = exc.status == 404 and settings.job_reopened
        return _fail(settings, REOPENED_UNKNOWN if unknown else str(exc))
    except ServiceUnavailable as exc:
        _silent_since.pop(settings.job_id, None)
        return _fail(settings, REOPENED_NO_SERVICE if settings.job_reopened else str(exc))
    _silent_since.pop(settings.job_id, None)
    settings.job_reopened = False  # the service knows it: followed as any other job
    settings.job_percent = record["percent"]
    eta = record.get("eta_s")
    settings.job_message = record["stage"] + (f", about {eta:.0f} s left" if eta else "")
    if record["state"] in FINAL and settings.job_kind == "batch":
        _end_batch(scene, record)
    elif record["state"] == "done" and settings.job_kind == "regenerate":
        strip = scene.sequence_editor.strips_all.get(settings.job_source)
        if strip is None:
            return _fail(settings, f"The strip {settings.job_source!r} is gone; the take is made.")
        try:
            use_take(strip, record["takes"][0])
        except ValueError as exc:
            return _fail(settings, str(exc))
        settings.job_message = f"{strip.name} plays the new take {record['takes'][0]}"
    elif record["state"] == "done" and service.remote is not None:  # its files are there
        if not in_flight(settings.job_ticket):  # its worker did not outlive a reopen
            return _fail(settings, DOWNLOAD_LOST)
        settings.job_state, settings.job_message = "downloading", "downloading the stem…"
        return False
    elif record["state"] == "done":
        try:
            added = _place(scene, record)
        except ValueError as exc:
            return _fail(settings, str(exc))
        settings.job_message = f"added {len(added)} sound strip(s)"
    elif record["state"] == "failed":
        settings.job_message = record["error"] or "the job failed"
    settings.job_state = record["state"]
    return record["state"] not in FINAL


def place_downloaded(scene: bpy.types.Scene, stems: list[str]) -> None:
    """A server's job's stems, downloaded into the output folder: on the timeline as a local
    job's are."""
    settings = scene.omnifoa
    try:
        added = _place(scene, {"outputs": stems})
    except ValueError as exc:
        _fail(settings, str(exc))
        return
    settings.job_state, settings.job_message = "done", f"added {len(added)} sound strip(s)"


def _end_batch(scene: bpy.types.Scene, record: dict) -> None:
    """A batch job ended: the stems it made on their strips (those made before a cancel
    too), one report line per strip without one, and the panel's summary."""
    settings = scene.omnifoa
    added, failures = _place_batch(scene, record)
    settings.job_failures = "\n".join(failures)
    for line in failures:
        report(line, error=True)
    summary = f"added {len(added)} sound strip(s)"
    if record["state"] == "failed":
        summary = record["error"] or "the batch failed"
    elif record["state"] == "cancelled":
        summary = f"cancelled; {summary}"
    elif failures:
        summary += f"; {len(failures)} strip(s) without a stem"
    settings.job_message, settings.job_state = summary, record["state"]
    if added:
        with contextlib.suppress(RuntimeError):  # one undo step takes them all away
            bpy.ops.ed.undo_push(message=f"omnifoa: {len(added)} stem(s) placed")


def poll_jobs() -> float | None:
    """The timer: follow every scene's job; stop when none is running."""
    context = bpy.context
    running = False
    for scene in bpy.data.scenes:
        running |= poll_scene(context, scene)
    refresh_ui(context)
    return POLL_SECONDS if running else None


def follow_jobs() -> None:
    """Make sure the (persistent) timer follows the scenes' jobs."""
    if not bpy.app.timers.is_registered(poll_jobs):
        bpy.app.timers.register(poll_jobs, first_interval=POLL_SECONDS, persistent=True)


def refresh_ui(context) -> None:
    """Redraw the sidebar and show what is in progress in the status bar (when there is a
    window: headless Blender has none)."""
    window_manager = getattr(context, "window_manager", None)
    for window in getattr(window_manager, "windows", ()):
        for area in window.screen.areas:
            if area.type == "SEQUENCE_EDITOR":
                area.tag_redraw()
    workspace = getattr(context, "workspace", None)
    if workspace is None:
        return
    active = [s.omnifoa for s in bpy.data.scenes if busy(s)]
    text = None
    if active and active[0].job_state in FOLLOWED:
        s = active[0]
        text = f"omnifoa: {s.job_source} {s.job_percent:.0f}% ({s.job_message})"
    elif active:
        text = f"omnifoa: {active[0].job_message}"
    workspace.status_text_set(text)


def cancel(context, scene: bpy.types.Scene) -> dict:
    record = link(context).cancel(scene.omnifoa.job_id)
    scene.omnifoa.job_message = "cancelling"
    return record
