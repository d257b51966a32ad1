"""What the panel remembers: the scene's LMM settings and each armature's bone map list.

``Scene.lmm`` holds the values the sidebar shows before an operator runs; the panel copies them into the
operator's own properties (which the redo panel and scripts use). ``Object.lmm_map`` is an armature's
bone map as rows the user can fix (see ``mapping``).

Enum items that come from files (rig presets, export presets, the model's actions and styles) are made by
functions; Blender needs Python to keep the item strings alive, hence the module-level caches.
"""
# No "from __future__ import annotations": Blender reads property annotations as live objects.
import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)

_ITEMS: dict[str, list] = {}  # keeps dynamic enum strings referenced (Blender requires it)
_NONE = ("NONE", "(none)", "")


def _keep(key: str, items: list) -> list:
    _ITEMS[key] = items or [_NONE]
    return _ITEMS[key]


# The item functions import ``mapping``, ``engine_export`` and ``model`` when called: those load numpy and the
# core, which registering the add-on does not.


def rig_preset_items(self, context):
    from . import mapping

    try:
        return _keep("rig", mapping.preset_items())
    except Exception:  # noqa: BLE001 (drawing must never fail; the operator reports the real problem)
        return _keep("rig", [(mapping.AUTO, "Automatic", "")])


def export_preset_items(self, context):
    from . import engine_export

    try:
        return _keep("export", [(k, p.name, p.description) for k, p in engine_export.presets().items()])
    except Exception:  # noqa: BLE001
        return _keep("export", [])


def _vocabulary_items(which: int, key: str):
    def items(self, context):
        from . import model

        names = model.vocabulary(context)[which]
        return _keep(key, [(n, n.replace("_", " ").title(), n) for n in names])

    return items


action_items = _vocabulary_items(0, "action")
style_items = _vocabulary_items(1, "style")


def _is_armature(self, obj) -> bool:
    return obj.type == "ARMATURE"


# Shared by the scene settings and the operators, so both say the same.
ROOT_MOTION = (
    ("keep", "Keep", "The hips travel as in the source, scaled to this rig's legs"),
    ("in_place", "In Place", "Remove horizontal travel; turning and vertical motion are kept"),
)


class LMM_PG_map_row(bpy.types.PropertyGroup):
    joint: StringProperty(name="Joint", description="Joint of LMM's canonical body")
    bone: StringProperty(name="Bone", description="The rig's bone that plays this joint; empty: none")
    confidence: FloatProperty(name="Confidence", description="How sure the automatic mapping was", min=0.0, max=1.0)


class LMM_PG_rig_map(bpy.types.PropertyGroup):
    rows: CollectionProperty(type=LMM_PG_map_row)
    index: IntProperty(name="Row")
    source: StringProperty(name="Source", description="Where the map came from")
    extra: StringProperty(name="Extra", description="Merged, absent and shared bones of the detected map (JSON)")


class LMM_PG_settings(bpy.types.PropertyGroup):
    use_range: BoolProperty(
        name="Custom Range", description="Work on the frames below instead of the scene's frame range", default=False,
    )
    frame_start: IntProperty(name="Start", default=1)
    frame_end: IntProperty(name="End", default=250)
    extend_frames: IntProperty(name="Frames", description="How many frames to add after the last key", default=30,
                               min=1, soft_max=600)
    action: EnumProperty(name="Action", description="What the character does (the model's actions)", items=action_items)
    style: EnumProperty(name="Style", description="How the character does it (the model's styles)", items=style_items)
    seconds: FloatProperty(name="Seconds", description="Length of the new motion", default=4.0, min=0.1, soft_max=60.0)
    seed: IntProperty(name="Seed", description="Another seed gives another take", default=0, min=0)
    variation: FloatProperty(name="Variation", description="The chance at each join of switching to another recorded segment of the action rather than repeating one (0 to 1)", default=0.5, min=0.0,
                             max=1.0, subtype="FACTOR")
    source_kind: EnumProperty(
        name="From",
        items=(("ARMATURE", "Armature", "Another armature in the scene"), ("FILE", "File", "A BVH or FBX file")),
        default="ARMATURE",
    )
    source_object: PointerProperty(name="Source", type=bpy.types.Object, poll=_is_armature,
                                   description="The armature whose animation is copied")
    source_file: StringProperty(name="File", subtype="FILE_PATH", description="The BVH or FBX file to retarget")
    rig_preset: EnumProperty(name="Preset", description="How Detect maps the selected rig", items=rig_preset_items)
    preset_name: StringProperty(name="Name", description="Name of the rig preset to save", default="my_rig")
    root_motion: EnumProperty(name="Root Motion", items=ROOT_MOTION, default="keep")
    fix_feet: BoolProperty(name="Pin Feet", description="Keep feet still while they touch the ground", default=True)
    lock_feet: BoolProperty(name="Lock Feet", description="Hold feet still while they touch the ground", default=True)
    clamp_limits: BoolProperty(name="Joint Limits", description="Move joints back inside human limits", default=True)
    add_constraints: BoolProperty(name="Limit Rotation Constraints",
                                  description="Also add Limit Rotation constraints from the learned joint limits",
                                  default=False)
    export_preset: EnumProperty(name="Engine", description="Export settings for a game engine",
                                items=export_preset_items)


CLASSES = (LMM_PG_map_row, LMM_PG_rig_map, LMM_PG_settings)


def register() -> None:
    bpy.types.Scene.lmm = PointerProperty(type=LMM_PG_settings)
    bpy.types.Object.lmm_map = PointerProperty(type=LMM_PG_rig_map)


def unregister() -> None:
    del bpy.types.Object.lmm_map
    del bpy.types.Scene.lmm
