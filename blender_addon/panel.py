"""The sequencer sidebar panel (View Sidebar ▸ omnifoa)."""

from __future__ import annotations

import bpy

from .model_fov import fov_note
from .strip_source import source_info, source_strip
from .take_strip import stem_strip, strip_takes


class OMNIFOA_PT_generate(bpy.types.Panel):
    bl_idname = "OMNIFOA_PT_generate"
    bl_label = "omnifoa"
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "omnifoa"

    def draw(self, context):
        layout = self.layout
        scene = context.scene
        settings = scene.omnifoa
        editor = scene.sequence_editor

        box = layout.box()
        box.label(text="Source", icon="SEQUENCE")
        if editor is not None:
            box.prop_search(settings, "source", editor, "strips_all", text="Strip")
        strip = source_strip(scene)
        if strip is None:
            box.label(text="Select a 360 movie strip", icon="INFO")
        else:
            info = source_info(strip)
            col = box.column(align=True)
            col.label(text=f"{info.width} x {info.height}, {info.fps:.3g} fps")
            col.label(
                text=f"frames {info.final_start}-{info.final_end - 1} "
                f"({info.start_seconds:.2f}-{info.end_seconds:.2f} s of video)"
            )
            if info.warning:
                col.label(text=info.warning, icon="ERROR")

            box = layout.box()
            box.label(text="Camera direction (keyframable)", icon="ORIENTATION_VIEW")
            col = box.column(align=True)
            col.prop(settings, "aim_action")
            aimed = col.column(align=True)
            aimed.active = not settings.aim_action
            aimed.prop(strip, "omnifoa_yaw")
            aimed.prop(strip, "omnifoa_pitch")
            row = col.row(align=True)
            row.prop(strip, "omnifoa_fov")
            confirmed = settings.model_fov_of == settings.model
            row.label(text=fov_note(strip.omnifoa_fov, settings.model_fov, confirmed))

        box = layout.box()
        box.label(text="Generation", icon="SOUND")
        box.prop(settings, "model")
        row = box.row(align=True)
        row.prop(settings, "seed")
        row.operator("omnifoa.reroll_seed", text="", icon="FILE_REFRESH")
        box.prop(settings, "variations")
        row = box.row(align=True)
        row.prop(settings, "steps")
        row.prop(settings, "guidance")
        box.prop(settings, "output_dir")
        box.prop(settings, "convention", expand=True)

        if settings.job_state == "starting":  # a worker reaches the service and submits
            layout.progress(factor=0.0, text=settings.job_message)
            layout.operator("omnifoa.generate", icon="PLAY_SOUND")  # greyed out (poll)
            layout.operator("omnifoa.generate_all", icon="RENDER_ANIMATION")
        elif settings.job_state in ("queued", "running"):
            layout.progress(factor=settings.job_percent / 100.0, text=settings.job_message)
            layout.operator("omnifoa.cancel", icon="CANCEL")
        else:
            layout.operator("omnifoa.generate", icon="PLAY_SOUND")
            layout.operator("omnifoa.generate_all", icon="RENDER_ANIMATION")
            for line in settings.job_failures.splitlines():  # a batch's strips without a stem
                layout.label(text=line, icon="ERROR")
            if settings.job_message:
                icon = "INFO"
                if settings.reaper_state == "waiting":
                    icon = "TIME"
                elif settings.job_state == "failed":
                    icon = "ERROR"
                layout.label(text=settings.job_message, icon=icon)
            if settings.job_state == "done":
                layout.operator("omnifoa.send_to_reaper", icon="EXPORT")  # greyed while waiting
        if settings.suggest_surround:
            layout.label(text="Mixdown is not 4-channel: FOA would be scrambled", icon="ERROR")
            layout.operator("omnifoa.use_surround4", icon="SPEAKER")
        draw_takes(layout, scene)


def draw_takes(layout, scene: bpy.types.Scene) -> None:
    """The takes of the active stem strip, the one it plays marked, when it has several."""
    strip = stem_strip(scene)
    if strip is None:
        return
    takes, playing = strip_takes(strip)
    box = layout.box()
    box.label(text=f"Takes of {strip.name}", icon="SOUND")
    box.operator("omnifoa.regenerate", icon="FILE_REFRESH")
    if len(takes) < 2:
        return
    for take in takes:
        row = box.row(align=True)
        marked = "RADIOBUT_ON" if take.number == playing else "RADIOBUT_OFF"
        row.label(text=f"take {take.number} · seed {take.seed} · {take.made}", icon=marked)
        row.operator("omnifoa.use_take").number = take.number


def register() -> None:
    bpy.utils.register_class(OMNIFOA_PT_generate)


def unregister() -> None:
    bpy.utils.unregister_class(OMNIFOA_PT_generate)
