"""``Motion`` -> Blender: new armatures, new actions, keys added to an animator's action, the scene's frame rate."""
from __future__ import annotations

from typing import Callable, Iterable

import bpy
import numpy as np

from .._core import LMMError, Motion, Skeleton
from .._core import rotations as R
from . import controls as control_rigs
from .action import add_keys, assigned_fcurves, fill_fcurve, key_times, new_action
from .space import armature_rest, to_blender_axes, world_transform

Progress = Callable[[float], None]

_BLENDER_UP = np.array([0.0, 0.0, 1.0])
_BLENDER_FRONT = np.array([0.0, -1.0, 0.0])  # where a character imported from BVH faces
_MAX_BONE_NAME_BYTES = 63  # Blender truncates longer names, which would break the joint <-> bone match


def fit_scene_to_motion(scene: bpy.types.Scene, motion: Motion, frame_start: int = 1) -> None:
    """Set the scene's frame rate to the motion's and its frame range to the motion's frames."""
    whole = round(motion.fps)
    if whole >= 1 and abs(motion.fps - whole) < 1e-6 * whole:
        scene.render.fps, scene.render.fps_base = int(whole), 1.0
    else:
        # Blender stores a rate as an integer over a base: 29.97 becomes 30 / 1.001.
        top = int(np.ceil(motion.fps))
        scene.render.fps, scene.render.fps_base = top, top / motion.fps
    scene.frame_start = frame_start
    scene.frame_end = frame_start + motion.num_frames - 1


def _bone_vectors(skeleton: Skeleton) -> np.ndarray:
    """Rest head-to-tail vectors ``(J, 3)`` in motion units and motion world axes.

    A bone points at the mean of its children's heads (or its longest child where they cancel out, as
    the legs of a hip do), else at its end site. Blender deletes zero-length bones, so where neither
    gives a length (BVH joints stacked on one point are common) the bone continues its parent's
    direction, or points up for the root, with 5% of the skeleton's size.
    """
    rest = skeleton.rest_positions()
    points = [rest] + [rest[j][None] + off[None] for j, off in skeleton.end_sites.items()]
    size = float(np.ptp(np.concatenate(points), axis=0).max())
    size = size if size > 0 else 1.0
    tiny, fallback = 1e-3 * size, 0.05 * size
    up = np.zeros(3)
    up[skeleton.up_index] = 1.0
    vectors = np.zeros((skeleton.num_joints, 3))
    for j, parent in enumerate(skeleton.parents):
        kids = [skeleton.offsets[c] for c in skeleton.children(j) if np.linalg.norm(skeleton.offsets[c]) > tiny]
        end = skeleton.end_sites.get(j)
        vector = None
        if kids:
            mean = np.mean(kids, axis=0)
            vector = mean if np.linalg.norm(mean) > tiny else max(kids, key=np.linalg.norm)
        elif end is not None and np.linalg.norm(end) > tiny:
            vector = end
        if vector is None:
            direction = up if parent < 0 else vectors[parent] / np.linalg.norm(vectors[parent])
            vector = direction * fallback
        vectors[j] = vector
    return vectors


def _roll_reference(direction: np.ndarray) -> np.ndarray:
    """Where a bone's Z axis should point (Blender world): up, or to the front for near-vertical bones.

    Limbs then bend about their X axis and the spine and legs have Z to the front, which is what
    animators expect; the conversion formulas hold for any roll.
    """
    d = direction / np.linalg.norm(direction)
    return _BLENDER_FRONT if abs(float(d @ _BLENDER_UP)) > 0.9 else _BLENDER_UP


def _ensure_object_mode(context: bpy.types.Context) -> None:
    if context.object is not None and context.object.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")


