"""Where a motion starts: turn a motion about the up axis and move it over the ground so that one of its
frames stands at a given place, facing a given way (generated and retargeted motion starts where the
character already stands).

*Where a body stands* is its pelvis projected onto the floor; *where it faces* is the horizontal direction
``(left hip - right hip) x up``, the way the pelvis points (the canonical body: left +X, up +Y, so +Z).
Hips are used, not a bone's axes, so any rig with a bone map reads the same whatever its bone rolls or
rest pose. Heights are kept: retargeting already stands a motion on the rig's own feet (its rest pose's
ankle height), so a turn about the up axis and a move over the ground are all that placing needs.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import rotations as R
from .bonemap import BoneMap
from .errors import LMMError
from .motion import Motion
from .skeleton import Skeleton


@dataclass(frozen=True)
class StanceJoints:
    """The joints that say where a body stands and faces: indices into a skeleton."""

    pelvis: int
    left: int   # left hip
    right: int  # right hip


def stance_joints(skeleton: Skeleton, bone_map: BoneMap) -> StanceJoints:
    """The pelvis and hips of ``skeleton`` through its bone map (every bone map has them: they are required)."""
    index = {n: i for i, n in enumerate(skeleton.names)}
    return StanceJoints(*(index[bone_map.bones[j]] for j in ("pelvis", "left_hip", "right_hip")))


def _up(up_index: int) -> np.ndarray:
    up = np.zeros(3)
    up[up_index] = 1.0
    return up


def stance(positions: np.ndarray, joints: StanceJoints, up_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Where one pose stands and faces.

    Args:
        positions: ``(J, 3)`` world joint positions, any units.
        joints: the pelvis and the two hips (``stance_joints``).
        up_index: the up axis (1 for Y up, 2 for Z up).

    Returns:
        ``(ground (3,), forward (3,))``: the pelvis with its height set to 0, and the unit horizontal facing
        direction. An ``LMMError`` when the hips lie (within 6 degrees) one above the other: no facing to read.
    """
    up = _up(up_index)
    ground = positions[joints.pelvis] * (1.0 - up)
    across = positions[joints.left] - positions[joints.right]
    forward = np.cross(across, up)  # horizontal, as long as the hips' horizontal spread
    norm = float(np.linalg.norm(forward))
    # Hips within 6 degrees of one above the other (lying on a side) give a facing that is mostly noise.
    if not norm > 0.1 * float(np.linalg.norm(across)):
        raise LMMError("the character's hips are one above the other, so which way it faces is unknown; "
                       "start from a frame where it stands or lies less sideways")
    return ground, forward / norm


def place(motion: Motion, ground: np.ndarray, forward: np.ndarray, joints: StanceJoints, frame: int = 0) -> Motion:
    """``motion`` turned about the up axis and moved so that frame ``frame`` stands at ``ground`` facing
    ``forward``.

    Args:
        motion: ``T`` frames; its floor is height 0.
        ground: ``(3,)`` where that frame's pelvis goes over the ground, in the motion's units and world axes
            (its up component is ignored: heights are kept).
        forward: ``(3,)`` the direction it should face; only the horizontal part counts.
        joints: the motion's pelvis and hips (``stance_joints``).
        frame: which frame is placed (the others follow rigidly).

    Returns:
        The motion with the root's rotations and path turned and moved: ``(T, J, 4)`` rotations (only joint
        0's change) and ``(T, 3)`` root positions (heights unchanged); lengths, timing and every other joint
        as they were.
    """
    if not 0 <= frame < motion.num_frames:
        raise LMMError(f"frame {frame} is outside the motion's {motion.num_frames} frames")
    up_index = motion.skeleton.up_index
    up = _up(up_index)
    target = np.asarray(forward, dtype=np.float64) * (1.0 - up)
    if not np.linalg.norm(target) > 0:
        raise LMMError("the facing direction to place the motion along is vertical or zero; give a horizontal one")
    here, facing = stance(motion.slice(frame, frame + 1).global_positions()[0], joints, up_index)
    # The signed angle about up from where the frame faces to where it should face.
    angle = np.arctan2(np.cross(facing, target) @ up, facing @ target)
    turn = R.from_axis_angle(up, np.array(angle))
    rotations = motion.rotations.copy()
    rotations[:, 0] = R.mul(turn, rotations[:, 0])
    root = R.mul_vec(turn, motion.root_positions)
    shift = (np.asarray(ground, dtype=np.float64) - R.mul_vec(turn, here)) * (1.0 - up)
    translations = motion.translations
    if translations is not None:  # its root column is ignored, but keep it equal to the root's path
        translations = translations.copy()
        translations[:, 0] = root + shift
    return replace(motion, rotations=rotations, root_positions=root + shift, translations=translations,
                   labels=dict(motion.labels))
