"""Blender data <-> ``lmm_core.Motion``: the only module that converts between the two.

Frames of reference
-------------------
*Motion world*: the motion's own world frame, up along ``skeleton.up_axis`` (BVH: Y up, character facing
+Z). ``C`` (3x3) maps it to *Blender world* (Z up, character facing -Y): a +90 degree turn about X for
Y-up motion, the identity for Z-up motion.

*Joint frames*: as in BVH, every joint's frame is parallel to the motion world in the rest pose (all
rotations identity), so a joint's local rotation says how it turned away from rest.

*Bone frames*: a bone's rest orientation ``B`` (3x3, armature space) has its Y axis along the bone; the
bone is rigidly attached to its joint. With ``E = C^T R_w B`` (the bone's rest axes seen from the motion
world; ``R_w`` is the armature object's world rotation) a joint with local rotation ``L`` (relative to its
parent joint) is the pose bone rotation ``E^T L E``, and the inverse holds when reading. Locations are
solved the same way from the rig's own rest heads, so a rig built elsewhere reads and writes consistently.

Lengths: Blender length = motion length x ``scale`` (Blender units per motion unit, see ``blender_scale``).
Frames: motion frame ``t`` (0-based) is scene frame ``frame_start + t``.
"""
from __future__ import annotations

import functools
import re
from typing import Callable, Iterable, Sequence

import bpy
import numpy as np

from ._core import UNITS_TO_METRES, LMMError, Motion, Skeleton, kinematics
from ._core import rotations as R

Progress = Callable[[float], None]

# Y-up motion world -> Blender world: (x, y, z) -> (x, -z, y), a +90 degree turn about X.
_Y_UP_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
_BLENDER_UP = np.array([0.0, 0.0, 1.0])
_BLENDER_FRONT = np.array([0.0, -1.0, 0.0])  # where a character imported from BVH faces
_MAX_BONE_NAME_BYTES = 63  # Blender truncates longer names, which would break the joint <-> bone match


def _to_blender_axes(up_axis: str) -> np.ndarray:
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


# ---------------------------------------------------------------------------------------------------
# Motion -> armature


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
    axes = _to_blender_axes(skeleton.up_axis)
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


