"""Control rigs (Rigify's generated rig and the like): the motion is read from the deforming bones and
written as keys on the animator's controls.

In a control rig the bones that deform the mesh (Rigify's ``DEF-``) are driven by constraints from
mechanism bones (``ORG-``, ``MCH-``) that follow the controls an animator poses (``thigh_fk.L``,
``torso``). Keys on a deforming bone would do nothing; keys on controls keep the result editable. A rig
is a control rig when a rig preset with ``[controls]`` fits every bone it names (``lmm_core.bonemap
.detect_control_rig``).

Reading: the deforming bones the map names (mapped and shared) become the joints, each parented to the
nearest of them above it in Blender, else to the bone of its canonical parent joint (Rigify parents a
thigh's DEF bone to ``ORG-spine``, not to ``DEF-spine``), so the motion is one tree whatever the rig's
roots.

Writing (``solve``): for each frame, the controls are posed so that the deforming bones land where the
motion puts them, visited in the order they depend on each other (a control's level is one more than
that of any mapped control its parents or constraint targets lead to). See ``solve``: each control turns as its deforming bone should, the top-level controls
(no mapped control above them: Rigify's ``torso``) also move, and the others keep the location they have.
The switches (the limbs' IK/FK) are set first so the controls drive the limbs. Twist that the rig keeps out
of a deforming bone (Rigify's upper arms and thighs) is read from a bone along the same line that has it
(``with_twist``, the preset's ``[twist]``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import bpy
import numpy as np
from mathutils import Matrix

from .._core import LMMError, bonemap, canonical
from .._core import rotations as R

Progress = Callable[[float], None]

# A frame is solved when every control sits this close to where the pass put it (its parent moved as
# predicted): Blender units (0.1 mm on a rig in metres), and degrees (a head 0.2 degrees off moves its top
# 0.7 mm; tighter costs a depsgraph update on most frames, as Rigify's neck half follows the torso).
POSITION_TOLERANCE = 1e-4
ANGLE_TOLERANCE_DEG = 0.2
MAX_PASSES = 4


@dataclass(frozen=True)
class ControlRig:
    """A control rig's map, fitted to one armature.

    Attributes:
        bone_map: the ``BoneMap`` (bones: the deforming bones; controls; switches), names as the armature
            spells them.
        joints: the deforming bones read as the motion's joints, parents first.
        parents: ``(J,)`` int, each joint's parent index in ``joints`` (-1 for the root).
        pairs: ``(deforming bone, control)`` for each mapped joint, in solving order.
        levels: indices into ``pairs``, grouped by dependency level, top level first.
        located: controls that take location keys (the top level's).
    """

    bone_map: bonemap.BoneMap
    joints: tuple[str, ...]
    parents: np.ndarray
    pairs: tuple[tuple[str, str], ...]
    levels: tuple[tuple[int, ...], ...]
    located: frozenset[str]

    @property
    def controls(self) -> tuple[str, ...]:
        return tuple(c for _, c in self.pairs)


_CACHE: dict[tuple, ControlRig | None] = {}


def _user_presets() -> tuple[Path, ...]:
    """The user's saved rig presets (``mapping.user_rig_dir``), newest first."""
    from .. import mapping  # noqa: PLC0415  (at call time: mapping imports the bridge; the folder is its to name)

    folder = mapping.user_rig_dir()
    if not folder.is_dir():
        return ()
    return tuple(sorted(folder.glob("*.toml"), key=lambda p: p.stat().st_mtime, reverse=True))


def control_rig(obj: bpy.types.Object | None) -> ControlRig | None:
    """The control rig description of ``obj``, or ``None`` for a plain armature (keyed on its bones).

    Found from the user's saved rig presets and the shipped ones that have ``[controls]``, else
    recognised from the rig itself (``auto_control_map``); remembered per set of bone names, constraints
    and presets (an armature whose bones or constraints change is looked at again)."""
    if obj is None or obj.type != "ARMATURE":
        return None
    names = tuple(b.name for b in obj.data.bones)
    user = _user_presets()
    constraints = tuple(len(pb.constraints) for pb in obj.pose.bones)
    key = (obj.data.name_full, hash(names), hash(constraints), tuple((str(p), p.stat().st_mtime) for p in user))
    if key not in _CACHE:
        fitted = bonemap.detect_control_rig(names, user) or auto_control_map(obj)
        _CACHE[key] = None if fitted is None else _describe(obj, fitted)
    return _CACHE[key]


# Constraints through which a bone follows another one as a whole (a deforming bone its control, or a
# mechanism bone on the way there).
_FOLLOWS = ("COPY_TRANSFORMS", "COPY_ROTATION", "CHILD_OF", "ARMATURE")


def _followed(obj: bpy.types.Object, name: str) -> str | None:
    """The bone ``name`` follows through its first full-strength following constraint, or ``None``."""
    for con in obj.pose.bones[name].constraints:
        if con.type not in _FOLLOWS or con.mute or con.influence < 0.99:
            continue
        if con.type == "ARMATURE":
            targets = [t.subtarget for t in con.targets if t.target == obj and t.subtarget]
            if len(targets) == 1:
                return targets[0]
        elif getattr(con, "target", None) == obj and con.subtarget in obj.pose.bones:
            return con.subtarget
    return None


def _control_of(obj: bpy.types.Object, name: str) -> str | None:
    """The bone an animator poses to move deforming bone ``name``: the end of its chain of following
    constraints (through mechanism bones), when that is not a deforming bone itself."""
    bone, seen = _followed(obj, name), {name}
    while bone is not None and bone not in seen:
        seen.add(bone)
        nxt = _followed(obj, bone)
        if nxt is None:
            return None if obj.data.bones[bone].use_deform else bone
        bone = nxt
    return None


def auto_control_map(obj: bpy.types.Object) -> bonemap.BoneMap | None:
    """A control rig's map found from the rig alone, or ``None``.

    A rig is taken for a control rig when it has several root bones, its deforming bones form one tree
    of their own, and every deforming bone the automatic mapping places follows a control through
    constraints (Copy Transforms, Copy Rotation, Child Of or a one-bone Armature constraint, possibly
    through mechanism bones). Rigs whose deforming bones do not form one tree (Rigify's) need a preset.
    """
    from .read import motion_from_armature  # noqa: PLC0415  (read imports this module)

    bones = obj.data.bones
    if sum(b.parent is None for b in bones) < 2:
        return None
    deform = [b.name for b in bones if b.use_deform]
    controls = {d: _control_of(obj, d) for d in deform}
    if len(deform) < len(canonical.REQUIRED_JOINTS) or sum(c is not None for c in controls.values()) * 2 < len(deform):
        return None
    frame = bpy.context.scene.frame_current
    try:
        skeleton = motion_from_armature(obj, bones=deform, frame_range=(frame, frame)).skeleton
        placed = bonemap.auto_bone_map(skeleton)
    except LMMError:  # several deforming roots, or no body in them
        return None
    chosen = {j: controls.get(b) for j, b in placed.bones.items()}
    if any(c is None for c in chosen.values()) or len(set(chosen.values())) < len(chosen):
        return None
    mapped = bonemap.BoneMap(
        rig="auto control rig", bones=placed.bones, confidence=placed.confidence, merged=placed.merged,
        absent=placed.absent, shared=placed.shared, description="a control rig recognised from its constraints",
        notes=placed.notes, source="auto", controls=chosen,
    )
    return bonemap.fit_control_map(mapped, [b.name for b in bones])


def _describe(obj: bpy.types.Object, bone_map: bonemap.BoneMap) -> ControlRig:
    bones = obj.data.bones
    chosen = list(dict.fromkeys([*bone_map.bones.values(), *bone_map.shared]))
    chosen_set = set(chosen)
    joint_of = {b: j for j, b in bone_map.bones.items()}

    def parent_of(name: str) -> str | None:
        bone = bones[name].parent
        while bone is not None and bone.name not in chosen_set:
            bone = bone.parent
        if bone is not None:
            return bone.name
        joint = joint_of.get(name) or bone_map.shared.get(name)
        if name in bone_map.shared:  # a shared bone with no deforming parent sits below its joint's bone
            return bone_map.bones[joint]
        c = canonical.PARENTS[canonical.JOINT_INDEX[joint]]
        while c >= 0:
            carrier = bone_map.carrier(canonical.JOINT_NAMES[c])
            if carrier is not None:
                return bone_map.bones[carrier]
            c = canonical.PARENTS[c]
        return None

    parent_name = {n: parent_of(n) for n in chosen}
    roots = [n for n in chosen if parent_name[n] is None]
    if len(roots) != 1:
        raise LMMError(f"control rig {bone_map.rig!r} on {obj.name!r}: its deforming bones have {len(roots)} roots "
                       f"({', '.join(roots[:5])}); the preset's [bones] must form one body")
    order: list[str] = []
    while len(order) < len(chosen):
        for n in chosen:
            if n not in order and (parent_name[n] is None or parent_name[n] in order):
                order.append(n)
    index = {n: i for i, n in enumerate(order)}
    parents = np.array([index[parent_name[n]] if parent_name[n] else -1 for n in order], dtype=np.int64)

    controls = {c: bone_map.bones[j] for j, c in bone_map.controls.items()}
    level = _levels(obj, list(controls))
    pairs = tuple(sorted(((d, c) for c, d in controls.items()), key=lambda p: (level[p[1]], order.index(p[0]))))
    depth = sorted({level[c] for _, c in pairs})
    levels = tuple(tuple(i for i, (_, c) in enumerate(pairs) if level[c] == k) for k in depth)
    located = frozenset(c for _, c in pairs if level[c] == depth[0])
    return ControlRig(bone_map, tuple(order), parents, pairs, levels, located)


def _levels(obj: bpy.types.Object, controls: list[str]) -> dict[str, int]:
    """Each control's dependency level: 0 when no other control lies among the bones its parent chain
    and constraint targets reach (``_reached``), else one more than the highest such control's level."""
    reach = {c: _reached(obj, c) for c in controls}
    level: dict[str, int] = {}

    def level_of(c: str, seen: tuple[str, ...] = ()) -> int:
        if c not in level:
            above = [o for o in controls if o != c and o not in seen and o in reach[c]]
            level[c] = max((level_of(o, seen + (c,)) + 1 for o in above), default=0)
        return level[c]

    for c in controls:
        level_of(c)
    return level


# ---- switches -----------------------------------------------------------------------------------------


def switch_paths(rig: ControlRig) -> list[tuple[str, str, float]]:
    """``(bone, data path of the property, value)`` for each switch (``pose.bones["thigh_parent.L"]["IK_FK"]``)."""
    out = []
    for bone, props in rig.bone_map.switches.items():
        for prop, value in props.items():
            path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"]["{bpy.utils.escape_identifier(prop)}"]'
            out.append((bone, path, float(value)))
    return out


def set_switches(obj: bpy.types.Object, rig: ControlRig) -> None:
    """Set the switches' properties on the pose bones (the static values; keys are the writer's)."""
    for bone, props in rig.bone_map.switches.items():
        pose_bone = obj.pose.bones[bone]
        for prop, value in props.items():
            if prop not in pose_bone:
                raise LMMError(f"control rig {rig.bone_map.rig!r}: bone {bone!r} of {obj.name!r} has no property "
                               f"{prop!r}; the rig was not generated as the preset expects")
            if pose_bone[prop] != value:  # setting even the same value would cost a depsgraph update
                pose_bone[prop] = type(pose_bone[prop])(value) if isinstance(pose_bone[prop], (int, float)) else value


# ---- solving the controls -----------------------------------------------------------------------------


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles (radians) between rotation matrices ``(..., 3, 3)``, unit columns."""
    cos = (np.einsum("...ij,...ij->...", a, b) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))


def _unit(m: np.ndarray) -> np.ndarray:
    """``(..., 4, 4)`` matrices with the 3x3 part's columns normalised (stretch and scale removed)."""
    out = np.array(m, dtype=np.float64, copy=True)
    out[..., :3, :3] /= np.linalg.norm(out[..., :3, :3], axis=-2, keepdims=True)
    return out


@dataclass(frozen=True)
class _Layout:
    """Per control (in ``rig.pairs`` order): pose bone indices and rest relations, armature space."""

    control: np.ndarray      # (C,) pose bone index of the control
    deform: np.ndarray       # (C,) pose bone index of its deforming bone
    parent: np.ndarray       # (C,) pose bone index of the control's parent, -1 for none
    offset: np.ndarray       # (C, 4, 4) parent rest^-1 @ control rest (control rest where no parent)
    relation: np.ndarray     # (C, 3, 3) deform rest^-1 @ control rest, rotations
    upstream: np.ndarray     # (C,) the mapped control the parent follows (index into pairs), -1 for none


def _layout(obj: bpy.types.Object, rig: ControlRig) -> _Layout:
    bones = obj.data.bones
    flat = np.empty(len(bones) * 16, dtype=np.float32)
    bones.foreach_get("matrix_local", flat)
    rest = flat.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)
    control = np.array([bones.find(c) for _, c in rig.pairs])
    deform = np.array([bones.find(d) for d, _ in rig.pairs])
    parent = np.array([bones.find(bones[int(c)].parent.name) if bones[int(c)].parent else -1 for c in control])
    offset = np.array([np.linalg.inv(rest[p]) @ rest[c] if p >= 0 else rest[c] for c, p in zip(control, parent)])
    relation = np.swapaxes(rest[deform, :3, :3], -1, -2) @ rest[control, :3, :3]
    # The parent follows the latest (highest level) mapped control among what its parent reaches: moving that
    # control moves the parent with it, which the solve predicts within one depsgraph update.
    level = {c: k for k, lv in enumerate(rig.levels) for c in lv}
    names = rig.controls
    upstream = []
    for c, p in zip(control, parent):
        if p < 0:
            upstream.append(-1)
            continue
        pname = bones[int(p)].name
        found = _reached(obj, pname) | {pname}
        above = [k for k, n in enumerate(names) if n in found]
        upstream.append(max(above, key=lambda k: level[k]) if above else -1)
    return _Layout(control, deform, parent, offset, relation, np.array(upstream))