def create_armature(
    skeleton: Skeleton,
    *,
    scale: float = 1.0,
    name: str = "Motion",
    collection: bpy.types.Collection | None = None,
) -> bpy.types.Object:
    """A new armature object in its rest pose for ``skeleton``; it becomes the active, selected object.

    Bones are created in joint order with the joint names; heads sit at the joints' rest positions
    (Blender world = ``C`` x motion world x ``scale``), none is connected (any joint may translate) and
    every pose bone rotates in quaternion mode. The object's transform is the identity.
    """
    long_names = [n for n in skeleton.names if len(n.encode("utf-8")) > _MAX_BONE_NAME_BYTES]
    if long_names:
        raise LMMError(
            f"joint name {long_names[0]!r} is longer than Blender allows for bone names "
            f"({_MAX_BONE_NAME_BYTES} bytes); rename the joint in the file"
        )
    context = bpy.context
    collection = collection or context.collection
    axes = to_blender_axes(skeleton.up_axis)
    heads = skeleton.rest_positions() @ axes.T * scale
    tails = heads + _bone_vectors(skeleton) @ axes.T * scale

    _ensure_object_mode(context)
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    collection.objects.link(obj)
    for other in context.selected_objects:
        other.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj

    # Bones can only be made in edit mode.
    bpy.ops.object.mode_set(mode="EDIT")
    edit_bones: list[bpy.types.EditBone] = []
    for j, bone_name in enumerate(skeleton.names):
        eb = data.edit_bones.new(bone_name)
        eb.head, eb.tail = heads[j], tails[j]
        eb.align_roll(_roll_reference(tails[j] - heads[j]))
        eb.use_connect = False
        if skeleton.parents[j] >= 0:
            eb.parent = edit_bones[skeleton.parents[j]]
        edit_bones.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    return obj


def armature_from_motion(
    motion: Motion,
    *,
    scale: float = 1.0,
    name: str = "Motion",
    frame_start: int = 1,
    collection: bpy.types.Collection | None = None,
    progress: Progress | None = None,
) -> bpy.types.Object:
    """A new armature with the motion's skeleton and a new action holding the motion.

    Args:
        motion: the motion, in any units and up axis.
        scale: Blender units per motion unit (``blender_scale(motion.skeleton.units, scene)`` puts the
            rig in true size).
        name: name of the object, armature data and action.
        frame_start: scene frame of the motion's first frame.
        collection: where the object is linked (default: the context's collection).
        progress: called with the fraction done, 0 to 1.
    """
    obj = create_armature(motion.skeleton, scale=scale, name=name, collection=collection)
    if progress:
        progress(0.1)
    write_action(obj, motion, scale=scale, frame_start=frame_start, name=name, progress=progress)
    return obj


def _rotation_curves(mode: str, basis: np.ndarray) -> tuple[str, np.ndarray]:
    """The pose bone property and its values ``(T, 4)`` or ``(T, 3)`` for rotations ``basis (T, 4)`` in
    the bone's rotation ``mode``: the animator's choice of quaternion or Euler order is kept."""
    if mode == "QUATERNION":
        return "rotation_quaternion", basis
    # Blender's extrinsic Euler mode 'XYZ' is lmm_core's intrinsic order 'zyx' (angles reversed), and
    # rotation_euler holds the angles by axis, not by order.
    order = mode[::-1].lower()
    angles = R.to_euler(basis, order)
    euler = np.empty_like(angles)
    for i, axis in enumerate(order):
        euler[:, "xyz".index(axis)] = angles[:, i]
    return "rotation_euler", np.unwrap(euler, axis=0)


def _check_bones(obj: bpy.types.Object, skeleton: Skeleton) -> None:
    """An ``LMMError`` when the rig lacks a joint's bone or its bones have other parents than the joints."""
    bones = obj.data.bones
    missing = [n for n in skeleton.names if bones.get(n) is None]
    if missing:
        raise LMMError(
            f"armature {obj.name!r} lacks bones for {len(missing)} joints of the motion "
            f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}); retarget the motion to this rig first"
        )
    index = {n: j for j, n in enumerate(skeleton.names)}
    for j, joint in enumerate(skeleton.names[1:], start=1):
        parent = bones[joint].parent
        if parent is None or index.get(parent.name, -1) != skeleton.parents[j]:
            raise LMMError(
                f"bone {joint!r} of {obj.name!r} has another parent than in the motion; "
                "retarget the motion to this rig first"
            )


