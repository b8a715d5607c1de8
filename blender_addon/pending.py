"""Calls in flight on worker threads, seen from the scene: start them, show them in the
panel, and apply what they hand back on Blender's main thread (a persistent timer).

A scene holds the ticket of its call (``job_ticket`` while a job is being submitted,
``reaper_ticket`` while its stems go to REAPER); an outcome goes to the scene holding its
ticket, so one for a file that is no longer open is dropped. The service's model list is the
exception: whichever worker fetched it, every open scene learns its model's own FoV from it.
"""

from __future__ import annotations

import bpy

from . import jobs, workers
from .batch_strips import ALL_STRIPS, batch_body
from .model_fov import listed_fov
from .preferences import preferences
from .service_link import ServiceUnavailable
from .service_start import find_program
from .take_strip import range_seconds
from .workers import DOWNLOADED, ENDED, FAILED, HANDED, MODELS, PROGRESS, Outcome

TICK_SECONDS = 0.1
ENDPOINTS = {"generate": "/v1/jobs", "regenerate": "/v1/regenerate", "batch": "/v1/batches"}
CONTACTING = "contacting the omnifoa service…"
WAITING_FOR_REAPER = "waiting for REAPER…"

_look_up_ticket = ""  # the model look-up in flight, if any (main thread only)


def _executable(context) -> str:
    """The preferences' ``omnifoa`` program, absolute, or "" when none is set."""
    executable = preferences(context).executable
    return bpy.path.abspath(executable) if executable else ""


def start_generate(context, scene: bpy.types.Scene, strip) -> None:
    """Build the job for ``strip`` and submit it on a worker thread (starting the service
    first when it is not running). What is wrong before any waiting raises at once."""
    _submit(context, scene, strip.name, "generate", jobs.build_job(context, scene, strip))


def start_batch(context, scene: bpy.types.Scene) -> int:
    """Build one batch job of every 360 movie strip of the sequencer and submit it on a
    worker thread, as :func:`start_generate` does; the number of strips."""
    body = batch_body(context, scene)
    _submit(context, scene, ALL_STRIPS, "batch", body)
    return len(body["shots"])


def start_regenerate(context, scene: bpy.types.Scene, strip) -> None:
    """Ask the service for new audio in the timeline's range of the stem ``strip`` plays, as
    new takes (as many as the panel's Takes; a seed none of the stem's takes used); the strip
    plays the first when the job is done."""
    start, end = range_seconds(scene, strip)
    body = {
        "stem": strip.omnifoa_stem,
        "from": round(start, 6),
        "to": round(end, 6),
        "takes": scene.omnifoa.variations,
    }
    _submit(context, scene, strip.name, "regenerate", body)


def _submit(context, scene: bpy.types.Scene, source: str, kind: str, body: dict) -> None:
    """Submit ``body`` as a ``kind`` job for the strip named ``source`` on a worker thread,
    the service started first when it is not running (``ENDPOINTS``)."""
    link = jobs.link(context)
    executable = _executable(context)
    try:
        link.address()
    except ServiceUnavailable:  # no service.json: surely not running; can it be started?
        find_program(executable)
    settings = scene.omnifoa
    settings.job_id = ""
    settings.job_kind = kind
    settings.job_source = source
    settings.job_seed = settings.seed
    settings.job_state = "starting"
    settings.job_percent = 0.0
    settings.job_message = CONTACTING
    settings.job_failures = ""
    settings.job_path_keys = len(body.get("path", {}).get("keys", []))
    settings.job_reopened = False
    endpoint = ENDPOINTS[kind]
    settings.job_ticket = workers.submit_in_background(link, body, executable, endpoint)
    watch()


def start_reaper_handoff(context, scene: bpy.types.Scene, port: int) -> None:
    """Hand the scene's finished stems to REAPER on a worker thread."""
    link = jobs.link(context)
    try:
        link.address()  # no service.json: surely not running, say so now
    except ServiceUnavailable as exc:
        raise workers.not_sent_to_reaper(exc) from None
    settings = scene.omnifoa
    settings.reaper_state = "waiting"
    settings.job_message = WAITING_FOR_REAPER
    settings.reaper_ticket = workers.hand_to_reaper_in_background(link, settings.job_id, port)
    watch()


