"""Skinned meshes from ``lmm_core.mannequin`` on armatures built by ``bridge.create_armature``.

``add_mannequin`` builds the built-in mannequin (canonical body) as an armature with a mesh parented to it:
vertex groups named after the bones, an Armature modifier, smooth shading and three materials (body,
left side, right side) that Workbench and EEVEE show alike. ``add_skinned_mesh`` does the same for any
``SkinnedMesh`` on an existing armature (a BVH rig dressed in capsules).
"""
from __future__ import annotations

import bpy
import numpy as np

from . import bridge
from ._core import Skeleton, canonical
from ._core import mannequin as mannequin_data

_PART_COLOURS = {  # linear RGBA: a neutral grey body, the left side a cool tint, the right a warm one
    "body": (0.62, 0.62, 0.60, 1.0),
    "left": (0.42, 0.52, 0.70, 1.0),
    "right": (0.72, 0.50, 0.38, 1.0),
}


def material(name: str, colour: tuple[float, float, float, float], roughness: float = 0.6) -> bpy.types.Material:
    """A material of one colour for Workbench (``diffuse_color``) and EEVEE (the Principled BSDF's base
    colour) alike; an existing one of that name is reused."""
    mat = bpy.data.materials.get(name) or bpy.data.materials.new(name)
    mat.diffuse_color = colour
    mat.roughness = roughness
    tree = mat.node_tree  # Blender 5 gives every new material a Principled BSDF node tree
    bsdf = next((n for n in tree.nodes if n.type == "BSDF_PRINCIPLED"), None) if tree else None
    if bsdf is not None:
        bsdf.inputs["Base Color"].default_value = colour
        bsdf.inputs["Roughness"].default_value = roughness
    return mat


def _materials(prefix: str) -> list[bpy.types.Material]:
    return [material(f"{prefix} {part}", colour) for part, colour in _PART_COLOURS.items()]


def add_skinned_mesh(armature: bpy.types.Object, mesh_data, skeleton: Skeleton, *, scale: float,
                     name: str = "Body", material_prefix: str = "LMM") -> bpy.types.Object:
    """A mesh object for ``mesh_data`` (an ``lmm_core.mannequin.SkinnedMesh`` in ``skeleton``'s world frame
    and units at rest), parented to ``armature`` and deformed by it."""
    axes = bridge.to_blender_axes(skeleton.up_axis)
    verts = mesh_data.vertices @ axes.T * scale
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts.tolist(), [], [tuple(f) for f in mesh_data.faces])
    mesh.update()
    for mat in _materials(material_prefix):
        mesh.materials.append(mat)
    mesh.polygons.foreach_set("material_index", np.asarray(mesh_data.face_parts, dtype=np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))
    obj = bpy.data.objects.new(name, mesh)
    for collection in armature.users_collection:
        collection.objects.link(obj)
    weights = np.asarray(mesh_data.weights)
    for j, bone in enumerate(mesh_data.bone_names):
        column = weights[:, j]
        used = np.flatnonzero(column > 1e-6)
        if not len(used):
            continue
        group = obj.vertex_groups.new(name=bone)
        values = np.round(column[used], 6)
        for value in np.unique(values):
            group.add(used[values == value].tolist(), float(value), "REPLACE")
    obj.parent = armature
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature
    return obj


def add_mannequin(name: str = "Mannequin", scene: bpy.types.Scene | None = None) -> tuple[bpy.types.Object, bpy.types.Object]:
    """The built-in mannequin in its rest T-pose at the origin, true size: ``(armature, mesh)``."""
    scene = scene or bpy.context.scene
    skeleton = canonical.canonical_skeleton()
    scale = bridge.blender_scale("m", scene)
    armature = bridge.create_armature(skeleton, scale=scale, name=name)
    body = add_skinned_mesh(armature, mannequin_data.mannequin(), skeleton, scale=scale, name=f"{name}Body")
    return armature, body
