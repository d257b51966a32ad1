"""What the panel's operators do to the selected rig's animation, each a few calls into ``lmm_core``.

Every function reads the rig through ``bridge`` (metres, Y up: the motion world of ``lmm_core``), calls the
core, writes keys back through ``bridge`` and returns the sentence the operator reports. Bad input is an
``LMMError`` with one sentence that names the fix.

Key frames (In-between, Extend): a scene frame is a key frame when the action keys any transform of a
bone the model drives (the bones of the rig's bone map). The whole pose on a key frame is the constraint,
whatever the animator keyed there: bones without a key of their own on that frame count with the value
their curves give them, and get a key with exactly that value, so adding keys around the frame cannot
change it. New keys go only on the frames between key frames (and after the last one, for Extend), only
on the mapped bones; keys already in the action are never moved or changed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import bpy
import numpy as np

from . import bridge, fbx_import, jobs, mapping
from .bridge import keys as bridge_keys
from .bridge.controls import control_rig
from .bridge.read import nla_strips
from ._core import LMMError, Motion, bonemap, canonical, cleanup, keys, placement, read_bvh, retarget, tasks
from ._core import mirror as mirroring
from ._core import rotations as R

Progress = Callable[[float], None]
_LIMIT_NAME = "LMM Limit Rotation"
_REST_IS_REFERENCE_RAD = np.radians(10.0)  # rest poses this close to the canonical T-pose get constraints


def _metres(scene: bpy.types.Scene) -> float:
    return bridge.blender_scale("m", scene)


def read(obj: bpy.types.Object, scene: bpy.types.Scene, frame_range: tuple[int, int] | None = None,
         progress: Progress | None = None) -> Motion:
    """The rig's evaluated animation over ``frame_range`` (default: its action's), metres, Y up."""
    return bridge.motion_from_armature(obj, scale=_metres(scene), units="m", frame_range=frame_range,
                                       progress=progress)


def rig_skeleton(obj: bpy.types.Object, scene: bpy.types.Scene):
    """The rig as a ``Skeleton`` (metres, Y up), read on the current frame."""
    return pose_now(obj, scene).skeleton


def pose_now(obj: bpy.types.Object, scene: bpy.types.Scene) -> Motion:
    """The rig's pose on the current frame as one frame (metres, Y up): its skeleton, and where it stands."""
    return read(obj, scene, (scene.frame_current, scene.frame_current))


def _action_name(obj: bpy.types.Object) -> str:
    anim = obj.animation_data
    return anim.action.name if anim is not None and anim.action is not None else obj.name


def _sub(progress: Progress, start: float, end: float) -> Progress:
    return lambda f: progress(start + (end - start) * f)


# ---- in-between and extend --------------------------------------------------------------------------
# Both are jobs (``jobs.Job``): generators that read and compute, yielding their progress, and return the
# ``finish`` that writes the keys, so that a modal operator can stop them (Esc) with nothing written.

_MODEL_SECONDS_PER_FRAME = 0.003  # about what the model takes for blocking keys (one core): progress estimates


@dataclass(frozen=True)
class KeyOptions:
    """How In-between and Extend key the rig.

    Attributes:
        tolerance: metres; the sparse keys play the made motion back within it at every joint and end site.
        every_frame: a key on every new frame instead (still Bezier, on the motion's slopes).
        selected_only: key only the selected bones (of those the bone map drives); the rest keep their curves.
        seed, variation: a draw (``tasks.inbetween``: the next-frame in-betweener, or a sampling window model);
            variation 0 is the deterministic answer.
        method: In-between's ``tasks.inbetween`` method: ``"auto"`` (a Model File set in Preferences makes
            every gap; without one each gap goes to a shipped network, ``tasks.window_frames``), ``"network"``
            (the model in Preferences) or ``"next-frame"`` (the shipped next-frame in-betweener).
        rollouts: how many ways the next-frame in-betweener rolls each gap of 20 frames or more (``tasks.inbetween``);
            None: its own (8 under 45 frames, 16 from 45).
    """

    tolerance: float = keys.DEFAULT_TOLERANCE_M
    every_frame: bool = False
    selected_only: bool = False
    seed: int = 0
    variation: float = 0.0
    method: str = "auto"
    rollouts: int | None = None


