"""Rigs built in the test, the way other tools make them, and ground truth read straight from Blender.

Nothing here uses ``addon.bridge``: these rigs and readings are what the bridge is checked against.

- ``MIXAMO_STYLE``: ``mixamorig:`` names, centimetre bones, and (set by ``make_rig``'s ``transform``) the
  object turned 90 degrees about X and scaled 0.01, as an FBX import from Mixamo arrives.
- ``RIGIFY_STYLE``: Blender metarig names (``spine.001``, ``thigh.L``), connected chains, rolled bones and
  Euler rotation modes.

``fcurves_of`` and ``select_bone`` read an action and select bones the same way in Blender 4.2 and 5.0.

It also builds and installs the extension once per test process (``installed_extension``), so every
``test_addon_*`` module runs against the same installed copy.
"""
from __future__ import annotations

import atexit
import functools
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import bpy
import numpy as np
from mathutils import Euler, Matrix, Quaternion, Vector

# (name, parent, head, tail, roll in degrees, connected)
RigSpec = list[tuple[str, str | None, tuple[float, float, float], tuple[float, float, float], float, bool]]

_MIXAMO_Z_UP: RigSpec = [
    ("mixamorig:Hips", None, (0, 0, 100), (0, 0, 110), 0, False),
    ("mixamorig:Spine", "mixamorig:Hips", (0, 0, 110), (0, 1, 122), 0, True),
    ("mixamorig:Spine1", "mixamorig:Spine", (0, 1, 122), (0, 0, 135), 5, True),
    ("mixamorig:Neck", "mixamorig:Spine1", (0, 0, 148), (0, -1, 156), 0, False),
    ("mixamorig:Head", "mixamorig:Neck", (0, -1, 156), (0, -1, 172), 0, True),
    ("mixamorig:LeftArm", "mixamorig:Spine1", (16, 0, 142), (42, 2, 141), 30, False),
    ("mixamorig:LeftForeArm", "mixamorig:LeftArm", (42, 2, 141), (66, 0, 140), -20, True),
    ("mixamorig:RightArm", "mixamorig:Spine1", (-16, 0, 142), (-42, 2, 141), -30, False),
    ("mixamorig:RightForeArm", "mixamorig:RightArm", (-42, 2, 141), (-66, 0, 140), 20, True),
    ("mixamorig:LeftUpLeg", "mixamorig:Hips", (9, 0, 95), (9, 1, 52), 0, False),
    ("mixamorig:LeftLeg", "mixamorig:LeftUpLeg", (9, 1, 52), (9, 3, 9), 0, True),
    ("mixamorig:LeftFoot", "mixamorig:LeftLeg", (9, 3, 9), (9, -12, 2), 0, True),
    ("mixamorig:RightUpLeg", "mixamorig:Hips", (-9, 0, 95), (-9, 1, 52), 0, False),
    ("mixamorig:RightLeg", "mixamorig:RightUpLeg", (-9, 1, 52), (-9, 3, 9), 0, True),
    ("mixamorig:RightFoot", "mixamorig:RightLeg", (-9, 3, 9), (-9, -12, 2), 0, True),
]



def _to_y_up(spec: RigSpec) -> RigSpec:
    """Z-up armature coordinates (easy to read) as Y-up ones (what an FBX from Mixamo holds)."""
    return [(n, p, (h[0], h[2], -h[1]), (t[0], t[2], -t[1]), r, c) for n, p, h, t, r, c in spec]


MIXAMO_STYLE: RigSpec = _to_y_up(_MIXAMO_Z_UP)

