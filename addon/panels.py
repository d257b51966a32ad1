"""The "LMM" tab of the 3D viewport's sidebar (N panel): one panel per job, all acting on the active armature.

Panels show the scene's settings (``Scene.lmm``) and copy them into the operator they run, so the values
shown are the values used and the redo panel can change them afterwards.
"""
from __future__ import annotations

import bpy


def _armature(context):
    obj = context.active_object
    return obj if obj is not None and obj.type == "ARMATURE" else None


def _button(layout, idname: str, settings, names: tuple[str, ...], text: str | None = None, icon: str = "NONE",
            **fixed):
    """An operator button whose properties are the scene settings ``names`` (same names), plus ``fixed``."""
    op = layout.operator(idname, text=text, icon=icon) if text else layout.operator(idname, icon=icon)
    for name in names:
        setattr(op, name, getattr(settings, name))
    for name, value in fixed.items():
        setattr(op, name, value)
    return op


class _LMMPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "LMM"


class VIEW3D_PT_lmm(_LMMPanel, bpy.types.Panel):
    """Motion files in and out, for the active armature."""

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


def _needs_armature(layout, context) -> bool:
    if _armature(context) is None:
        layout.label(text="Select an armature", icon="INFO")
        return True
    return False


def _range(layout, settings, prefix: str) -> dict:
    """Draw a panel's own Custom Range (``<prefix>_use_range``, ``_start``, ``_end``); returns the operator
    properties it stands for."""
    row = layout.row(align=True)
    row.prop(settings, f"{prefix}_use_range")
    sub = row.row(align=True)
    sub.active = getattr(settings, f"{prefix}_use_range")
    sub.prop(settings, f"{prefix}_start")
    sub.prop(settings, f"{prefix}_end")
    return {"use_range": getattr(settings, f"{prefix}_use_range"), "frame_start": getattr(settings, f"{prefix}_start"),
            "frame_end": getattr(settings, f"{prefix}_end")}


class VIEW3D_PT_lmm_animate(_LMMPanel, bpy.types.Panel):
    """In-between keyed poses and extend the action."""

    bl_label = "In-between"

    def draw(self, context):
        layout, settings = self.layout, context.scene.lmm
        if _needs_armature(layout, context):
            return
        frames = _range(layout, settings, "inbetween")
        col = layout.column(align=True)
        row = col.row(align=True)
        row.prop(settings, "key_tolerance")
        row.prop(settings, "key_every_frame", toggle=True)
        row = col.row(align=True)
        row.prop(settings, "selected_only", toggle=True)
        row.prop(settings, "preview", toggle=True)
        row = col.row(align=True)
        row.prop(settings, "draw_seed")
        row.prop(settings, "draw_variation")
        row = layout.row(align=True)
        row.prop(settings, "inbetween_method")
        sub = row.row(align=True)
        # The rollouts are the next-frame in-betweener's: Window Network, and Auto with a Model File set in
        # Preferences (that model then makes every gap), do not use them.
        from . import preferences  # light: bpy only

        named = bool(preferences.get(context).model_path.strip())
        sub.active = settings.inbetween_method == "NEXT_FRAME" or (settings.inbetween_method == "AUTO" and not named)
        sub.prop(settings, "inbetween_rollouts")
        keys = _key_settings(settings)
        _button(layout, "lmm.inbetween", settings, (), icon="IPO_BEZIER", method=settings.inbetween_method,
                rollouts=settings.inbetween_rollouts, **frames, **keys)
        row = layout.row(align=True)
        row.prop(settings, "extend_frames")
        _button(row, "lmm.extend", settings, (), icon="FF", frames=settings.extend_frames, **keys)
        _trial(layout, context)


def _key_settings(settings) -> dict:
    """In-between's and Extend's key, preview and draw settings, by their operator property names."""
    return {"tolerance": settings.key_tolerance, "every_frame": settings.key_every_frame,
            "selected_only": settings.selected_only, "preview": settings.preview, "seed": settings.draw_seed,
            "variation": settings.draw_variation}


def _trial(layout, context) -> None:
    """Apply / Discard / Re-roll when the active rig has a result on trial."""
    from . import proposal  # light: bpy only

    trial = proposal.pending(_armature(context))
    if trial is None:
        return
    box = layout.box()
    box.label(text=f"Preview: {trial.trial}", icon="HIDE_OFF")
    row = box.row(align=True)
    row.operator("lmm.preview_apply", icon="CHECKMARK")
    row.operator("lmm.preview_discard", icon="X")
    if "seed" in trial.arguments:
        row.operator("lmm.preview_reroll", icon="FILE_REFRESH")


def _placement(layout, settings) -> None:
    """Where Generate and Retarget start (the current frame, where the character stands) and the scene range."""
    row = layout.row(align=True)
    row.prop(settings, "from_character", toggle=True)
    row.prop(settings, "fit_scene", toggle=True)


