"""Actions and their F-curves in both of Blender's layouts: 4.2 and 4.3 keep F-curves on the action, 4.4+ in
layered actions (slot -> layer -> keyframe strip -> channel bag; 5.0 removed ``Action.fcurves``).

``new_action`` makes an action for a rig and ``assigned_fcurves`` finds the one it has; ``fill_fcurve`` and
``add_keys`` key F-curves in bulk, linear.
"""
from __future__ import annotations

import functools

import bpy
import numpy as np
from bpy_extras import anim_utils


def new_action(obj: bpy.types.Object, name: str):
    """A new action named ``name`` assigned to ``obj`` (the action it had is kept, ``keep_action``), and a
    function ``new(data_path, index, group)`` that adds an F-curve to it."""
    action = bpy.data.actions.new(name)
    anim = obj.animation_data or obj.animation_data_create()
    keep_action(anim.action)
    anim.action = action
    if hasattr(action, "slots"):
        slot = action.slots.new(id_type="OBJECT", name=obj.name)
        anim.action_slot = slot
        bag = action.layers.new("Layer").strips.new(type="KEYFRAME").channelbag(slot, ensure=True)
        groups: dict[str, bpy.types.ActionGroup] = {}

        def new(data_path: str, index: int, group: str) -> bpy.types.FCurve:
            fcurve = bag.fcurves.new(data_path, index=index)
            if group not in groups:
                groups[group] = bag.groups.new(group)
            fcurve.group = groups[group]
            return fcurve
    else:

        def new(data_path: str, index: int, group: str) -> bpy.types.FCurve:
            return action.fcurves.new(data_path, index=index, action_group=group)

    return action, new


def keep_action(action: bpy.types.Action | None) -> None:
    """Give ``action`` a fake user when it is about to lose its last real one.

    Operators that assign a new action to a rig (generate, retarget, mirror, clean up) would otherwise
    leave the animator's previous action with no users, and Blender drops such data when the file is
    saved.
    """
    if action is not None and not action.use_fake_user and action.users <= 1:
        action.use_fake_user = True


def assigned_fcurves(obj: bpy.types.Object, create: bool = False):
    """The F-curves of ``obj``'s assigned action and a function ``new(data_path, index, group)`` adding one.

    Blender 4.4+: the channel bag of the object's action slot (made, with a slot, when ``create``);
    4.2 and 4.3: ``action.fcurves``. ``(None, None)`` when there is nothing to read.
    """
    anim = obj.animation_data
    action = anim.action if anim is not None else None
    if action is None:
        return None, None
    if not hasattr(action, "slots"):
        fcurves = action.fcurves

        def new_legacy(data_path: str, index: int, group: str) -> bpy.types.FCurve:
            return fcurves.new(data_path, index=index, action_group=group)

        return fcurves, new_legacy
    slot = anim.action_slot
    if slot is None:
        if not create:
            return None, None
        slot = action.slots.new(id_type="OBJECT", name=obj.name)
        anim.action_slot = slot
    bag = (anim_utils.action_ensure_channelbag_for_slot if create else anim_utils.action_get_channelbag_for_slot)(action, slot)
    if bag is None:
        return None, None

    def new(data_path: str, index: int, group: str) -> bpy.types.FCurve:
        fcurve = bag.fcurves.new(data_path, index=index)
        found = next((g for g in bag.groups if g.name == group), None)
        fcurve.group = found or bag.groups.new(group)
        return fcurve

    return bag.fcurves, new


def key_times(fcurve: bpy.types.FCurve) -> np.ndarray:
    """The frames ``(N,)`` of the curve's keys, in its own order."""
    points = fcurve.keyframe_points
    co = np.empty(2 * len(points), dtype=np.float32)
    points.foreach_get("co", co)
    return co[0::2].astype(np.float64)


@functools.cache
def _linear() -> int:
    """The integer value of the keyframe interpolation ``'LINEAR'`` (bulk writes take enum values)."""
    return bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value


def fill_fcurve(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Key ``values (T,)`` at ``frames (T,)`` in bulk, linear interpolation (one key per frame, so
    Bezier handles would only add overshoot between frames)."""
    n = len(frames)
    co = np.empty(2 * n, dtype=np.float32)
    co[0::2], co[1::2] = frames, values
    points = fcurve.keyframe_points
    points.add(n)
    points.foreach_set("co", co)
    points.foreach_set("interpolation", np.full(n, _linear(), dtype=np.int32))
    fcurve.update()


def add_keys(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Add linear keys ``values (N,)`` at ``frames (N,)`` to a curve in bulk; its own keys stay as they are
    (``update`` sorts the points and recomputes automatic handles)."""
    points = fcurve.keyframe_points
    old, n = len(points), len(frames)
    points.add(n)
    co = np.empty(2 * (old + n), dtype=np.float32)
    points.foreach_get("co", co)
    co[2 * old::2], co[2 * old + 1::2] = frames, values
    points.foreach_set("co", co)
    interpolation = np.empty(old + n, dtype=np.int32)
    points.foreach_get("interpolation", interpolation)
    interpolation[old:] = _linear()
    points.foreach_set("interpolation", interpolation)
    fcurve.update()