RIGIFY_STYLE: RigSpec = [
    ("spine", None, (0, 0.05, 1.0), (0, 0.04, 1.12), 0, False),
    ("spine.001", "spine", (0, 0.04, 1.12), (0, 0.03, 1.25), 0, True),
    ("spine.002", "spine.001", (0, 0.03, 1.25), (0, 0.04, 1.38), 0, True),
    ("spine.004", "spine.002", (0, 0.04, 1.38), (0, 0.02, 1.52), 0, True),
    ("spine.006", "spine.004", (0, 0.02, 1.52), (0, 0.02, 1.72), 0, True),
    ("upper_arm.L", "spine.002", (0.18, 0.05, 1.42), (0.45, 0.08, 1.40), 90, False),
    ("forearm.L", "upper_arm.L", (0.45, 0.08, 1.40), (0.70, 0.04, 1.39), 85, True),
    ("upper_arm.R", "spine.002", (-0.18, 0.05, 1.42), (-0.45, 0.08, 1.40), -90, False),
    ("forearm.R", "upper_arm.R", (-0.45, 0.08, 1.40), (-0.70, 0.04, 1.39), -85, True),
    ("thigh.L", "spine", (0.1, 0.02, 0.98), (0.1, -0.01, 0.53), 0, False),
    ("shin.L", "thigh.L", (0.1, -0.01, 0.53), (0.1, 0.03, 0.09), 0, True),
    ("foot.L", "shin.L", (0.1, 0.03, 0.09), (0.1, -0.12, 0.03), 0, True),
    ("thigh.R", "spine", (-0.1, 0.02, 0.98), (-0.1, -0.01, 0.53), 0, False),
    ("shin.R", "thigh.R", (-0.1, -0.01, 0.53), (-0.1, 0.03, 0.09), 0, True),
    ("foot.R", "shin.R", (-0.1, 0.03, 0.09), (-0.1, -0.12, 0.03), 0, True),
]

# Rotation modes for RIGIFY_STYLE: animators' rigs mix quaternions and Euler orders.
RIGIFY_ROTATION_MODES = {"thigh.L": "XYZ", "thigh.R": "XYZ", "shin.L": "YXZ", "forearm.L": "ZXY"}


def make_rig(
    spec: RigSpec, name: str, transform: Matrix | None = None, rotation_modes: dict[str, str] | None = None
) -> bpy.types.Object:
    """An armature object built from ``spec`` (armature-space heads and tails), linked to the scene.

    ``transform`` is the object's world matrix (identity when ``None``); ``rotation_modes`` sets pose
    bones' rotation modes by name (others stay quaternions).
    """
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for bone_name, parent, head, tail, roll, connected in spec:
        eb = data.edit_bones.new(bone_name)
        eb.head, eb.tail, eb.roll = head, tail, math.radians(roll)
        if parent is not None:
            eb.parent = data.edit_bones[parent]
            eb.use_connect = connected
    bpy.ops.object.mode_set(mode="OBJECT")
    for bone_name, mode in (rotation_modes or {}).items():
        obj.pose.bones[bone_name].rotation_mode = mode
    if transform is not None:
        obj.matrix_world = transform
    return obj


def key_random_motion(obj: bpy.types.Object, frames: range, seed: int, max_angle: float = 0.6) -> None:
    """Key random rotations on every bone and a drifting root location with ``keyframe_insert``, as an
    animator (or a script) would; each bone keeps its own rotation mode."""
    rng = np.random.default_rng(seed)
    root = obj.pose.bones[0]
    for frame in frames:
        for pb in obj.pose.bones:
            axis = Vector(rng.normal(size=3)).normalized()
            q = Quaternion(axis, float(rng.uniform(-max_angle, max_angle)))
            if pb.rotation_mode == "QUATERNION":
                pb.rotation_quaternion = q
                pb.keyframe_insert("rotation_quaternion", frame=frame)
            else:
                pb.rotation_euler = q.to_euler(pb.rotation_mode)
                pb.keyframe_insert("rotation_euler", frame=frame)
        root.location = Vector(rng.normal(scale=0.1, size=3)) * max(obj.data.bones[0].length, 1e-3)
        root.keyframe_insert("location", frame=frame)


