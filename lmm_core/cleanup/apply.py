"""The clean-up as the commands apply it: ``clean_up`` on the canonical body, ``clean_up_rig`` on any rig
(limits through the canonical body, feet on the rig's own legs)."""
from __future__ import annotations

import numpy as np

from .. import rotations as R
from ..bonemap import BoneMap, bone_map_for
from ..canonical import JOINT_NAMES, canonical_skeleton
from ..feet import foot_contacts, leg_joints, mapped_legs, pin_feet
from ..motion import Motion
from ..retarget import bind_motion, retarget
from .body import require_canonical
from .limits import JointLimits


def clean_up(motion: Motion, *, limits: JointLimits | bool = True, feet: bool = True,
             contacts: np.ndarray | None = None, ease: int = 4, floor_frames: np.ndarray | None = None,
             anchor_frames: np.ndarray | None = None, widen_limits: bool = False) -> Motion:
    """Joint limits, then foot locking, on a canonical-body motion.

    Limits go first because locking the feet re-solves hips, knees and ankles and must have the last
    word on where the feet are; the legs it bends stay close to the clamped pose.

    Args:
        limits: a ``JointLimits``, ``True`` for the shipped one, ``False`` to skip.
        feet: lock feet during contacts.
        contacts: ``(T, 4)`` bool (left ankle, right ankle, left toe, right toe), e.g. the model's
            predicted contacts; detected from the motion when ``None``.
        ease: frames of easing around each contact.
        floor_frames: ``(T,)`` bool, the frames whose feet may be lifted above the floor (default: all).
            Generation passes the frames its network made: recorded feet stay where they were recorded
            (lifting them moved the foot-skate ratio of generated clips from 0.053 to 0.067), and the
            made ones are held no higher than the recorded ones stand (``feet.pin_feet``).
        anchor_frames: ``(T,)`` bool, frames whose foot placement a contact reaching them is held to
            (``feet.pin_feet``): the recorded frames of a generated clip, the keys of an in-between.
        widen_limits: grow the limits to hold the poses of ``anchor_frames`` first
            (``JointLimits.widened``): an in-between's keys are poses this character takes. Generation
            leaves it off: its recorded frames come from many rigs and performers, and widened to all of
            them the transitions between segments went past the limits three times as often (the sampling
            model, 17 actions x 3 seeds: 0.0325 of joint-frames against 0.0106; real held-out clips 0.0226).
    """
    require_canonical(motion, "clean-up")
    held = motion  # feet that are down keep this pose's orientation (pin_feet's hold), not the clamp's
    if limits is not False:
        model = JointLimits.load() if limits is True else limits
        if widen_limits and anchor_frames is not None and np.any(anchor_frames):
            # The keys (or recorded frames) are this character's own poses: never clamp tighter than them.
            frames = np.asarray(anchor_frames, dtype=bool)
            model = model.widened(motion.rotations[frames if frames.ndim == 1 else frames.any(axis=1)])
        motion = model.clamp(motion)
    if feet:
        motion = pin_feet(motion, contacts, ease=ease, floor_frames=floor_frames, anchor_frames=anchor_frames,
                          hold=held)
    return motion


def clean_up_rig(motion: Motion, bone_map: BoneMap, *, limits: JointLimits | bool = True,
                 feet: bool = True) -> Motion:
    """``clean_up`` for a motion on any rig: joint limits through the canonical body, feet on the rig itself.

    Limits: the motion is retargeted onto the canonical body (feet not pinned) and clamped there; the
    canonical motion before and after the clamp are both retargeted back onto the rig (bound to the
    motion's own pose), and the rotation each joint gained between those two is applied to the rig's
    own values. Frames and joints the clamp leaves alone keep exactly what they had; the root path and
    translations are never changed by it.

    Feet are pinned on the rig's own legs (``feet.pin_feet`` with ``feet.mapped_legs``), on the contacts
    of the motion as given. Pinned on the canonical body and carried back as a change, they were not
    pinned on the rig: the canonical body's other proportions make feet slide that do not slide on the
    rig, and the change that held them there moved the rig's planted feet instead (a LAFAN1 walk's
    planted toes drifted a median 0.1 cm before Clean Up and 1.5 cm after it). Heights are the motion's
    own: a rig's rest pose does not say where its floor is, so there is no floor check.

    Args:
        motion: ``T`` frames on any rig: ``(T, J, 4)`` local rotations, ``(T, 3)`` root path (and
            ``(T, J, 3)`` translations, if any) in the rig's units and world axes.
        bone_map: the rig's canonical joint -> bone map.
        limits: a ``JointLimits``, ``True`` for the shipped one, ``False`` to skip.
        feet: lock feet during their contacts (the "lock" rule, ``feet.RULES``); a single frame has
            nothing to lock.

    Returns:
        The cleaned motion on the same skeleton, frame rate and labels, ``T`` frames.
    """
    cleaned = motion
    if limits is not False:
        canon_sk = canonical_skeleton()
        canon_map = bone_map_for(canon_sk, "canonical")
        canon = retarget(motion, bone_map, canon_sk, canon_map, fix_feet=False)
        clamped = clean_up(canon, limits=limits, feet=False)
        binding = bind_motion(motion, bone_map)
        before = retarget(canon, canon_map, motion.skeleton, binding, fix_feet=False)
        after = retarget(clamped, canon_map, motion.skeleton, binding, fix_feet=False)
        change = R.inv_mul(before.rotations, after.rotations)  # identity wherever the clamp changed nothing
        # The clamp turns joints and moves nothing: the root path and translations stay the rig's own (the
        # way back stands the pelvis on the ankles' ground level, which a clamped knee shifts by a hair).
        cleaned = Motion(motion.skeleton, R.unroll(R.mul(motion.rotations, change)), motion.root_positions.copy(),
                         motion.fps, dict(motion.labels),
                         None if motion.translations is None else motion.translations.copy())
    if feet and motion.num_frames > 1:
        names = motion.skeleton.names
        bones = getattr(bone_map, "bones", bone_map)
        legs = mapped_legs(np.array([names.index(bones[n]) if bones.get(n) in names else -1 for n in JOINT_NAMES]))
        joints = leg_joints(legs)
        contacts = np.zeros((motion.num_frames, len(joints)), dtype=bool)
        have = [k for k, j in enumerate(joints) if j >= 0]
        # Found on the motion as given: the clamp may move a foot, and that is what pinning corrects.
        contacts[:, have] = foot_contacts(motion, [joints[k] for k in have])
        cleaned = pin_feet(cleaned, contacts, legs=legs, floor=None, hold=motion)
    return cleaned
