"""The add-on's operators: each is a few lines that call ``lmm_core`` through ``bridge``.

``bridge`` (numpy, the core) is imported inside ``execute``, as Blender's own importers do, so enabling the
add-on stays instant. Every operator can be undone, shows window-manager progress while it works, and
turns an ``LMMError`` (a bad file, nothing selected, ...) into one reported sentence, not a traceback.
"""
# No "from __future__ import annotations": Blender reads property annotations as live objects.
from pathlib import Path
from typing import Callable

import bpy
from bpy.props import EnumProperty, FloatProperty, StringProperty, BoolProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

_BVH_GLOB = "*.bvh;*.bvh.gz;*.bvh.xz"

_UNITS = (
    ("m", "Metres", "Lengths in the file are metres"),
    ("cm", "Centimetres", "Lengths in the file are centimetres (LAFAN1, Bandai, Mixamo)"),
    ("mm", "Millimetres", "Lengths in the file are millimetres"),
    ("in", "Inches", "Lengths in the file are inches"),
)

_ORDERS = tuple((o, o.upper(), f"Rotation channels {o.upper()} on every joint") for o in ("zyx", "xyz", "yxz", "yzx", "zxy", "xzy"))


def _run(op: bpy.types.Operator, context: bpy.types.Context, work: Callable[[Callable[[float], None]], str]) -> set[str]:
    """Run ``work(progress)`` with window-manager progress (0 to 1) and report its result sentence.

    An ``LMMError`` is the user's problem and becomes one ``ERROR`` report and ``CANCELLED``; any other
    exception is a bug and propagates with its traceback.
    """
    from ._core import LMMError

    wm = context.window_manager
    wm.progress_begin(0.0, 1.0)
    try:
        message = work(wm.progress_update)
    except LMMError as exc:
        op.report({"ERROR"}, str(exc))
        return {"CANCELLED"}
    finally:
        wm.progress_end()
    op.report({"INFO"}, message)
    return {"FINISHED"}


def selected_armature(context: bpy.types.Context) -> bpy.types.Object:
    """The active object if it is an armature, else the one selected armature; an ``LMMError`` otherwise."""
    from ._core import LMMError

    obj = context.active_object
    if obj is not None and obj.type == "ARMATURE":
        return obj
    armatures = [o for o in context.selected_objects if o.type == "ARMATURE"]
    if len(armatures) == 1:
        return armatures[0]
    if armatures:
        raise LMMError("several armatures are selected; click the one to use so that it is the active object")
    raise LMMError("no armature selected; select the character's armature in the viewport and try again")


def _motion_name(filepath: str) -> str:
    """``walk_01`` from ``/data/walk_01.bvh.xz``."""
    name = Path(filepath).name
    for suffix in (".gz", ".xz", ".bvh"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or "Motion"


class LMM_OT_import_bvh(bpy.types.Operator, ImportHelper):
    """Import a BVH motion file as a new armature with its action"""

    bl_idname = "lmm.import_bvh"
    bl_label = "Import BVH"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".bvh"
    filter_glob: StringProperty(default=_BVH_GLOB, options={"HIDDEN"})
    units: EnumProperty(
        name="File Units",
        items=(("AUTO", "Automatic", "Guess the file's units from the performer's height"),) + _UNITS,
        default="AUTO",
    )
    scale: FloatProperty(
        name="Scale", description="Extra factor on lengths after converting the file's units to metres",
        default=1.0, min=1e-6, soft_min=0.001, soft_max=1000.0,
    )
    update_scene: BoolProperty(
        name="Update Scene", description="Set the scene's frame rate and frame range to the motion's", default=True,
    )

    def execute(self, context):
        from . import bridge
        from ._core import read_bvh

        def work(progress):
            scene = context.scene
            motion = read_bvh(self.filepath, units=None if self.units == "AUTO" else self.units)
            progress(0.05)
            scale = bridge.blender_scale(motion.skeleton.units, scene) * self.scale
            obj = bridge.armature_from_motion(
                motion, scale=scale, name=_motion_name(self.filepath), frame_start=scene.frame_start, progress=progress
            )
            if self.update_scene:  # only once the import has worked: a cancelled operator is not undone
                bridge.fit_scene_to_motion(scene, motion, scene.frame_start)
            note = ""
            if abs(bridge.scene_fps(scene) - motion.fps) > 1e-6 * motion.fps:
                note = f"; the scene runs at {bridge.scene_fps(scene):g} fps, so it plays at another speed"
            return (f"Imported {obj.name!r}: {motion.skeleton.num_joints} bones, {motion.num_frames} frames "
                    f"at {motion.fps:g} fps, units {motion.skeleton.units}{note}")

        return _run(self, context, work)


class LMM_OT_export_bvh(bpy.types.Operator, ExportHelper):
    """Export the selected armature's animation to a BVH motion file"""

    bl_idname = "lmm.export_bvh"
    bl_label = "Export BVH"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".bvh"
    filter_glob: StringProperty(default=_BVH_GLOB, options={"HIDDEN"})
    units: EnumProperty(name="File Units", items=_UNITS, default="m")
    rotation_order: EnumProperty(name="Rotation Order", items=_ORDERS, default="zyx")
    frame_range: EnumProperty(
        name="Frames",
        items=(
            ("ACTION", "Action", "The frames of the armature's action"),
            ("SCENE", "Scene", "The scene's frame range"),
        ),
        default="ACTION",
    )

    def invoke(self, context, event):
        obj = context.active_object
        if not self.filepath and obj is not None:
            self.filepath = bpy.path.clean_name(obj.name) + self.filename_ext
        return super().invoke(context, event)

    def execute(self, context):
        from . import bridge
        from ._core import write_bvh

        def work(progress):
            scene = context.scene
            obj = selected_armature(context)
            frames = (scene.frame_start, scene.frame_end) if self.frame_range == "SCENE" else None
            motion = bridge.motion_from_armature(
                obj, scale=bridge.blender_scale(self.units, scene), units=self.units, frame_range=frames,
                progress=progress,
            )
            path = write_bvh(motion, self.filepath, order=self.rotation_order)
            return f"Exported {obj.name!r} to {path.name}: {motion.skeleton.num_joints} bones, {motion.num_frames} frames"

        return _run(self, context, work)


def menu_import(self, context):
    self.layout.operator(LMM_OT_import_bvh.bl_idname, text="Motion BVH (LMM) (.bvh)")


def menu_export(self, context):
    self.layout.operator(LMM_OT_export_bvh.bl_idname, text="Motion BVH (LMM) (.bvh)")


CLASSES = (LMM_OT_import_bvh, LMM_OT_export_bvh)
MENUS = (("TOPBAR_MT_file_import", menu_import), ("TOPBAR_MT_file_export", menu_export))