# Where the tolerance is held: the feet, the hands and the head, the ends of the chains an animator watches
# (each by its bone's head and tail; fingers follow the hand). Every other bone carries one of them.
_HELD = ("left_ankle", "right_ankle", "left_toe", "right_toe", "left_wrist", "right_wrist", "head")


def held_bones(bone_map) -> list[str]:
    """The rig's bones for the feet, hands and head, whose positions the sparse keys hold within the tolerance."""
    return [bone_map.bones[j] for j in _HELD if j in bone_map.bones]


def _selected(pose_bone) -> bool:
    # Blender 5.0 keeps pose-mode selection on the pose bone, 4.2 on the bone.
    return bool(pose_bone.select if hasattr(pose_bone, "select") else pose_bone.bone.select)


def key_bones(obj, driven: list[str], selected_only: bool) -> list[str]:
    """The bones to key: the driven bones, or those of them that are selected; on a control rig a deforming
    bone counts as selected when its control is (the animator selects controls, not DEF bones)."""
    if not selected_only:
        return driven
    rig = control_rig(obj)
    control_of = dict(rig.pairs) if rig is not None else {}
    bones = obj.pose.bones

    def chosen_bone(b: str) -> bool:
        control = control_of.get(b)
        return _selected(bones[b]) or (control is not None and control in bones and _selected(bones[control]))

    chosen = [b for b in driven if chosen_bone(b)]
    if not chosen:
        raise LMMError(f"no bone of {obj.name!r} that LMM drives is selected; select bones in Pose Mode, or untick "
                       "Selected Bones Only")
    return chosen


_READ_FRAMES = 500  # frames read per job step: a long action is read in pieces, Blender redrawing between


def _read_in_steps(obj, scene, first: int, last: int):
    """Job part: ``read`` of frames ``first..last`` a few hundred frames per step; returns the motion.

    The pieces are one motion when they agree on the skeleton (the rest pose is read on each piece's first
    frame, so an armature object that moves or scales between them is read again in one piece)."""
    if last - first + 1 <= _READ_FRAMES:
        return read(obj, scene, (first, last))
    parts = []
    for start in range(first, last + 1, _READ_FRAMES):
        parts.append(read(obj, scene, (start, min(start + _READ_FRAMES - 1, last))))
        yield (start + _READ_FRAMES - first) / (last - first + 1)
    return _joined(parts) or read(obj, scene, (first, last))


def _joined(parts: list[Motion]) -> Motion | None:
    """Consecutive pieces of one rig's motion as one motion; ``None`` when they disagree on the skeleton
    (each piece's rest pose is read on its first frame: an armature object that moved or scaled)."""
    sk = parts[0].skeleton
    if any(not np.allclose(p.skeleton.offsets, sk.offsets, atol=1e-9) for p in parts[1:]):
        return None
    translations = None
    if any(p.translations is not None for p in parts):
        translations = np.concatenate([p.translations if p.translations is not None else p.local_positions()
                                       for p in parts])
    return replace(parts[0], rotations=np.concatenate([p.rotations for p in parts]),
                   root_positions=np.concatenate([p.root_positions for p in parts]), translations=translations)


def _fill(motion: Motion, known: np.ndarray, model, bone_map, opts: KeyOptions):
    """Job part: ``tasks.inbetween`` on the whole motion in a worker thread (numpy only); returns the made motion."""
    return (yield from jobs.in_background(
        lambda: tasks.inbetween(motion, known, model, source_map=bone_map, seed=opts.seed, variation=opts.variation,
                                method=opts.method, rollouts=opts.rollouts),
        expected=_MODEL_SECONDS_PER_FRAME * motion.num_frames))