class VIEW3D_PT_lmm_generate(_LMMPanel, bpy.types.Panel):
    """New motion from the model: action, style, length, seed, variation."""

    bl_label = "Generate"

    def draw(self, context):
        layout, settings = self.layout, context.scene.lmm
        if _needs_armature(layout, context):
            return
        col = layout.column()
        col.prop(settings, "generate_method")  # first: the actions and styles listed are the method's
        col.prop(settings, "action")
        col.prop(settings, "style")
        walk = settings.generate_method == "NEXT_FRAME"
        sub = col.row()
        sub.enabled = walk
        sub.prop(settings, "walk_to_cursor")
        sec = col.row()
        sec.enabled = not (walk and settings.walk_to_cursor)  # the walk lasts as long as it takes
        sec.prop(settings, "seconds")
        row = col.row(align=True)
        row.prop(settings, "seed")
        row.prop(settings, "variation")
        _placement(col, settings)
        action = settings.action if settings.action != "NONE" else ""
        style = settings.style if settings.style not in ("NONE", "ANY") else ""
        if not action:
            # Segments need the Preferences model and its segments file; Next Frame only the shipped generator.
            col.label(text="The shipped next-frame generator did not load: reinstall the extension" if walk else
                      "No recorded segments: check Model File in Preferences, or use Method Next Frame", icon="ERROR")
        col.prop(settings, "preview", toggle=True)
        _button(col, "lmm.generate", settings, ("seconds", "seed", "variation", "fit_scene", "from_character",
                                                "preview"), icon="PLAY", action=action, style=style,
                method=settings.generate_method, walk_to_cursor=walk and settings.walk_to_cursor)
        _trial(layout, context)


class LMM_UL_bone_map(bpy.types.UIList):
    """One row per canonical joint: the joint, and the rig bone that plays it (editable)."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        obj = data.id_data
        row = layout.row(align=True)
        split = row.split(factor=0.4)
        warn = item.bone and item.confidence < 0.7
        split.label(text=item.joint.replace("_", " "), icon="ERROR" if warn else "BONE_DATA")
        split.prop_search(item, "bone", obj.data, "bones", text="")
        if item.control:  # a control rig: the control the keys go on
            row.label(text=item.control, icon="CON_ARMATURE")


class VIEW3D_PT_lmm_retarget(_LMMPanel, bpy.types.Panel):
    """Motion from another armature or a BVH file onto the active armature, through its bone map."""

    bl_label = "Retarget"

    def draw(self, context):
        layout, settings = self.layout, context.scene.lmm
        if _needs_armature(layout, context):
            return
        col = layout.column()
        col.prop(settings, "source_kind", expand=True)
        if settings.source_kind == "ARMATURE":
            col.prop(settings, "source_object")
            source = settings.source_object.name if settings.source_object else ""
            fixed = {"source": source, "filepath": ""}
        else:
            col.prop(settings, "source_file")
            fixed = {"source": "", "filepath": settings.source_file}
        row = col.row(align=True)
        row.prop(settings, "root_motion", text="")
        row.prop(settings, "fix_feet")
        _placement(col, settings)
        _button(col, "lmm.retarget", settings, ("root_motion", "fix_feet", "fit_scene", "from_character"),
                icon="ARMATURE_DATA", **fixed)


class VIEW3D_PT_lmm_bone_map(_LMMPanel, bpy.types.Panel):
    """The active armature's bone map: which of its bones play LMM's body joints, for every operator."""

    bl_label = "Bone Map"

    def draw(self, context):
        layout, settings = self.layout, context.scene.lmm
        if _needs_armature(layout, context):
            return
        obj = _armature(context)
        row = layout.row(align=True)
        row.prop(settings, "rig_preset", text="")
        row.operator("lmm.map_detect", text="Detect", icon="VIEWZOOM").preset = settings.rig_preset
        if len(obj.lmm_map.rows):
            layout.template_list("LMM_UL_bone_map", "", obj.lmm_map, "rows", obj.lmm_map, "index", rows=6)
            row = layout.row(align=True)
            row.prop(settings, "preset_name", text="")
            row.operator("lmm.map_save", icon="FILE_TICK").name = settings.preset_name
        else:
            layout.label(text="Detected when needed; press Detect to see and fix it")


class VIEW3D_PT_lmm_cleanup(_LMMPanel, bpy.types.Panel):
    """Mirror and clean up the active armature's action."""

    bl_label = "Mirror and Clean Up"

    def draw(self, context):
        layout, settings = self.layout, context.scene.lmm
        if _needs_armature(layout, context):
            return
        frames = _range(layout, settings, "cleanup")
        _button(layout, "lmm.mirror", settings, (), icon="MOD_MIRROR", **frames)
        col = layout.column(heading="Clean Up")
        col.prop(settings, "lock_feet")
        col.prop(settings, "clamp_limits")
        col.prop(settings, "add_constraints")
        row = col.row(align=True)
        row.prop(settings, "selected_only", toggle=True)
        row.prop(settings, "preview", toggle=True)
        _button(layout, "lmm.clean_up", settings, ("lock_feet", "clamp_limits", "add_constraints", "selected_only",
                                                   "preview"),
                icon="BRUSH_DATA", **frames)


class VIEW3D_PT_lmm_export(_LMMPanel, bpy.types.Panel):
    """One baked clip for a game engine."""

    bl_label = "Export for Engine"

    def draw(self, context):
        layout, settings = self.layout, context.scene.lmm
        if _needs_armature(layout, context):
            return
        layout.prop(settings, "export_preset")
        _button(layout, "lmm.export_engine", settings, (), icon="EXPORT", preset=settings.export_preset)


CLASSES = (  # panels show in this order: the bone map first, since every operator uses it
    VIEW3D_PT_lmm, LMM_UL_bone_map, VIEW3D_PT_lmm_bone_map, VIEW3D_PT_lmm_animate, VIEW3D_PT_lmm_generate,
    VIEW3D_PT_lmm_retarget, VIEW3D_PT_lmm_cleanup, VIEW3D_PT_lmm_export,
)
