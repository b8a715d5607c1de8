"""After a .blend is opened: resume what its scenes had in progress, or say it is lost.

The job fields are saved with the file, but timers and worker threads belong to the Blender
session. A job the service was running is asked about again (the timer follows it, or fails
it with one sentence when the service no longer knows it); a submit or a REAPER hand-off
whose worker is not in this session is failed at once, so Generate is possible again. A
running service is asked for its models, so each scene's remembered model FoV is current.
"""

from __future__ import annotations

import bpy

from . import jobs, pending, workers

INTERRUPTED_START = (
    "The job being submitted when the file was saved was not submitted in this session; "
    "generate again."
)
INTERRUPTED_HANDOFF = (
    "The REAPER hand-off in progress when the file was saved did not finish in this session; "
    "send again."
)
ASKING = "asking the omnifoa service about the job from before the file was reopened"


def resume_scene(scene: bpy.types.Scene) -> bool:
    """Mark what ``scene`` had in progress for resuming or as lost; True when its job is to
    be followed."""
    settings = scene.omnifoa
    following = False
    if settings.job_state in jobs.FOLLOWED and settings.job_id:
        settings.job_reopened, settings.job_message = True, ASKING
        following = True
    elif settings.job_state in jobs.BUSY and not workers.in_flight(settings.job_ticket):
        settings.job_state, settings.job_message, settings.job_ticket = (
            "failed",
            INTERRUPTED_START,
            "",
        )
    if settings.reaper_state == "waiting" and not workers.in_flight(settings.reaper_ticket):
        settings.reaper_state, settings.reaper_ticket = "", ""
        settings.job_message = INTERRUPTED_HANDOFF
    return following


@bpy.app.handlers.persistent
def resume_after_load(*_args) -> None:
    """The load_post handler: resume every scene's job (see the module's docstring)."""
    following = False
    for scene in bpy.data.scenes:
        following |= resume_scene(scene)
    if following:
        jobs.follow_jobs()
    pending.look_up_models(bpy.context)  # only when the service is running
    if workers.any_in_flight():
        pending.watch()


def register() -> None:
    if resume_after_load not in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.append(resume_after_load)


def unregister() -> None:
    if resume_after_load in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(resume_after_load)
