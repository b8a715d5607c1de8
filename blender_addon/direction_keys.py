"""The camera direction of a strip over time, as the service's direction path.

Yaw, pitch and FoV live on the strip (``strip.omnifoa_yaw`` and so on) and may be
keyframed. The keyframed curves are evaluated at the model's frame times (8 per second of
video) without stepping the scene, and sent as a direction path in video seconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import bpy

MODEL_FPS = 8.0


def _fcurves(scene: bpy.types.Scene) -> Iterator:
    animation = scene.animation_data
    action = animation.action if animation else None
    if action is None:
        return iter(())
    try:  # Blender 4.4+: layered actions keep curves in a channelbag per slot
        from bpy_extras.anim_utils import action_get_channelbag_for_slot

        bag = action_get_channelbag_for_slot(action, animation.action_slot)
        return iter(bag.fcurves if bag else ())
    except ImportError:
        return iter(action.fcurves)


def direction_curves(scene: bpy.types.Scene, strip) -> dict[str, object]:
    """The strip's animated yaw/pitch curves by property name."""
    curves = {}
    for collection in ("strips_all", "strips"):
        for name in ("yaw", "pitch"):
            path = f'sequence_editor.{collection}["{strip.name}"].omnifoa_{name}'
            for curve in _fcurves(scene):
                if curve.data_path == path:
                    curves[name] = curve
    return curves


def direction_path(scene: bpy.types.Scene, strip, start_s: float, end_s: float) -> dict | None:
    """A direction-path document sampling the keyframed direction at the model's frame
    times over [start_s, end_s) of video time; None when neither yaw nor pitch is animated."""
    curves = direction_curves(scene, strip)
    if not curves:
        return None
    fps = float(strip.fps) or 1.0
    count = max(1, int((end_s - start_s) * MODEL_FPS + 0.999))
    keys = []
    for k in range(count + 1):
        t = min(start_s + k / MODEL_FPS, end_s)
        frame = strip.frame_start + t * fps
        yaw = curves["yaw"].evaluate(frame) if "yaw" in curves else strip.omnifoa_yaw
        pitch = curves["pitch"].evaluate(frame) if "pitch" in curves else strip.omnifoa_pitch
        if keys and t <= keys[-1]["t"]:
            continue
        keys.append({"t": round(t, 6), "yaw": float(yaw), "pitch": max(-90.0, min(90.0, pitch))})
    return {"format": "omnifoa-direction-path", "version": 1, "keys": keys}
