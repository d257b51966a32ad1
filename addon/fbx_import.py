"""FBX files through Blender's own importer: the objects a file holds, or the animation of its armature.

``import_objects`` leaves what it imported in the scene (a batch task's character); ``read_motion`` reads
the armature's animation and removes everything it imported again (a retarget source, a batch task's input).
"""
from __future__ import annotations

import os
from typing import Callable

import bpy

from . import bridge
from ._core import LMMError, Motion

# The data an FBX import can add, all removed again by ``read_motion``.
_IMPORTED_KINDS = ("objects", "armatures", "actions", "meshes", "materials", "images", "collections", "cameras",
                   "lights")


def import_objects(path: str) -> list[bpy.types.Object]:
    """The objects Blender's FBX importer adds for ``path``; an ``LMMError`` when the file is missing or the
    importer fails."""
    if not os.path.isfile(path):
        raise LMMError(f"{path}: file not found; check the path")
    before = set(bpy.data.objects.keys())
    try:
        bpy.ops.import_scene.fbx(filepath=path)
    except RuntimeError as exc:
        raise LMMError(f"{path}: Blender's FBX importer failed ({' '.join(str(exc).split())})") from None
    return [bpy.data.objects[n] for n in set(bpy.data.objects.keys()) - before]


def read_motion(context: bpy.types.Context, path: str, progress: Callable[[float], None] | None = None) -> Motion:
    """The animation of the armature with the most bones in the FBX file ``path``, in metres, Y up (the
    motion world of ``lmm_core``), over its action's frames.

    The file is imported and everything it added is removed again: the scene is left as it was (objects,
    selection, frame rate and range, current frame).
    """
    scene, layer = context.scene, context.view_layer
    before = {kind: set(getattr(bpy.data, kind).keys()) for kind in _IMPORTED_KINDS}
    saved = (scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end, scene.frame_current)
    selected = [o for o in layer.objects if o.select_get()]
    active = layer.objects.active
    try:
        armatures = [o for o in import_objects(path) if o.type == "ARMATURE"]
        if not armatures:
            raise LMMError(f"{path} holds no armature; retarget from a file with a skeleton")
        source = max(armatures, key=lambda o: len(o.data.bones))
        return bridge.motion_from_armature(source, scale=bridge.blender_scale("m", scene), units="m",
                                           progress=progress)
    finally:
        made = [getattr(bpy.data, kind)[n] for kind in _IMPORTED_KINDS
                for n in set(getattr(bpy.data, kind).keys()) - before[kind]]
        bpy.data.batch_remove(made)
        scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end = saved[:4]
        scene.frame_set(saved[4])
        for o in layer.objects:
            o.select_set(o in selected)
        layer.objects.active = active
