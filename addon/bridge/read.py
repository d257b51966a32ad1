"""Blender -> ``Motion``: an armature's evaluated animation as a motion, and where its action has keys."""
from __future__ import annotations

import re
from typing import Callable, Iterable

import bpy
import numpy as np
from bpy_extras import anim_utils

from .._core import UNITS_TO_METRES, LMMError, Motion, Skeleton, kinematics
from .._core import rotations as R
from . import controls as control_rigs
from .action import assigned_fcurves, key_times
from .space import armature_rest, scene_fps, to_blender_axes

Progress = Callable[[float], None]


def _joint_bones(obj: bpy.types.Object, bones: Iterable[str] | None) -> tuple[list[str], np.ndarray]:
    """Names of the bones that become joints, parents first, and their parent indices ``(J,)``.

    A joint's parent is its nearest ancestor among the chosen bones; exactly one root must remain. A
    control rig (``controls.control_rig``) read whole gives its deforming bones, in its own tree.
    """
    all_bones = obj.data.bones
    rig = control_rigs.control_rig(obj) if bones is None else None
    if rig is not None:
        return list(rig.joints), rig.parents.copy()
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
            "parent them under one bone, or use only the bones below one root; a control rig (Rigify's generated "
            "rig) needs a rig preset with [controls] (docs/control_rigs.md)"
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
    """First and last frame of the object's action (rounded); with no action, of the NLA strips that play
    (``nla_strips``); else the scene's range."""
    anim = obj.animation_data
    if anim is not None and anim.action is not None:
        frame_range = anim.action.frame_range
        return int(round(frame_range[0])), int(round(frame_range[1]))
    strips = nla_strips(obj)
    if strips:
        return (int(round(min(s.frame_start for s in strips))), int(round(max(s.frame_end for s in strips))))
    return scene.frame_start, scene.frame_end


def nla_strips(obj: bpy.types.Object) -> list:
    """The action strips of ``obj``'s NLA that play (track and strip not muted) when it has no action of its
    own: an action pushed down into the NLA, or a strip laid out there, is where its keys are. Empty when the
    object has an action (that is what the operators key) or no NLA."""
    anim = obj.animation_data
    if anim is None or anim.action is not None:
        return []
    return [s for track in anim.nla_tracks if not track.mute for s in track.strips
            if not s.mute and s.type == "CLIP" and s.action is not None]


def _strip_fcurves(strip):
    """The F-curves a strip plays: its action's (4.4+: the channel bag of the strip's slot)."""
    action = strip.action
    if not hasattr(action, "slots"):
        return action.fcurves
    slot = getattr(strip, "action_slot", None)
    bag = anim_utils.action_get_channelbag_for_slot(action, slot) if slot is not None else None
    return bag.fcurves if bag is not None else []


def _strip_to_scene(strip, times: np.ndarray) -> np.ndarray:
    """Scene frames at which a strip plays action frames ``times (N,)``: each repeat of the strip's action
    range, scaled and reversed as the strip says, cut at the strip's end."""
    first, last = strip.action_frame_start, strip.action_frame_end
    length = (last - first) * strip.scale
    times = times[(times >= first - 1e-6) & (times <= last + 1e-6)]
    offset = (last - times) if strip.use_reverse else (times - first)
    plays = [strip.frame_start + k * length + offset * strip.scale for k in range(max(1, int(np.ceil(strip.repeat))))]
    out = np.concatenate(plays) if plays else np.zeros(0)
    return out[out <= strip.frame_end + 1e-6]


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
    axes = to_blender_axes(up_axis)
    rest_rot, rest_head, rest_tail = armature_rest(obj, names)
    pose_bones = obj.pose.bones
    index = [pose_bones.find(n) for n in names]
    # A control rig's twist segments: the joints read with the twist they carry (controls.with_twist).
    twist = control_rigs.twist_sources(control_rigs.control_rig(obj) if bones is None else None, names)
    index += [pose_bones.find(seg) for _, seg, _ in twist]

    n_frames = last - first + 1
    flat = np.empty(len(pose_bones) * 16, dtype=np.float32)
    pose = np.empty((n_frames, len(index), 4, 4))
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
    if twist:
        twist_rest, _, _ = armature_rest(obj, [seg for _, seg, _ in twist])
        pose = control_rigs.with_twist(pose, len(names), twist, rest_rot[[j for j, _, _ in twist]], twist_rest)

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


# ---------------------------------------------------------------------------------------------------
# Keys in an existing action: where the animator keyed

_TRANSFORMS = ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle", "scale")
_BONE_PATH = re.compile(r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]\.(\w+)$')


def _bone_channel(data_path: str) -> tuple[str, str] | None:
    """``(bone, property)`` of a pose bone transform F-curve path, else ``None``."""
    match = _BONE_PATH.match(data_path)
    if match is None or match.group(2) not in _TRANSFORMS:
        return None
    return bpy.utils.unescape_identifier(match.group(1)), match.group(2)


def keyed_frames(
    obj: bpy.types.Object,
    bones: Iterable[str] | None = None,
    frame_range: tuple[int, int] | None = None,
) -> np.ndarray:
    """Scene frames ``(K,)`` int, sorted, on which ``obj``'s action keys a transform (location, rotation
    or scale) of one of ``bones`` (default: any bone), within ``frame_range`` (inclusive) if given.

    A key between frames counts for its nearest frame. An object with no action of its own reads the keys of
    the NLA strips that play (``nla_strips``), at the scene frames where each strip plays them. On a control
    rig (``controls.control_rig``) the deforming bones are never keyed: a key on any of its bones counts (the
    animator's controls, FK or IK, and the mechanism they drive all pose the deforming bones).
    """
    fcurves, _ = assigned_fcurves(obj)
    sources = [(fcurves, None)] if fcurves is not None else [(_strip_fcurves(s), s) for s in nla_strips(obj)]
    wanted = None if bones is None or control_rigs.control_rig(obj) is not None else set(bones)
    times = [np.zeros(0)]
    for curves, strip in sources:
        for fcurve in curves:
            channel = _bone_channel(fcurve.data_path)
            if channel is not None and (wanted is None or channel[0] in wanted):
                at = key_times(fcurve)
                times.append(at if strip is None else _strip_to_scene(strip, at))
    frames = np.unique(np.round(np.concatenate(times)).astype(np.int64))
    if frame_range is not None:
        frames = frames[(frames >= frame_range[0]) & (frames <= frame_range[1])]
    return frames
