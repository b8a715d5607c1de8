"""The add-on's operators: generate, cancel, send to REAPER, re-roll the seed, 4-channel
mixdown."""

from __future__ import annotations

import random
import time

import bpy

from . import jobs
from .preferences import preferences, state_file
from .service_link import ServiceRefused, ServiceUnavailable, start_service
from .strip_source import source_strip

START_WAIT_SECONDS = 30.0


def _running(scene: bpy.types.Scene) -> bool:
    return scene.omnifoa.job_state in ("queued", "running")


def _ensure_service(context) -> None:
    """Reach the service, starting it from the preferences' executable when it is down."""
    link = jobs.link(context)
    try:
        link.health()
        return
    except ServiceUnavailable:
        executable = preferences(context).executable
        if not executable:
            raise
    start_service(bpy.path.abspath(executable), state_file(context))
    deadline = time.monotonic() + START_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            link.health()
            return
        except ServiceUnavailable:
            time.sleep(0.25)
    raise ServiceUnavailable(
        f"The omnifoa service did not start within {START_WAIT_SECONDS:.0f} s; see "
        f"{state_file(context).parent / 'service.log'}."
    )


class OMNIFOA_OT_generate(bpy.types.Operator):
    """Generate first-order ambisonics for the movie strip through the omnifoa service"""

    bl_idname = "omnifoa.generate"
    bl_label = "Generate FOA"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        scene = context.scene
        return scene is not None and source_strip(scene) is not None and not _running(scene)

    def execute(self, context):
        scene = context.scene
        strip = source_strip(scene)
        try:
            _ensure_service(context)
            record = jobs.submit(context, scene, strip)
        except (ServiceUnavailable, ServiceRefused, ValueError, OSError) as exc:
            scene.omnifoa.job_state, scene.omnifoa.job_message = "failed", str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not bpy.app.timers.is_registered(jobs.poll_jobs):
            bpy.app.timers.register(jobs.poll_jobs, first_interval=jobs.POLL_SECONDS)
        self.report({"INFO"}, f"omnifoa job {record['id'][:8]} queued for {strip.name}")
        return {"FINISHED"}


class OMNIFOA_OT_cancel(bpy.types.Operator):
    """Stop the running omnifoa job (nothing it wrote is kept)"""

    bl_idname = "omnifoa.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context):
        return context.scene is not None and _running(context.scene)

    def execute(self, context):
        try:
            jobs.cancel(context, context.scene)
        except (ServiceUnavailable, ServiceRefused) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class OMNIFOA_OT_send_to_reaper(bpy.types.Operator):
    """Hand the finished stems to REAPER, on 4-channel ambisonic tracks (omnifoa's bridge)"""

    bl_idname = "omnifoa.send_to_reaper"
    bl_label = "Send to REAPER"

    port: bpy.props.IntProperty(name="REAPER OSC port", default=8000, min=1, max=65535)

    @classmethod
    def poll(cls, context):
        settings = context.scene.omnifoa if context.scene else None
        return settings is not None and settings.job_state == "done" and bool(settings.job_id)

    def execute(self, context):
        settings = context.scene.omnifoa
        path = f"/v1/jobs/{settings.job_id}/reaper"
        try:
            ack = jobs.link(context).call("POST", path, {"port": self.port})["ack"]
        except (ServiceUnavailable, ServiceRefused) as exc:
            settings.job_message = str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        placed = len(ack.get("tracks", []))
        settings.job_message = f"REAPER: {ack.get('status')}, {placed} track(s)"
        missing = [fx["name"] for fx in ack.get("fx", []) if not fx.get("ok")]
        if missing:
            settings.job_message += f"; missing plug-ins: {', '.join(missing)}"
        self.report({"INFO"}, settings.job_message)
        return {"FINISHED"}


class OMNIFOA_OT_reroll_seed(bpy.types.Operator):
    """Pick a new random seed"""

    bl_idname = "omnifoa.reroll_seed"
    bl_label = "Re-roll Seed"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        context.scene.omnifoa.seed = random.randrange(0, 2**31 - 1)
        return {"FINISHED"}


class OMNIFOA_OT_use_surround4(bpy.types.Operator):
    """Mix down to 4 channels so W, Y, Z and X pass through unchanged"""

    bl_idname = "omnifoa.use_surround4"
    bl_label = "Use 4-Channel Mixdown"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        context.scene.render.ffmpeg.audio_channels = "SURROUND4"
        context.scene.omnifoa.suggest_surround = False
        return {"FINISHED"}


CLASSES = (
    OMNIFOA_OT_generate,
    OMNIFOA_OT_cancel,
    OMNIFOA_OT_send_to_reaper,
    OMNIFOA_OT_reroll_seed,
    OMNIFOA_OT_use_surround4,
)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    if bpy.app.timers.is_registered(jobs.poll_jobs):
        bpy.app.timers.unregister(jobs.poll_jobs)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