def look_up_models(context) -> bool:
    """Ask a running service for its models on a worker thread (the scenes then remember
    their model's own FoV); False, starting nothing, when it is not running (no state file)
    or a look-up is already in flight."""
    global _look_up_ticket
    if workers.in_flight(_look_up_ticket):
        return False
    link = jobs.link(context)
    try:
        link.address()
    except ServiceUnavailable:
        return False
    _look_up_ticket = workers.look_up_models_in_background(link)
    watch()
    return True


def remember_model_fovs(models_document: dict) -> None:
    """Every open scene whose model the service lists remembers that model's own FoV; the
    others keep what they had."""
    for scene in bpy.data.scenes:
        settings = scene.omnifoa
        fov = listed_fov(models_document, settings.model)
        if fov is not None:
            settings.model_fov, settings.model_fov_of = fov, settings.model


def watch() -> None:
    """Make sure the (persistent) timer applies the workers' outcomes."""
    if not bpy.app.timers.is_registered(apply_outcomes):
        bpy.app.timers.register(apply_outcomes, first_interval=TICK_SECONDS, persistent=True)


def describe_ack(ack: dict) -> str:
    """REAPER's acknowledgement in one line."""
    text = f"REAPER: {ack.get('status')}, {len(ack.get('tracks', []))} track(s)"
    missing = [fx["name"] for fx in ack.get("fx", []) if not fx.get("ok")]
    if missing:
        text += f"; missing plug-ins: {', '.join(missing)}"
    return text


def _apply_submit(settings, outcome: Outcome) -> None:
    if outcome.kind == PROGRESS:
        settings.job_message = outcome.message
        return
    if outcome.final:
        settings.job_ticket = ""  # a server's job (SENT) keeps its worker until downloaded
    if outcome.kind == FAILED:
        settings.job_state, settings.job_message = "failed", outcome.message
        jobs.report(outcome.message, error=True)
        return
    if outcome.kind == DOWNLOADED:
        jobs.place_downloaded(settings.id_data, outcome.data["stems"])
        jobs.report(f"omnifoa: {settings.job_message} for {settings.job_source}", False)
        return
    if outcome.kind == ENDED:  # failed or cancelled on the server: the poll timer said so
        return
    record = outcome.data
    settings.job_id, settings.job_state = record["id"], record["state"]
    settings.job_message = record["state"]
    jobs.follow_jobs()
    jobs.report(
        f"omnifoa job {record['id'][:8]} {record['state']} for {settings.job_source}", False
    )


def _apply_handoff(settings, outcome: Outcome) -> None:
    if outcome.kind == PROGRESS:
        settings.job_message = outcome.message
        return
    settings.reaper_ticket, settings.reaper_state = "", ""
    settings.job_message = describe_ack(outcome.data) if outcome.kind == HANDED else outcome.message
    jobs.report(settings.job_message, error=outcome.kind == FAILED)


def _show_waiting() -> None:
    """Count the seconds a hand-off has waited for REAPER, in the panel."""
    for scene in bpy.data.scenes:
        settings = scene.omnifoa
        if settings.reaper_state == "waiting" and workers.in_flight(settings.reaper_ticket):
            seconds = workers.seconds_since_start(settings.reaper_ticket)
            waited = f" {seconds:.0f} s" if seconds >= 1 else ""
            settings.job_message = WAITING_FOR_REAPER + waited


def apply_outcomes() -> float | None:
    """The timer: apply every outcome handed back; stop when no worker is left."""
    by_ticket = {}
    for scene in bpy.data.scenes:
        settings = scene.omnifoa
        if settings.job_ticket:
            by_ticket[settings.job_ticket] = (settings, _apply_submit)
        if settings.reaper_ticket:
            by_ticket[settings.reaper_ticket] = (settings, _apply_handoff)
    for outcome in workers.take_outcomes():
        if outcome.kind == MODELS:
            remember_model_fovs(outcome.data)
        elif outcome.ticket in by_ticket:
            settings, apply = by_ticket[outcome.ticket]
            apply(settings, outcome)
        elif outcome.ticket == _look_up_ticket:
            if outcome.kind == FAILED:  # a bug: the look-up itself swallows service errors
                print(f"omnifoa: listing the service's models failed: {outcome.message}")
        elif outcome.final:
            print(f"omnifoa: an outcome for a file no longer open: {outcome.message or 'ok'}")
    _show_waiting()
    jobs.refresh_ui(bpy.context)
    return TICK_SECONDS if workers.any_in_flight() else None