def _fit_seconds(plan) -> float:
    """About how long the key fit takes (progress estimates): a few microseconds per curve value."""
    return 5e-6 * plan.values.size


def _span(work, start: float, end: float):
    """Forward a job part's fractions into ``start..end``; returns what the part returns."""
    try:
        while True:
            yield start + (end - start) * next(work)
    except StopIteration as stop:
        return stop.value


def _require_own_action(obj, what: str) -> None:
    """``LMMError`` naming the fix when ``obj``'s keys play only from NLA strips: the new keys go into the
    rig's own action, which the strips' frames (offset, scaled, repeated) do not line up with."""
    strips = nla_strips(obj)
    if strips:
        raise LMMError(f"{what} keys {obj.name!r}'s own action, but its keys play from the NLA strip "
                       f"{strips[0].name!r} ({strips[0].action.name!r}); select the strip and press Tab in the NLA "
                       "editor to edit its action (or make that action the rig's own), then run it again")


def inbetween(context, obj, model, frame_range: tuple[int, int], opts: KeyOptions = KeyOptions()):
    """Job: fill the frames between the key frames in ``frame_range`` (inclusive) with the model's motion.
    ``model``: the window network (the one in Preferences), or ``None``: with ``opts.method`` ``"auto"`` the
    shipped networks, each for its gaps; with ``"network"`` the one in Preferences, loaded here."""
    _require_own_action(obj, "In-between")
    scene = context.scene
    skeleton = rig_skeleton(obj, scene)
    bone_map = mapping.rig_bone_map(obj, skeleton)
    driven = mapping.driven_bones(bone_map)
    bones = key_bones(obj, driven, opts.selected_only)
    keyed = bridge.keyed_frames(obj, driven, frame_range)
    a, b = frame_range
    if len(keyed) < 2:
        raise LMMError(
            f"In-between needs at least two keyed frames in frames {a}-{b}, and {obj.name!r} has {len(keyed)} there; "
            "key the poses to go between first"
        )
    first, last = int(keyed[0]), int(keyed[-1])
    if last - first + 1 == len(keyed):
        raise LMMError(f"every frame from {first} to {last} is keyed, so there is nothing to fill; delete keys between "
                       "the poses you want to keep")
    yield 0.02
    motion = yield from _span(_read_in_steps(obj, scene, first, last), 0.02, 0.25)
    known = keyed - first
    if model is None and opts.method == "network":
        from . import model as models

        model = models.load(context)
    result = yield from _span(_fill(motion, known, model, bone_map, opts), 0.25, 0.75)
    gaps = np.setdiff1d(np.arange(motion.num_frames), known)
    said = tasks.network_note(result)
    note = f"; note: {said}" if said else ""
    if bridge_keys.on_controls(obj, motion.skeleton):  # a control rig: solved on its controls, then thinned
        yield 0.9

        def on_controls() -> str:
            added, worst = bridge_keys.insert_control_keys(
                obj, result, gaps, keep=known, bones=bones, scale=_metres(scene), frame_start=first,
                tolerance=opts.tolerance, every_frame=opts.every_frame, held=held_bones(bone_map))
            return (f"In-between {obj.name!r}: {len(gaps)} frames filled between {len(keyed)} key frames "
                    f"({first}-{last}), {added} keys added on its controls (played back within {worst * 1000:.2f} mm)"
                    f"{note}")

        return on_controls
    plan = bridge.plan_keys(obj, result, motion, gaps, keep=known, bones=bones, scale=_metres(scene),
                            frame_start=first, tolerance=opts.tolerance, every_frame=opts.every_frame,
                            watch=held_bones(bone_map), fit=False)
    plan = yield from _span(jobs.in_background(lambda: bridge.fit_keys(plan), expected=_fit_seconds(plan)), 0.8, 0.95)

    def finish():
        added, worst = yield from bridge.write_key_steps(obj, plan)
        return (f"In-between {obj.name!r}: {len(gaps)} frames filled between {len(keyed)} key frames ({first}-{last}), "
                f"{added} keys added on {len(bones)} bones (played back within {worst * 1000:.2f} mm){note}")

    return finish


