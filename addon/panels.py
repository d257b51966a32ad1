"""The "LMM" tab of the 3D viewport's sidebar (N panel)."""
from __future__ import annotations

import bpy


class VIEW3D_PT_lmm(bpy.types.Panel):
    """Motion files in and out, for the active armature."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "LMM"
    bl_label = "Motion Files"

    def draw(self, context):
        layout = self.layout
        col = layout.column(align=True)
        col.operator("lmm.import_bvh", icon="IMPORT")
        col.operator("lmm.export_bvh", icon="EXPORT")

        obj = context.active_object
        box = layout.box()
        if obj is None or obj.type != "ARMATURE":
            box.label(text="Select an armature to export", icon="INFO")
            return
        action = obj.animation_data.action if obj.animation_data else None
        box.label(text=obj.name, icon="ARMATURE_DATA")
        if action is None:
            box.label(text="No action", icon="ACTION")
        else:
            start, end = action.frame_range
            box.label(text=f"{action.name}: frames {start:g}-{end:g}", icon="ACTION")


CLASSES = (VIEW3D_PT_lmm,)
