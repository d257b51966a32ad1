"""A made motion as sparse Bezier keys in an animator's action (``lmm_core.keys`` picks them).

``plan_keys`` turns the motion into the F-curve values the rig's bones would take on every frame (in each
bone's rotation mode, continuous with the animator's own values on their key frames, as ``insert_keys``
writes them); ``fit_keys`` (numpy only, so a worker thread may run it) picks the keys, measuring the world
positions of the held bones' heads and tails (the feet, hands and head) that the played-back curves give,
decoded back to a motion here (``_decode``: the inverse of ``write._pose_values``). A key goes beside each
animator's key too: Blender recomputes an automatic handle from its new neighbours (and a constant key
holds to the next), which a one-frame segment makes harmless on whole frames. ``write_keys`` adds the keys,
Bezier with aligned handles a third of the way to their neighbours, reads the F-curves back as Blender
evaluates them and keys the frames still over the tolerance. A key already on a curve is never moved or
changed.

Arrays: curve values ``(T, C)`` on motion frames ``0..T-1`` (scene frame ``frame_start + t``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Callable, Iterable

import bpy
import numpy as np

from .._core import UNITS_TO_METRES, LMMError, Motion
from .._core import keys as core_keys
from .._core import rotations as R
from .action import add_keys, assigned_fcurves, key_times
from .space import armature_rest, to_blender_axes, world_transform
from .write import _chain, _pose_values, _rotation_curves, insert_keys

_REFINE_ROUNDS = 4


@dataclass
class KeyPlan:
    """The keys to write: one F-curve per column of ``values``.

    Attributes:
        motion: the motion keyed (rig skeleton), and ``target``: what Blender should show on every frame
            (``motion`` on the keyed bones, the rig's current motion elsewhere).
        paths, indices, bones: each curve's data path, array index and bone (its F-curve group).
        values: ``(T, C)`` the value of every curve on every frame; ``keys``: ``lmm_core.keys.Keys``.
        frames: motion frames that may get new keys; ``keep``: the animator's key frames (kept as they are).
        tolerance: metres; ``scale``: Blender units per motion unit; ``frame_start``: scene frame of frame 0.
        The rest is what ``fit_keys`` needs without Blender (see the comments).
    """

    motion: Motion
    target: Motion
    paths: list[str]
    indices: list[int]
    bones: list[str]
    values: np.ndarray
    keys: "core_keys.Keys"
    frames: np.ndarray
    keep: np.ndarray
    tolerance: float
    scale: float
    frame_start: int
    joints: list[tuple[int, str, str, slice]]  # (joint, property, rotation mode or LOCATION, its columns)
    group_scale: list[float]  # metres per channel unit of each group (see lmm_core.keys.fit)
    watched: list[int] | None = None  # the joints held within the tolerance (None: all)
    placement: tuple = ()  # the rig's world rotation (3, 3), scale and position (3,) (``space.world_transform``)
    rest: tuple = ()  # its bones' rest orientations (J, 3, 3) and heads (J, 3), armature space
    every_frame: bool = False
    fit_keep: np.ndarray | None = None  # frames the fit keys on every group
    groups: np.ndarray | None = None  # (C,) the group (bone rotation, bone location) of each curve
    measure: Callable | None = None  # played curves (T, C) -> (T,) metres; None: FK of the keyed joints


def on_controls(obj: bpy.types.Object, skeleton) -> bool:
    """Whether a motion on ``skeleton`` goes onto ``obj``'s controls (a Rigify rig: ``controls``): keyed by
    ``insert_control_keys`` (the pose solved frame by frame, then thinned), not ``plan_keys``."""
    from . import controls

    return controls.drives(controls.control_rig(obj), skeleton)


def _bone_path(name: str) -> str:
    return f'pose.bones["{bpy.utils.escape_identifier(name)}"]'


def _decode(plan_like: KeyPlan, values: np.ndarray) -> Motion:
    """The motion the curve values ``(T, C)`` pose on the rig: ``target`` with the keyed joints' rotations
    (and locations) replaced by what the curves give (the inverse of ``write._pose_values``). Reads no
    Blender data (the rig's placement and rest are in the plan), so a fit can run in a worker thread."""
    base = plan_like.target
    sk = base.skeleton
    axes = to_blender_axes(sk.up_axis)
    world_rot, world_scale, world_pos = plan_like.placement
    rest_rot, rest_head = plan_like.rest
    e = R.from_matrix(axes.T @ world_rot @ rest_rot)  # (J, 4) as in _pose_values
    rotations = base.rotations.copy()
    root = base.root_positions.copy()
    translations = None if base.translations is None else base.translations.copy()
    k = plan_like.scale / world_scale
    for j, prop, mode, cols in plan_like.joints:
        v = values[:, cols]
        if prop == "location":
            arm = v @ rest_rot[j].T  # B (loc): armature-space offset from the rest head
            if j == 0:
                root = ((arm + rest_head[0]) * world_scale @ world_rot.T + world_pos) @ axes / plan_like.scale
            elif translations is not None:
                delta = rest_head[j] - rest_head[sk.parents[j]]
                translations[:, j] = (arm + delta) @ world_rot.T @ axes / k
            continue
        if mode == "QUATERNION":
            basis = R.normalize(v)
        else:
            order = mode[::-1].lower()
            basis = R.from_euler(np.stack([v[:, "xyz".index(a)] for a in order], axis=1), order)
        rotations[:, j] = R.mul(e[j][None], R.mul(basis, R.inv(e[j])[None]))
    return replace(base, rotations=rotations, root_positions=root, translations=translations)


def plan_keys(
    obj: bpy.types.Object,
    motion: Motion,
    current: Motion,
    frames: Iterable[int],
    *,
    keep: Iterable[int] = (),
    bones: Iterable[str] | None = None,
    scale: float = 1.0,
    frame_start: int = 1,
    tolerance: float = core_keys.DEFAULT_TOLERANCE_M,
    every_frame: bool = False,
    watch: Iterable[str] | None = None,
    fit: bool = True,
) -> KeyPlan:
    """Keys for ``motion`` on ``bones`` of ``obj`` over motion frames ``frames``, within ``tolerance`` metres.

    Args:
        motion: the pose on every frame, the rig's skeleton (see ``write.write_action``), in metres or any
            units (the tolerance is metres).
        current: what the rig shows now on the same frames (its other bones stay so).
        frames: motion frames that may get keys; ``keep``: the animator's key frames.
        bones: the bones to key (default: every joint of the motion).
        every_frame: a key on every frame of ``frames`` (still Bezier, with the motion's slopes).
        watch: the bones whose heads and tails are held within ``tolerance`` (default: every joint and end site).
        fit: fit the keys now; ``False`` leaves that to ``fit_keys`` (numpy only: a worker thread may run it).
    """
    if obj is None or obj.type != "ARMATURE":
        raise LMMError("keys can only be added to an armature object")
    sk = motion.skeleton
    chosen = set(sk.names if bones is None else bones)
    for pose_bone in (obj.pose.bones[n] for n in sk.names if n in chosen):
        if pose_bone.rotation_mode == "AXIS_ANGLE":
            raise LMMError(
                f"bone {pose_bone.name!r} rotates in Axis Angle mode; switch it to Quaternion or an Euler "
                "order (Bone properties > Transform > Mode) and try again"
            )
    frames = np.asarray(sorted({int(t) for t in frames}), dtype=np.int64)
    keep = np.asarray(sorted({int(t) for t in keep}), dtype=np.int64)
    basis, locations = _pose_values(obj, motion, scale)
    fcurves, _ = assigned_fcurves(obj)
    scene_frames = frame_start + np.arange(motion.num_frames)
    joints = [j for j, n in enumerate(sk.names) if n in chosen]

    # What Blender will show: the made motion on the keyed joints, the rig's own motion on the others.
    keyed_joint = np.zeros(sk.num_joints, dtype=bool)
    keyed_joint[joints] = True
    rotations = np.where(keyed_joint[None, :, None], motion.rotations, current.rotations)
    root = motion.root_positions if keyed_joint[0] else current.root_positions
    translations = motion.translations
    if motion.translations is not None and current.translations is not None:
        translations = np.where(keyed_joint[None, :, None], motion.translations, current.translations)
    target = replace(motion, rotations=rotations, root_positions=root, translations=translations)
    index = {n: j for j, n in enumerate(sk.names)}
    watched = None if watch is None else [index[n] for n in watch if n in index]
    if watched:  # a held bone is held by its head and its tail, so that its own turn counts (a hand's)
        world_rot, world_scale, _ = world_transform(obj)
        rest_rot, rest_head, rest_tail = armature_rest(obj, sk.names)
        tips = (rest_tail - rest_head) * world_scale @ world_rot.T @ to_blender_axes(sk.up_axis) / scale
        ends = {**sk.end_sites, **{j: tips[j] for j in watched if j not in sk.end_sites}}
        target = replace(target, skeleton=replace(sk, end_sites=ends))

    columns, paths, indices, names, groups, spans, group_scale = [], [], [], [], [], [], []
    reach = core_keys.reach(target, watched)
    metres = UNITS_TO_METRES[sk.units]
    _, world_scale, _ = world_transform(obj)
    col = 0
    for j in joints:
        joint = sk.names[j]
        pose_bone = obj.pose.bones[joint]
        mode = pose_bone.rotation_mode
        prop, values = _rotation_curves(mode, basis[:, j])
        channels = [(prop, values, mode)]
        if j in locations:
            channels.append(("location", locations[j], "LOCATION"))
        for prop, values, mode in channels:
            path = f"{_bone_path(joint)}.{prop}"
            curves = [fcurves.find(path, index=i) if fcurves is not None else None for i in range(values.shape[1])]
            static = getattr(pose_bone, prop)
            anchors = {int(t): np.array([c.evaluate(scene_frames[t]) if c is not None else static[i]
                                         for i, c in enumerate(curves)]) for t in keep}
            if mode != "LOCATION":
                values = _chain(values, anchors, mode)
            for t, value in anchors.items():
                values[t] = value
            n = values.shape[1]
            columns.append(values)
            paths += [path] * n
            indices += list(range(n))
            names += [joint] * n
            groups += [len(spans)] * n
            spans.append((j, prop, mode, slice(col, col + n)))
            col += n
            if mode == "LOCATION":  # a Blender unit along the bone's axes, in metres
                group_scale.append(world_scale / scale * metres)
            else:  # a quaternion component turns the bone by up to 2 radians; an Euler radian by about one
                group_scale.append((2.0 if mode == "QUATERNION" else 1.0) * max(reach[j], 1e-3))
    values = np.concatenate(columns, axis=1) if columns else np.zeros((motion.num_frames, 0))
    groups = np.asarray(groups, dtype=np.int64)
    plan = KeyPlan(motion, target, paths, indices, names, values, None, frames, keep, tolerance, scale,  # type: ignore[arg-type]
                   frame_start, spans, group_scale)
    plan.watched, plan.every_frame, plan.groups = watched, every_frame, groups
    plan.placement = world_transform(obj)
    plan.rest = armature_rest(obj, sk.names)[:2]
    # Frames outside ``frames`` and not kept are not ours to key: the fit keys them so that its curves
    # match the rig there (they are never written), and the curves between start at the animator's keys.
    outside = np.setdiff1d(np.arange(motion.num_frames), frames)
    # Beside each animator's key too: Blender recomputes its automatic handles from its new neighbours (and
    # a stepped key holds until the next), which one-frame segments make harmless on whole frames.
    beside = np.intersect1d(np.concatenate([keep - 1, keep + 1]), frames)
    plan.fit_keep = np.union1d(np.union1d(keep, outside), beside)
    return fit_keys(plan) if fit else plan


def _measure(plan: KeyPlan) -> Callable[[np.ndarray], np.ndarray]:
    """Played curves ``(T, C)`` -> ``(T,)`` metres off on each frame: the plan's own measure (a control rig's
    bound) or the distance of the held points, by forward kinematics of the decoded motion."""
    if plan.measure is not None:
        return plan.measure
    measure = core_keys.point_error(plan.target, plan.watched)
    return lambda v: measure(_decode(plan, v))


def fit_keys(plan: KeyPlan) -> KeyPlan:
    """The plan with its keys fitted (``lmm_core.keys.fit``); numpy only, so it may run in a worker thread."""
    keys = core_keys.fit(plan.values, plan.groups, np.asarray(plan.group_scale), _measure(plan),
                         plan.tolerance, keep=plan.fit_keep, every_frame=plan.every_frame)
    if plan.every_frame:
        keyed = np.zeros_like(keys.keyed)
        keyed[np.union1d(plan.frames, plan.keep)] = True
        keys = core_keys.Keys(keyed, keys.slopes, keys.groups)
    return replace(plan, keys=keys)


def _add_points(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Add Bezier keys with aligned handles in bulk (handles set by ``_set_handles``); the curve's own keys
    stay as they are."""
    points = fcurve.keyframe_points
    old, n = len(points), len(frames)
    points.add(n)
    flat = np.empty(2 * (old + n), dtype=np.float32)
    points.foreach_get("co", flat)
    flat[2 * old:] = np.column_stack([frames, values]).ravel()
    points.foreach_set("co", flat)
    for name, value in (("interpolation", _enum("interpolation", "BEZIER")),
                        ("handle_left_type", _enum("handle_left_type", "ALIGNED")),
                        ("handle_right_type", _enum("handle_right_type", "ALIGNED"))):
        flat = np.empty(old + n, dtype=np.int32)
        points.foreach_get(name, flat)
        flat[old:] = value
        points.foreach_set(name, flat)


def _set_handles(fcurve: bpy.types.FCurve, frames: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
    """Set the handles ``(N, 2)`` of the keys on scene ``frames`` (ours: the animator's keep theirs), then let
    Blender sort the points and recompute the automatic handles of the animator's keys."""
    points = fcurve.keyframe_points
    co = np.empty(2 * len(points), dtype=np.float32)
    points.foreach_get("co", co)
    times = co[0::2].astype(np.float64)
    order = np.argsort(times, kind="stable")
    at = order[np.clip(np.searchsorted(times[order], frames - 0.25), 0, len(times) - 1)]
    hit = np.abs(times[at] - frames) < 0.25
    for name, new in (("handle_left", left), ("handle_right", right)):
        flat = np.empty(2 * len(points), dtype=np.float32)
        points.foreach_get(name, flat)
        pairs = flat.reshape(-1, 2)
        pairs[at[hit]] = new[hit]
        points.foreach_set(name, flat)
    fcurve.update()


@functools.cache
def _enum(prop: str, item: str) -> int:
    return bpy.types.Keyframe.bl_rna.properties[prop].enum_items[item].value


def _handles(keys: "core_keys.Keys", values: np.ndarray, c: int, frames: np.ndarray, scene_frames: np.ndarray):
    """Left and right handles ``(N, 2)`` of curve ``c``'s keys on ``frames``: on the key's slope, a third of
    the way to the previous and next key of its group (Hermite = Bezier at thirds)."""
    all_keys = keys.frames(int(keys.groups[c]))
    pos = np.searchsorted(all_keys, frames)
    prev = np.where(pos > 0, all_keys[np.maximum(pos - 1, 0)], frames - 1)
    nxt = np.where(pos + 1 < len(all_keys), all_keys[np.minimum(pos + 1, len(all_keys) - 1)], frames + 1)
    dl, dr = (frames - prev) / 3.0, (nxt - frames) / 3.0
    s = keys.slopes[frames, c]
    v = values[frames, c]
    t = scene_frames[frames].astype(np.float64)
    return np.column_stack([t - dl, v - s * dl]), np.column_stack([t + dr, v + s * dr])


def _played(plan: KeyPlan, fcurves, columns: np.ndarray | None = None) -> np.ndarray:
    """``(T, C)`` the F-curves as Blender evaluates them on every frame (the plan's values where a curve is
    missing or not among ``columns``)."""
    out = plan.values.copy()
    scene_frames = (plan.frame_start + np.arange(len(out))).astype(np.float64)
    for c in range(len(plan.paths)) if columns is None else columns:
        curve = fcurves.find(plan.paths[c], index=plan.indices[c])
        if curve is not None:
            out[:, c] = [curve.evaluate(f) for f in scene_frames]
    return out


def _beside_keep(keys, miss: np.ndarray, scale: np.ndarray, budget: np.ndarray, keep: np.ndarray,
                 allowed: np.ndarray):
    """``keys`` plus a key beside an animator's key (the frame after it, the frame before it) in every group
    whose curve misses by more than ``budget`` in the segment there: Blender recomputes the animator's
    automatic handles from their new neighbours, and a one-frame segment plays exactly on whole frames."""
    n = len(miss)
    local = np.zeros(keys.keyed.shape)
    np.maximum.at(local.T, keys.groups, miss.T)
    local *= scale[None]
    frame = np.arange(n)[:, None]
    after = np.minimum.accumulate(np.where(keys.keyed, frame, n)[::-1], axis=0)[::-1]
    before = np.maximum.accumulate(np.where(keys.keyed, frame, -1), axis=0)
    keyed = keys.keyed.copy()
    for k in keep:
        for side in (1, -1):
            t = k + side
            if not (0 <= t < n and allowed[t]):
                continue
            end = after[t] if side > 0 else before[t]  # (G,) the key that closes the segment
            lo, hi = (t, int(end.max())) if side > 0 else (int(end.min()) + 1, t + 1)
            span = frame[lo:hi]
            inside = (span < end[None]) if side > 0 else (span > end[None])
            worst = np.where(inside, local[lo:hi], 0.0).max(axis=0) if hi > lo else np.zeros(len(end))
            keyed[t] |= worst > budget[lo:hi].min(initial=budget[t])
    return replace(keys, keyed=keyed)


_POINT_DATA = (("co", 2, np.float32), ("handle_left", 2, np.float32), ("handle_right", 2, np.float32),
               ("handle_left_type", 1, np.int32), ("handle_right_type", 1, np.int32), ("interpolation", 1, np.int32),
               ("type", 1, np.int32), ("easing", 1, np.int32), ("back", 1, np.float32), ("amplitude", 1, np.float32),
               ("period", 1, np.float32), ("select_control_point", 1, bool), ("select_left_handle", 1, bool),
               ("select_right_handle", 1, bool))


def _snapshot(fcurve: bpy.types.FCurve) -> dict[str, np.ndarray]:
    """Everything its keys hold, in bulk, so that ``_restore`` can put the curve back exactly."""
    points = fcurve.keyframe_points
    out = {}
    for name, width, kind in _POINT_DATA:
        flat = np.empty(width * len(points), dtype=kind)
        points.foreach_get(name, flat)
        out[name] = flat
    return out


def _restore(fcurve: bpy.types.FCurve, saved: dict[str, np.ndarray]) -> None:
    points = fcurve.keyframe_points
    points.clear()
    points.add(len(saved["co"]) // 2)
    for name, _, _ in _POINT_DATA:
        points.foreach_set(name, saved[name])
    fcurve.update()


def write_keys(obj: bpy.types.Object, plan: KeyPlan) -> tuple[int, float]:
    """``write_key_steps`` all at once: the number of keys added and the worst error left, in metres."""
    steps = write_key_steps(obj, plan)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def write_key_steps(obj: bpy.types.Object, plan: KeyPlan, curves_per_step: int = 12):
    """Job part: add the plan's keys to ``obj``'s action (missing F-curves made) a few curves per step, then
    read the curves back and, where Blender plays a frame more than the tolerance away, add keys to the
    groups that miss, a few rounds at most, then on every group of a frame still over. Yields progress;
    returns the number of keys added and the worst error left, in metres, over the plan's frames.

    Stopped part way (a cancel closes it) or failing, it puts every curve back as it was: the keys of the
    curves it changed are restored from a copy taken before, and the curves it made are removed."""
    fcurves, new_fcurve = assigned_fcurves(obj, create=True)
    if fcurves is None:
        raise LMMError(f"armature {obj.name!r} has no action to add keys to; key a pose first")
    saved: dict[int, dict] = {}  # curve column -> its keys before
    made: list[bpy.types.FCurve] = []
    try:
        result = yield from _write_rounds(plan, fcurves, new_fcurve, saved, made, curves_per_step)
    except BaseException:  # GeneratorExit (cancelled) included: the action as it was
        for c, data in saved.items():
            curve = fcurves.find(plan.paths[c], index=plan.indices[c])
            if curve is not None:
                _restore(curve, data)
        for curve in made:
            fcurves.remove(curve)
        raise
    return result


def _write_rounds(plan: KeyPlan, fcurves, new_fcurve, saved: dict, made: list, curves_per_step: int):
    n = len(plan.values)
    scene_frames = plan.frame_start + np.arange(n)
    allowed = np.zeros(n, dtype=bool)
    allowed[plan.frames] = True
    allowed[plan.keep] = True
    keys = replace(plan.keys, keyed=plan.keys.keyed & allowed[:, None])
    measure = _measure(plan)
    check = np.union1d(plan.frames, plan.keep)
    scale = np.asarray(plan.group_scale)
    budget = np.full(n, 0.5 * plan.tolerance)
    ours = [np.zeros(0, dtype=np.int64) for _ in plan.paths]  # per curve: the frames we keyed
    added, worst, touched = 0, 0.0, np.ones(len(plan.paths), dtype=bool)
    for round_ in range(_REFINE_ROUNDS + 2):
        for done, c in enumerate(np.flatnonzero(touched)):
            if done and done % curves_per_step == 0:
                yield 0.9 * done / len(plan.paths) if round_ == 0 else 0.9
            path, index, bone = plan.paths[c], plan.indices[c], plan.bones[c]
            frames = np.flatnonzero(keys.keyed[:, keys.groups[c]])
            curve = fcurves.find(path, index=index)
            if curve is None:
                curve = new_fcurve(path, index, bone)
                made.append(curve)
            elif c not in saved:
                saved[c] = _snapshot(curve)
            new = np.setdiff1d(frames, ours[c])
            have = key_times(curve)
            if len(have) and len(new):  # a key already on a frame stays (the animator's)
                new = new[~np.isin(scene_frames[new], np.round(have).astype(np.int64))]
            if len(new):
                _add_points(curve, scene_frames[new].astype(np.float64), plan.values[new, c])
                added += len(new)
            ours[c] = np.union1d(ours[c], new)
            if len(ours[c]):  # handles a third of the way to the neighbours, old keys included
                left, right = _handles(keys, plan.values, c, ours[c], scene_frames)
                _set_handles(curve, scene_frames[ours[c]].astype(np.float64), left, right)
        yield 0.9
        if round_ == 0:
            played = _played(plan, fcurves)
        else:  # only the curves that got keys play differently
            columns = np.flatnonzero(touched)
            played[:, columns] = _played(plan, fcurves, columns)[:, columns]
        error = measure(played)
        worst = float(error[check].max()) if len(check) else 0.0
        bad = np.zeros(n, dtype=bool)
        bad[check[error[check] > plan.tolerance]] = True
        if not bad.any() or round_ == _REFINE_ROUNDS + 1:
            break
        budget[bad] *= 0.3
        before = keys.keyed
        miss = np.abs(played - plan.values) * allowed[:, None]
        if round_ == 0:
            keys = _beside_keep(keys, miss, scale, budget, plan.keep, allowed)
        elif round_ < _REFINE_ROUNDS:
            keys = core_keys.refine(keys, miss, scale, budget)
        if keys.keyed is before or round_ == _REFINE_ROUNDS:  # the last resort: exact on the frames still over
            keys = core_keys.key_frames(keys, bad & allowed)
        touched = (keys.keyed != before)[:, keys.groups].any(axis=0)
    return added, worst


def insert_control_keys(
    obj: bpy.types.Object,
    motion: Motion,
    frames: Iterable[int],
    *,
    keep: Iterable[int] = (),
    bones: Iterable[str] | None = None,
    scale: float = 1.0,
    frame_start: int = 1,
    tolerance: float = core_keys.DEFAULT_TOLERANCE_M,
    every_frame: bool = False,
    held: Iterable[str] = (),
) -> tuple[int, float]:
    """``write.insert_keys`` on a control rig's controls (Rigify's), thinned to sparse Bezier keys.

    The controls are solved on every frame and keyed there (``insert_keys``: the animator's keys hold, the
    limbs are switched to FK). Unless ``every_frame``, those values are read back, the curves put back as
    they were, and a sparse set of keys fitted to them (``lmm_core.keys.fit``) and written (``write_keys``,
    which reads the curves back and adds keys where they still miss), so that the ``held`` deforming bones
    (their heads and tails: the feet, hands and head) stay within ``tolerance`` metres of where the
    every-frame keys put them. The switches keep a key at each end of every run of frames they were keyed on
    (their value is constant there).

    Blender's constraints pose the deforming bones from the controls, and evaluating the rig per frame and
    fitting round would cost seconds: the measure is ``lmm_core.keys.swing_error`` on the made motion
    instead (``_control_plan``): each control's rotation error, to first order, turns the held points it
    carries about its head; a location error moves them by as much. tests/test_addon_rigify.py measures the
    deforming bones in Blender against the every-frame keys.

    Returns:
        The number of keys added and the worst error left by that measure over the keyed frames, metres (0
        with ``every_frame``).
    """
    from . import controls  # noqa: PLC0415  (as in on_controls)

    rig = controls.control_rig(obj)
    if not controls.drives(rig, motion.skeleton):
        raise LMMError(f"{obj.name!r} is not keyed through controls; key its bones with plan_keys instead")
    sk = motion.skeleton
    frames = np.asarray(sorted({int(t) for t in frames}), dtype=np.int64)
    keep = np.asarray(sorted({int(t) for t in keep}), dtype=np.int64)
    chosen = {c for d, c in rig.pairs if d in set(sk.names if bones is None else bones)}
    channels = []  # (control, property, mode, width), curves in this order
    for c in (c for c in rig.controls if c in chosen):
        mode = obj.pose.bones[c].rotation_mode
        channels.append((c, "rotation_quaternion" if mode == "QUATERNION" else "rotation_euler", mode,
                         4 if mode == "QUATERNION" else 3))
        if c in rig.located:
            channels.append((c, "location", "LOCATION", 3))
    curves = [(f"{_bone_path(c)}.{prop}", i, c) for c, prop, _, w in channels for i in range(w)]
    switches = [(path, 0, bone) for bone, path, _ in controls.switch_paths(rig)]
    before, _ = assigned_fcurves(obj)
    saved = {}
    for path, i, _ in curves + switches:
        curve = before.find(path, index=i) if before is not None else None
        if curve is not None:
            saved[(path, i)] = _snapshot(curve)
    added = insert_keys(obj, motion, frames, keep=keep, bones=bones, scale=scale, frame_start=frame_start)
    if every_frame:
        return added, 0.0
    fcurves, _ = assigned_fcurves(obj)

    def put_back(which) -> None:
        for path, i, _ in which:
            curve = fcurves.find(path, index=i)
            if curve is not None and (path, i) in saved:
                _restore(curve, saved[(path, i)])
            elif curve is not None:
                fcurves.remove(curve)

    try:
        n = motion.num_frames
        scene_frames = frame_start + np.arange(n)
        values = np.empty((n, len(curves)))
        for c, (path, i, _) in enumerate(curves):  # the every-frame keys, exact on their frames
            curve = fcurves.find(path, index=i)
            values[:, c] = [curve.evaluate(float(f)) for f in scene_frames]
        put_back(curves)
        added = _thin_switches(fcurves, switches, saved)
        plan = _control_plan(obj, rig, motion, channels, curves, values, frames, keep, scale, frame_start,
                             tolerance, list(held))
        more, worst = write_keys(obj, fit_keys(plan))
    except BaseException:
        put_back(curves + switches)
        raise
    return added + more, worst


def _thin_switches(fcurves, switches, saved: dict) -> int:
    """Keep only the first and last of each run of consecutive frames ``insert_keys`` keyed a switch on (the
    value is the same along the run); returns the switch keys left added."""
    added = 0
    for path, i, _ in switches:
        curve = fcurves.find(path, index=i)
        if curve is None:
            continue
        old = set(np.round(saved[(path, i)]["co"][0::2]).astype(np.int64)) if (path, i) in saved else set()
        points = curve.keyframe_points
        co = np.empty(2 * len(points), dtype=np.float32)
        points.foreach_get("co", co)
        times = np.round(co[0::2]).astype(np.int64)
        new = {int(t): float(v) for t, v in zip(times, co[1::2]) if int(t) not in old}
        ends = sorted(t for t in new if t - 1 not in new or t + 1 not in new)
        if (path, i) in saved:
            _restore(curve, saved[(path, i)])
        else:
            points.clear()
        if ends:
            add_keys(curve, np.asarray(ends, dtype=np.float64), np.array([new[t] for t in ends]))
        added += len(ends)
    return added


def _control_plan(obj, rig, motion: Motion, channels, curves, values: np.ndarray, frames: np.ndarray,
                  keep: np.ndarray, scale: float, frame_start: int, tolerance: float, held: list[str]) -> KeyPlan:
    """The ``KeyPlan`` of ``insert_control_keys``: a group per control channel (rotation, location), measured
    by ``lmm_core.keys.swing_error`` on the made motion in armature space.

    Each control's orientation is its deforming bone's times their rest relation (as ``controls.solve``
    poses it), its pivot its head, carried rigidly from the deforming bone's head; a control carries the held
    bones whose pose depends on it (``controls._reached``: parents and constraint targets)."""
    from . import controls  # noqa: PLC0415

    sk = motion.skeleton
    world_rot, world_scale, world_pos = world_transform(obj)
    per_unit = world_scale / scale * UNITS_TO_METRES[sk.units]  # metres per Blender unit of the armature
    held = [h for h in held if h in sk.names]
    deform_of = {c: d for d, c in rig.pairs}
    names = list(dict.fromkeys([deform_of[c] for c, *_ in channels] + held))
    index = [sk.names.index(n) for n in names]
    axes = to_blender_axes(sk.up_axis)
    to_arm = world_rot.T @ axes
    g_rot, g_pos = motion.fk()
    rest_rot, rest_head, _ = armature_rest(obj, names)
    orient = to_arm @ R.to_matrix(g_rot[:, index]) @ to_arm.T @ rest_rot  # (T, N, 3, 3) armature space
    heads = ((g_pos[:, index] @ axes.T) * scale - world_pos) @ world_rot / world_scale  # (T, N, 3)
    at = {n: k for k, n in enumerate(names)}
    bones = obj.data.bones
    h_at = [at[h] for h in held]
    lengths = np.array([bones[h].length for h in held])
    tails = heads[:, h_at] + orient[:, h_at][..., :, 1] * lengths[None, :, None]  # along each bone's Y axis
    points = np.concatenate([heads[:, h_at], tails], axis=1)  # (T, 2H, 3) the held heads, then their tails
    carried = [controls._reached(obj, h) for h in held]
    n, groups_n = motion.num_frames, len(channels)
    ctrl_rot, ctrl_head, _ = armature_rest(obj, [c for c, *_ in channels])
    group_frames = np.zeros((n, groups_n, 3, 3))
    pivots = np.zeros((n, groups_n, 3))
    carries = np.zeros((groups_n, 2 * len(held)), dtype=bool)
    spans, groups, group_scale = [], [], []
    col = 0
    for g, (c, _, mode, width) in enumerate(channels):
        k = at[deform_of[c]]
        group_frames[:, g] = orient[:, k] @ (rest_rot[k].T @ ctrl_rot[g])
        pivots[:, g] = heads[:, k] + orient[:, k] @ (rest_rot[k].T @ (ctrl_head[g] - rest_head[k]))
        carries[g] = np.tile([c in r for r in carried], 2)
        spans.append((slice(col, col + width), mode))
        groups += [g] * width
        col += width
        far = np.linalg.norm(points[:, carries[g]] - pivots[:, g, None], axis=-1).max(initial=0.0) * per_unit
        # How a channel error is judged before the whole pose is (lmm_core.keys.fit's scale): a quaternion
        # component turns the control by up to 2 radians, an Euler radian by about one.
        group_scale.append(per_unit if mode == "LOCATION" else (2.0 if mode == "QUATERNION" else 1.0) * max(far, 1e-3))
    plan = KeyPlan(motion, motion, [p for p, _, _ in curves], [i for _, i, _ in curves], [b for _, _, b in curves],
                   values, None, frames, keep, tolerance, scale, frame_start, [], group_scale)  # type: ignore[arg-type]
    plan.groups = np.asarray(groups, dtype=np.int64)
    plan.measure = core_keys.swing_error(values, spans, group_frames, pivots, points, carries, per_unit)
    # As in plan_keys: frames not ours are keyed in the fit (never written), and beside each animator's key.
    outside = np.setdiff1d(np.arange(motion.num_frames), np.union1d(frames, keep))
    beside = np.intersect1d(np.concatenate([keep - 1, keep + 1]), frames)
    plan.fit_keep = np.union1d(np.union1d(keep, outside), beside)
    return plan