def _reached(obj: bpy.types.Object, name: str) -> set[str]:
    """The bones ``name``'s pose depends on: its parent chain and constraint targets, transitively."""
    seen: set[str] = set()
    todo = [name]
    pose = obj.pose.bones
    while todo:
        bone = pose.get(todo.pop())
        if bone is None:
            continue
        direct = [bone.parent.name] if bone.parent else []
        for con in bone.constraints:
            if getattr(con, "target", None) == obj and getattr(con, "subtarget", ""):
                direct.append(con.subtarget)
            for target in getattr(con, "targets", ()):
                if target.target == obj and target.subtarget:
                    direct.append(target.subtarget)
        for d in direct:
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def solve(obj: bpy.types.Object, rig: ControlRig, rotations: np.ndarray, heads: np.ndarray,
          frames: np.ndarray | None = None, progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """The controls' pose values that put the deforming bones on targets.

    Each control turns as its deforming bone should (target orientation @ deform rest^-1 @ control rest:
    the control carries the joint's whole rotation, twist included, even where the rig spreads twist
    over a deforming bone's twist half); the top-level controls also move so that their deforming bone's
    head lands on its target. A pass computes every control's basis from the evaluated pose, predicting
    how each control's parent moves with the control above it, and one depsgraph update checks it;
    passes repeat until the controls sit where they were put (``MAX_PASSES`` at most).

    Args:
        obj: the armature (its controls are moved while solving and restored afterwards).
        rig: ``control_rig(obj)``.
        rotations: ``(T, K, 3, 3)`` target orientations of the deforming bones of ``rig.pairs`` (columns:
            the bone's axes), armature space.
        heads: ``(T, K, 3)`` target heads, armature space, Blender units.
        frames: ``(T,)`` scene frames to evaluate the rig on (its other animation, drivers), or ``None``
            to solve on the current frame.

    Returns:
        Basis rotations ``(T, C, 4)`` (quaternions, continuous in time) and locations ``(T, C, 3)`` of the
        controls ``rig.controls``, and the largest distance (Blender units) left between a deforming head
        and its target.
    """
    pose = obj.pose.bones
    scene = bpy.context.scene
    layer = bpy.context.view_layer
    lay = _layout(obj, rig)
    controls = [pose[int(i)] for i in lay.control]
    located = np.array([c.name in rig.located for c in controls])
    saved = [(c.rotation_mode, tuple(c.rotation_quaternion), tuple(c.rotation_euler), tuple(c.rotation_axis_angle),
              tuple(c.location)) for c in controls]
    saved_frame = scene.frame_current, scene.frame_subframe
    n_frames, n = rotations.shape[0], len(controls)
    target_rot = rotations / np.linalg.norm(rotations, axis=2, keepdims=True)
    want_rot = target_rot @ lay.relation[None]  # (T, C, 3, 3) the controls' orientations
    quats = np.zeros((n_frames, n, 4))
    locs = np.zeros((n_frames, n, 3))
    flat = np.empty(len(pose) * 16, dtype=np.float32)
    worst = 0.0
    tol_angle = np.radians(ANGLE_TOLERANCE_DEG)

    def evaluated() -> np.ndarray:
        layer.update()
        pose.foreach_get("matrix", flat)
        return flat.reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)

    try:
        for t in range(n_frames):
            if frames is not None:
                scene.frame_set(int(frames[t]))
            set_switches(obj, rig)  # after the frame's animation, which may key them otherwise
            intended = None
            for _ in range(MAX_PASSES + 1):
                m = evaluated()
                now = _unit(m[lay.control])
                if intended is not None and (
                        np.abs(now[:, :3, 3] - intended[:, :3, 3]).max() < POSITION_TOLERANCE
                        and _angle(now[:, :3, :3], intended[:, :3, :3]).max() < tol_angle):
                    break
                if _ == MAX_PASSES:
                    break
                basis = np.zeros((n, 4, 4))
                intended = np.zeros((n, 4, 4))
                delta = np.zeros((n, 4, 4))
                for k in (k for level in rig.levels for k in level):
                    new = np.eye(4)
                    new[:3, :3] = want_rot[t, k]
                    if located[k]:  # its deforming head rides on it rigidly: put that head on the target
                        d_head = m[lay.deform[k], :3, 3]
                        local = now[k, :3, :3].T @ (d_head - now[k, :3, 3])
                        new[:3, 3] = heads[t, k] - want_rot[t, k] @ local
                    p, up = lay.parent[k], lay.upstream[k]
                    parent = _unit(m[p]) if p >= 0 else np.eye(4)
                    if up >= 0:
                        parent = delta[up] @ parent
                    rest = parent @ lay.offset[k]
                    b = np.linalg.inv(rest) @ new
                    b[:3, :3] /= np.linalg.norm(b[:3, :3], axis=0, keepdims=True)
                    if not located[k]:
                        b[:3, 3] = tuple(controls[k].location)  # the animator's; the parent places it
                    basis[k] = b
                    intended[k] = rest @ b
                    delta[k] = intended[k] @ np.linalg.inv(now[k])
                    controls[k].matrix_basis = Matrix(b.tolist())
            worst = max(worst, float(np.linalg.norm(m[lay.deform, :3, 3] - heads[t], axis=1).max()))
            quats[t] = R.from_matrix(basis[:, :3, :3])
            locs[t] = basis[:, :3, 3]
            if progress and (t % 8 == 0 or t == n_frames - 1):
                progress((t + 1) / n_frames)
    finally:
        for c, (mode, q, e, aa, loc) in zip(controls, saved):
            c.rotation_mode = mode
            c.rotation_quaternion, c.rotation_euler, c.rotation_axis_angle, c.location = q, e, aa, loc
        scene.frame_set(saved_frame[0], subframe=saved_frame[1])
    return R.unroll(quats), locs, worst