def extend(context, obj, model, frames: int, opts: KeyOptions = KeyOptions()):
    """Job: continue the action for ``frames`` frames after its last key frame."""
    _require_own_action(obj, "Extend")
    scene = context.scene
    skeleton = rig_skeleton(obj, scene)
    bone_map = mapping.rig_bone_map(obj, skeleton)
    driven = mapping.driven_bones(bone_map)
    bones = key_bones(obj, driven, opts.selected_only)
    keyed = bridge.keyed_frames(obj, driven)
    if len(keyed) == 0:
        raise LMMError(f"{obj.name!r} has no keys to extend; key a pose or import motion first")
    last = int(keyed[-1])
    first = max(int(keyed[0]), last - int(round(4 * bridge.scene_fps(scene))))  # a few seconds of context
    yield 0.02
    motion = read(obj, scene, (first, last))
    yield 0.3
    result = yield from _span(jobs.in_background(
        lambda: tasks.complete(motion, frames, model, source_map=bone_map, seed=opts.seed, variation=opts.variation),
        expected=_MODEL_SECONDS_PER_FRAME * (motion.num_frames + frames)), 0.3, 0.7)
    known = motion.num_frames - 1
    if bridge_keys.on_controls(obj, motion.skeleton):  # a control rig: solved on its controls, then thinned
        yield 0.9

        def on_controls() -> str:
            added, worst = bridge_keys.insert_control_keys(
                obj, result, range(known + 1, result.num_frames), keep=[known], bones=bones, scale=_metres(scene),
                frame_start=first, tolerance=opts.tolerance, every_frame=opts.every_frame, held=held_bones(bone_map))
            return (f"Extended {obj.name!r} by {frames} frames after frame {last} ({added} keys added on its controls, "
                    f"played back within {worst * 1000:.2f} mm)")

        return on_controls
    # What the rig shows on the new frames now (its curves held past their last key): the bones not keyed.
    later = read(obj, scene, (last + 1, first + result.num_frames - 1))
    current = _joined([motion, later]) or read(obj, scene, (first, first + result.num_frames - 1))
    plan = bridge.plan_keys(obj, result, current, range(known + 1, result.num_frames), keep=[known], bones=bones,
                            scale=_metres(scene), frame_start=first, tolerance=opts.tolerance,
                            every_frame=opts.every_frame, watch=held_bones(bone_map), fit=False)
    plan = yield from _span(jobs.in_background(lambda: bridge.fit_keys(plan), expected=_fit_seconds(plan)), 0.8, 0.95)

    def finish():
        added, worst = yield from bridge.write_key_steps(obj, plan)
        return (f"Extended {obj.name!r} by {frames} frames after frame {last} ({added} keys added on {len(bones)} "
                f"bones, played back within {worst * 1000:.2f} mm)")

    return finish


# ---- generate, retarget, mirror, clean up: a new action -----------------------------------------------


# Generate and Retarget start their clip on the current frame, where the character stands on it and facing
# its way (docs/addon.md, "Where new motion starts"): what the animator sees in the viewport, the object's
# transform and the pose on that frame both. The scene's range changes only when Fit Scene Range asks.


def from_where_it_stands(now: Motion, motion: Motion, bone_map) -> Motion:
    """``motion`` (on the rig's skeleton, metres, Y up) turned about the up axis and moved over the ground so
    that its first frame's pelvis is where the rig's is in ``now`` (``pose_now``) and faces as its hips do
    (``lmm_core.placement``). Heights stay as made: retargeting already stands it on the rig's own feet."""
    joints = placement.stance_joints(now.skeleton, bone_map)
    ground, forward = _stance(now, joints)
    return placement.place(motion, ground, forward, joints)


