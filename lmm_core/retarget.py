"""Retargeting between any two humanoid skeletons through the canonical body.

How it works (numpy, vectorised over frames):

1. **Binding.** Each rig is bound to the canonical body by a bone map (canonical joint -> rig bone).
   Its *reference pose* is found by rotating every mapped bone so that the vectors to its nearest
   mapped descendants point where the canonical T-pose has them (one descendant: the shortest swing;
   several, as at the pelvis and chest: a least-squares fit). This is what makes T-pose, A-pose,
   bones-along-X rest poses (LAFAN1, Bandai) and any bone roll line up.
2. **Rotations.** A mapped bone copies the source's change from *its* reference, in world space:
   ``G_t = W G_s Gref_s^-1 W^-1 Gref_t`` (``W`` turns the source's up axis into the target's).
   Bones the source does not drive keep their reference pose relative to their parent.
3. **Directions.** Each mapped bone is then swung so that the vectors to its mapped descendants
   point exactly as the source's do, so joint positions follow the source up to proportions,
   whatever twist the references disagree on.
4. **Root.** The pelvis path is scaled by the ratio of the rigs' pelvis-over-ankle heights (which
   also converts units), kept or made in place; heights are put on the target's own standing ankle
   height, so feet of other sizes neither sink nor float. How a motion's rig stands (its foot slope,
   its ankles' standing height, the source's ground) is measured on the frames where it stands upright
   (``upright_frames``): a take that kneels, crawls or lies for a moment would otherwise stand on
   tiptoe in the air.
5. **Feet.** Contacts are detected on the source (``feet.RULES["touch"]``: low, and slower than a
   swinging foot); during a contact the target foot is pinned where it lands (ankle, or toe when only
   the toe is down), horizontally, eased in and out, and reached with two-bone leg IK
   (``feet.pin_feet``, the routine Clean Up and the model's commands use), so retargeting adds no foot
   sliding. A pin beyond the leg's reach ends its contact, a target the leg could reach only locked
   straight is held at the leg's own extension, and a pin far from where the rotation copy put the foot
   fades out (``PIN_HOLD``, ``PIN_DROP``): the knee never moves more than reaching the pin needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from . import canonical
from . import feet as F
from . import kinematics
from . import rotations as R
from .errors import LMMError
from .motion import Motion
from .skeleton import Skeleton

# World turn from Y up to each up axis (canonical space is Y up, +Z forward).
_UP_FROM_Y = {"y": np.array([1.0, 0.0, 0.0, 0.0]), "z": R.from_axis_angle(np.array([1.0, 0.0, 0.0]), np.pi / 2)}


class _Canon:
    """The canonical facts the retargeter needs, gathered once."""

    def __init__(self) -> None:
        self.skeleton = canonical.canonical_skeleton()
        self.PELVIS = "pelvis"
        # (hip, knee, ankle, toe) per leg, left first.
        self.LEGS = tuple(canonical.LEG_CHAINS[s] + (canonical.TOE_JOINTS[i],) for i, s in enumerate(("left", "right")))

    def canonical_skeleton(self) -> Skeleton:
        return self.skeleton


_CANON: _Canon | None = None


def _canonical() -> _Canon:
    global _CANON
    if _CANON is None:
        _CANON = _Canon()
    return _CANON


def _joint_dict(bone_map) -> Mapping[str, str]:
    """Canonical joint -> bone from a ``BoneMap`` (its ``bones``) or a plain mapping."""
    return getattr(bone_map, "bones", bone_map)


@dataclass(frozen=True, eq=False)
class Binding:
    """A rig bound to the canonical body.

    Attributes:
        skeleton: the rig.
        joint_of: ``(C,)`` rig joint index of each canonical joint, ``-1`` where unmapped.
        ref_global: ``(J, 4)`` global rotations of every rig joint in the reference (canonical T-) pose.
        ref_positions: ``(J, 3)`` global positions in that pose, root at the rest position.
        leg_length: mean hip-knee-ankle length of the two legs, in the rig's units.
        ankle_height: how high the ankles sit above the floor when the rig stands (its reference pose
            with the floor at zero), or ``None`` when the rest pose does not say (root not at floor level).
        pelvis_drop: how far the ankles hang below the pelvis in the reference pose, in the rig's
            units: the length that root motion is scaled by (it includes the pelvis-to-hip offset,
            which differs between rigs as much as the legs do).
    """

    skeleton: Skeleton
    joint_of: np.ndarray
    ref_global: np.ndarray
    ref_positions: np.ndarray
    leg_length: float
    ankle_height: float | None = None
    pelvis_drop: float = 0.0

    @property
    def world(self) -> np.ndarray:
        return _UP_FROM_Y[self.skeleton.up_axis]


def _nearest_mapped(canon_parents: np.ndarray, mapped: np.ndarray) -> list[list[int]]:
    """For each canonical joint, its nearest descendants that are mapped (searching through unmapped ones)."""
    n = len(canon_parents)
    children = [[c for c in range(n) if canon_parents[c] == j] for j in range(n)]
    out: list[list[int]] = []
    for j in range(n):
        found, stack = [], list(children[j])
        while stack:
            c = stack.pop()
            if mapped[c]:
                found.append(c)
            else:
                stack.extend(children[c])
        out.append(sorted(found))
    return out


def _leaf_vector(sk: Skeleton, j: int) -> np.ndarray | None:
    """Rest direction of a leaf-ish bone from its own geometry: mean of children offsets or end site."""
    vecs = [sk.offsets[c] for c in sk.children(j)]
    if j in sk.end_sites:
        vecs.append(sk.end_sites[j])
    if not vecs:
        return None
    v = np.mean(vecs, axis=0)
    return v if np.linalg.norm(v) > 1e-9 * max(1.0, np.abs(sk.offsets).max()) else None


def bind(skeleton: Skeleton, joint_map, foot_slope: float | None = None, ankle_height: float | None = None) -> Binding:
    """Bind a rig to the canonical body.

    Args:
        skeleton: the rig.
        joint_map: a ``BoneMap`` or a mapping canonical joint name -> rig bone name (unmapped canonical
            joints left out).
        foot_slope: how steeply the ankle-to-toe bone points down when the rig stands with its feet
            flat, in radians. Feet differ (a high ankle makes a steep bone), so the reference pose gives
            each rig its own slope: this value, else the rest pose's when the rig rests standing, else
            the canonical body's.
        ankle_height: how high the ankles stand above the floor, in the rig's units; by default read
            from the reference pose when the rest pose puts the root on a floor at zero.

    Raises:
        LMMError: a mapped bone is missing from the rig, a canonical name is unknown, the legs are not
            mapped, or a leg has zero length.
    """
    canon = _canonical()
    csk = canon.canonical_skeleton()
    joint_of = np.full(csk.num_joints, -1)
    missing = []
    for cname, bone in _joint_dict(joint_map).items():
        ci = csk.names.index(cname) if cname in csk.names else None
        if ci is None:
            raise LMMError(f"the bone map names {cname!r}, which is not a canonical joint; use one of {', '.join(csk.names)}")
        if bone not in skeleton.names:
            missing.append(bone)
            continue
        joint_of[ci] = skeleton.names.index(bone)
    if missing:
        raise LMMError(f"the bone map names bones this rig does not have: {', '.join(missing)}; fix the map or pick another preset")
    needed = [n for leg in canon.LEGS for n in leg[:3]] + [canon.PELVIS]
    unmapped = [n for n in needed if joint_of[csk.names.index(n)] < 0]
    if unmapped:
        raise LMMError(f"cannot retarget a rig without legs and pelvis: no bone mapped for {', '.join(unmapped)}")

    world = _UP_FROM_Y[skeleton.up_axis]
    canon_pos = R.mul_vec(world, csk.rest_positions())
    rest = skeleton.rest_positions()
    mapped = joint_of >= 0
    near = _nearest_mapped(csk.parents, mapped)
    canon_of = {int(j): c for c, j in enumerate(joint_of) if j >= 0}

    ankle_toe = {}
    for leg in canon.LEGS:
        a, t = csk.names.index(leg[2]), csk.names.index(leg[3])
        if joint_of[a] >= 0 and joint_of[t] >= 0:
            ankle_toe[a] = t
    if foot_slope is None:
        stands = [rest[joint_of[a], skeleton.up_index] > rest[joint_of[t], skeleton.up_index] for a, t in ankle_toe.items()]
        if ankle_toe and all(stands) and _standing(skeleton, joint_of, rest):
            foot_slope = float(np.mean([_slope(rest[joint_of[a]] - rest[joint_of[t]], skeleton.up_index) for a, t in ankle_toe.items()]))

    ref = np.empty((skeleton.num_joints, 4))
    for j, p in enumerate(skeleton.parents):
        inherited = R.identity() if p < 0 else ref[p]
        c = canon_of.get(j)
        if c is None:
            ref[j] = inherited
            continue
        if near[c]:
            u = np.stack([rest[joint_of[d]] - rest[j] for d in near[c]])
            v = np.stack([canon_pos[d] - canon_pos[c] for d in near[c]])
            if len(near[c]) > 1 and not _spans_a_plane(u):
                # Children that all start at one point (a metarig's neck and shoulders leave the chest
                # together) leave the turn about that line open; their own children settle it.
                deeper = [g for d in near[c] for g in near[d]]
                u = np.concatenate([u, [rest[joint_of[g]] - rest[j] for g in deeper]])
                v = np.concatenate([v, [canon_pos[g] - canon_pos[c] for g in deeper]])
            if c in ankle_toe and foot_slope is not None:
                # The canonical foot's heading, tilted down by this rig's own slope.
                up = R.mul_vec(world, np.array([0.0, 1.0, 0.0]))
                flat = v[0] - np.dot(v[0], up) * up
                flat /= np.linalg.norm(flat)
                v = (flat * np.cos(foot_slope) - up * np.sin(foot_slope))[None]
        else:
            leaf = _leaf_vector(skeleton, j)
            tip = csk.end_sites.get(c)
            if leaf is None or tip is None:
                ref[j] = inherited
                continue
            u, v = leaf[None], R.mul_vec(world, tip)[None]
            # Rest frames are the world's, so the reference turns the end site by ``inherited`` alone.
            if R.vector_angle(R.mul_vec(inherited, leaf), v[0]) > _MARKER_ANGLE:
                # An end site far off the canonical bone's direction marks something else (ReActIdle's
                # face ends at the nose, 3 cm forward): aiming it along the bone would pitch the head
                # 90 degrees. Such a joint keeps its parent's turn instead.
                ref[j] = inherited
                continue
        ref[j] = _fit(u, v)

    local_ref = kinematics.global_to_local(ref, skeleton.parents)
    _, ref_pos = kinematics.fk(local_ref, skeleton.offsets, skeleton.parents)
    leg = _leg_length(rest, joint_of)
    if not leg > 0:
        raise LMMError("the rig's legs have zero length; check the bone map and the rest pose")
    ankles = [joint_of[csk.names.index(leg_[2])] for leg_ in canon.LEGS]
    ankle_h = float(np.mean(ref_pos[ankles, skeleton.up_index]))
    # Trust it only when it looks like feet standing on a floor at zero (up to a third of the leg).
    if ankle_height is None:
        # Trust the rest pose only when it looks like feet standing on a floor at zero.
        ankle_height = ankle_h if 0.0 < ankle_h < leg / 3 else None
    drop = float(ref_pos[joint_of[csk.names.index(canon.PELVIS)], skeleton.up_index] - ankle_h)
    if not drop > 0:
        raise LMMError("the rig's ankles are not below its pelvis in the reference pose; check the bone map")
    return Binding(skeleton, joint_of, ref, ref_pos, leg, ankle_height, drop)


_MARKER_ANGLE = np.radians(60.0)


def _spans_a_plane(u: np.ndarray) -> bool:
    """Whether vectors ``(N, 3)`` point in at least two directions (more than ~3 degrees apart)."""
    n = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)
    return bool(np.linalg.norm(np.cross(n[:, None], n[None]), axis=-1).max() > 0.05)


def _slope(ankle_minus_toe: np.ndarray, up_index: int) -> np.ndarray:
    """Downward slope (radians) of ankle->toe vectors given as ``ankle - toe`` (``(..., 3)``)."""
    n = np.linalg.norm(ankle_minus_toe, axis=-1)
    return np.arcsin(np.clip(ankle_minus_toe[..., up_index] / np.maximum(n, 1e-12), -1, 1))


def _standing(skeleton: Skeleton, joint_of: np.ndarray, rest: np.ndarray) -> bool:
    """Whether the rest pose stands upright: head well above the pelvis, ankles well below it."""
    canon = _canonical()
    names = canon.skeleton.names
    up = skeleton.up_index
    pelvis = rest[joint_of[names.index(canon.PELVIS)], up]
    head_j = joint_of[names.index("head")]
    ankles = [rest[joint_of[names.index(leg[2])], up] for leg in canon.LEGS]
    head_ok = head_j < 0 or rest[head_j, up] > pelvis
    return bool(head_ok and max(ankles) < pelvis)


# A frame stands upright when the pelvis is at least this share of the leg's length (hip-knee-ankle, from
# the rest pose) above the lower ankle: standing, walking and running frames reach 0.85-1.0, kneeling,
# crouching, crawling and lying 0.1-0.6. Only those frames say how the rig stands: LAFAN1's
# fallAndGetUp1_subject4, measured on all its frames, gave a foot slope of -8 degrees (the same performer's
# standing takes: 18-21) and ankles 1.7 cm above the floor (6.6), for a lying ankle is lower than a
# standing one and a kneeling foot points its toe up; on the canonical body its standing feet then stood on
# tiptoe, the ankles 5.3 cm above the body's own standing height.
UPRIGHT_SHARE = 0.75


def _leg_length(rest: np.ndarray, joint_of: np.ndarray) -> float:
    """Mean hip-knee-ankle length of the two legs in a rest pose ``rest (J, 3)`` (rig units)."""
    canon = _canonical()
    names = canon.skeleton.names
    lengths = []
    for hip, knee, ankle in (leg[:3] for leg in canon.LEGS):
        h, k, a = (joint_of[names.index(n)] for n in (hip, knee, ankle))
        lengths.append(np.linalg.norm(rest[k] - rest[h]) + np.linalg.norm(rest[a] - rest[k]))
    return float(np.mean(lengths))


def _map_indices(sk: Skeleton, joint_map) -> np.ndarray:
    """``(C,)`` rig joint index of each canonical joint under ``joint_map``, ``-1`` where unmapped."""
    names = _canonical().skeleton.names
    bones = _joint_dict(joint_map)
    return np.array([sk.names.index(bones[n]) if bones.get(n) in sk.names else -1 for n in names])


def upright_frames(positions: np.ndarray, joint_of: np.ndarray, leg_length: float, up_index: int) -> np.ndarray:
    """``(T,)`` bool: the frames on which the body stands upright (``UPRIGHT_SHARE``).

    Args:
        positions: ``(T, J, 3)`` global joint positions of the rig, its units.
        joint_of: ``(C,)`` rig joint of each canonical joint (the pelvis and both ankles must be mapped).
        leg_length: hip-knee-ankle length in the rig's units.
        up_index: 1 for Y up, 2 for Z up.
    """
    canon = _canonical()
    names = canon.skeleton.names
    need = [joint_of[names.index(canon.PELVIS)]] + [joint_of[names.index(leg[2])] for leg in canon.LEGS]
    if min(need) < 0:
        raise LMMError("telling upright frames needs the pelvis and both ankles mapped; fix the bone map")
    pelvis = positions[:, need[0], up_index]
    ankles = positions[:, need[1:], up_index].min(axis=1)
    return pelvis - ankles >= UPRIGHT_SHARE * leg_length


def standing_ankle_level(positions: np.ndarray, ankles: list[int], upright: np.ndarray, up_index: int) -> float | None:
    """How high a motion's ankles stand (its rig's units, in the motion's own coordinates): the 2nd
    percentile of the ankles' heights ``positions (T, J, 3)`` over its ``upright (T,)`` frames, or ``None``
    when it has none (a clip spent on the floor says nothing about standing)."""
    if not upright.any():
        return None
    return float(np.percentile(positions[upright][:, ankles, up_index], 2))


def _motion_upright(motion: Motion, joint_of: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
    """``upright_frames`` of a motion; all False when its legs or pelvis are not mapped."""
    canon = _canonical()
    names = canon.skeleton.names
    need = [names.index(n) for leg in canon.LEGS for n in leg[:3]] + [names.index(canon.PELVIS)]
    if (joint_of[need] < 0).any():
        return np.zeros(motion.num_frames, dtype=bool)
    leg = _leg_length(motion.skeleton.rest_positions(), joint_of)
    pos = motion.global_positions() if positions is None else positions
    return upright_frames(pos, joint_of, leg, motion.skeleton.up_index) if leg > 0 else np.zeros(len(pos), dtype=bool)


def source_foot_slope(motion: Motion, joint_map) -> float | None:
    """The median ankle->toe slope (radians) of a motion's flat-footed upright frames, or ``None``.

    Flat-footed: ankle and toe of the same foot both near their ground level (height-based contact,
    the "low" rule), on frames where the body stands upright (``upright_frames``): a kneeling or lying
    foot lies at other angles. ``None`` with fewer than three such frames, or without the pelvis and legs
    mapped (``bind`` refuses such a map anyway).
    """
    canon = _canonical()
    bones = _joint_dict(joint_map)
    sk = motion.skeleton
    pairs = [(bones.get(leg[2]), bones.get(leg[3])) for leg in canon.LEGS]
    pairs = [(sk.names.index(a), sk.names.index(t)) for a, t in pairs if a in sk.names and t in sk.names]
    if not pairs:
        return None
    everything = motion.global_positions(end_sites=True)
    pos = everything[:, :sk.num_joints]
    upright = _motion_upright(motion, _map_indices(sk, joint_map), pos)
    if upright.sum() < 3:
        return None
    extent = everything[upright][..., sk.up_index]
    height = float(np.median(extent.max(axis=1) - extent.min(axis=1)))  # standing height, as Motion.height
    slopes = []
    for a, t in pairs:
        feet = pos[upright][:, [a, t]]
        contact = F.detect(feet, motion.fps, height, sk.up_index, "low")
        flat = contact.all(axis=1)
        if flat.sum() >= 3:
            slopes.append(_slope(feet[flat, 0] - feet[flat, 1], sk.up_index))
    return float(np.median(np.concatenate(slopes))) if slopes else None


def legs_up_at_rest(skeleton: Skeleton, joint_of: np.ndarray) -> bool:
    """Whether a rig's rest pose has both ankles above their hips by a fifth of the leg or more: a zero pose
    (Character Creator's BVH, whose offsets are in each bone's own frame, so its legs point up), not one that
    stands. ``joint_of``: ``(C,)`` the rig joint of each canonical joint, ``-1`` where unmapped."""
    canon = _canonical()
    names = canon.skeleton.names
    rest, up = skeleton.rest_positions(), skeleton.up_index
    for leg in canon.LEGS:
        hip, ankle = joint_of[names.index(leg[0])], joint_of[names.index(leg[2])]
        if hip < 0 or ankle < 0:
            return False
        if not rest[ankle, up] - rest[hip, up] > 0.2 * np.linalg.norm(rest[ankle] - rest[hip]):
            return False
    return True


def zero_pose_frame(motion: Motion, joint_map) -> int | None:
    """The frame ``bind_motion`` takes a rig's rest from when its rest pose is a zero pose
    (``legs_up_at_rest``): the first on which the body stands upright; ``None`` when the rest stands, or
    no frame does."""
    joint_of = _map_indices(motion.skeleton, joint_map)
    if not legs_up_at_rest(motion.skeleton, joint_of):
        return None
    upright = np.flatnonzero(_motion_upright(motion, joint_of))
    return int(upright[0]) if len(upright) else None


def bind_motion(motion: Motion, joint_map) -> Binding:
    """Bind a rig as its motion shows it: foot slope and standing ankle height measured from the data,
    on its upright frames (``upright_frames``; none: the reference pose's).

    Use it for a source, and for a target that is a mocap skeleton with a clip of its own (the rest
    poses of LAFAN1, Bandai or CMU do not tell how their performers stand).

    A rest pose with the legs pointing up (``legs_up_at_rest``: Character Creator's BVH) says nothing about
    how the body stands, and aiming a leg that points up at the canonical leg is a half turn whose twist is
    left to chance (the CMU takes on that rig came out with their thighs twisted 24-35 degrees). Such a rig
    is bound as it stands on its first upright frame (``zero_pose_frame``; ``Motion.rest_from``), its
    references turned back into its own rest frames.
    """
    frame = zero_pose_frame(motion, joint_map)
    if frame is not None:
        turns = motion.pose_turns(frame)  # the new rest frames, in the old ones: world turns G' = G turns^-1
        b = _bind_motion(motion.with_rest(turns), joint_map)
        return Binding(motion.skeleton, b.joint_of, R.mul(b.ref_global, turns), b.ref_positions, b.leg_length,
                       b.ankle_height, b.pelvis_drop)
    return _bind_motion(motion, joint_map)


def _bind_motion(motion: Motion, joint_map) -> Binding:
    """``bind_motion`` on the motion's own rest pose."""
    canon = _canonical()
    bones = _joint_dict(joint_map)
    sk = motion.skeleton
    ankles = [sk.names.index(bones[leg[2]]) for leg in canon.LEGS if bones.get(leg[2]) in sk.names]
    ankle_height = None
    if len(ankles) == 2:
        pos = motion.global_positions()
        # How high the ankles stand, from frames that stand (none: the reference pose's, ``bind``).
        ankle_height = standing_ankle_level(pos, ankles, _motion_upright(motion, _map_indices(sk, joint_map), pos),
                                            sk.up_index)
    binding = bind(sk, joint_map, source_foot_slope(motion, joint_map), ankle_height)
    if sk.names != _canonical().skeleton.names:
        # A BVH rest pose fixes each joint's frame but not how the bone is rolled in it, so the
        # swing-only reference can leave a large twist about a bone (Bandai's right thigh comes out
        # turned 165 degrees from its left; ReActIdle's collars 170). Take such twists from the data.
        binding = _untwist(binding, motion)
    return binding


def _untwist(b: Binding, motion: Motion, min_degrees: float = 45.0) -> Binding:
    """``b`` with the reference of each single-child or leaf bone turned about its own axis so that the
    motion's canonical local rotations have zero mean twist about the canonical bone axes, where that
    mean exceeds ``min_degrees`` (smaller means are taken to be the performer's, and kept)."""
    canon = _canonical()
    csk = canon.skeleton
    sk = b.skeleton
    g_s, _ = motion.fk()
    world = b.world
    canon_pos = csk.rest_positions()
    near = _nearest_mapped(csk.parents, b.joint_of >= 0)
    ref = b.ref_global.copy()
    g_canon: dict[int, np.ndarray] = {}
    for c in range(csk.num_joints):
        j = int(b.joint_of[c])
        if j < 0:
            continue
        # The joint's global rotation on the canonical body, canonical world frame.
        g = R.mul(R.mul(R.conj(world), R.mul(g_s[:, j], R.conj(ref[j]))), world)
        anc = int(csk.parents[c])
        while anc >= 0 and b.joint_of[anc] < 0:
            anc = int(csk.parents[anc])
        if anc >= 0 and anc in g_canon and len(near[c]) <= 1:
            kids = [k for k in range(csk.num_joints) if csk.parents[k] == c]
            if near[c]:
                axis = canon_pos[near[c][0]] - canon_pos[c]
            elif len(kids) == 1:  # the rig ends here (no wrist bone): the canonical bone still points on
                axis = canon_pos[kids[0]] - canon_pos[c]
            elif c in csk.end_sites:
                axis = csk.end_sites[c]
            else:
                axis = None
            if axis is not None and np.linalg.norm(axis) > 1e-9:
                axis = axis / np.linalg.norm(axis)
                local = R.inv_mul(g_canon[anc], g)
                local = np.where(local[:, :1] < 0, -local, local)
                twist = 2.0 * np.arctan2(local[:, 1:] @ axis, local[:, 0])
                theta = float(np.arctan2(np.sin(twist).mean(), np.cos(twist).mean()))
                if abs(theta) < np.radians(min_degrees):
                    theta = 0.0
                g = R.mul(g, R.from_axis_angle(axis, -theta))
                ref[j] = R.mul(R.from_axis_angle(R.mul_vec(world, axis), theta), ref[j])
        g_canon[c] = g
    # Unmapped bones keep following their parent's reference.
    mapped_rig = set(int(j) for j in b.joint_of if j >= 0)
    for j, p in enumerate(sk.parents):
        if j not in mapped_rig:
            ref[j] = R.identity() if p < 0 else ref[p]
    local_ref = kinematics.global_to_local(ref, sk.parents)
    _, ref_pos = kinematics.fk(local_ref, sk.offsets, sk.parents)
    return Binding(sk, b.joint_of, ref, ref_pos, b.leg_length, b.ankle_height, b.pelvis_drop)


def _fit(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotation(s) carrying vector set ``u`` onto ``v`` (``(..., N, 3)``): shortest swing for one vector."""
    if u.shape[-2] == 1:
        return R.between(u[..., 0, :], v[..., 0, :])
    un = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)
    vn = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
    return R.align(un, vn)


def retarget(
    motion: Motion,
    source_map,
    target: Skeleton,
    target_map,
    *,
    root_motion: str = "keep",
    fix_feet: bool = True,
) -> Motion:
    """The motion on another rig.

    Args:
        motion: the source, ``T`` frames on its own skeleton.
        source_map, target_map: ``BoneMap``\\ s, canonical joint -> bone mappings, or ready ``Binding``\\ s.
        target: the target rig; its rest pose is the target's reference.
        root_motion: ``"keep"`` (the pelvis travels as in the source, scaled by leg length) or
            ``"in_place"`` (horizontal travel removed; turning and vertical motion kept).
        fix_feet: pin feet during contacts with leg IK.

    Returns:
        ``T`` frames at the source's fps on ``target``, in the target's units and up axis.
    """
    if root_motion not in ("keep", "in_place"):
        raise LMMError(f"root_motion must be 'keep' or 'in_place', got {root_motion!r}")
    canon = _canonical()
    csk = canon.canonical_skeleton()
    if not isinstance(target, Skeleton):
        raise LMMError("the retarget target must be a Skeleton (load one from a rig file or preset)")
    src = source_map if isinstance(source_map, Binding) else bind_motion(motion, source_map)
    tgt = target_map if isinstance(target_map, Binding) else bind(target, target_map)
    if src.skeleton is not motion.skeleton and src.skeleton.names != motion.skeleton.names:
        raise LMMError("the source binding was made for another skeleton than the motion's")
    tsk = tgt.skeleton
    w = R.mul(tgt.world, R.conj(src.world))
    s_rot, s_pos = motion.fk()
    T = motion.num_frames

    both = (src.joint_of >= 0) & (tgt.joint_of >= 0)
    near = _nearest_mapped(csk.parents, both)
    canon_of = {int(j): c for c, j in enumerate(tgt.joint_of) if j >= 0 and both[c]}
    # Vectors from each target joint to its driven descendants, in the joint's own frame (constant,
    # because the joints between them keep their reference pose relative to each other).
    g = np.empty((T, tsk.num_joints, 4))
    for j, p in enumerate(tsk.parents):
        c = canon_of.get(j)
        if c is None:
            rel = R.inv_mul(tgt.ref_global[p], tgt.ref_global[j]) if p >= 0 else tgt.ref_global[j]
            g[:, j] = R.mul(g[:, p], rel) if p >= 0 else np.broadcast_to(rel, (T, 4))
            continue
        s = src.joint_of[c]
        delta = R.mul(s_rot[:, s], R.conj(src.ref_global[s]))
        g[:, j] = R.mul(R.mul(R.mul(w, delta), R.conj(w)), tgt.ref_global[j])
        if near[c] and any(csk.parents[d] != c for d in near[c]):
            # This bone stands for several canonical bones here (a merged spine or neck): make its
            # segment point where the source's does, which the rotation copy alone cannot.
            local_vecs = np.stack(
                [R.inv_mul_vec(tgt.ref_global[j], tgt.ref_positions[tgt.joint_of[d]] - tgt.ref_positions[j]) for d in near[c]]
            )
            u = R.mul_vec(g[:, j, None], local_vecs[None])
            v = R.mul_vec(w, np.stack([s_pos[:, src.joint_of[d]] - s_pos[:, s] for d in near[c]], axis=1))
            g[:, j] = R.mul(_fit(u, v), g[:, j])

    local = kinematics.global_to_local(g, tsk.parents)
    scale = tgt.pelvis_drop / src.pelvis_drop
    pelvis_c = csk.names.index(canon.PELVIS)
    s_pelvis, t_pelvis = src.joint_of[pelvis_c], tgt.joint_of[pelvis_c]
    s_up = motion.skeleton.up_index
    pelvis_src = s_pos[:, s_pelvis].copy()
    if tgt.ankle_height is not None:
        # Stand the target on its own feet: heights are measured from the source's ankles' ground level
        # and put back above the target's own standing ankle height, so neither rig's foot size sinks
        # or floats the other. A target whose rest pose does not stand on a floor at zero (CMU rests
        # with the hips at the origin) cannot say how high its ankles are; it keeps the source's
        # heights, scaled. The source's ground is where its ankles stand on upright frames
        # (UPRIGHT_SHARE): a fall's lying ankle is lower, and measured on it every standing frame floated.
        s_ankles = [src.joint_of[csk.names.index(leg[2])] for leg in canon.LEGS]
        ground = standing_ankle_level(s_pos, s_ankles, upright_frames(s_pos, src.joint_of, src.leg_length, s_up), s_up)
        if ground is None:  # never upright: the binding's standing ankle height (its floor at zero), as bind_motion
            ground = src.ankle_height if src.ankle_height is not None else float(np.percentile(s_pos[:, s_ankles, s_up], 2))
        pelvis_src[:, s_up] -= ground
    pelvis_world = R.mul_vec(w, pelvis_src * scale)
    if tgt.ankle_height is not None:
        pelvis_world[:, tsk.up_index] += tgt.ankle_height
    if root_motion == "in_place":
        horiz = [i for i in range(3) if i != tsk.up_index]
        pelvis_world[:, horiz] = pelvis_world[:1, horiz]
    translations = np.broadcast_to(tsk.offsets, (T, tsk.num_joints, 3)).copy()
    if t_pelvis == 0:
        root_positions = pelvis_world
    else:
        # The pelvis hangs under a root bone (a ground-level root): the root stays at rest and the
        # pelvis gets an animated translation in its parent's frame.
        root_positions = np.broadcast_to(tsk.offsets[0], (T, 3)).copy()
        par = tsk.parents[t_pelvis]
        _, pos0 = kinematics.fk(local, translations, tsk.parents)
        translations[:, t_pelvis] = R.inv_mul_vec(g[:, par], pelvis_world - pos0[:, par])
    out = Motion(
        skeleton=tsk,
        rotations=local,
        root_positions=root_positions,
        fps=motion.fps,
        labels=dict(motion.labels),
        translations=translations if t_pelvis != 0 else None,
    )
    if fix_feet:
        out = _pin_feet(motion, src, out, tgt)
    return out


# A pin further than PIN_HOLD leg lengths (horizontally) from the foot the rotation copy made fades out,
# and is gone at PIN_DROP: that foot drags along the ground rather than stands on it (Bandai's backward
# walks, whose contacts lasting seconds put pins up to a metre behind the body). Held further, the foot
# walks away from the source's: LAFAN1 obstacles1_subject1 to a Bandai rig and back, frames with a
# joint more than 5% of the height off the source: 3 with (0.05, 0.15), 16 with (0.1, 0.25) and the
# "lock" rule's contacts, 784 with (0.1, 0.25) and "ground" contacts (benchmarks/feet.py).
PIN_HOLD, PIN_DROP = 0.05, 0.15


def _pin_feet(source: Motion, src: Binding, out: Motion, tgt: Binding) -> Motion:
    """``out`` with the target's feet pinned where the source's feet are down (see the module docstring)."""
    legs = F.mapped_legs(tgt.joint_of)
    src_legs = F.mapped_legs(src.joint_of)
    # A toe is pinned only where both rigs have one: each column is the source's joint for the target's.
    pairs = [(s.ankle, t.ankle) for s, t in zip(src_legs, legs)] + [(s.toe, t.toe) for s, t in zip(src_legs, legs)]
    have = [k for k, (s, t) in enumerate(pairs) if s >= 0 and t >= 0]
    contacts = np.zeros((out.num_frames, len(pairs)), dtype=bool)
    feet = source.global_positions()[:, [pairs[k][0] for k in have]]
    height, up = source.height(), source.skeleton.up_index
    contacts[:, have] = F.detect(feet, source.fps, height, up, "touch")
    # Each pin is held where the source's foot settles (its first planted frame), not where it first
    # skims the floor: held at the landing, a planted foot sat up to 2 cm off where the source's stands.
    planted = np.zeros_like(contacts)
    planted[:, have] = F.detect(feet, source.fps, height, up, "planted")
    settled = planted[:, :len(legs)] | planted[:, len(legs):]
    return F.pin_feet(out, contacts, legs=legs, floor=None, pull=(PIN_HOLD, PIN_DROP), anchor_frames=settled)


def foot_joints(binding: Binding, names: list[str] | None = None) -> list[int]:
    """Rig joint indices of the feet (ankles and toes by default), for canonical ``names`` that are mapped."""
    canon = _canonical()
    csk = canon.canonical_skeleton()
    names = names if names is not None else [n for leg in canon.LEGS for n in leg[2:]]
    return [int(binding.joint_of[csk.names.index(n)]) for n in names if binding.joint_of[csk.names.index(n)] >= 0]
