"""The clean-up as the commands apply it: ``clean_up`` on the canonical body, ``clean_up_rig`` on any rig
through it."""
from __future__ import annotations

import numpy as np

from .. import rotations as R
from ..bonemap import BoneMap, bone_map_for
from ..canonical import canonical_skeleton
from ..motion import Motion
from ..retarget import bind_motion, retarget
from .body import require_canonical
from .feet import lock_feet
from .limits import JointLimits


def clean_up(motion: Motion, *, limits: JointLimits | bool = True, feet: bool = True,
             contacts: np.ndarray | None = None, ease: int = 4, floor_frames: np.ndarray | None = None,
             anchor_frames: np.ndarray | None = None) -> Motion:
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
            made ones are held no higher than the recorded ones stand (``lock_feet``).
        anchor_frames: ``(T,)`` bool, frames whose foot placement a contact reaching them is held to
            (``lock_feet``): the recorded frames of a generated clip, the keys of an in-between.
    """
    require_canonical(motion, "clean-up")
    if limits is not False:
        model = JointLimits.load() if limits is True else limits
        motion = model.clamp(motion)
    if feet:
        motion = lock_feet(motion, contacts, ease=ease, floor_frames=floor_frames, anchor_frames=anchor_frames)
    return motion


def clean_up_rig(motion: Motion, bone_map: BoneMap, *, limits: JointLimits | bool = True,
                 feet: bool = True) -> Motion:
    """``clean_up`` for a motion on any rig: only the change the clean-up makes reaches the rig.

    The motion is retargeted onto the canonical body (feet not pinned) and cleaned there; the canonical
    motion before and after the clean-up are both retargeted back onto the rig (bound to the motion's
    own pose), and the rotation and translation each joint gained between those two is applied to the
    rig's own values. Frames and joints the clean-up leaves alone keep exactly what they had, not a
    retarget round trip's approximation of it.

    Args:
        motion: ``T`` frames on any rig: ``(T, J, 4)`` local rotations, ``(T, 3)`` root path (and
            ``(T, J, 3)`` translations, if any) in the rig's units and world axes.
        bone_map: the rig's canonical joint -> bone map.
        limits: a ``JointLimits``, ``True`` for the shipped one, ``False`` to skip.
        feet: lock feet during their (detected) contacts.

    Returns:
        The cleaned motion on the same skeleton, frame rate and labels, ``T`` frames.
    """
    canon_sk = canonical_skeleton()
    canon_map = bone_map_for(canon_sk, "canonical")
    canon = retarget(motion, bone_map, canon_sk, canon_map, fix_feet=False)
    cleaned = clean_up(canon, limits=limits, feet=feet)
    binding = bind_motion(motion, bone_map)
    before = retarget(canon, canon_map, motion.skeleton, binding, fix_feet=False)
    after = retarget(cleaned, canon_map, motion.skeleton, binding, fix_feet=False)
    change = R.inv_mul(before.rotations, after.rotations)  # identity wherever the clean-up changed nothing
    translations = motion.translations
    if translations is not None and before.translations is not None and after.translations is not None:
        translations = translations + (after.translations - before.translations)
    return Motion(motion.skeleton, R.unroll(R.mul(motion.rotations, change)),
                  motion.root_positions + (after.root_positions - before.root_positions), motion.fps,
                  dict(motion.labels), translations)
