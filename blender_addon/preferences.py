"""Add-on preferences: the server (this computer's service, reached or started, or a studio
server by URL, token and certificate fingerprint), and the default folder."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty

from .remote_server import Remote
from .service_link import default_state_file

SERVERS = [
    ("LOCAL", "This computer", "The omnifoa service on this computer (started when needed)"),
    ("REMOTE", "URL", "A studio's omnifoa server (`omnifoa serve --listen`), over HTTPS"),
]


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
    server: EnumProperty(name="Server", items=SERVERS, default="LOCAL")
    server_url: StringProperty(
        name="Server URL", description="https://HOST:PORT, as `omnifoa serve --listen` printed it"
    )
    server_token: StringProperty(
        name="Token",
        description="Your token on the server (`omnifoa serve tokens add NAME` printed it)",
        subtype="PASSWORD",
    )
    server_fingerprint: StringProperty(
        name="Certificate fingerprint",
        description="The SHA-256 fingerprint of the server's certificate, as it printed it",
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
        layout.row().prop(self, "server", expand=True)
        if self.server == "REMOTE":
            for name in ("server_url", "server_token", "server_fingerprint"):
                layout.prop(self, name)
        else:
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


def remote(context) -> Remote | None:
    """The server the preferences name (None: this computer); ValueError, one sentence, for
    a URL, token or fingerprint that is missing or malformed."""
    prefs = preferences(context)
    if prefs.server != "REMOTE":
        return None
    return Remote.checked(prefs.server_url, prefs.server_token, prefs.server_fingerprint)


def register() -> None:
    bpy.utils.register_class(OmnifoaPreferences)


def unregister() -> None:
    bpy.utils.unregister_class(OmnifoaPreferences)
