"""From 3D keypoints to the canonical body's joint rotations (a ``Motion``).

Detectors see joints of the limbs, the hips and shoulders, and a few points of the face (and, for
BODY_25, of the feet); they see no spine. The solver therefore works in three steps, all closed-form and
vectorised over frames:

1. **Bone lengths per person** (``fit_skeleton``): the median over frames of each measured segment
   (thigh, shin, upper arm, forearm per side; hip width, shoulder width; mid-hips to mid-shoulders). The
   canonical body's offsets keep their directions and are scaled to these: limb offsets to the limb
   lengths, the lateral (X) parts of hips and collars/shoulders to the widths, every vertical/forward part
   of the torso, neck and head to the torso length. The lengths are constant over the clip, whatever the
   noise of single frames.
2. **Torso** (``solve_rotations``). The hip line fixes the pelvis's left-right axis exactly, the shoulder
   line and the spine direction (mid-hips to mid-shoulders) fix the chest. The rotation between an upright
   pelvis facing where the hips face and the chest is *shared*: the pelvis takes a fraction
   ``PELVIS_SHARE`` of it (then turned so its left-right axis is the hip line again) and the three spine
   joints split the rest equally (each a third of the slerp from pelvis to chest). With joint limits on,
   the pelvis's tilt about the hip line (which keypoints do not show) is then chosen among ``TILTS`` to
   keep the hips and spine within their limits, smoothly over frames (``_pelvis_tilt``): crouching or
   getting up from the floor, the share rule alone would bend the hips further than hips go. Bending over thus
   curves the spine rather than hinging at one joint. The chest rotation is corrected a few times until
   the spine chain's end meets the mid-shoulder point, and the collars then swing to put each shoulder
   on its keypoint.
3. **Limbs and head.** A limb's root (hip, shoulder) gets the rotation that points the bone at the next
   keypoint and puts the limb's bend (the direction of the next segment) where the canonical T-pose bends
   (knees backwards, elbows forwards); for a straight limb, whose bend says nothing, that falls back to
   the smallest swing from the parent's frame. The middle joint (knee, elbow) swings the second segment
   onto its keypoint. Hands and (COCO) feet have no keypoints of their own: hands follow the forearm, and
   feet of a standing leg stay level, pointing where the knee points (of a leaning shin, they follow it
   more, by the square of the shin's verticality); BODY_25's heel and toes give the foot's rotation.
   The head's rotation comes from the ears (left-right) and the nose (forward), its position from all
   face points through their offsets in the head frame; the neck points from its base at the head and
   takes half the head's turn relative to the chest.

Rotations are kept within ``LIMIT_MARGIN`` (10 degrees) of the learned joint limits (``cleanup.limits``),
joint by joint from the root outwards, so the children of a clamped joint are solved from where it really
is and still reach their keypoints. That removes the impossible bends noise and wrong detections make (a
knee bent forwards) while leaving a performer who goes a little past the corpus's 99.9th percentile alone.
"""
from __future__ import annotations

import numpy as np

from .. import canonical as cn
from .. import kinematics
from .. import rotations as R
from ..cleanup.limits import JointLimits
from ..errors import LMMError
from ..motion import Motion
from ..skeleton import Skeleton
from .keypoints import ALIASES, JointSet

# Share of the pelvis-to-chest rotation that the pelvis takes (the three spine joints share the rest):
# equal shares of the four torso joints. Keypoints cannot tell, and the datasets' retargeted spines do not
# agree with each other (LAFAN1 tilts the pelvis back 20 degrees where Bandai keeps it level), so the
# simplest split is taken.
PELVIS_SHARE = 0.25
# How far past the learned limits a measured rotation may stay, radians. The limits are the 99.9th
# percentile of one corpus; people (and other corpora) go a little past them, while what noise and wrong
# detections make (a knee bent forwards) goes far past.
LIMIT_MARGIN = np.radians(10.0)
# Pelvis tilts about the hip line tried against the joint limits (see _pelvis_tilt), radians.
TILTS = np.radians(np.arange(-45.0, 45.1, 7.5))
_STRAIGHT_FALLBACK = 0.1  # weight of the parent-frame bend direction; matters only for a nearly straight limb
_J = cn.JOINT_INDEX


