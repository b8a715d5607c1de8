"""The add-on's properties: the camera direction on each strip (keyframable), the stem and
take a generated sound strip plays, generation settings and the running job's state on the
scene.

Job states: idle, starting (a worker reaches the service and submits), queued, running,
done, failed, cancelled.
"""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from . import pending
from .model_fov import DEFAULT_MODEL_FOV

# The camera direction lives directly on each strip (not in a property group: Blender can
# only keyframe strip properties whose path it can build from the scene).
STRIP_PROPERTIES = {
    "omnifoa_yaw": FloatProperty(
        name="Yaw",
        description="Camera direction azimuth in degrees (0 front, positive to the left)",
        default=0.0,
        min=-360.0,
        max=360.0,
        soft_min=-180.0,
        soft_max=180.0,
    ),
    "omnifoa_pitch": FloatProperty(
        name="Pitch",
        description="Camera direction elevation in degrees (positive up)",
        default=0.0,
        min=-90.0,
        max=90.0,
    ),
    # Within the service's job schema (fov 1..179); 0 sends nothing: the model's own.
    "omnifoa_fov": FloatProperty(
        name="FoV",
        description="Width of the camera view in degrees (0: the model's own, which the "
        "outline then draws)",
        default=0.0,
        min=0.0,
        max=179.0,
        soft_max=170.0,
    ),
    # On the sound strip of a generated stem: the stem's absolute path (its sidecar lists the
    # takes) and the take the strip plays (0: the stem file itself, a copy of the chosen take).
    "omnifoa_stem": StringProperty(name="Stem", description="The omnifoa stem this strip plays"),
    "omnifoa_take": IntProperty(
        name="Take",
        description="The take of the stem this strip plays (0: the stem's chosen take)",
        default=0,
        min=0,
        options=set(),
    ),
}


def _model_changed(_settings, context) -> None:
    """A running service is asked for the new model's own FoV (never started for it)."""
    pending.look_up_models(context)


class OmnifoaSceneSettings(bpy.types.PropertyGroup):
    """Generation settings and the state of the scene's job."""

    source: StringProperty(name="Source", description="Movie strip to generate for (empty: active)")
    model: StringProperty(name="Model", default="omnifoa-mini", update=_model_changed)
    # The chosen model's own FoV, as the service last listed it (GET /v1/models); used where
    # a strip's FoV is 0. model_fov_of: the model it was listed for ("" never asked).
    model_fov: FloatProperty(
        name="Model FoV",
        description="The model's own camera FoV in degrees, as the omnifoa service lists it",
        default=DEFAULT_MODEL_FOV,
        min=1.0,
        max=179.0,
    )
    model_fov_of: StringProperty()
    seed: IntProperty(name="Seed", default=0, min=0)
    aim_action: BoolProperty(
        name="Aim at the action",
        description="Let the service aim the FoV along the strongest visual action of the "
        "video (motion saliency) instead of the yaw/pitch keys",
        default=False,
    )
    variations: IntProperty(
        name="Takes",
        description="takes of the stem, one per seed variation",
        default=1,
        min=1,
        max=16,
    )
    # Ranges within the service's job schema (GET /v1/schema): steps 1..1000, cfg 0..100;
    # 0 here sends nothing, so the model's own value is used.
    steps: IntProperty(
        name="Steps", description="0: the model's own", default=0, min=0, max=1000, soft_max=200
    )
    guidance: FloatProperty(
        name="Guidance",
        description="0: the model's own",
        default=0.0,
        min=0.0,
        max=100.0,
        soft_max=20.0,
    )
    output_dir: StringProperty(
        name="Output folder",
        description="Where stems are written (empty: the preferences' default)",
        subtype="DIR_PATH",
    )
    convention: EnumProperty(
        name="Format",
        items=[
            ("ambix", "AmbiX", "ACN/SN3D (what Blender, YouTube and IEM tools expect)"),
            ("fuma", "FuMa", "Legacy B-format, labelled in the file"),
        ],
        default="ambix",
    )
    job_id: StringProperty(options={"SKIP_SAVE"})
    job_source: StringProperty(options={"SKIP_SAVE"})  # the strip the job was made for
    job_kind: StringProperty(default="generate", options={"SKIP_SAVE"})  # regenerate, batch
    job_seed: IntProperty(options={"SKIP_SAVE"})
    job_state: StringProperty(default="idle", options={"SKIP_SAVE"})
    job_percent: FloatProperty(default=0.0, min=0.0, max=100.0, subtype="PERCENTAGE")
    job_message: StringProperty(options={"SKIP_SAVE"})
    job_failures: StringProperty(options={"SKIP_SAVE"})  # a batch's: one line per strip
    job_path_keys: IntProperty(options={"SKIP_SAVE"})  # keys of the direction path sent
    suggest_surround: BoolProperty(default=False, options={"SKIP_SAVE"})
    # Saved with the .blend (SKIP_SAVE does not apply to scene data): after a reopen, the
    # load handler (reopen.py) resumes or fails what was in progress.
    job_ticket: StringProperty()  # the worker submitting the job (job_state "starting")
    job_reopened: BoolProperty(default=False)  # followed since the file was reopened
    reaper_state: StringProperty()  # "waiting" while the stems go to REAPER
    reaper_ticket: StringProperty()  # the worker handing them over


def register() -> None:
    bpy.utils.register_class(OmnifoaSceneSettings)
    bpy.types.Scene.omnifoa = PointerProperty(type=OmnifoaSceneSettings)
    for name, prop in STRIP_PROPERTIES.items():
        setattr(bpy.types.Strip, name, prop)


def unregister() -> None:
    for name in STRIP_PROPERTIES:
        delattr(bpy.types.Strip, name)
    del bpy.types.Scene.omnifoa
    bpy.utils.unregister_class(OmnifoaSceneSettings)
