"""The add-on's operators: generate (one strip, or all 360 strips as one batch job), cancel,
send to REAPER, re-roll the seed, 4-channel
mixdown, play another take of a stem, test the connection, and the report of a call that
ended on a worker thread.

Generate and Send to REAPER return at once: the waiting (starting the service, REAPER's
acknowledgement) happens on worker threads (:mod:`.pending`)."""

from __future__ import annotations

import random

import bpy

from . import jobs, pending
from .batch_strips import strips_360
from .preferences import preferences
from .service_link import ServiceRefused, ServiceUnavailable
from .service_start import describe_connection
from .strip_source import source_strip
from .take_strip import stem_strip, use_take


class OMNIFOA_OT_generate(bpy.types.Operator):
    """Generate first-order ambisonics for the movie strip through the omnifoa service"""

    bl_idname = "omnifoa.generate"
    bl_label = "Generate FOA"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        scene = context.scene
        return scene is not None and source_strip(scene) is not None and not jobs.busy(scene)

    def execute(self, context):
        scene = context.scene
        strip = source_strip(scene)
        try:
            pending.start_generate(context, scene, strip)  # returns at once: a worker submits
        except (ServiceUnavailable, ValueError, OSError) as exc:
            scene.omnifoa.job_state, scene.omnifoa.job_message = "failed", str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"omnifoa: {scene.omnifoa.job_message} ({strip.name})")
        return {"FINISHED"}


class OMNIFOA_OT_generate_all(bpy.types.Operator):
    """Generate first-order ambisonics for every 360 movie strip of the sequencer as one
    batch job; each stem lands on its own strip"""

    bl_idname = "omnifoa.generate_all"
    bl_label = "Generate all 360 strips"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        scene = context.scene
        return scene is not None and bool(strips_360(scene)) and not jobs.busy(scene)

    def execute(self, context):
        scene = context.scene
        try:
            count = pending.start_batch(context, scene)  # returns at once: a worker submits
        except (ServiceUnavailable, ValueError, OSError) as exc:
            scene.omnifoa.job_state, scene.omnifoa.job_message = "failed", str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"omnifoa: {scene.omnifoa.job_message} ({count} strips)")
        return {"FINISHED"}


class OMNIFOA_OT_cancel(bpy.types.Operator):
    """Stop the running omnifoa job (nothing it wrote is kept)"""

    bl_idname = "omnifoa.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context):
        return context.scene is not None and context.scene.omnifoa.job_state in jobs.FOLLOWED

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
        return (
            settings is not None
            and settings.job_state == "done"
            and settings.job_kind != "batch"  # each stem its own place: not one hand-off
            and bool(settings.job_id)
            and settings.reaper_state != "waiting"
        )

    def execute(self, context):
        settings = context.scene.omnifoa
        try:
            pending.start_reaper_handoff(context, context.scene, self.port)  # returns at once
        except ServiceUnavailable as exc:
            settings.job_message = str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"omnifoa: {settings.job_message}")
        return {"FINISHED"}


class OMNIFOA_OT_report(bpy.types.Operator):
    """Report what a background call of the add-on ended with"""

    bl_idname = "omnifoa.report"
    bl_label = "omnifoa Report"
    bl_options = {"INTERNAL"}

    level: bpy.props.EnumProperty(items=[("INFO", "Info", ""), ("ERROR", "Error", "")])
    message: bpy.props.StringProperty()

    def execute(self, context):
        self.report({self.level}, self.message)
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


class OMNIFOA_OT_use_take(bpy.types.Operator):
    """Play this take of the stem in the active sound strip (no file on disk changes)"""

    bl_idname = "omnifoa.use_take"
    bl_label = "Use take"
    bl_options = {"REGISTER", "UNDO"}

    number: bpy.props.IntProperty(name="Take", min=1, default=1)

    @classmethod
    def poll(cls, context):
        return context.scene is not None and stem_strip(context.scene) is not None

    def execute(self, context):
        strip = stem_strip(context.scene)
        try:
            use_take(strip, self.number)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"{strip.name} plays take {self.number}")
        return {"FINISHED"}


class OMNIFOA_OT_regenerate(bpy.types.Operator):
    """New audio for the preview range (or between the first two markers) of the active stem
    strip, as a new take; the rest of the stem stays sample for sample as it is"""

    bl_idname = "omnifoa.regenerate"
    bl_label = "Regenerate range"

    @classmethod
    def poll(cls, context):
        scene = context.scene
        return scene is not None and stem_strip(scene) is not None and not jobs.busy(scene)

    def execute(self, context):
        scene = context.scene
        try:
            pending.start_regenerate(context, scene, stem_strip(scene))
        except (ValueError, ServiceUnavailable) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class OMNIFOA_OT_test_connection(bpy.types.Operator):
    """Say in one line whether the omnifoa service runs, or what would start it (a server:
    its models, device and round trip)"""

    bl_idname = "omnifoa.test_connection"
    bl_label = "Test connection"

    def execute(self, context):
        prefs = preferences(context)
        executable = bpy.path.abspath(prefs.executable) if prefs.executable else ""
        try:
            prefs.connection_status = describe_connection(jobs.link(context), executable)
        except ServiceUnavailable as exc:  # the server's URL, token or fingerprint
            prefs.connection_status = str(exc)
        self.report({"INFO"}, prefs.connection_status)
        return {"FINISHED"}


CLASSES = (
    OMNIFOA_OT_test_connection,
    OMNIFOA_OT_generate,
    OMNIFOA_OT_generate_all,
    OMNIFOA_OT_cancel,
    OMNIFOA_OT_send_to_reaper,
    OMNIFOA_OT_reroll_seed,
    OMNIFOA_OT_use_surround4,
    OMNIFOA_OT_use_take,
    OMNIFOA_OT_regenerate,
    OMNIFOA_OT_report,
)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for timer in (jobs.poll_jobs, pending.apply_outcomes):
        if bpy.app.timers.is_registered(timer):
            bpy.app.timers.unregister(timer)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