def write_action(
    obj: bpy.types.Object,
    motion: Motion,
    *,
    scale: float = 1.0,
    frame_start: int = 1,
    name: str | None = None,
    progress: Progress | None = None,
) -> bpy.types.Action:
    """Key the motion on ``obj``'s bones in a new action, assigned to the object; returns the action.

    Every joint gets rotation keys in its pose bone's rotation mode (4 quaternion or 3 Euler F-curves;
    axis-angle bones are switched to quaternions), the root and joints with animated translations get
    location keys (3 F-curves), one key per motion frame, written in bulk. The joints must be bones of
    the rig with the same parents (the root's bone may have a parent outside the motion, assumed at
    rest); other bones are left alone. The action the rig had keeps a fake user if it would otherwise be
    left with none (``keep_action``), so saving the file does not drop it.

    Args:
        scale: Blender units per motion unit.
        frame_start: scene frame of the motion's first frame.
        name: the action's name (default: the object's name).
        progress: called with the fraction done, 0 to 1.
    """
    if obj is None or obj.type != "ARMATURE":
        raise LMMError("the motion can only be written to an armature object")
    sk = motion.skeleton
    rig = control_rigs.control_rig(obj)
    if control_rigs.drives(rig, sk):  # a control rig: keys on the controls that move its deforming bones
        names, basis, locations = control_rigs.pose_values(
            obj, rig, motion, scale, progress=None if progress is None else (lambda f: progress(0.8 * f)))
    else:
        names = sk.names
        basis, locations = _pose_values(obj, motion, scale)
    action, new_fcurve = new_action(obj, name or obj.name)
    frames = frame_start + np.arange(motion.num_frames, dtype=np.float64)
    if control_rigs.drives(rig, sk):
        for bone, path, value in control_rigs.switch_paths(rig):  # one key: the limbs stay in FK
            fill_fcurve(new_fcurve(path, 0, bone), frames[:1], np.array([value]))
    for j, joint in enumerate(names):
        bone_path = f'pose.bones["{bpy.utils.escape_identifier(joint)}"]'
        pose_bone = obj.pose.bones[joint]
        if pose_bone.rotation_mode == "AXIS_ANGLE":
            pose_bone.rotation_mode = "QUATERNION"
        prop, values = _rotation_curves(pose_bone.rotation_mode, basis[:, j])
        for i in range(values.shape[1]):
            fill_fcurve(new_fcurve(f"{bone_path}.{prop}", i, joint), frames, values[:, i])
        if j in locations:
            for i in range(3):
                fill_fcurve(new_fcurve(f"{bone_path}.location", i, joint), frames, locations[j][:, i])
        if progress:
            start = 0.8 if control_rigs.drives(rig, sk) else 0.1
            progress(start + (1 - start) * (j + 1) / len(names))
    return action


def _pose_values(obj: bpy.types.Object, motion: Motion, scale: float) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Pose bone values for ``motion`` on ``obj``: basis rotations ``(T, J, 4)`` (quaternions, continuous
    in time) and locations ``{joint: (T, 3)}`` for the root and the joints with animated translations."""
    sk = motion.skeleton
    _check_bones(obj, sk)
    axes = to_blender_axes(sk.up_axis)
    world_rot, world_scale, world_pos = world_transform(obj)
    rest_rot, rest_head, _ = armature_rest(obj, sk.names)

    # E = C^T R_w B: each bone's rest axes seen from the motion world; pose rotation = E^T L E.
    e = R.from_matrix(axes.T @ world_rot @ rest_rot)  # (J, 4)
    basis = R.unroll(R.mul(R.inv(e)[None], R.mul(motion.rotations, e[None])))  # (T, J, 4)

    # Locations: the motion's positions in the rig's armature space, relative to the rig's rest heads.
    local = motion.local_positions()  # (T, J, 3), motion units, parent joint frames
    to_arm = world_rot.T @ axes * (scale / world_scale)  # motion-world vectors -> armature space
    root_arm = ((local[:, 0] @ axes.T) * scale - world_pos) @ world_rot / world_scale  # (T, 3)
    locations = {0: (root_arm - rest_head[0]) @ rest_rot[0]}  # B^T (p - head), as row vectors
    if motion.translations is not None:
        moving = np.abs(local - sk.offsets).max(axis=(0, 2)) > 1e-7 * max(np.abs(sk.offsets).max(), 1e-9)
        moving[0] = False
        for j in np.flatnonzero(moving):
            delta = rest_head[j] - rest_head[sk.parents[j]]
            locations[int(j)] = (local[:, j] @ to_arm.T - delta) @ rest_rot[j]
    return basis, locations


# ---------------------------------------------------------------------------------------------------
# Keys in an existing action: add keys without touching the animator's


def _euler_twin(e: np.ndarray, mode: str) -> np.ndarray:
    """The other Euler triple (by axis, ``(..., 3)``) of the same rotation in Blender order ``mode``:
    first and last angles plus pi, the middle one pi minus itself."""
    twin = e.copy()
    first, middle, last = ("XYZ".index(a) for a in mode)
    twin[..., first] += np.pi
    twin[..., middle] = np.pi - twin[..., middle]
    twin[..., last] += np.pi
    return twin


def _nearest_equivalent(value: np.ndarray, previous: np.ndarray, mode: str) -> np.ndarray:
    """``value`` (a quaternion, or an Euler triple in ``mode``) written as the equivalent closest to
    ``previous``: the quaternion's sign; for Euler, the twin triple and whole turns."""
    if mode == "QUATERNION":
        return value if float(value @ previous) >= 0 else -value
    best = None
    for candidate in (value, _euler_twin(value, mode)):
        candidate = candidate + 2 * np.pi * np.round((previous - candidate) / (2 * np.pi))
        if best is None or np.abs(candidate - previous).sum() < np.abs(best - previous).sum():
            best = candidate
    return best