def _unit(v: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    u = v / np.maximum(n, 1e-12)
    if fallback is not None:
        u = np.where(n > 1e-9, u, fallback)
    return u


def _basis(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frames ``(..., 3, 3)`` whose columns are ``primary``, ``secondary`` made perpendicular
    to it, and their cross product."""
    p = _unit(primary)
    s = secondary - np.sum(secondary * p, axis=-1, keepdims=True) * p
    s = _unit(s)
    return np.stack([p, s, np.cross(p, s)], axis=-1)


def _rotation(p_rest, s_rest, p_cur, s_cur) -> np.ndarray:
    """Quaternions carrying the rest pair of directions onto the current pair (primary exactly)."""
    m = _basis(p_cur, s_cur) @ np.swapaxes(_basis(np.broadcast_to(p_rest, p_cur.shape), np.broadcast_to(s_rest, s_cur.shape)), -1, -2)
    return R.from_matrix(m)


def _perp(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    a = _unit(axis)
    return v - np.sum(v * a, axis=-1, keepdims=True) * a


def _fraction(q: np.ndarray, f: float) -> np.ndarray:
    return R.slerp(R.identity(q.shape[:-1]), q, np.full(q.shape[:-1], f))


class _Points:
    """Keypoint tracks by body name (``left_hip``, ``nose``, ...) whatever the detector calls them."""

    def __init__(self, points: np.ndarray, joint_set: JointSet):
        self.points, self.js = points, joint_set
        self.alias = ALIASES[joint_set.name]

    def has(self, name: str) -> bool:
        return name in self.alias

    def __getitem__(self, name: str) -> np.ndarray:
        return self.points[..., self.js.index(self.alias[name]), :]


def _median_length(a: np.ndarray, b: np.ndarray, what: str) -> float:
    d = np.linalg.norm(a - b, axis=-1)
    d = d[np.isfinite(d)]
    if d.size == 0:
        raise LMMError(f"cannot measure the {what}: its keypoints are never both triangulated")
    value = float(np.median(d))
    if not value > 0.01:
        raise LMMError(f"the {what} measures {value * 1000:.0f} mm; the keypoints or the calibration's units are wrong")
    return value


def fit_skeleton(points: np.ndarray, joint_set: JointSet) -> tuple[Skeleton, dict[str, float]]:
    """The canonical body with this performer's bone lengths (see the module docstring, step 1).

    Args:
        points: ``(T, K, 3)`` keypoint positions, metres, Y up.
    Returns:
        the skeleton (canonical names, topology and directions; metres) and the measured lengths in metres.
    """
    P = _Points(points, joint_set)
    rest = cn.rest_positions()
    off = cn.REST_OFFSETS.copy()
    m: dict[str, float] = {}
    for side in ("left", "right"):
        m[f"{side}_thigh"] = _median_length(P[f"{side}_hip"], P[f"{side}_knee"], f"{side} thigh")
        m[f"{side}_shin"] = _median_length(P[f"{side}_knee"], P[f"{side}_ankle"], f"{side} shin")
        m[f"{side}_upper_arm"] = _median_length(P[f"{side}_shoulder"], P[f"{side}_elbow"], f"{side} upper arm")
        m[f"{side}_forearm"] = _median_length(P[f"{side}_elbow"], P[f"{side}_wrist"], f"{side} forearm")
    m["hip_width"] = _median_length(P["left_hip"], P["right_hip"], "hip width")
    m["shoulder_width"] = _median_length(P["left_shoulder"], P["right_shoulder"], "shoulder width")
    mid_hip = 0.5 * (P["left_hip"] + P["right_hip"])
    mid_sh = 0.5 * (P["left_shoulder"] + P["right_shoulder"])
    m["torso"] = _median_length(mid_hip, mid_sh, "torso (mid-hips to mid-shoulders)")

    rest_mid_hip = 0.5 * (rest[_J["left_hip"]] + rest[_J["right_hip"]])
    rest_mid_sh = 0.5 * (rest[_J["left_shoulder"]] + rest[_J["right_shoulder"]])
    s_torso = m["torso"] / float(np.linalg.norm(rest_mid_sh - rest_mid_hip))
    s_hip = m["hip_width"] / float(rest[_J["left_hip"], 0] - rest[_J["right_hip"], 0])
    s_sh = m["shoulder_width"] / float(rest[_J["left_shoulder"], 0] - rest[_J["right_shoulder"], 0])
    leg_rest = float(np.linalg.norm(cn.REST_OFFSETS[_J["left_knee"]]) + np.linalg.norm(cn.REST_OFFSETS[_J["left_ankle"]]))
    s_leg = 0.5 * sum(m[f"{s}_thigh"] + m[f"{s}_shin"] for s in ("left", "right")) / leg_rest
    for name in ("spine1", "spine2", "spine3", "neck", "head"):
        off[_J[name], :] *= s_torso
    for side in ("left", "right"):
        for name, sx in ((f"{side}_hip", s_hip), (f"{side}_collar", s_sh), (f"{side}_shoulder", s_sh)):
            off[_J[name], 0] *= sx
            off[_J[name], 1:] *= s_torso
        for name, length in ((f"{side}_knee", m[f"{side}_thigh"]), (f"{side}_ankle", m[f"{side}_shin"]),
                             (f"{side}_elbow", m[f"{side}_upper_arm"]), (f"{side}_wrist", m[f"{side}_forearm"])):
            off[_J[name]] *= length / float(np.linalg.norm(cn.REST_OFFSETS[_J[name]]))
        off[_J[f"{side}_toe"]] *= s_leg
    ends = {_J[n]: np.array(v) for n, v in cn.END_SITES.items()}
    ends[_J["head"]] = ends[_J["head"]] * s_torso
    for side in ("left", "right"):
        ends[_J[f"{side}_wrist"]] = ends[_J[f"{side}_wrist"]] * m[f"{side}_forearm"] / float(np.linalg.norm(cn.REST_OFFSETS[_J[f"{side}_wrist"]]))
        ends[_J[f"{side}_toe"]] = ends[_J[f"{side}_toe"]] * s_leg
    # Stand the rest pose on the floor as the canonical body does (the root offset is its rest position).
    leg = [_J[n] for n in cn.LIMB_CHAINS["left_leg"]]
    off[0] = (0.0, cn.TOE_HEIGHT - off[leg, 1].sum(), 0.0)
    m.update(scale_torso=s_torso, scale_leg=s_leg)
    sk = Skeleton(cn.JOINT_NAMES, np.array(cn.PARENTS), off, units="m", up_axis="y",
                  pairs=tuple((_J[a], _J[b]) for a, b in cn.SIDE_PAIRS), end_sites=ends)
    return sk, m


def marker_offsets(skeleton: Skeleton, joint_set: JointSet) -> np.ndarray:
    """``(K, 3)`` each keypoint's offset in its joint's frame, scaled to this skeleton (torso scale for
    face points, leg scale for foot points)."""
    s_torso = float(np.linalg.norm(skeleton.offsets[_J["neck"]]) / np.linalg.norm(cn.REST_OFFSETS[_J["neck"]]))
    s_leg = float(np.linalg.norm(skeleton.offsets[_J["left_toe"]]) / np.linalg.norm(cn.REST_OFFSETS[_J["left_toe"]]))
    out = np.zeros((joint_set.size, 3))
    for k, (joint, offset) in enumerate(joint_set.markers):
        if joint == "pelvis":  # the mid-hip point: halfway between this skeleton's hip joints
            out[k] = 0.5 * (skeleton.offsets[_J["left_hip"]] + skeleton.offsets[_J["right_hip"]])
        else:
            out[k] = np.array(offset) * (s_leg if joint.endswith(("toe", "ankle")) else s_torso)
    return out


def marker_positions(global_rot: np.ndarray, global_pos: np.ndarray, skeleton: Skeleton, joint_set: JointSet) -> np.ndarray:
    """``(..., K, 3)`` where the keypoints sit for joint rotations ``(..., 22, 4)`` and positions ``(..., 22, 3)``."""
    offs = marker_offsets(skeleton, joint_set)
    idx = np.array([_J[j] for j, _ in joint_set.markers])
    return global_pos[..., idx, :] + R.mul_vec(global_rot[..., idx, :], offs)


def _clamp_one(limits, j: int, q: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Local rotations ``(T, 4)`` of joint ``j`` moved to within ``margin`` radians of its limits.

    A rotation past a limit by more than ``margin`` is turned back along the way to its clamped rotation
    until it is ``margin`` past; within the margin it is kept as measured.
    """
    if limits is None or not limits.limited[j]:
        return q
    full = np.broadcast_to(R.identity(), (q.shape[0], cn.NUM_JOINTS, 4)).copy()
    full[:, j] = q
    inside = limits.clamp_rotations(full)[:, j]
    if margin <= 0:
        return inside
    excess = R.angle(R.inv_mul(inside, q))
    keep = np.clip(margin / np.maximum(excess, 1e-12), 0.0, 1.0)
    return R.slerp(inside, q, keep)


def _limb_root(parent_rot: np.ndarray, root_pos: np.ndarray, u0: np.ndarray, bend_rest: np.ndarray,
               target_mid: np.ndarray, target_end: np.ndarray) -> np.ndarray:
    """World rotations ``(T, 4)`` of a limb's root joint: its bone (rest offset of the middle joint ``u0``)
    points at ``target_mid`` and the limb bends (towards ``target_end``) where the rest pose bends
    (``bend_rest``); a straight limb keeps the smallest swing from ``parent_rot``."""
    T = root_pos.shape[0]
    u = target_mid - root_pos
    fore = target_end - target_mid
    bend = _perp(fore, u) / np.maximum(np.linalg.norm(fore, axis=-1, keepdims=True), 1e-9)
    swing = R.between(R.mul_vec(parent_rot, np.broadcast_to(u0, (T, 3))), u)
    fallback = _perp(R.mul_vec(R.mul(swing, parent_rot), np.broadcast_to(bend_rest, (T, 3))), u)
    n = _perp(bend + _STRAIGHT_FALLBACK * _unit(fallback), u)
    return _rotation(u0, bend_rest, u, n)


def _pelvis_tilt(limits, g0: np.ndarray, chest: np.ndarray, hip_x: np.ndarray, hips: list[np.ndarray]) -> np.ndarray:
    """The pelvis ``g0 (T, 4)`` turned about the hip line by the tilt (from ``TILTS``) that keeps the hips
    and the spine nearest their joint limits (past ``LIMIT_MARGIN``).

    Keypoints fix the hip line but not how far the pelvis tilts about it. The share rule is a fair guess
    standing; crouching or sitting up from the floor, thighs far forward, it can put the hips past any
    hip a person has. Among the candidate tilts, the one with the least limit excess of the two hips and
    three spine joints wins, ties (all inside) going to the share rule's own tilt.

    Args:
        hips: world rotations ``(T, 4)`` of the left and right hip joints (``_limb_root``).
    """
    T = g0.shape[0]
    n = len(TILTS)
    cands = R.mul(R.from_axis_angle(np.broadcast_to(hip_x, (n, T, 3)), np.broadcast_to(TILTS[:, None], (n, T))), g0[None])
    full = np.broadcast_to(R.identity(), (n, T, cn.NUM_JOINTS, 4)).copy()
    third = _fraction(R.inv_mul(cands, chest[None]), 1 / 3)  # each spine joint's local turn
    for name in ("spine1", "spine2", "spine3"):
        full[:, :, _J[name]] = third
    for name, g in zip(("left_hip", "right_hip"), hips):
        full[:, :, _J[name]] = R.inv_mul(cands, g[None])
    flat = full.reshape(-1, cn.NUM_JOINTS, 4)
    idx = [_J[name] for name in ("left_hip", "right_hip", "spine1", "spine2", "spine3")]
    # Only what lies past the margin counts: within it the measured rotations are kept anyway, and the
    # share rule's tilt should stand.
    excess = R.angle(R.inv_mul(flat[:, idx], limits.clamp_rotations(flat)[:, idx]))
    excess = np.maximum(excess - LIMIT_MARGIN, 0.0).sum(axis=-1).reshape(n, T)
    cost = excess + 1e-3 * np.abs(TILTS)[:, None]
    # The tilt must not jump between frames: costs are smoothed over neighbouring frames before the
    # choice, the choice is refined between candidates (a parabola through three costs), and the
    # resulting angle is smoothed once more.
    cost = _smooth_frames(cost, 2.0)
    best = np.argmin(cost, axis=0)
    i = np.clip(best, 1, n - 2)
    c0, c1, c2 = cost[i - 1, np.arange(T)], cost[i, np.arange(T)], cost[i + 1, np.arange(T)]
    curv = c0 - 2 * c1 + c2
    shift = np.where(curv > 1e-12, 0.5 * (c0 - c2) / np.where(curv > 1e-12, curv, 1.0), 0.0)
    shift = np.where(best == i, np.clip(shift, -0.5, 0.5), 0.0)
    tilt = _smooth_frames((TILTS[best] + shift * (TILTS[1] - TILTS[0]))[None], 2.0)[0]
    return R.mul(R.from_axis_angle(hip_x, tilt), g0)


def _smooth_frames(x: np.ndarray, sigma: float) -> np.ndarray:
    """``x (N, T)`` smoothed along frames with a Gaussian of ``sigma`` frames (ends held)."""
    h = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-h, h + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.concatenate([np.repeat(x[:, :1], h, axis=1), x, np.repeat(x[:, -1:], h, axis=1)], axis=1)
    return np.stack([np.convolve(row, k, mode="valid") for row in padded])


def solve_rotations(points: np.ndarray, joint_set: JointSet, skeleton: Skeleton, limits=None) -> tuple[np.ndarray, np.ndarray]:
    """Global joint rotations ``(T, 22, 4)`` and the pelvis path ``(T, 3)`` from keypoints ``(T, K, 3)``
    (metres, Y up, no gaps) on ``skeleton`` (from ``fit_skeleton``). See the module docstring.

    ``limits`` (a ``JointLimits`` or ``None``) are applied joint by joint, root to tips: each joint's
    rotation is clamped before its children are solved, so a clamped chest still lets the arms reach
    their keypoints, instead of a clamp afterwards carrying everything below it away.
    """
    P = _Points(points, joint_set)
    T = points.shape[0]
    off = skeleton.offsets
    rest = skeleton.rest_positions()
    marks = marker_offsets(skeleton, joint_set)
    rest_marks = np.array([rest[_J[j]] for j, _ in joint_set.markers]) + marks
    X, Y, Z = np.eye(3)
    G = np.empty((T, cn.NUM_JOINTS, 4))
    pos = np.empty((T, cn.NUM_JOINTS, 3))
    up = np.broadcast_to(Y, (T, 3))

    def place(j: int) -> None:
        """The joint's position from its (already solved) parent."""
        p = cn.PARENTS[j]
        pos[:, j] = pos[:, p] + R.mul_vec(G[:, p], np.broadcast_to(off[j], (T, 3)))

    def set_global(j: int, g: np.ndarray) -> None:
        """Store a joint's world rotation, after clamping its local rotation into the limits."""
        p = cn.PARENTS[j]
        local = R.unroll(_clamp_one(limits, j, R.unroll(R.inv_mul(G[:, p], g)), LIMIT_MARGIN))
        G[:, j] = R.mul(G[:, p], local)

    # -- pelvis and spine ------------------------------------------------------------------------------
    lhip, rhip, lsh, rsh = P["left_hip"], P["right_hip"], P["left_shoulder"], P["right_shoulder"]
    hip_x = _unit(lhip - rhip)
    mid_hip = 0.5 * (lhip + rhip)
    mid_sh = 0.5 * (lsh + rsh)
    rest_mid_hip = 0.5 * (rest[_J["left_hip"]] + rest[_J["right_hip"]])
    rest_mid_sh = 0.5 * (rest[_J["left_shoulder"]] + rest[_J["right_shoulder"]])
    chest = _rotation(rest_mid_sh - rest_mid_hip, X, mid_sh - mid_hip, lsh - rsh)  # spine direction first
    # The hips' facing, standing straight: the hip line with the world's up. Lying on one side the hip
    # line itself is vertical and says nothing about "straight"; then the chest's up takes over (the small
    # weight only matters where the world's up, projected off the hip line, has nearly vanished).
    chest_up = R.mul_vec(chest, np.broadcast_to(Y, (T, 3)))
    upright = _rotation(X, Y, hip_x, up + 0.3 * chest_up)
    g0 = R.mul(upright, _fraction(R.inv_mul(upright, chest), PELVIS_SHARE))
    g0 = R.mul(R.between(R.mul_vec(g0, np.broadcast_to(X, (T, 3))), hip_x), g0)  # left-right axis = hip line
    if limits is not None:
        hips = [_limb_root(g0, P[f"{side}_hip"], off[_J[f"{side}_knee"]], -Z, P[f"{side}_knee"], P[f"{side}_ankle"])
                for side in ("left", "right")]
        g0 = _pelvis_tilt(limits, g0, chest, hip_x, hips)
    hip_mid_off = 0.5 * (off[_J["left_hip"]] + off[_J["right_hip"]])
    p0 = mid_hip - R.mul_vec(g0, np.broadcast_to(hip_mid_off, (T, 3)))
    sh_mid_off = 0.5 * (off[_J["left_collar"]] + off[_J["left_shoulder"]] + off[_J["right_collar"]] + off[_J["right_shoulder"]])
    # Aim the chain: turn the chest about the pelvis until the spine's end (the mid-shoulder point of the
    # chain) lies on the line to the keypoints' mid-shoulder point (a few fixed-point steps).
    for _ in range(6):
        q = R.inv_mul(g0, chest)
        g1, g2 = R.mul(g0, _fraction(q, 1 / 3)), R.mul(g0, _fraction(q, 2 / 3))
        p3 = p0 + R.mul_vec(g0, np.broadcast_to(off[_J["spine1"]], (T, 3)))
        p3 = p3 + R.mul_vec(g1, np.broadcast_to(off[_J["spine2"]], (T, 3)))
        p3 = p3 + R.mul_vec(g2, np.broadcast_to(off[_J["spine3"]], (T, 3)))
        reach = p3 + R.mul_vec(chest, np.broadcast_to(sh_mid_off, (T, 3)))
        chest = R.mul(R.between(reach - p0, mid_sh - p0), chest)
    q = R.inv_mul(g0, chest)
    pos[:, 0], G[:, 0] = p0, g0
    for name, f in (("spine1", 1 / 3), ("spine2", 2 / 3), ("spine3", 1.0)):
        place(_J[name])
        set_global(_J[name], R.mul(g0, _fraction(q, f)))
    chest = G[:, _J["spine3"]]

    def limb(root: int, mid: int, end: int, target_mid: np.ndarray, target_end: np.ndarray, bend_rest: np.ndarray) -> None:
        """Root and middle joint of a limb (see the module docstring, step 3)."""
        place(root)
        set_global(root, _limb_root(G[:, cn.PARENTS[root]], pos[:, root], off[mid], bend_rest, target_mid, target_end))
        place(mid)
        set_global(mid, R.mul(R.between(R.mul_vec(G[:, root], np.broadcast_to(off[end], (T, 3))), target_end - pos[:, mid]), G[:, root]))
        place(end)

    # -- arms: collars put the shoulders on their keypoints, then the two-segment limbs; hands follow --
    for side in ("left", "right"):
        col, sho, wri = _J[f"{side}_collar"], _J[f"{side}_shoulder"], _J[f"{side}_wrist"]
        place(col)
        set_global(col, R.mul(R.between(R.mul_vec(chest, np.broadcast_to(off[sho], (T, 3))), P[f"{side}_shoulder"] - pos[:, col]), chest))
        limb(sho, _J[f"{side}_elbow"], wri, P[f"{side}_elbow"], P[f"{side}_wrist"], Z)
        set_global(wri, G[:, _J[f"{side}_elbow"]])

    # -- legs and feet ---------------------------------------------------------------------------------
    for side in ("left", "right"):
        hip, knee, ankle, toe = (_J[f"{side}_{n}"] for n in ("hip", "knee", "ankle", "toe"))
        limb(hip, knee, ankle, P[f"{side}_knee"], P[f"{side}_ankle"], -Z)
        if P.has(f"{side}_heel") and P.has(f"{side}_big_toe"):
            idx = {n: joint_set.index(P.alias[f"{side}_{n}"]) for n in ("heel", "big_toe", "small_toe")}
            toes = 0.5 * (P[f"{side}_big_toe"] + P[f"{side}_small_toe"])
            rest_toes = 0.5 * (rest_marks[idx["big_toe"]] + rest_marks[idx["small_toe"]])
            set_global(ankle, _rotation(rest_toes - rest_marks[idx["heel"]], rest_marks[idx["big_toe"]] - rest_marks[idx["small_toe"]],
                                        toes - P[f"{side}_heel"], P[f"{side}_big_toe"] - P[f"{side}_small_toe"]))
        elif P.has(f"{side}_heel") and P.has(f"{side}_foot_index"):
            # BlazePose: heel and foot tip give the foot's direction; with no second toe point, the foot's
            # left-right axis is the knee's (a foot does not roll far from its shin's).
            idx = {n: joint_set.index(P.alias[f"{side}_{n}"]) for n in ("heel", "foot_index")}
            side_axis = R.mul_vec(G[:, knee], np.broadcast_to(X, (T, 3)))
            set_global(ankle, _rotation(rest_marks[idx["foot_index"]] - rest_marks[idx["heel"]], X,
                                        P[f"{side}_foot_index"] - P[f"{side}_heel"], side_axis))
        else:
            # No foot points. Standing, the foot stays level and points where the knee does; the further
            # the shin leans from vertical (kneeling, lying), the more the foot just follows the shin,
            # since "level" then means nothing for it.
            forward = R.mul_vec(G[:, knee], np.broadcast_to(Z, (T, 3)))
            forward = _unit(forward * np.array([1.0, 0.0, 1.0]), np.broadcast_to(Z, (T, 3)))
            level = R.inv_mul(G[:, knee], _rotation(Y, Z, up, forward))
            shin = _unit(R.mul_vec(G[:, knee], np.broadcast_to(off[ankle], (T, 3))))
            w = np.clip(-shin[:, 1], 0.0, 1.0) ** 2
            set_global(ankle, R.mul(G[:, knee], R.slerp(R.identity((T,)), level, w)))
        place(toe)
        set_global(toe, G[:, ankle])

    # -- neck and head ---------------------------------------------------------------------------------
    face = [k for k, (j, _) in enumerate(joint_set.markers) if j == "head"]
    lear, rear = P["left_ear"], P["right_ear"]
    ear_k = (joint_set.index(P.alias["left_ear"]), joint_set.index(P.alias["right_ear"]))
    nose_k = joint_set.index(P.alias["nose"])
    rest_mid_ear = 0.5 * (rest_marks[ear_k[0]] + rest_marks[ear_k[1]])
    g_head = _rotation(rest_marks[ear_k[0]] - rest_marks[ear_k[1]], rest_marks[nose_k] - rest_mid_ear,
                       lear - rear, P["nose"] - 0.5 * (lear + rear))
    head_pos = np.mean([points[:, k] - R.mul_vec(g_head, np.broadcast_to(marks[k], (T, 3))) for k in face], axis=0)
    neck, head = _J["neck"], _J["head"]
    place(neck)
    side_axis = _unit(R.mul_vec(chest, np.broadcast_to(X, (T, 3))) + R.mul_vec(g_head, np.broadcast_to(X, (T, 3))))
    set_global(neck, _rotation(off[head], X, head_pos - pos[:, neck], side_axis))
    place(head)
    set_global(head, g_head)
    return R.unroll(G), p0


def solve(points: np.ndarray, joint_set: JointSet, fps: float, *, limits=True, skeleton: Skeleton | None = None) -> Motion:
    """A ``Motion`` on the canonical body (this performer's proportions) from keypoints.

    Args:
        points: ``(T, K, 3)`` keypoint positions, metres, Y up, no gaps (``smoothing.smooth`` fills them).
        joint_set: the keypoints' set.
        fps: frames per second of the result.
        limits: ``True`` for the shipped joint limits, a ``JointLimits``, or ``False`` for none.
        skeleton: the performer's skeleton (default: ``fit_skeleton`` on these points).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (joint_set.size, 3):
        raise LMMError(f"keypoints must be (frames, {joint_set.size}, 3), got {points.shape}")
    if not np.all(np.isfinite(points)):
        missing = [joint_set.names[k] for k in np.flatnonzero(~np.all(np.isfinite(points), axis=(0, 2)))]
        raise LMMError(f"keypoints never triangulated: {', '.join(missing)}; more cameras must see them")
    if skeleton is None:
        skeleton, _ = fit_skeleton(points, joint_set)
    model = None
    if limits is not False:
        model = JointLimits.load() if limits is True else limits
    g, root = solve_rotations(points, joint_set, skeleton, model)
    local = R.unroll(kinematics.global_to_local(g, skeleton.parents))
    return Motion(skeleton, local, root, fps, {"source": "capture"})
