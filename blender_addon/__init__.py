"""omnifoa for Blender: generate first-order ambisonics for a 360 movie strip.

A thin client of the local omnifoa service (``omnifoa serve``): the sequencer sidebar picks
the equirectangular movie strip, the camera direction (keyframable on the strip, draggable in
the preview) aims the generator's field-of-view branch, and finished stems come back as
sound strips aligned with the movie. Blender's Python, the standard library and the bundled
platformdirs wheel only.
"""

from . import jobs, operators, panel, preferences, preview_overlay, reopen, settings

_MODULES = (preferences, settings, operators, panel, preview_overlay, reopen)
__all__ = ["jobs", "register", "unregister"]


def register() -> None:
    for module in _MODULES:
        module.register()


def unregister() -> None:
    for module in reversed(_MODULES):
        module.unregister()
