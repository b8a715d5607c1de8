"""Add-on preferences: how to reach (or start) the local service, and the default folder."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import StringProperty

from .service_link import default_state_file


class OmnifoaPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    state_file: StringProperty(
        name="Service state file",
        description="service.json written by `omnifoa serve` (address and token)",
        subtype="FILE_PATH",
        default=str(default_state_file()),
    )
    executable: StringProperty(
        name="omnifoa program",
        description=(
            "The `omnifoa` program, its venv folder, or a Python that has omnifoa; empty: "
            "found on PATH or in ~/omnifoa (to start the service when it is not running)"
        ),
        subtype="FILE_PATH",
    )
    connection_status: StringProperty(name="Connection", default="not tested yet")
    output_dir: StringProperty(
        name="Default output folder",
        description="Where stems go when the panel names no folder ('//' is beside the .blend)",
        subtype="DIR_PATH",
        default="//omnifoa/",
    )

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "state_file")
        layout.prop(self, "executable")
        row = layout.row()
        row.operator("omnifoa.test_connection")
        row.label(text=self.connection_status)
        layout.prop(self, "output_dir")


def preferences(context) -> OmnifoaPreferences:
    return context.preferences.addons[__package__].preferences


def state_file(context) -> Path:
    return Path(bpy.path.abspath(preferences(context).state_file))


def register() -> None:
    bpy.utils.register_class(OmnifoaPreferences)


def unregister() -> None:
    bpy.utils.unregister_class(OmnifoaPreferences)
