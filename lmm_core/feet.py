"""Feet: when they touch the ground, holding them still while they do, and how far they slide.

The one place every command that cares about feet comes to: retargeting (feet pinned on the source's
contacts), the model's commands and Clean Up (feet locked on contacts), the dataset (the contacts the
model learns), and the benchmarks (skate and drift).

- ``detect``: which foot joints are down, by a named rule (``RULES``): low (near the joint's own
  ground level) and slow, with thresholds relative to the performer's height so units and body size
  do not matter. ``foot_contacts`` applies it to a motion's foot joints.
- ``skate`` / ``foot_skate``: the foot-skate ratio; ``drift``: how far planted joints wander from
  where they landed.
- ``Leg``, ``canonical_legs``, ``mapped_legs``: a skeleton's legs as joint indices.
- ``pin_feet``: feet held still during contacts with two-bone leg IK, on any rig.

``pin_feet``, per leg and per stretch of frames where the foot is down:

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
  floor (every frame, contact or not; legs without sole points have no floor check).
- *reach*: a contact ends where its pin lies beyond the leg's reach from the hip, and a target the
  leg could only reach straightened is brought back to the extension the leg had (or ``stretch`` of
  its length): a pin the leg cannot reach would otherwise snap the knee straight and move it far more
  than the foot (retargeting LAFAN1 onto a rig bound from its own bones-along-X rest pose straightened
  knees 138 -> 180 degrees, moving them 15-19 cm for a 7-9 cm pin).
- *the leg*: two-bone IK (``lmm_core.ik.two_bone``) turns hip and knee so the ankle reaches its target,
  bending the knee in its current plane; the ankle's local rotation is recomputed so the foot keeps
  its world orientation, and the toes keep their local rotation. Bone lengths never change; the root
  is not moved.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import canonical as cn
from . import ik
from . import rotations as R
from .errors import LMMError
from .motion import Motion
from .skeleton import UNITS_TO_METRES


# ---- contacts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """How a contact is told from motion.

    Attributes:
        max_speed: a contact moves slower than this many heights per second (``inf``: any speed).
        max_lift: and is within this many heights of that joint's own ground level (its 2nd-percentile
            height over the clip; ankles rest higher than toes).
        min_run: runs shorter than this many frames are dropped (after one-frame gaps are filled).
    """

    max_speed: float
    max_lift: float
    min_run: int = 2


RULES: dict[str, Rule] = {
    # The corpus's rule: what the model learns and predicts. Strict (0.15 heights/s is ~0.26 m/s), so
    # every contact it finds is a planted foot.
    "planted": Rule(0.15, 0.05),
    # Low and not swinging (0.5 heights/s is ~0.85 m/s, 0.02 heights ~3.4 cm): a planted foot that
    # slides is still a contact to lock, a foot swinging past the ground is not. Clean Up, the model's
    # commands and retargeting pin on these.
    "lock": Rule(0.5, 0.02),
    # Low and not moving fast (1.0 heights/s is ~1.7 m/s): retargeting pins on these, for its source is
    # the truth and also holds the feet that skim the floor as they land and take off. With "lock" the
    # retargeted feet skated more than the source's (LAFAN1 onto Bandai, share of ground frames sliding
    # 2 cm a frame: 6.1% against the source's 4.6%, now 4.9%); with "ground" (any speed) pins held feet
    # the source moves, and a round trip LAFAN1 -> Bandai -> LAFAN1 had 121 frames of 5,391 with a joint
    # more than 5% of the height off the source (now 3).
    "touch": Rule(1.0, 0.02),
    # Height alone, for judging skate: contacts found from speed cannot, by construction, skate.
    "ground": Rule(np.inf, 0.02),
    # Height alone and looser, for frames where a foot stands flat (both its joints low): retargeting
    # measures a source's foot slope on them.
    "low": Rule(np.inf, 0.05),
}


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


def _rule(rule: str | Rule) -> Rule:
    if isinstance(rule, Rule):
        return rule
    if rule not in RULES:
        raise LMMError(f"unknown contact rule {rule!r}; use one of {', '.join(RULES)}")
    return RULES[rule]


def detect(positions: np.ndarray, fps: float, height: float, up_index: int = 1, rule: str | Rule = "planted",
           ground_cap: np.ndarray | None = None) -> np.ndarray:
    """Which foot joints touch the ground on which frames.

    Args:
        positions: ``(T, K, 3)`` world positions of foot joints (ankles, toes), in skeleton units.
        fps: frames per second.
        height: performer height in the same units; thresholds scale with it.
        up_index: 1 for Y up, 2 for Z up.
        rule: a name from ``RULES`` or a ``Rule``.
        ground_cap: ``(K,)`` the highest each joint's ground level may be (a clip spent in the air then
            has no contacts), or ``None``.

    Returns:
        ``(T, K)`` bool (all True for fewer than 2 frames: nothing moves).
    """
    r = _rule(rule)
    positions = np.asarray(positions, dtype=np.float64)
    t = positions.shape[0]
    if t < 2:
        return np.ones(positions.shape[:2], dtype=bool)
    up = positions[..., up_index]
    ground = np.percentile(up, 2, axis=0)
    if ground_cap is not None:
        ground = np.minimum(ground, ground_cap)
    speed = np.linalg.norm(np.gradient(positions, axis=0), axis=-1) * fps
    down = (speed < r.max_speed * height) & (up - ground < r.max_lift * height)
    return _tidy(down, r.min_run)


def _canonical_feet(motion: Motion, what: str) -> list[int]:
    from .cleanup.body import require_canonical  # cleanup imports this module

    require_canonical(motion, what)
    return [cn.JOINT_INDEX[n] for n in cn.CONTACT_JOINTS]


def foot_contacts(motion: Motion, joints: list[int] | None = None, *, rule: str | Rule = "lock",
                  floor: float | None = 0.0) -> np.ndarray:
    """``detect`` on a motion's foot joints.

    Args:
        motion: ``T`` frames; without ``joints`` it must be on the canonical body, whose foot joints
            are ``canonical.CONTACT_JOINTS`` (``left_ankle, right_ankle, left_toe, right_toe``, the
            corpus's order).
        joints: rig joint indices of the feet, ``K`` of them.
        rule: a name from ``RULES``.
        floor: canonical body only: the floor height, so no joint's ground level lies higher than it
            stands on that floor at rest; ``None`` drops the cap.

    Returns:
        ``(T, K)`` bool.
    """
    cap = None
    if joints is None:
        joints = _canonical_feet(motion, "contact detection")
        if floor is not None:
            rest = motion.skeleton.rest_positions()[joints, 1]
            tip = motion.skeleton.end_sites.get(cn.JOINT_INDEX[cn.TOE_JOINTS[0]])
            rest_floor = rest[2] + tip[1] if tip is not None else 0.0
            cap = floor + rest - rest_floor
    pos = motion.global_positions()[:, joints]
    return detect(pos, motion.fps, motion.height(), motion.skeleton.up_index, rule, cap)


# ---- skate and drift -----------------------------------------------------------------------------


def skate(positions: np.ndarray, contacts: np.ndarray, metres_per_unit: float, up_index: int = 1,
          threshold_m: float = 0.02) -> float:
    """Foot-skate ratio: the share of contact frames whose foot moves more than ``threshold_m`` horizontally.

    Args:
        positions: ``(T, K, 3)`` foot joint positions in skeleton units.
        contacts: ``(T, K)`` bool; contact on frame ``t`` and ``t - 1`` counts frame ``t``.
        metres_per_unit: ``UNITS_TO_METRES[skeleton.units]``.
        threshold_m: movement per frame that counts as skating (2 cm).
    """
    horiz = [i for i in range(3) if i != up_index]
    step = np.linalg.norm(np.diff(positions[..., horiz], axis=0), axis=-1) * metres_per_unit
    both = contacts[1:] & contacts[:-1]
    n = int(both.sum())
    return float((step[both] > threshold_m).sum() / n) if n else 0.0


def foot_skate(motion: Motion, contacts: np.ndarray | None = None, *, joints: list[int] | None = None,
               threshold_m: float = 0.02, frames: np.ndarray | None = None) -> float:
    """The project's foot-skate ratio of a motion (``skate`` on its foot joints).

    Args:
        motion: ``T`` frames; without ``joints``, on the canonical body (its ``CONTACT_JOINTS``).
        contacts: ``(T, K)`` bool, e.g. the source's for judging a retarget; default: the motion's own
            by the "ground" rule (height alone), since contacts found from speed cannot skate.
        joints: rig joint indices of the feet.
        frames: ``(T,)`` bool: count only these frames (e.g. the ones a model made in a clip that is
            partly recorded); ground levels and contacts are still found over the whole motion.
    """
    joints = _canonical_feet(motion, "foot skate") if joints is None else list(joints)
    pos = motion.global_positions()[:, joints]
    if contacts is None:
        contacts = detect(pos, motion.fps, motion.height(), motion.skeleton.up_index, "ground")
    contacts = np.asarray(contacts, dtype=bool)
    if frames is not None:
        frames = np.asarray(frames, dtype=bool)
        if frames.shape != (motion.num_frames,):
            raise LMMError(f"frames must be ({motion.num_frames},) bool, got {frames.shape}")
        contacts = contacts & frames[:, None]
    return skate(pos, contacts, UNITS_TO_METRES[motion.skeleton.units], motion.skeleton.up_index, threshold_m)


def drift(positions: np.ndarray, contacts: np.ndarray, metres_per_unit: float, up_index: int = 1) -> list[np.ndarray]:
    """How far each planted joint has wandered from where it landed, per contact frame.

    Args:
        positions: ``(T, K, 3)`` foot joint positions in skeleton units.
        contacts: ``(T, K)`` bool.

    Returns:
        ``K`` arrays, each ``(N_k,)``: for every contact frame of joint ``k``, its horizontal distance in
        metres from where it was on the first frame of that contact.
    """
    horiz = [i for i in range(3) if i != up_index]
    out = []
    for k in range(positions.shape[1]):
        d = [np.linalg.norm(positions[a:b, k][:, horiz] - positions[a, k, horiz], axis=-1)
             for a, b in _runs(np.asarray(contacts[:, k], dtype=bool))]
        out.append(np.concatenate(d) * metres_per_unit if d else np.zeros(0))
    return out


# ---- legs ----------------------------------------------------------------------------------------


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
    from .cleanup.body import require_canonical  # cleanup imports this module

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


def mapped_legs(joint_of: np.ndarray) -> tuple[Leg, Leg]:
    """The left and right legs of any rig from its canonical joint -> rig joint indices.

    Args:
        joint_of: ``(22,)`` rig joint index of each canonical joint, ``-1`` where unmapped (a
            ``retarget.Binding``'s ``joint_of``). Hips, knees and ankles must be mapped; a missing toe
            gives a leg without one. No sole points: a rig's rest pose does not say where its floor is.
    """
    legs = []
    for side, toe_name in zip(("left", "right"), cn.TOE_JOINTS):
        hip, knee, ankle = (int(joint_of[cn.JOINT_INDEX[n]]) for n in cn.LEG_CHAINS[side])
        if min(hip, knee, ankle) < 0:
            raise LMMError(f"the {side} leg is not mapped (hip, knee and ankle bones are needed to pin feet); fix the bone map")
        legs.append(Leg(hip, knee, ankle, int(joint_of[cn.JOINT_INDEX[toe_name]])))
    return legs[0], legs[1]


def leg_joints(legs: tuple[Leg, ...]) -> list[int]:
    """Every leg's ankle, then every leg's toe (``-1`` where none): the column order of contacts."""
    return [leg.ankle for leg in legs] + [leg.toe for leg in legs]


# ---- pinning -------------------------------------------------------------------------------------


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


def pin_feet(motion: Motion, contacts: np.ndarray | None = None, *, legs: tuple[Leg, ...] | None = None,
             ease: int = 4, floor: float | None = 0.0, up_index: int | None = None, reach: float = 1.15,
             stretch: float = 0.99, pull: tuple[float, float] | None = None, floor_frames: np.ndarray | None = None,
             anchor_frames: np.ndarray | None = None, hold: Motion | None = None) -> Motion:
    """The motion with each foot held still while it touches the ground (see the module docstring).

    Args:
        motion: ``T`` frames. Without ``legs`` it must be on the canonical body.
        contacts: ``(T, 2 * L)`` bool for ``L`` legs: every leg's ankle first, then every leg's toe
            (``leg_joints``' order; for the canonical body ``left_ankle, right_ankle, left_toe,
            right_toe``, as ``foot_contacts`` returns and the corpus stores). Default: the motion's own
            by the "lock" rule (``foot_contacts``).
        legs: the legs to lock; default ``canonical_legs(motion)``. For another rig ``mapped_legs``
            (a leg without a toe gets False toe contacts).
        ease: frames over which a correction fades in before and out after a contact (0: none).
        floor: height of the floor along the up axis in the motion's units; feet are kept above it by
            their ``Leg.soles`` points. ``None``: no floor.
        up_index: the up axis (default the skeleton's).
        reach: a contact ends where its pin lies further from the hip than this many leg lengths (hip
            to knee to ankle). Contacts that disagree with the motion (a model's, or a foot that
            glides with the body) would otherwise pin a foot the body has long walked away from, and
            the straightened leg would drag it up behind; from there the foot is left as it was (the
            correction eases out as after any contact).
        stretch: a target is never further from the hip than the leg's own extension on that frame
            or this many leg lengths, whichever is more: the knee moves only as far as the leg needs to
            reach a pin it can reach without locking straight (see the module docstring).
        pull: ``(hold, drop)`` in leg lengths, or ``None``: a correction longer (horizontally) than
            ``hold`` fades out, smoothly, and is gone at ``drop``. Retargeting passes (0.05, 0.15): its
            source is the truth, so a pin that far from the foot is a foot dragging along the ground,
            not one standing on it; held, it walks the foot away from the source's, and ended at once
            (the contact cut) its correction eased out at 4-5 cm a frame.
        floor_frames: ``(T,)`` bool, the frames whose feet the floor check may lift (default: all).
            Contacts are locked on every frame either way. Where the other frames' feet stand below the
            floor (each leg's lowest sole point, 2nd percentile), that is the level these are held to.
        anchor_frames: ``(T,)`` bool, or ``(T, L)`` per leg: frames whose foot placement is to be trusted
            (recorded frames in a clip whose others a model made; default: none). A contact that reaches
            one of them is held where the first of them has the foot, not where it landed: the made
            frames move to meet the recorded ones, which then stay almost as they were, rather than the
            foot being dragged across the first recorded frames after the contact ends. Retargeting
            passes each leg's planted frames (the "planted" rule), so a foot is held where it settles,
            not where it first skims the floor.
        hold: the same frames before an edit that may have turned the feet (Clean Up passes the motion
            as it was before the joint-limit clamp): while a foot is down it keeps this motion's world
            orientation (eased in and out like the pin), so a foot flat on the ground stays flat and
            its toe stays where it was. Without it the clamp's turn of the ankle (up to 20 degrees on a
            LAFAN1 walk) swung a planted toe about the pinned heel: 2 cm at the 95th percentile.

    Returns:
        A new motion: only the local rotations of hips, knees (and joints between them) and ankles
        change, on contact frames and the ``ease`` frames around them (and wherever a foot is lifted
        off the floor).
    """
    t = motion.num_frames
    if contacts is None:
        if legs is None:
            contacts = foot_contacts(motion, floor=floor)  # canonical body only; it says so otherwise
        else:
            joints = leg_joints(tuple(legs))
            contacts = np.zeros((t, len(joints)), dtype=bool)
            have = [k for k, j in enumerate(joints) if j >= 0]
            contacts[:, have] = foot_contacts(motion, [joints[k] for k in have])
    legs = canonical_legs(motion) if legs is None else tuple(legs)
    contacts = np.asarray(contacts, dtype=bool)
    if contacts.shape != (t, 2 * len(legs)):
        raise LMMError(f"contacts must be ({t}, {2 * len(legs)}) bool (each leg's ankle, then each leg's toe), "
                       f"got {contacts.shape}")
    if ease < 0:
        raise LMMError(f"ease must be a number of frames >= 0, got {ease}")
    if pull is not None and not 0 <= pull[0] < pull[1]:
        raise LMMError(f"pull must be (hold, drop) leg lengths with 0 <= hold < drop, got {pull}")
    if not 0.5 <= stretch <= 1.0:
        raise LMMError(f"stretch must be from 0.5 to 1 leg lengths, got {stretch}")
    if floor_frames is not None:
        floor_frames = np.asarray(floor_frames, dtype=bool)
        if floor_frames.shape != (t,):
            raise LMMError(f"floor_frames must be ({t},) bool, got {floor_frames.shape}")
    if anchor_frames is not None:
        anchor_frames = np.asarray(anchor_frames, dtype=bool)
        if anchor_frames.shape == (t,):
            anchor_frames = np.repeat(anchor_frames[:, None], len(legs), axis=1)
        if anchor_frames.shape != (t, len(legs)):
            raise LMMError(f"anchor_frames must be ({t},) or ({t}, {len(legs)}) bool, got {anchor_frames.shape}")
    sk = motion.skeleton
    up = sk.up_index if up_index is None else up_index
    g_rot, g_pos = motion.fk()
    if hold is not None:
        if hold.skeleton.names != sk.names or hold.num_frames != t:
            raise LMMError(f"hold must be the same {t} frames on the same skeleton, got {hold.num_frames} frames "
                           f"of {hold.skeleton.num_joints} joints")
        held_rot, _ = hold.fk()
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
        anchors = None if anchor_frames is None else anchor_frames[:, i]
        target = _pin_targets(ankle, toe_rel, ca, ct, up, anchors)
        kept = _cut_out_of_reach(down, np.linalg.norm(target - g_pos[:, leg.hip], axis=-1) <= reach * leg_length)
        if not np.array_equal(kept, down):
            down, ca, ct = kept, ca & kept, ct & kept
            target = _pin_targets(ankle, toe_rel, ca, ct, up, anchors)
        foot = g_rot[:, leg.ankle]
        turned = np.zeros(t, dtype=bool)
        if hold is not None:
            w = _fill_gaps(np.repeat(down[:, None].astype(float), 3, axis=1), down, ease)[:, 0]
            foot = R.slerp(foot, held_rot[:, leg.ankle], w)
            turned = w > 0
            toe_rel = R.mul_vec(foot, R.inv_mul_vec(g_rot[:, leg.ankle], toe_rel))
            target = _pin_targets(ankle, toe_rel, ca, ct, up, anchors)
        corr = np.where(down[:, None], target - ankle, 0.0)
        corr = _fill_gaps(corr, down, ease)
        if pull is not None:
            off = np.linalg.norm(np.delete(corr, up, axis=1), axis=1) / leg_length
            corr *= np.clip((pull[1] - off) / (pull[1] - pull[0]), 0.0, 1.0)[:, None]
        if floor is not None and leg.soles:
            # The foot moves rigidly with its ankle (its orientation is kept), so its lowest sole point
            # rises by exactly the lift.
            low = np.min([_sole_height(j, o, leg, g_rot, g_pos, foot, toe_rel, up) for j, o in leg.soles], axis=0)
            level = floor
            if floor_frames is not None and not floor_frames.all():
                # Where the frames left alone stand lower (motion capture whose toes dip through the
                # floor), the others are held only that high: lifted to the floor, a generated run's
                # toe rose 4-6 cm in every transition between recorded stretches and sank back after.
                level = min(floor, float(np.percentile((low + corr[:, up])[~floor_frames], 2)))
            lift = np.maximum(0.0, level - (low + corr[:, up]))
            corr[:, up] += lift if floor_frames is None else np.where(floor_frames, lift, 0.0)
        moved = np.any(corr != 0.0, axis=1) | turned
        if moved.any():
            _solve_leg(sk, leg, rotations, g_rot, g_pos, _within_reach(g_pos[:, leg.hip], ankle, ankle + corr,
                                                                      stretch * leg_length), moved, foot)
    return Motion(sk, rotations, motion.root_positions.copy(), motion.fps, dict(motion.labels),
                  None if motion.translations is None else motion.translations.copy())


def _within_reach(hip: np.ndarray, ankle: np.ndarray, target: np.ndarray, limit: float) -> np.ndarray:
    """Targets ``(T, 3)`` brought towards the hip to no further than ``max(|ankle - hip|, limit)``.

    Two-bone IK meets a target beyond the leg's reach by locking the leg straight, which swings the
    knee through its whole bend for the last centimetres of a pin; a target held at the extension the
    leg already has (or ``limit``) costs the foot those centimetres instead.
    """
    d = np.linalg.norm(target - hip, axis=-1)
    most = np.maximum(np.linalg.norm(ankle - hip, axis=-1), limit)
    scale = np.where(d > most, most / np.maximum(d, 1e-12), 1.0)
    return hip + (target - hip) * scale[:, None]


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


def _sole_height(j: int, offset, leg: Leg, g_rot: np.ndarray, g_pos: np.ndarray, foot: np.ndarray,
                 toe_rel: np.ndarray, up: int) -> np.ndarray:
    """``(T,)`` height of a sole point, the foot turned to ``foot (T, 4)`` (the ankle's world rotation)."""
    o = np.asarray(offset, dtype=float)
    if j == leg.ankle:
        return g_pos[:, j, up] + R.mul_vec(foot, o)[:, up]
    if j == leg.toe:
        toe_rot = R.mul(foot, R.inv_mul(g_rot[:, leg.ankle], g_rot[:, j]))
        return g_pos[:, leg.ankle, up] + toe_rel[:, up] + R.mul_vec(toe_rot, o)[:, up]
    return g_pos[:, j, up] + R.mul_vec(g_rot[:, j], o)[:, up]


def _solve_leg(sk, leg: Leg, rotations: np.ndarray, g_rot: np.ndarray, g_pos: np.ndarray, target: np.ndarray,
               frames: np.ndarray, foot: np.ndarray) -> None:
    """Two-bone IK on ``frames`` (``(T,)`` bool): writes the new local rotations into ``rotations`` in place;
    the foot's world rotation becomes ``foot (T, 4)``."""
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
    new_global[leg.ankle] = foot[f]  # the foot keeps its (held) world orientation
    for j in [leg.hip] + list(reversed(chain)) + list(reversed(lower)):
        p = int(sk.parents[j])
        parent = new_global.get(p, g_rot[f, p]) if p >= 0 else None
        rotations[f, j] = new_global[j] if parent is None else R.inv_mul(parent, new_global[j])
