"""Where the bridge's two directions meet: axes, lengths, frame rate, and an armature's rest and placement.

``to_blender_axes`` is ``C`` of the package docstring (motion world -> Blender world), ``bone_axes`` is
``E`` (a bone's rest axes seen from the motion world); reading and writing both solve their rotations and
locations from ``armature_rest`` and ``world_transform``.
"""
from __future__ import annotations

from typing import Sequence

import bpy
import numpy as np

from .._core import UNITS_TO_METRES, LMMError
from .._core import rotations as R

# Y-up motion world -> Blender world: (x, y, z) -> (x, -z, y), a +90 degree turn about X.
_Y_UP_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def to_blender_axes(up_axis: str) -> np.ndarray:
    """``C`` (3x3): motion world -> Blender world, for a motion whose up axis is ``up_axis``."""
    if up_axis == "y":
        return _Y_UP_TO_BLENDER
    if up_axis == "z":
        return np.eye(3)
    raise LMMError(f"unknown up axis {up_axis!r}; use 'y' or 'z'")


def blender_scale(units: str, scene: bpy.types.Scene) -> float:
    """Blender units per one ``units`` unit (``m``, ``cm``, ...), honouring the scene's unit scale.

    Blender lengths are metres divided by ``scene.unit_settings.scale_length``.
    """
    if units not in UNITS_TO_METRES:
        raise LMMError(f"unknown units {units!r}; use one of {', '.join(UNITS_TO_METRES)}")
    scale_length = scene.unit_settings.scale_length or 1.0
    return UNITS_TO_METRES[units] / scale_length


def scene_fps(scene: bpy.types.Scene) -> float:
    """The scene's frame rate in frames per second (``fps / fps_base``, e.g. 30 / 1.001)."""
    return scene.render.fps / scene.render.fps_base


def armature_rest(obj: bpy.types.Object, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rest data of the named bones, armature space: orientations ``(N, 3, 3)`` (columns are the bone's
    X, Y, Z axes), heads ``(N, 3)`` and tails ``(N, 3)``."""
    bones = obj.data.bones
    flat = np.empty(len(bones) * 16, dtype=np.float32)
    bones.foreach_get("matrix_local", flat)
    # foreach_get yields Blender's column-major memory; transpose to row-major matrices.
    matrices = flat.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)
    index = [bones.find(n) for n in names]
    tails = np.array([bones[i].tail_local for i in index], dtype=np.float64)
    rest = matrices[index]
    return rest[:, :3, :3], rest[:, :3, 3], tails


def world_transform(obj: bpy.types.Object) -> tuple[np.ndarray, float, np.ndarray]:
    """The object's world rotation ``(3, 3)``, uniform scale and translation ``(3,)``.

    LMM keeps lengths and angles, so a non-uniform (or negative) object scale is refused.
    """
    m = np.array(obj.matrix_world, dtype=np.float64)
    lin = m[:3, :3]
    norms = np.linalg.norm(lin, axis=0)
    k = float(norms.mean())
    if k <= 0 or np.ptp(norms) > 1e-4 * k or np.linalg.det(lin) <= 0:
        raise LMMError(
            f"armature {obj.name!r} has a non-uniform or negative scale {tuple(np.round(norms, 4))}; "
            "apply it first (Object > Apply > Scale)"
        )
    return lin / k, k, m[:3, 3]


def bone_axes(obj: bpy.types.Object, names: Sequence[str], up_axis: str = "y") -> np.ndarray:
    """``E`` as quaternions ``(N, 4)``: the named bones' rest axes seen from the motion world of a motion
    read with ``up_axis`` (a joint's local rotation ``L`` is the pose rotation ``E^-1 L E``)."""
    world_rot, _, _ = world_transform(obj)
    rest_rot, _, _ = armature_rest(obj, names)
    return R.from_matrix(to_blender_axes(up_axis).T @ world_rot @ rest_rot)
