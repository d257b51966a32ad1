"""Foot contacts: finding them, and locking feet in place while they touch the ground.

``lock_feet`` works on any rig whose legs are given as joint indices (``Leg``); on the canonical body it
finds them itself. Per leg and per stretch of frames where the foot is down:

- *what is pinned*: while the ankle (heel) is down the ankle stays where it landed; while only the toe
  is down (heel off, rolling over the ball) the toe joint stays put and the ankle follows the foot's own
  rotation about it. At a hand-over the new pin starts where the old one holds the foot, so there is
  no jump. Pins are horizontal: heights stay the motion's own, as the ankle rises and falls with the
  foot rolling over heel and ball (the floor check below keeps them out of the ground).
- *easing*: the correction (pinned minus original ankle position) fades in over ``ease`` frames before a
  contact and out over ``ease`` frames after it; between two contacts closer than ``2 * ease`` frames
  it blends from one correction to the next. Frames further from every contact are left exactly as
  they were.
- *the floor*: after pinning, the foot is lifted wherever one of its sole points would go below the
  floor (every frame, contact or not).
- *the leg*: two-bone IK (``lmm_core.ik.two_bone``) turns hip and knee so the ankle reaches its target,
  bending the knee in its current plane; the ankle's local rotation is recomputed so the foot keeps
  its world orientation, and the toes keep their local rotation. Bone lengths never change; the root
  is not moved, so a target beyond the leg's reach is approached as far as the straight leg allows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import canonical as cn
from .. import contacts as C
from .. import ik
from .. import rotations as R
from ..errors import LMMError
from ..motion import Motion
from ..skeleton import UNITS_TO_METRES
from .body import require_canonical


@dataclass(frozen=True)
class Leg:
    """One leg's joints, as indices into a skeleton.

    Attributes:
        hip, knee, ankle: the two-bone chain (joints between hip and knee or knee and ankle, if any,
            keep their local rotations).
        toe: the ball-of-foot joint below the ankle, or ``-1`` where the rig has none.
        soles: points that must stay above the floor, ``(joint, (3,) offset in that joint's frame)``,
            in the skeleton's units; empty for no floor check.
    """

    hip: int
    knee: int
    ankle: int
    toe: int = -1
    soles: tuple[tuple[int, tuple[float, float, float]], ...] = ()


def canonical_legs(motion: Motion) -> tuple[Leg, Leg]:
    """The left and right legs of a canonical-body motion.

    Sole points: the heel, straight below the ankle at the height the ankle stands above the floor at
    rest, and the centre of the ball-of-foot (toe) joint itself. The canonical rest pose has 2 cm of
    sole under the ball joint and toes 5 cm long, but retargeted motion capture puts the ball joint
    itself on the ground (Bandai's stand at a median 7 mm) and runs on toes that dip through the floor,
    so a check with the rest-pose sole would lift every such foot off the ground it stands on. Measured
    from the motion's own rest pose (toe tips on the floor), so a scaled canonical body works too.
    """
    require_canonical(motion, "foot locking")
    sk = motion.skeleton
    rest = sk.rest_positions()
    legs = []
    for side, toe_name in zip(("left", "right"), cn.TOE_JOINTS):
        hip, knee, ankle = (cn.JOINT_INDEX[n] for n in cn.LEG_CHAINS[side])
        toe = cn.JOINT_INDEX[toe_name]
        tip = sk.end_sites.get(toe)
        floor = rest[toe, 1] + tip[1] if tip is not None else rest[toe, 1] - cn.TOE_HEIGHT * rest[ankle, 1] / cn.ANKLE_HEIGHT
        soles = ((ankle, (0.0, float(floor - rest[ankle, 1]), 0.0)), (toe, (0.0, 0.0, 0.0)))
        legs.append(Leg(hip, knee, ankle, toe, soles))
    return legs[0], legs[1]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each run of True in a ``(T,)`` bool array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _tidy(mask: np.ndarray, min_run: int) -> np.ndarray:
    """Fill one-frame gaps and drop runs shorter than ``min_run`` frames, per column of ``(T, K)`` bool."""
    m = mask.copy()
    m[1:-1] |= ~m[1:-1] & m[:-2] & m[2:]
    for k in range(m.shape[1]):
        for a, b in _runs(m[:, k]):
            if b - a < min_run:
                m[a:b, k] = False
    return m


def detect_contacts(motion: Motion, *, max_speed: float = 0.5, max_lift: float = 0.02, min_run: int = 2,
                    floor: float | None = 0.0) -> np.ndarray:
    """Which of the canonical body's foot joints touch the ground on which frames.

    A joint is down when it is both low and slow, with thresholds relative to the performer's height
    (``Motion.height()``), so units and body size don't matter:

    - low: within ``max_lift`` heights (0.02 is about 3.4 cm for 1.7 m) of its ground level, which is
      its own 2nd-percentile height over the clip, but never higher than it stands on the floor at rest
      (so a clip spent in the air has no contacts);
    - slow: it moves slower than ``max_speed`` heights per second (0.5 is about 0.85 m/s: a planted
      foot that slides is still a contact to lock; a foot swinging past the ground is not).

    Then one-frame gaps are filled and runs shorter than ``min_run`` frames dropped.

    Args:
        motion: a canonical-body motion, ``T`` frames.
        floor: the floor height in the motion's units, for the at-rest cap; ``None`` drops the cap.

    Returns:
        ``(T, 4)`` bool, columns ``left_ankle, right_ankle, left_toe, right_toe``
        (``canonical.CONTACT_JOINTS``, the corpus's order).
    """
    require_canonical(motion, "contact detection")
    idx = [cn.JOINT_INDEX[n] for n in cn.CONTACT_JOINTS]
    pos = motion.global_positions()[:, idx]
    t = motion.num_frames
    if t < 2:
        return np.ones((t, len(idx)), dtype=bool)
    height = motion.height()
    up = pos[..., 1]
    ground = np.percentile(up, 2, axis=0)
    if floor is not None:
        rest = motion.skeleton.rest_positions()[idx, 1]
        tip = motion.skeleton.end_sites.get(cn.JOINT_INDEX[cn.TOE_JOINTS[0]])
        rest_floor = rest[2] + tip[1] if tip is not None else 0.0
        ground = np.minimum(ground, floor + rest - rest_floor)
    speed = np.linalg.norm(np.gradient(pos, axis=0), axis=-1) * motion.fps
    down = (speed < max_speed * height) & (up - ground < max_lift * height)
    return _tidy(down, min_run)


def _ease(x: np.ndarray) -> np.ndarray:
    """Smoothstep on ``[0, 1]``: zero slope at both ends, so eased corrections start and stop gently."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _fill_gaps(corr: np.ndarray, down: np.ndarray, ease: int) -> np.ndarray:
    """Corrections ``(T, 3)`` for frames off the ground, from those on it (see the module docstring)."""
    out = corr.copy()
    t = len(down)
    for a, b in _runs(~down):
        prev = corr[a - 1] if a > 0 else None
        nxt = corr[b] if b < t else None
        n = b - a
        k = np.arange(n)
        if prev is not None and nxt is not None and n <= 2 * ease:
            s = _ease((k + 1) / (n + 1))[:, None]
            out[a:b] = (1 - s) * prev + s * nxt
            continue
        val = np.zeros((n, 3))
        if prev is not None and ease > 0:
            val += _ease(1 - (k + 1) / (ease + 1))[:, None] * prev
        if nxt is not None and ease > 0:
            val += _ease(1 - (n - k) / (ease + 1))[:, None] * nxt
        out[a:b] = val
    return out


def _pin_targets(ankle: np.ndarray, toe_rel: np.ndarray, ca: np.ndarray, ct: np.ndarray, up: int,
                 anchor_frames: np.ndarray | None = None) -> np.ndarray:
    """Pinned ankle positions ``(T, 3)`` on frames where the foot is down (others: the input ankle).

    Only the horizontal position is pinned; the height stays the motion's own (the ankle rises and
    falls as the foot rolls over heel and ball, and a height held constant would fight the foot's kept
    rotation and pull a leg that lands straight beyond its reach). The floor check comes after.

    Args:
        ankle: ``(T, 3)`` world ankle positions; toe_rel: ``(T, 3)`` toe minus ankle (the foot's shape
            and rotation, kept as is); ca, ct: ``(T,)`` ankle / toe contact; up: the up axis.
        anchor_frames: ``(T,)`` bool or None; a contact that reaches one of these frames is held where
            the first of them has the foot, rather than where it landed.
    """
    horiz = [i for i in range(3) if i != up]
    # Which point to hold when both are down: the one the foot turns about, i.e. the one that moves
    # less in the input (the heel while the foot slaps down after heel strike, the ball as the heel
    # lifts). A translating (sliding) foot moves both alike, and either pin stops it.
    speed_a = np.linalg.norm(np.gradient(ankle[:, horiz], axis=0), axis=-1)
    speed_t = np.linalg.norm(np.gradient((ankle + toe_rel)[:, horiz], axis=0), axis=-1)
    heel_pin = ca & (~ct | (speed_a <= speed_t))
    target = ankle.copy()
    for a, b in _runs(ca | ct):
        f = a
        anchor = None  # the pinned point: the ankle in a heel phase, the toe in a toe phase
        while f < b:
            heel = bool(heel_pin[f])
            stop = f + 1
            while stop < b and bool(heel_pin[stop]) == heel:
                stop += 1
            if anchor is None:
                anchor = ankle[f] + (0.0 if heel else toe_rel[f])  # where it lands
            elif heel:
                # Hand over from toe to heel: the ankle is pinned where the toe pin holds it now.
                anchor = anchor - toe_rel[f]
            else:
                # To the ball: the toe is pinned where the ankle pin holds it now.
                anchor = anchor + toe_rel[f]
            target[f:stop] = anchor if heel else anchor - toe_rel[f:stop]
            f = stop
        if anchor_frames is not None:
            own = np.flatnonzero(anchor_frames[a:b])
            if len(own):  # the whole contact moved, still held still, to where that frame stands
                target[a:b] += ankle[a + own[0]] - target[a + own[0]]
    target[:, up] = ankle[:, up]
    return target


def lock_feet(motion: Motion, contacts: np.ndarray | None = None, *, legs: tuple[Leg, ...] | None = None,
              ease: int = 4, floor: float | None = 0.0, up_index: int | None = None, reach: float = 1.15,
              floor_frames: np.ndarray | None = None, anchor_frames: np.ndarray | None = None) -> Motion:
    """The motion with each foot held still while it touches the ground (see the module docstring).

    Args:
        motion: ``T`` frames. Without ``legs`` it must be on the canonical body.
        contacts: ``(T, 2 * L)`` bool for ``L`` legs: every leg's ankle first, then every leg's toe
            (for the canonical body: ``left_ankle, right_ankle, left_toe, right_toe``, as
            ``detect_contacts`` returns and the corpus stores). Default: ``detect_contacts(motion)``.
        legs: the legs to lock; default ``canonical_legs(motion)``. For another rig build ``Leg``\\ s
            from its bone map (a leg without a toe gets False toe contacts).
        ease: frames over which a correction fades in before and out after a contact (0: none).
        floor: height of the floor along the up axis in the motion's units; feet are kept above it by
            their ``Leg.soles`` points. ``None``: no floor.
        up_index: the up axis (default the skeleton's).
        reach: a contact ends where its pin lies further from the hip than this many leg lengths (hip
            to knee to ankle). Contacts that disagree with the motion (a model's, or a foot that
            glides with the body) would otherwise pin a foot the body has long walked away from, and
            the straightened leg would drag it up behind; from there the foot is left as it was (the
            correction eases out as after any contact).
        floor_frames: ``(T,)`` bool, the frames whose feet the floor check may lift (default: all).
            Contacts are locked on every frame either way. Where the other frames' feet stand below the
            floor (each leg's lowest sole point, 2nd percentile), that is the level these are held to.
        anchor_frames: ``(T,)`` bool, frames whose foot placement is to be trusted (recorded frames in a
            clip whose others a model made; default: none). A contact that reaches one of them is held
            where the first of them has the foot, not where it landed: the made frames move to meet
            the recorded ones, which then stay almost as they were, rather than the foot being dragged
            across the first recorded frames after the contact ends.

    Returns:
        A new motion: only the local rotations of hips, knees (and joints between them) and ankles
        change, on contact frames and the ``ease`` frames around them (and wherever a foot is lifted
        off the floor).
    """
    legs = canonical_legs(motion) if legs is None else tuple(legs)
    t = motion.num_frames
    if contacts is None:
        contacts = detect_contacts(motion, floor=floor)  # canonical body only; it says so otherwise
    contacts = np.asarray(contacts, dtype=bool)
    if contacts.shape != (t, 2 * len(legs)):
        raise LMMError(f"contacts must be ({t}, {2 * len(legs)}) bool (each leg's ankle, then each leg's toe), "
                       f"got {contacts.shape}")
    if ease < 0:
        raise LMMError(f"ease must be a number of frames >= 0, got {ease}")
    if floor_frames is not None:
        floor_frames = np.asarray(floor_frames, dtype=bool)
        if floor_frames.shape != (t,):
            raise LMMError(f"floor_frames must be ({t},) bool, got {floor_frames.shape}")
    if anchor_frames is not None:
        anchor_frames = np.asarray(anchor_frames, dtype=bool)
        if anchor_frames.shape != (t,):
            raise LMMError(f"anchor_frames must be ({t},) bool, got {anchor_frames.shape}")
    sk = motion.skeleton
    up = sk.up_index if up_index is None else up_index
    g_rot, g_pos = motion.fk()
    rotations = motion.rotations.copy()
    for i, leg in enumerate(legs):
        _check_leg(sk, leg)
        ca = contacts[:, i]
        ct = contacts[:, len(legs) + i] if leg.toe >= 0 else np.zeros(t, dtype=bool)
        ankle = g_pos[:, leg.ankle]
        toe_rel = g_pos[:, leg.toe] - ankle if leg.toe >= 0 else np.zeros((t, 3))
        leg_length = float(np.linalg.norm(g_pos[0, leg.knee] - g_pos[0, leg.hip]) +
                           np.linalg.norm(g_pos[0, leg.ankle] - g_pos[0, leg.knee]))
        down = ca | ct
        target = _pin_targets(ankle, toe_rel, ca, ct, up, anchor_frames)
        kept = _cut_out_of_reach(down, np.linalg.norm(target - g_pos[:, leg.hip], axis=-1) <= reach * leg_length)
        if not np.array_equal(kept, down):
            down, ca, ct = kept, ca & kept, ct & kept
            target = _pin_targets(ankle, toe_rel, ca, ct, up, anchor_frames)
        corr = np.where(down[:, None], target - ankle, 0.0)
        corr = _fill_gaps(corr, down, ease)
        if floor is not None and leg.soles:
            # The foot moves rigidly with its ankle (its orientation is kept), so its lowest sole point
            # rises by exactly the lift.
            low = np.min([g_pos[:, j, up] + R.mul_vec(g_rot[:, j], np.array(o))[:, up] for j, o in leg.soles], axis=0)
            level = floor
            if floor_frames is not None and not floor_frames.all():
                # Where the frames left alone stand lower (motion capture whose toes dip through the
                # floor), the others are held only that high: lifted to the floor, a generated run's
                # toe rose 4-6 cm in every transition between recorded stretches and sank back after.
                level = min(floor, float(np.percentile((low + corr[:, up])[~floor_frames], 2)))
            lift = np.maximum(0.0, level - (low + corr[:, up]))
            corr[:, up] += lift if floor_frames is None else np.where(floor_frames, lift, 0.0)
        moved = np.any(corr != 0.0, axis=1)
        if moved.any():
            _solve_leg(sk, leg, rotations, g_rot, g_pos, ankle + corr, moved)
    return Motion(sk, rotations, motion.root_positions.copy(), motion.fps, dict(motion.labels),
                  None if motion.translations is None else motion.translations.copy())


def _cut_out_of_reach(down: np.ndarray, reachable: np.ndarray) -> np.ndarray:
    """``down (T,)`` with each run ended at its first frame that is not ``reachable (T,)``."""
    out = down.copy()
    for a, b in _runs(down):
        far = np.flatnonzero(~reachable[a:b])
        if len(far):
            out[a + far[0]:b] = False
    return out


def _check_leg(sk, leg: Leg) -> None:
    def chain(top: int, bottom: int) -> bool:
        j = bottom
        while j >= 0 and j != top:
            j = int(sk.parents[j])
        return j == top and bottom != top

    n = sk.num_joints
    if not all(0 <= j < n for j in (leg.hip, leg.knee, leg.ankle)) or not (chain(leg.hip, leg.knee) and chain(leg.knee, leg.ankle)):
        raise LMMError(f"leg {leg.hip}-{leg.knee}-{leg.ankle} is not a hip -> knee -> ankle chain of this skeleton")
    if leg.toe >= 0 and not chain(leg.ankle, leg.toe):
        raise LMMError(f"toe joint {leg.toe} is not below ankle joint {leg.ankle}")


def _solve_leg(sk, leg: Leg, rotations: np.ndarray, g_rot: np.ndarray, g_pos: np.ndarray, target: np.ndarray,
               frames: np.ndarray) -> None:
    """Two-bone IK on ``frames`` (``(T,)`` bool): writes the new local rotations into ``rotations`` in place."""
    f = frames
    qa, qb = ik.two_bone(g_pos[f, leg.hip], g_pos[f, leg.knee], g_pos[f, leg.ankle], target[f])
    new_global = {}
    # Hip and everything down to the knee turn by qa about the hip; the knee and below by qa * qb more.
    j = leg.knee
    chain = []
    while j != leg.hip:
        chain.append(j)
        j = int(sk.parents[j])
    j = leg.ankle
    lower = []
    while j != leg.knee:
        lower.append(j)
        j = int(sk.parents[j])
    new_global[leg.hip] = R.mul(qa, g_rot[f, leg.hip])
    for j in reversed(chain):  # knee last
        new_global[j] = R.mul(qa, g_rot[f, j]) if j != leg.knee else R.mul(qa, R.mul(qb, g_rot[f, j]))
    qab = R.mul(qa, qb)
    for j in reversed(lower[1:]):  # joints between knee and ankle ride with the shin
        new_global[j] = R.mul(qab, g_rot[f, j])
    new_global[leg.ankle] = g_rot[f, leg.ankle]  # the foot keeps its world orientation
    for j in [leg.hip] + list(reversed(chain)) + list(reversed(lower)):
        p = int(sk.parents[j])
        parent = new_global.get(p, g_rot[f, p]) if p >= 0 else None
        rotations[f, j] = new_global[j] if parent is None else R.inv_mul(parent, new_global[j])


def foot_skate(motion: Motion, contacts: np.ndarray | None = None, threshold_m: float = 0.02,
               frames: np.ndarray | None = None) -> float:
    """Foot-skate ratio of a canonical motion: share of contact frames (contact on this and the previous
    frame) whose foot joint moves more than ``threshold_m`` metres horizontally (``lmm_core.contacts.skate``).

    ``contacts`` ``(T, 4)`` default to ground contact by height alone (within 2% of the performer's height
    of the joint's ground level), since contacts found from speed cannot skate by construction.
    ``frames`` ``(T,)`` bool counts only those frames (e.g. the ones a model made in a clip that is
    partly recorded); ground levels and contacts are still found over the whole motion.
    """
    require_canonical(motion, "foot skate")
    idx = [cn.JOINT_INDEX[n] for n in cn.CONTACT_JOINTS]
    pos = motion.global_positions()[:, idx]
    if contacts is None:
        contacts = C.detect(pos, motion.fps, motion.height(), 1, max_speed=np.inf, max_lift=0.02)
    if frames is not None:
        frames = np.asarray(frames, dtype=bool)
        if frames.shape != (motion.num_frames,):
            raise LMMError(f"frames must be ({motion.num_frames},) bool, got {frames.shape}")
        contacts = np.asarray(contacts, dtype=bool) & frames[:, None]
    return C.skate(pos, contacts, UNITS_TO_METRES[motion.skeleton.units], 1, threshold_m)