def _stance(now: Motion, joints) -> tuple[np.ndarray, np.ndarray]:
    """Where the rig stands and faces in ``now`` (``placement.stance``), its error naming the way out."""
    try:
        return placement.stance(now.global_positions()[0], joints, now.skeleton.up_index)
    except LMMError as exc:  # lying on its side: no facing to read
        raise LMMError(f"{exc}, or untick From Where It Stands") from None


def _write_new(context, obj, motion: Motion, name: str, frame_start: int, fit_scene: bool, progress: Progress):
    """``motion`` (on the rig's skeleton) as a new action on ``obj`` at the scene's frame rate, its first frame
    on scene frame ``frame_start``; with ``fit_scene`` the scene's frame range becomes the clip's."""
    scene = context.scene
    fps = bridge.scene_fps(scene)
    if abs(motion.fps - fps) > 1e-6 * fps:
        motion = motion.resampled(fps)
    action = bridge.write_action(obj, motion, scale=_metres(scene), frame_start=frame_start, name=name,
                                 progress=progress)
    if fit_scene:
        scene.frame_start, scene.frame_end = frame_start, frame_start + motion.num_frames - 1
    return action, motion


def generate(context, obj, model, action: str, style: str, seconds: float, seed: int, variation: float,
             fit_scene: bool, progress: Progress, from_character: bool = True, method: str = "next-frame",
             walk_to: np.ndarray | None = None) -> str:
    """A new action on ``obj``: the model's ``action`` in ``style``, retargeted onto the rig, from the current
    frame (and, with ``from_character``, from where the rig stands on it; see ``from_where_it_stands``).

    ``method``: ``"next-frame"`` (the next-frame network alone; ``model``, the window model, may be None) or
    ``"segments"`` (the model's recorded segments joined by its network). ``walk_to`` (Blender world, ``(3,)``; next-frame only): the pelvis walks there
    at the action's own pace and the clip ends on arrival (``seconds`` is then not used; see ``_walk_to``)."""
    scene = context.scene
    now = pose_now(obj, scene)
    target_map = mapping.rig_bone_map(obj, now.skeleton)
    if not action:
        raise LMMError("pick an action to generate; the model's actions are listed in the Generate panel")

    def made_onto_rig(made: Motion) -> Motion:
        motion = tasks.from_canonical(made, now.skeleton, target_map)
        return from_where_it_stands(now, motion, target_map) if from_character else motion

    if walk_to is not None:
        if method != "next-frame":
            raise LMMError("Walk To 3D Cursor steers the next-frame network: set Method to Next Frame")
        goal = bridge.to_blender_axes("y").T @ np.asarray(walk_to, dtype=np.float64) / _metres(scene)
        motion, seconds = _walk_to(now, goal, made_onto_rig, target_map, from_character, action, style, seed,
                                   variation, model)
        motion = _ending_on_a_frame(motion, bridge.scene_fps(scene))
    else:
        made = tasks.generate(action, style or None, seconds, seed, variation, model, method=method)
        progress(0.4)
        motion = made_onto_rig(made)
    progress(0.6)
    name = "_".join(p for p in (action, style, f"seed{seed}") if p)
    first = scene.frame_current
    new, motion = _write_new(context, obj, motion, name, first, fit_scene, _sub(progress, 0.6, 1.0))
    return f"Generated {new.name!r} on {obj.name!r}: {motion.num_frames} frames ({seconds:.3g} s) from frame {first}"


def _ending_on_a_frame(motion: Motion, fps: float) -> Motion:
    """``motion`` at ``fps`` with its last frame kept as the last (the arrival of a walk): resampled over a span
    stretched by under half a frame so that it ends on a whole frame, where plain resampling
    (``Motion.resampled``) would end up to a frame before it."""
    frames = max(1, int(round((motion.num_frames - 1) * fps / motion.fps)))
    return replace(motion.resampled(frames * motion.fps / (motion.num_frames - 1)), fps=fps)


_WALK_TRIES = 3  # walks made for Walk To 3D Cursor: the first, and up to two corrections (``_walk_to``)