def drives(rig: ControlRig | None, skeleton) -> bool:
    """Whether a motion on ``skeleton`` is one read from ``rig``'s deforming bones (so it goes on controls)."""
    return rig is not None and all(d in skeleton.names for d, _ in rig.pairs)


def pose_values(obj: bpy.types.Object, rig: ControlRig, motion, scale: float, solve_at=None,
                frame_start: int | None = None, progress: Progress | None = None):
    """The controls' pose values that play ``motion`` (on ``rig``'s deforming skeleton) on ``obj``.

    Args:
        motion: the motion, its skeleton the one ``read.motion_from_armature`` reads from the rig.
        scale: Blender units per motion unit.
        solve_at: motion frames to solve (default: all); the others copy the nearest solved frame.
        frame_start: scene frame of motion frame 0: each solved frame is evaluated there (the rig's
            other animation in place); ``None`` solves on the current frame.

    Returns:
        ``(controls, basis (T, C, 4), locations {c: (T, 3)})``: the control names, their basis
        rotations (quaternions) and, for the controls that take location keys, their locations.
    """
    from .space import armature_rest, to_blender_axes, world_transform  # noqa: PLC0415 (sibling, no cycle)

    sk = motion.skeleton
    index = [sk.names.index(d) for d, _ in rig.pairs]
    g_rot, g_pos = motion.fk()
    axes = to_blender_axes(sk.up_axis)
    world_rot, world_scale, world_pos = world_transform(obj)
    rest_rot, _, _ = armature_rest(obj, [d for d, _ in rig.pairs])
    todo = np.arange(motion.num_frames) if solve_at is None else np.unique(np.asarray(list(solve_at), dtype=np.int64))
    if len(todo) == 0:
        todo = np.array([0])
    # Bone(t) = W^T C G(t) C^T W B: the deforming bone's armature-space axes (the inverse of the reader's).
    g = R.to_matrix(g_rot[todo][:, index])  # (N, K, 3, 3)
    to_arm = world_rot.T @ axes
    rotations = to_arm @ g @ to_arm.T @ rest_rot
    heads = ((g_pos[todo][:, index] @ axes.T) * scale - world_pos) @ world_rot / world_scale
    frames = None if frame_start is None else frame_start + todo
    quats, locs, _ = solve(obj, rig, rotations, heads, frames, progress)
    nearest = np.abs(np.arange(motion.num_frames)[:, None] - todo[None]).argmin(axis=1)
    basis, located = quats[nearest], locs[nearest]
    names = rig.controls
    return names, R.unroll(basis), {k: located[:, k] for k, c in enumerate(names) if c in rig.located}