def _chain(values: np.ndarray, anchors: dict[int, np.ndarray], mode: str) -> np.ndarray:
    """``values (T, n)`` with each frame written as the equivalent nearest its neighbour, starting from
    the ``anchors`` (frame -> the value the animator's curves hold there, kept as is), forwards from each
    anchor and backwards before the first. Interpolating between an animator's key and a new key next
    to it then never spins the long way round."""
    if not anchors:
        return values
    out = values.copy()
    first = min(anchors)
    previous = None
    for t in range(first, len(values)):
        previous = anchors[t] if t in anchors else _nearest_equivalent(values[t], previous, mode)
        out[t] = previous
    previous = out[first]
    for t in range(first - 1, -1, -1):
        previous = out[t] = _nearest_equivalent(values[t], previous, mode)
    return out


def insert_keys(
    obj: bpy.types.Object,
    motion: Motion,
    frames: Iterable[int],
    *,
    keep: Iterable[int] = (),
    bones: Iterable[str] | None = None,
    scale: float = 1.0,
    frame_start: int = 1,
    progress: Progress | None = None,
) -> int:
    """Key motion frames ``frames`` on ``bones`` in ``obj``'s current action, never moving a key already there.

    Motion frame ``t`` is scene frame ``frame_start + t``. Each bone gets rotation keys in its rotation
    mode (quaternion or Euler; an axis-angle bone is an ``LMMError``) and, for the root and joints with
    animated translations, location keys; missing F-curves are made. A curve that already has a key on
    a frame keeps it. Frames in ``keep`` are the animator's key frames: there each curve that lacks a key
    gets one with the value it has now, so the pose on those frames cannot change when keys are added
    around them. New values are written as the quaternion sign or Euler triple nearest their neighbours,
    starting from the animator's own values on the ``keep`` frames.

    Args:
        motion: the pose on every frame, the rig's skeleton (see ``write_action``).
        frames: motion frame indices to key.
        keep: motion frame indices whose current pose is kept.
        bones: the bones to key (default: every joint of the motion).
        scale: Blender units per motion unit.

    Returns:
        The number of keys added.
    """
    if obj is None or obj.type != "ARMATURE":
        raise LMMError("keys can only be added to an armature object")
    sk = motion.skeleton
    chosen = set(sk.names if bones is None else bones)
    frames = sorted({int(t) for t in frames})
    keep = sorted({int(t) for t in keep})
    rig = control_rigs.control_rig(obj)
    on_controls = control_rigs.drives(rig, sk)
    if on_controls:  # the chosen deforming bones' controls are keyed
        chosen = {c for d, c in rig.pairs if d in chosen}
        names = rig.controls
    else:
        names = sk.names
    for pose_bone in (obj.pose.bones[n] for n in names if n in chosen):
        if pose_bone.rotation_mode == "AXIS_ANGLE":
            raise LMMError(
                f"bone {pose_bone.name!r} rotates in Axis Angle mode; switch it to Quaternion or an Euler "
                "order (Bone properties > Transform > Mode) and try again"
            )
    fcurves, new_fcurve = assigned_fcurves(obj, create=True)
    if fcurves is None:
        raise LMMError(f"armature {obj.name!r} has no action to add keys to; key a pose first")
    scene_frames = frame_start + np.arange(motion.num_frames)
    added = 0
    if on_controls:
        # Solved on the key frames too: a control without a key there gets the value that holds the
        # deforming pose once its limb is in FK (the animator may have posed it in IK).
        _, basis, locations = control_rigs.pose_values(
            obj, rig, motion, scale, solve_at=[*frames, *keep], frame_start=frame_start,
            progress=None if progress is None else (lambda f: progress(0.8 * f)))
        added += _key_switches(obj, rig, scene_frames[[*frames, *keep]], fcurves, new_fcurve)
    else:
        basis, locations = _pose_values(obj, motion, scale)
    joints = [j for j, n in enumerate(names) if n in chosen]
    for count, j in enumerate(joints):
        joint = names[j]
        pose_bone = obj.pose.bones[joint]
        bone_path = f'pose.bones["{bpy.utils.escape_identifier(joint)}"]'
        mode = pose_bone.rotation_mode
        prop, values = _rotation_curves(mode, basis[:, j])
        channels = [(prop, values, mode)]
        if j in locations:
            channels.append(("location", locations[j], "LOCATION"))
        for prop, values, mode in channels:
            curves = [fcurves.find(f"{bone_path}.{prop}", index=i) for i in range(values.shape[1])]
            static = getattr(pose_bone, prop)
            anchors = {
                t: np.array([c.evaluate(scene_frames[t]) if c is not None else static[i] for i, c in enumerate(curves)])
                for t in keep
            }
            if on_controls:  # only the animator's own keys hold there; other channels take the solved pose
                solved = _chain(values, anchors, mode) if mode != "LOCATION" else values
                for t, value in anchors.items():
                    for i, c in enumerate(curves):
                        if c is None or not np.any(np.abs(key_times(c) - scene_frames[t]) < 0.5):
                            value[i] = solved[t, i]
            if mode != "LOCATION":
                values = _chain(values, anchors, mode)
            if on_controls:
                values = _ease_into_keys(values, anchors, mode)
            for t, value in anchors.items():
                values[t] = value
            for i, curve in enumerate(curves):
                if curve is None:
                    curve = new_fcurve(f"{bone_path}.{prop}", i, joint)
                have = key_times(curve)
                todo = [t for t in (*frames, *keep) if not np.any(np.abs(have - scene_frames[t]) < 0.5)]
                if todo:
                    add_keys(curve, scene_frames[todo].astype(np.float64), values[todo, i])
                    added += len(todo)
        if progress:
            start = 0.8 if on_controls else 0.0
            progress(start + (1 - start) * (count + 1) / len(joints))
    return added