def _walk_to(now: Motion, goal: np.ndarray, onto_rig, bone_map, from_character: bool, action: str, style: str,
             seed: int, variation: float, model) -> tuple[Motion, float]:
    """The next-frame network's walk from where the rig stands to ``goal`` (``(3,)`` metres, Y up, the rig's
    motion world), ending on arrival, and its length in seconds.

    The clip is made on the canonical body and only then put onto the rig and placed where it stands
    (``onto_rig``), so the goal is first guessed in the clip's own ground (ahead of the character, to its
    left), then corrected by where that walk arrived: placing is nearly a fixed move of the ground (turn,
    shift, the rig's stride scale) that does not depend on the goal, so one correction lands within about a
    centimetre and a second within millimetres (the feet's clean-up on the rig moves the pelvis a little)."""
    if from_character:
        ground, forward = _stance(now, placement.stance_joints(now.skeleton, bone_map))
        left = np.cross(np.array([0.0, 1.0, 0.0]), forward)
        d = goal - ground
        to = np.array([d @ left, d @ forward])
    else:
        to = goal[[0, 2]]
    distance = float(np.hypot(*to))
    if distance < 0.2:
        raise LMMError("the 3D cursor is where the character already stands; put it where it should walk to")
    # Long enough for a slow walk there; the clip is cut where it arrives.
    seconds = min(120.0, distance / 0.4 + 2.0)
    at = None
    for _ in range(_WALK_TRIES):
        made = tasks.generate(action, style or None, seconds, seed, variation, model, method="next-frame",
                              to=(float(to[0]), float(to[1])), at=at)
        fps = made.fps  # the next-frame network's rate
        arrive = int(np.argmin(np.linalg.norm(made.root_positions[:, [0, 2]] - to, axis=1)))
        motion = onto_rig(made)
        # The ground move from the made clip onto the rig, a turn and a scale (as complex numbers x + iz: one
        # factor ``c``), fitted by least squares over the clip's pelvis path.
        a = made.root_positions[:, [0, 2]] - made.root_positions[0, [0, 2]]
        b = motion.root_positions[:, [0, 2]] - motion.root_positions[0, [0, 2]]
        za, zb = a[:, 0] + 1j * a[:, 1], b[:, 0] + 1j * b[:, 1]
        c = np.vdot(za, zb) / np.vdot(za, za)
        miss = goal[[0, 2]] - motion.root_positions[arrive, [0, 2]]
        if np.linalg.norm(miss) < 2e-3:
            break
        step = (miss[0] + 1j * miss[1]) / c
        to = to + np.array([step.real, step.imag])
        at, seconds = arrive / fps, (arrive + 1) / fps
    return motion.slice(0, arrive + 1), (arrive + 1) / fps


def source_motion(context, source_object: bpy.types.Object | None, filepath: str, progress: Progress):
    """The motion to retarget and its bone map: another armature's action, a BVH file or an FBX file."""
    if filepath:
        path = bpy.path.abspath(filepath)
        motion = fbx_import.read_motion(context, path, progress) if path.lower().endswith(".fbx") else read_bvh(path)
        return motion, bonemap.bone_map_for(motion.skeleton, pose=motion.global_positions()[0])
    if source_object is None:
        raise LMMError("pick the armature (or BVH or FBX file) to retarget from in the Retarget panel")
    if source_object.type != "ARMATURE":
        raise LMMError(f"{source_object.name!r} is not an armature; pick the armature to retarget from")
    motion = read(source_object, context.scene, progress=progress)
    return motion, mapping.rig_bone_map(source_object, motion.skeleton, pose=motion.global_positions()[0])