def _armature_rest(obj: bpy.types.Object, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _world_transform(obj: bpy.types.Object) -> tuple[np.ndarray, float, np.ndarray]:
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


def _channels_for(obj: bpy.types.Object, name: str):
    """A new action named ``name`` assigned to ``obj``, and a function ``new(data_path, index, group)``
    that adds an F-curve to it.

    Blender 4.4+ stores F-curves in layered actions (slot -> layer -> keyframe strip -> channel bag; 5.0
    removed ``Action.fcurves``); 4.2 and 4.3 keep them on the action.
    """
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


@functools.cache
def _linear() -> int:
    """The integer value of the keyframe interpolation ``'LINEAR'`` (bulk writes take enum values)."""
    return bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value


def _fill_fcurve(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
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
    basis, locations = _pose_values(obj, motion, scale)
    action, new_fcurve = _channels_for(obj, name or obj.name)
    frames = frame_start + np.arange(motion.num_frames, dtype=np.float64)
    for j, joint in enumerate(sk.names):
        bone_path = f'pose.bones["{bpy.utils.escape_identifier(joint)}"]'
        pose_bone = obj.pose.bones[joint]
        if pose_bone.rotation_mode == "AXIS_ANGLE":
            pose_bone.rotation_mode = "QUATERNION"
        prop, values = _rotation_curves(pose_bone.rotation_mode, basis[:, j])
        for i in range(values.shape[1]):
            _fill_fcurve(new_fcurve(f"{bone_path}.{prop}", i, joint), frames, values[:, i])
        if j in locations:
            for i in range(3):
                _fill_fcurve(new_fcurve(f"{bone_path}.location", i, joint), frames, locations[j][:, i])
        if progress:
            progress(0.1 + 0.9 * (j + 1) / sk.num_joints)
    return action


def keep_action(action: bpy.types.Action | None) -> None:
    """Give ``action`` a fake user when it is about to lose its last real one.

    Operators that assign a new action to a rig (generate, retarget, mirror, clean up) would otherwise
    leave the animator's previous action with no users, and Blender drops such data when the file is
    saved.
    """
    if action is not None and not action.use_fake_user and action.users <= 1:
        action.use_fake_user = True


def _pose_values(obj: bpy.types.Object, motion: Motion, scale: float) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Pose bone values for ``motion`` on ``obj``: basis rotations ``(T, J, 4)`` (quaternions, continuous
    in time) and locations ``{joint: (T, 3)}`` for the root and the joints with animated translations."""
    sk = motion.skeleton
    _check_bones(obj, sk)
    axes = _to_blender_axes(sk.up_axis)
    world_rot, world_scale, world_pos = _world_transform(obj)
    rest_rot, rest_head, _ = _armature_rest(obj, sk.names)

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


def bone_axes(obj: bpy.types.Object, names: Sequence[str], up_axis: str = "y") -> np.ndarray:
    """``E`` as quaternions ``(N, 4)``: the named bones' rest axes seen from the motion world of a motion
    read with ``up_axis`` (a joint's local rotation ``L`` is the pose rotation ``E^-1 L E``)."""
    world_rot, _, _ = _world_transform(obj)
    rest_rot, _, _ = _armature_rest(obj, names)
    return R.from_matrix(_to_blender_axes(up_axis).T @ world_rot @ rest_rot)


# ---------------------------------------------------------------------------------------------------
# Keys in an existing action: read where the animator keyed, add keys without touching theirs

_TRANSFORMS = ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle", "scale")
_BONE_PATH = re.compile(r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]\.(\w+)$')


def _bone_channel(data_path: str) -> tuple[str, str] | None:
    """``(bone, property)`` of a pose bone transform F-curve path, else ``None``."""
    match = _BONE_PATH.match(data_path)
    if match is None or match.group(2) not in _TRANSFORMS:
        return None
    return bpy.utils.unescape_identifier(match.group(1)), match.group(2)


def _assigned_fcurves(obj: bpy.types.Object, create: bool = False):
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
    from bpy_extras import anim_utils

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


def _key_times(fcurve: bpy.types.FCurve) -> np.ndarray:
    points = fcurve.keyframe_points
    co = np.empty(2 * len(points), dtype=np.float32)
    points.foreach_get("co", co)
    return co[0::2].astype(np.float64)


def keyed_frames(
    obj: bpy.types.Object,
    bones: Iterable[str] | None = None,
    frame_range: tuple[int, int] | None = None,
) -> np.ndarray:
    """Scene frames ``(K,)`` int, sorted, on which ``obj``'s action keys a transform (location, rotation
    or scale) of one of ``bones`` (default: any bone), within ``frame_range`` (inclusive) if given.

    A key between frames counts for its nearest frame.
    """
    fcurves, _ = _assigned_fcurves(obj)
    if fcurves is None:
        return np.zeros(0, dtype=np.int64)
    wanted = None if bones is None else set(bones)
    times = [np.zeros(0)]
    for fcurve in fcurves:
        channel = _bone_channel(fcurve.data_path)
        if channel is not None and (wanted is None or channel[0] in wanted):
            times.append(_key_times(fcurve))
    frames = np.unique(np.round(np.concatenate(times)).astype(np.int64))
    if frame_range is not None:
        frames = frames[(frames >= frame_range[0]) & (frames <= frame_range[1])]
    return frames


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


def _add_keys(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
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
    for pose_bone in (obj.pose.bones[n] for n in sk.names if n in chosen):
        if pose_bone.rotation_mode == "AXIS_ANGLE":
            raise LMMError(
                f"bone {pose_bone.name!r} rotates in Axis Angle mode; switch it to Quaternion or an Euler "
                "order (Bone properties > Transform > Mode) and try again"
            )
    basis, locations = _pose_values(obj, motion, scale)
    fcurves, new_fcurve = _assigned_fcurves(obj, create=True)
    if fcurves is None:
        raise LMMError(f"armature {obj.name!r} has no action to add keys to; key a pose first")
    scene_frames = frame_start + np.arange(motion.num_frames)
    added = 0
    joints = [j for j, n in enumerate(sk.names) if n in chosen]
    for count, j in enumerate(joints):
        joint = sk.names[j]
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
            if mode != "LOCATION":
                values = _chain(values, anchors, mode)
            for t, value in anchors.items():
                values[t] = value
            for i, curve in enumerate(curves):
                if curve is None:
                    curve = new_fcurve(f"{bone_path}.{prop}", i, joint)
                have = _key_times(curve)
                todo = [t for t in (*frames, *keep) if not np.any(np.abs(have - scene_frames[t]) < 0.5)]
                if todo:
                    _add_keys(curve, scene_frames[todo].astype(np.float64), values[todo, i])
                    added += len(todo)
        if progress:
            progress((count + 1) / len(joints))
    return added


# ---------------------------------------------------------------------------------------------------
# Armature -> motion


def _joint_bones(obj: bpy.types.Object, bones: Iterable[str] | None) -> tuple[list[str], np.ndarray]:
    """Names of the bones that become joints, parents first, and their parent indices ``(J,)``.

    A joint's parent is its nearest ancestor among the chosen bones; exactly one root must remain.
    """
    all_bones = obj.data.bones
    if bones is None:
        chosen = [b.name for b in all_bones]
    else:
        chosen = list(dict.fromkeys(bones))
        missing = [n for n in chosen if all_bones.get(n) is None]
        if missing:
            raise LMMError(f"armature {obj.name!r} has no bones named {', '.join(map(repr, missing[:5]))}")
    if not chosen:
        raise LMMError(f"armature {obj.name!r} has no bones; add bones or pick another armature")
    chosen_set = set(chosen)

    def parent_of(name: str) -> str | None:
        bone = all_bones[name].parent
        while bone is not None and bone.name not in chosen_set:
            bone = bone.parent
        return None if bone is None else bone.name

    parent_name = {n: parent_of(n) for n in chosen}
    roots = [n for n in chosen if parent_name[n] is None]
    if len(roots) != 1:
        raise LMMError(
            f"armature {obj.name!r} has {len(roots)} root bones ({', '.join(roots[:5])}); LMM needs one: "
            "parent them under one bone, or use only the bones below one root"
        )
    # Stable topological order: keeps Blender's bone order where it already has parents first.
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(chosen):
        for n in chosen:
            if n not in placed and (parent_name[n] is None or parent_name[n] in placed):
                order.append(n)
                placed.add(n)
    index = {n: j for j, n in enumerate(order)}
    parents = np.array([index.get(parent_name[n] or "", -1) for n in order])
    return order, parents


def action_frames(obj: bpy.types.Object, scene: bpy.types.Scene) -> tuple[int, int]:
    """First and last frame of the object's action (rounded), or the scene's range when it has none."""
    anim = obj.animation_data
    if anim is not None and anim.action is not None:
        frame_range = anim.action.frame_range
        return int(round(frame_range[0])), int(round(frame_range[1]))
    return scene.frame_start, scene.frame_end


def motion_from_armature(
    obj: bpy.types.Object,
    *,
    scale: float = 1.0,
    units: str = "m",
    up_axis: str = "y",
    frame_range: tuple[int, int] | None = None,
    bones: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> Motion:
    """Sample ``obj``'s evaluated pose on every frame into a ``Motion``.

    The scene is stepped frame by frame and the evaluated pose read, so whatever drives the rig
    (action, NLA, constraints, drivers) is captured. The current frame is restored afterwards. The rest
    pose becomes the skeleton (joint frames parallel to the motion world at rest, as in BVH); bone
    scale is not carried.

    Args:
        obj: an armature object in the current view layer.
        scale: Blender units per motion unit; lengths are divided by it.
        units: the units the result is labelled with (``m``, ``cm``, ...).
        up_axis: up axis of the result, ``'y'`` (BVH convention) or ``'z'`` (Blender's).
        frame_range: first and last scene frame, inclusive (default: the action's range, else the
            scene's).
        bones: names of the bones to use as joints (default: all).
        progress: called with the fraction done, 0 to 1.

    Returns:
        A ``Motion`` with ``(T, J, 4)`` rotations, the scene's frame rate and, when any non-root joint
        moves away from its rest offset, per-joint ``translations``.
    """
    if obj is None or obj.type != "ARMATURE":
        raise LMMError("select an armature: only armature objects can be read as motion")
    context = bpy.context
    scene = context.scene
    if obj.mode == "EDIT":
        # Edit-mode changes reach the bones only on leaving edit mode.
        raise LMMError(f"armature {obj.name!r} is in Edit Mode; switch to Object or Pose Mode first")
    if context.view_layer.objects.get(obj.name) is None:
        raise LMMError(f"armature {obj.name!r} is not in the current view layer; link it to the scene first")
    if units not in UNITS_TO_METRES:
        raise LMMError(f"unknown units {units!r}; use one of {', '.join(UNITS_TO_METRES)}")
    names, parents = _joint_bones(obj, bones)
    first, last = frame_range or action_frames(obj, scene)
    if last < first:
        raise LMMError(f"the frame range {first}-{last} is empty; set an end frame after the start frame")
    axes = _to_blender_axes(up_axis)
    rest_rot, rest_head, rest_tail = _armature_rest(obj, names)
    pose_bones = obj.pose.bones
    index = [pose_bones.find(n) for n in names]

    n_frames = last - first + 1
    flat = np.empty(len(pose_bones) * 16, dtype=np.float32)
    pose = np.empty((n_frames, len(names), 4, 4))
    world = np.empty((n_frames, 4, 4))
    saved = scene.frame_current, scene.frame_subframe
    try:
        for t, frame in enumerate(range(first, last + 1)):
            scene.frame_set(frame)
            pose_bones.foreach_get("matrix", flat)
            pose[t] = flat.reshape(-1, 4, 4).transpose(0, 2, 1)[index]
            world[t] = np.array(obj.matrix_world)
            if progress and (t % 32 == 0 or t == n_frames - 1):
                progress(0.9 * (t + 1) / n_frames)
    finally:
        scene.frame_set(saved[0], subframe=saved[1])

    # Object transform per frame: rotation, uniform scale; the rest pose is taken at the first frame.
    scales = np.linalg.norm(world[:, :3, :3], axis=1)  # (T, 3) column norms
    k = scales.mean(axis=1)
    if np.any(np.ptp(scales, axis=1) > 1e-4 * k) or np.any(np.linalg.det(world[:, :3, :3]) <= 0):
        raise LMMError(
            f"armature {obj.name!r} has a non-uniform or negative scale; apply it first (Object > Apply > Scale)"
        )
    world_rot = world[:, :3, :3] / k[:, None, None]

    # Global joint rotations G = C^T R_w(t) Bone(t) B^T R_w0^T C (bone scale removed from Bone(t)).
    bone_rot = pose[:, :, :3, :3] / np.linalg.norm(pose[:, :, :3, :3], axis=2, keepdims=True)
    rest_world = world_rot[0] @ rest_rot  # (J, 3, 3)
    g = axes.T @ world_rot[:, None] @ bone_rot @ np.swapaxes(rest_world, -1, -2)[None] @ axes
    global_rot = R.from_matrix(g)
    local_rot = R.unroll(kinematics.global_to_local(global_rot, parents))

    # Positions in the motion world, in motion units.
    heads = np.einsum("tij,tnj->tni", world[:, :3, :3], pose[:, :, :3, 3]) + world[:, None, :3, 3]
    positions = heads @ axes / scale  # (T, J, 3); row vectors, so "@ axes" is C^T
    rest_heads = (rest_head @ world[0, :3, :3].T + world[0, :3, 3]) @ axes / scale
    offsets = rest_heads.copy()
    offsets[1:] -= rest_heads[parents[1:]]
    leaves = set(range(len(names))) - set(parents[parents >= 0].tolist())
    tips = ((rest_tail - rest_head) @ world[0, :3, :3].T) @ axes / scale
    skeleton = Skeleton(
        names=tuple(names),
        parents=parents,
        offsets=offsets,
        units=units,
        up_axis=up_axis,
        end_sites={j: tips[j] for j in sorted(leaves)},
    )

    # Translations relative to each parent joint, kept only where some joint leaves its rest offset.
    translations = np.empty_like(positions)
    translations[:, 0] = positions[:, 0]
    if len(names) > 1:
        p = parents[1:]
        translations[:, 1:] = R.inv_mul_vec(global_rot[:, p], positions[:, 1:] - positions[:, p])
    size = max(np.abs(offsets).max(), 1e-9)
    moves = len(names) > 1 and np.abs(translations[:, 1:] - offsets[1:]).max() > 1e-5 * size
    if progress:
        progress(1.0)
    return Motion(
        skeleton=skeleton,
        rotations=local_rot,
        root_positions=positions[:, 0].copy(),
        fps=scene_fps(scene),
        translations=translations if moves else None,
    )