def world_bone_points(obj: bpy.types.Object, frames: range, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Evaluated world positions of the named bones' heads and tails, each ``(T, N, 3)``, read bone by
    bone through mathutils (tails show the bones' rotations)."""
    scene = bpy.context.scene
    heads = np.empty((len(frames), len(names), 3))
    tails = np.empty_like(heads)
    for t, frame in enumerate(frames):
        scene.frame_set(frame)
        world = obj.matrix_world
        for n, name in enumerate(names):
            pb = obj.pose.bones[name]
            heads[t, n] = world @ pb.head
            tails[t, n] = world @ pb.tail
    return heads, tails


def fcurves_of(owner: bpy.types.Object | bpy.types.Action):
    """The F-curves of an object's assigned action, or of an action, in whichever layout this Blender keeps.

    Blender 4.2 and 4.3 hold them on the action (``action.fcurves``); 4.4+ in layered actions, in the
    channel bag of a slot (the object's assigned slot; for a bare action, its only slot). Returns the
    collection itself, so ``.remove`` and ``.new`` work on it; an empty tuple when there is no action or bag.
    """
    if isinstance(owner, bpy.types.Action):
        action, slot = owner, None
    else:
        anim = owner.animation_data
        action = anim.action if anim is not None else None
        slot = anim.action_slot if anim is not None and hasattr(anim, "action_slot") else None
    if action is None:
        return ()
    if not hasattr(action, "slots"):  # 4.2, 4.3
        return action.fcurves
    if slot is None:
        assert len(action.slots) <= 1, f"action {action.name!r} has {len(action.slots)} slots; pass the object"
        slot = action.slots[0] if len(action.slots) else None
    if slot is None:
        return ()
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot)
            if bag is not None:
                return bag.fcurves
    return ()


def select_bone(pose_bone: bpy.types.PoseBone, state: bool) -> None:
    """Select or deselect a bone as the animator does in pose mode: ``PoseBone.select`` in 5.0, ``Bone.select``
    in 4.2 (the pose bone has no flag of its own there)."""
    if hasattr(pose_bone, "select"):
        pose_bone.select = state
    else:
        pose_bone.bone.select = state


def mixamo_import_transform() -> Matrix:
    """The world matrix of a Mixamo FBX armature in Blender: 90 degrees about X, scale 0.01, moved."""
    turn = Euler((math.radians(90), 0, 0)).to_matrix().to_4x4()
    return Matrix.Translation((0.5, -1.0, 0.0)) @ turn @ Matrix.Scale(0.01, 4)


# ---- the built extension, installed once per test process -------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def _workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="lmm_addon_tests_"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def built_zip() -> Path:
    """``python build.py`` into a temporary build and dist folder (the working tree's stay untouched)."""
    out = _workdir()
    result = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--build-dir", str(out / "build"), "--dist-dir", str(out / "dist")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


def add_repository(directory: Path) -> str:
    """Add a local extension repository at ``directory`` to the preferences; returns its module name."""
    result = bpy.ops.preferences.extension_repo_add(
        name="LMM test", type="LOCAL", use_custom_directory=True, custom_directory=str(directory)
    )
    assert result == {"FINISHED"}
    return next(r.module for r in bpy.context.preferences.extensions.repos if Path(r.directory) == directory)


@functools.cache
def installed_extension() -> tuple[Path, str]:
    """The zip installed by ``extensions.package_install_files`` into a throwaway local repository (the
    user's own extension folders are never touched): that folder and the add-on's module name,
    ``bl_ext.<repo>.lmm``. Factory settings forget the repository later; ``enable_extension`` brings it back."""
    directory = _workdir() / "repo"
    directory.mkdir()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    repo = add_repository(directory)
    result = bpy.ops.extensions.package_install_files(filepath=str(built_zip()), repo=repo, enable_on_install=True)
    assert result == {"FINISHED"}
    return directory, f"bl_ext.{repo}.lmm"


def enable_extension() -> str:
    """A fresh factory scene with the installed extension enabled; returns its module name."""
    import addon_utils

    directory, _ = installed_extension()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    repo = add_repository(directory)
    module = f"bl_ext.{repo}.lmm"
    addon_utils.enable(module, default_set=True)
    return module