def retarget_onto(context, obj, source, source_map, name: str, root_motion: str, fix_feet: bool, fit_scene: bool,
                  progress: Progress, from_character: bool = True) -> str:
    """``source`` (any rig) as a new action on ``obj`` from the current frame (and, with ``from_character``,
    from where the rig stands on it, turned to face its way; else where the source stood)."""
    scene = context.scene
    now = pose_now(obj, scene)
    target_map = mapping.rig_bone_map(obj, now.skeleton)
    motion = retarget.retarget(source, source_map, now.skeleton, target_map, root_motion=root_motion,
                               fix_feet=fix_feet)
    if from_character:
        motion = from_where_it_stands(now, motion, target_map)
    progress(0.5)
    first = scene.frame_current
    new, motion = _write_new(context, obj, motion, f"{name}_{obj.name}", first, fit_scene, _sub(progress, 0.5, 1.0))
    return (f"Retargeted {name!r} onto {obj.name!r} as {new.name!r}: {motion.num_frames} frames from frame "
            f"{first}, {len(target_map.bones)} of 22 body joints mapped")


def mirror(context, obj, frame_range: tuple[int, int] | None, progress: Progress) -> str:
    """The action (or ``frame_range``) mirrored left to right into a new action."""
    scene = context.scene
    motion = read(obj, scene, frame_range, _sub(progress, 0.0, 0.5))
    pairs = None
    if not motion.skeleton.pairs:  # names do not say left and right: the bone map does
        pairs = mapping.rig_bone_map(obj, motion.skeleton).side_pairs(motion.skeleton)
    mirrored = mirroring.mirror_on_rig(motion, pairs)
    source = _action_name(obj)
    name = mirroring.mirror_label(source)
    name = name if name != source else f"{source}.mirror"
    first = frame_range[0] if frame_range else bridge.action_frames(obj, scene)[0]
    new = bridge.write_action(obj, mirrored, scale=_metres(scene), frame_start=first, name=name,
                              progress=_sub(progress, 0.5, 1.0))
    return f"Mirrored {source!r} into {new.name!r}: {motion.num_frames} frames from frame {first}"


def clean_up(context, obj, frame_range: tuple[int, int] | None, lock_feet: bool, clamp_limits: bool,
             add_constraints: bool, progress: Progress, selected_only: bool = False) -> str:
    """Joint limits and foot locking on the rig's action (into a new action), and Limit Rotation constraints.

    Clean-up works on the canonical body (``lmm_core.cleanup.clean_up_rig``): only the change it made reaches
    the rig's own rotations, so frames and joints the clean-up leaves alone keep exactly what the animator had.
    """
    if not (lock_feet or clamp_limits or add_constraints):
        raise LMMError("nothing to do: tick Lock Feet, Joint Limits or Limit Rotation Constraints")
    scene = context.scene
    done = []
    limits = cleanup.JointLimits.load() if (clamp_limits or add_constraints) else None
    if lock_feet or clamp_limits:
        if not len(bridge.keyed_frames(obj, frame_range=frame_range)):
            # Without keys there is no motion of the animator's to clean (the rest pose would be read instead).
            where = f" in frames {frame_range[0]}-{frame_range[1]}" if frame_range else ""
            raise LMMError(f"nothing to clean up: {obj.name!r} has no keys{where}; key its action (or pick a "
                           "frame range that holds keys) first")
        motion = read(obj, scene, frame_range, _sub(progress, 0.0, 0.4))
        bone_map = mapping.rig_bone_map(obj, motion.skeleton, pose=motion.global_positions()[0])
        cleaned = cleanup.clean_up_rig(motion, bone_map, limits=limits if clamp_limits else False, feet=lock_feet)
        if selected_only:
            cleaned = _only_bones(motion, cleaned, key_bones(obj, mapping.driven_bones(bone_map), True))
        progress(0.7)
        first = frame_range[0] if frame_range else bridge.action_frames(obj, scene)[0]
        new = bridge.write_action(obj, cleaned, scale=_metres(scene), frame_start=first,
                                  name=f"{_action_name(obj)}.clean", progress=_sub(progress, 0.7, 0.95))
        changed = float(np.degrees(R.angle(R.inv_mul(motion.rotations, cleaned.rotations)).max()))
        done.append(f"cleaned into {new.name!r} (largest change {changed:.1f} degrees)")
    if add_constraints and control_rig(obj) is not None:
        # A control rig's deform bones follow its controls through constraints: a Limit Rotation there
        # would fight them (the clamp above already holds the keyed controls inside the limits).
        done.append("no Limit Rotation constraints added: a control rig's deform bones are driven by its "
                    "controls, and the clamp already keeps the keyed controls inside the limits")
    elif add_constraints:
        added, skipped = add_limit_constraints(obj, scene, limits)
        done.append(f"{added} Limit Rotation constraints added"
                    + (f", {skipped} bones skipped (their rest pose is not a T-pose)" if skipped else ""))
    progress(1.0)
    return f"Clean up {obj.name!r}: " + "; ".join(done)


