"""In the sequencer preview: a gizmo to drag the camera direction and the FoV outline.

Both need a window (Blender draws and runs gizmos only with one); the geometry they use is
in :mod:`.preview_mapping`, which is tested headless, as is :func:`strip_outline`. The
outline is the view the job uses: the strip's FoV, or the model's own when that is 0.
"""

from __future__ import annotations

import bpy

from .model_fov import fov_in_use
from .preview_mapping import direction_to_preview, outline_in_preview, preview_to_direction
from .strip_source import source_strip

_handle = None
OUTLINE_COLOUR = (1.0, 0.8, 0.1, 0.9)


def _canvas(scene: bpy.types.Scene) -> tuple[int, int]:
    return scene.render.resolution_x, scene.render.resolution_y


class OMNIFOA_GGT_direction(bpy.types.GizmoGroup):
    bl_idname = "OMNIFOA_GGT_direction"
    bl_label = "omnifoa camera direction"
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "PREVIEW"
    bl_options = {"PERSISTENT"}

    @classmethod
    def poll(cls, context):
        return context.scene is not None and source_strip(context.scene) is not None

    def setup(self, context):
        gizmo = self.gizmos.new("GIZMO_GT_move_3d")
        gizmo.draw_style = "RING_2D"
        gizmo.draw_options = {"ALIGN_VIEW"}
        gizmo.scale_basis = 24.0
        gizmo.color = OUTLINE_COLOUR[:3]
        gizmo.color_highlight = (1.0, 1.0, 1.0)

        def get() -> tuple[float, float, float]:
            scene = bpy.context.scene
            strip = source_strip(scene)
            if strip is None:
                return (0.0, 0.0, 0.0)
            x, y = direction_to_preview(strip.omnifoa_yaw, strip.omnifoa_pitch, *_canvas(scene))
            return (x, y, 0.0)

        def set(value: tuple[float, float, float]) -> None:
            scene = bpy.context.scene
            strip = source_strip(scene)
            if strip is not None:
                yaw, pitch = preview_to_direction(value[0], value[1], *_canvas(scene))
                strip.omnifoa_yaw, strip.omnifoa_pitch = yaw, pitch

        gizmo.target_set_handler("offset", get=get, set=set)


def strip_outline(scene: bpy.types.Scene, strip) -> list[list[tuple[float, float]]]:
    """The outline of ``strip``'s camera view in ``scene``'s preview (polylines)."""
    fov = fov_in_use(strip.omnifoa_fov, scene.omnifoa.model_fov)
    return outline_in_preview(strip.omnifoa_yaw, strip.omnifoa_pitch, fov, *_canvas(scene))


def _draw_outline() -> None:
    import gpu
    from gpu_extras.batch import batch_for_shader

    scene = bpy.context.scene
    strip = source_strip(scene) if scene else None
    if strip is None:
        return
    shader = gpu.shader.from_builtin("POLYLINE_UNIFORM_COLOR")
    shader.uniform_float("viewportSize", gpu.state.viewport_get()[2:])
    shader.uniform_float("lineWidth", 2.0)
    shader.uniform_float("color", OUTLINE_COLOUR)
    gpu.state.blend_set("ALPHA")
    for line in strip_outline(scene, strip):
        batch_for_shader(shader, "LINE_STRIP", {"pos": line}).draw(shader)
    gpu.state.blend_set("NONE")


def register() -> None:
    global _handle
    bpy.utils.register_class(OMNIFOA_GGT_direction)
    _handle = bpy.types.SpaceSequenceEditor.draw_handler_add(
        _draw_outline, (), "PREVIEW", "POST_VIEW"
    )


def unregister() -> None:
    global _handle
    if _handle is not None:
        bpy.types.SpaceSequenceEditor.draw_handler_remove(_handle, "PREVIEW")
        _handle = None
    bpy.utils.unregister_class(OMNIFOA_GGT_direction)