def twist_sources(rig: ControlRig | None, names) -> list[tuple[int, str, float]]:
    """``(joint index in names, twist segment, share)`` for the joints whose twist a segment carries."""
    if rig is None:
        return []
    return [(names.index(b), seg, float(share)) for b, (seg, share) in rig.bone_map.twist.items() if b in names]


def with_twist(pose: np.ndarray, joints: int, twist: list[tuple[int, str, float]], rest_main: np.ndarray,
               rest_twist: np.ndarray) -> np.ndarray:
    """The joints' pose matrices with the twist their twist segments imply.

    Args:
        pose: ``(T, J + E, 4, 4)`` armature-space pose matrices: the ``J`` joints, then the ``E`` twist
            segments of ``twist``, in order.
        joints: ``J``.
        twist: ``twist_sources``.
        rest_main: ``(E, 3, 3)`` rest orientations of the joints' bones; ``rest_twist`` of the segments.

    Returns:
        ``(T, J, 4, 4)``: each listed joint turned about its rest Y axis (carried into the pose) by
        the segment's twist relative to it, divided by its share; other joints as given.
    """
    out = pose[:, :joints].copy()
    for e, (j, _, share) in enumerate(twist):
        main = _unit(pose[:, j])[:, :3, :3]
        seg = _unit(pose[:, joints + e])[:, :3, :3]
        moved = main @ rest_main[e].T  # (T, 3, 3) armature-space change from rest
        relative = np.swapaxes(moved, -1, -2) @ seg @ rest_twist[e].T
        q = R.from_matrix(relative)
        axis = rest_main[e][:, 1] / np.linalg.norm(rest_main[e][:, 1])
        angle = 2.0 * np.arctan2(q[:, 1:] @ axis, q[:, 0]) / share
        turn = np.concatenate([np.cos(angle / 2)[:, None], np.sin(angle / 2)[:, None] * axis[None]], axis=1)
        scale = np.linalg.norm(pose[:, j, :3, :3], axis=-2, keepdims=True)
        out[:, j, :3, :3] = moved @ R.to_matrix(turn) @ rest_main[e] * scale
    return out