def _only_bones(before: Motion, after: Motion, bones: list[str]) -> Motion:
    """``after`` on ``bones`` (and the root's path when the root is one of them), ``before`` elsewhere."""
    chosen = np.isin(np.asarray(before.skeleton.names), bones)
    rotations = np.where(chosen[None, :, None], after.rotations, before.rotations)
    root = after.root_positions if chosen[0] else before.root_positions
    translations = after.translations
    if before.translations is not None and after.translations is not None:
        translations = np.where(chosen[None, :, None], after.translations, before.translations)
    return replace(after, rotations=rotations, root_positions=root, translations=translations)


def add_limit_constraints(obj, scene, limits) -> tuple[int, int]:
    """Limit Rotation constraints (local space) on the rig's mapped bones from the learned limits.

    A constraint can only say "this bone's own rotation stays in a box", which matches the limits when the
    bone's rest pose is the canonical T-pose's (the limits are rotations away from that pose). Bones whose
    rest differs from it by more than 10 degrees relative to their parent (an A-pose's arms) are
    skipped, as are bones whose parent in the rig is not their canonical parent's bone. Returns the
    numbers of constraints added (replacing earlier LMM ones) and of mapped bones skipped.
    """
    skeleton = rig_skeleton(obj, scene)
    bone_map = mapping.rig_bone_map(obj, skeleton)
    binding = retarget.bind(skeleton, bone_map)
    index = {n: i for i, n in enumerate(skeleton.names)}
    names = canonical.JOINT_NAMES
    frames = np.tile(np.array([1.0, 0.0, 0.0, 0.0]), (len(names), 1))
    usable: list[int] = []
    axes = bridge.bone_axes(obj, skeleton.names)
    for c, joint in enumerate(names):
        parent_joint = canonical.PARENTS[c]
        bone = bone_map.bones.get(joint)
        if bone is None or parent_joint < 0:
            continue
        j, p = index[bone], skeleton.parents[index[bone]]
        if p < 0 or skeleton.names[p] != bone_map.bones.get(names[parent_joint]):
            continue
        ref = binding.ref_global
        if float(R.angle(R.inv_mul(ref[p], ref[j]))) > _REST_IS_REFERENCE_RAD:
            continue
        frames[c] = R.mul(ref[j], axes[j])  # joint frame -> pose bone axes, through the reference pose
        usable.append(c)
    settings = limits.euler_limits(frames)
    added = 0
    for c in usable:
        limit = settings[c]
        if limit is None:
            continue
        pose_bone = obj.pose.bones[bone_map.bones[names[c]]]
        old = pose_bone.constraints.get(_LIMIT_NAME)
        if old is not None:
            pose_bone.constraints.remove(old)
        con = pose_bone.constraints.new("LIMIT_ROTATION")
        con.name = _LIMIT_NAME
        con.owner_space = "LOCAL"
        con.euler_order = limit.order
        for i, axis in enumerate("xyz"):
            setattr(con, f"use_limit_{axis}", bool(limit.use[i]))
            setattr(con, f"min_{axis}", float(limit.min[i]))
            setattr(con, f"max_{axis}", float(limit.max[i]))
        added += 1
    candidates = [c for c, joint in enumerate(names) if joint in bone_map.bones and canonical.PARENTS[c] >= 0]
    return added, len(candidates) - len(usable)