def _ease_into_keys(values: np.ndarray, anchors: dict[int, np.ndarray], mode: str) -> np.ndarray:
    """``values (T, n)`` plus the difference between the animator's values and the solved ones on the key
    frames ``anchors``, interpolated linearly between key frames (held beyond them).

    A control rig does not always give back exactly the controls it was read from (Rigify's spine rolls
    its lower bones with the hips; a twist bone keeps no twist), so the solved value on a key frame can sit
    a few degrees from the animator's key. Carrying that difference across the gap makes the new keys
    meet the animator's without a jump."""
    if not anchors:
        return values
    frames = sorted(anchors)
    diff = np.array([anchors[t] - values[t] for t in frames])  # (K, n)
    at = np.arange(len(values))
    out = values + np.stack([np.interp(at, frames, diff[:, i]) for i in range(values.shape[1])], axis=1)
    if mode == "QUATERNION":
        out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def _key_switches(obj, rig, scene_frames: np.ndarray, fcurves, new_fcurve) -> int:
    """Key the control rig's switches (the limbs' IK/FK set to FK) on ``scene_frames`` where their curves
    have no key; the static values are set too. Returns the number of keys added."""
    control_rigs.set_switches(obj, rig)
    added = 0
    for bone, path, value in control_rigs.switch_paths(rig):
        curve = fcurves.find(path, index=0) or new_fcurve(path, 0, bone)
        have = key_times(curve)
        todo = np.array([f for f in np.unique(scene_frames) if not np.any(np.abs(have - f) < 0.5)], dtype=np.float64)
        if len(todo):
            add_keys(curve, todo, np.full(len(todo), value))
            added += len(todo)
    return added
