"""The canonical body: the one 22-joint humanoid that every motion is retargeted onto and the model learns.

Topology and joint order are SMPL's (the first 22 of its 24 body joints; SMPL's hand joints become end
sites). Names follow SMPL except ``left_toe``/``right_toe``, which SMPL calls ``left_foot``/``right_foot``
although the joint sits at the ball of the foot.

Frame of reference (SMPL's): metres, **+Y up, +Z forward (where the character faces), +X the character's
left**. The rest pose is SMPL's zero pose, a T-pose: standing, legs straight and slightly apart, arms out
sideways and level, palms down. Every joint frame is parallel to the world frame at rest, so a joint's
local rotation is how it turned away from the T-pose (as in SMPL, and in BVH files with an axis-aligned
rest).

Proportions are SMPL's neutral mean shape (joint offsets from the SMPL model with zero betas, the values
physics-character exports of SMPL tabulate), averaged between the left and right sides so the body is
exactly mirror-symmetric. The floor is ``y = 0``: the toe joints rest ``TOE_HEIGHT`` above it and the toe
tips (end sites) touch it. Height, floor to the top of the head: ``HEIGHT`` (about 1.71 m).
"""
from __future__ import annotations

import numpy as np

from .skeleton import Skeleton

# ---- joints ----------------------------------------------------------------------------------------

JOINT_NAMES: tuple[str, ...] = (
    "pelvis",          # 0  root; its rotation turns the whole body
    "left_hip",        # 1  hip socket; rotates the thigh
    "right_hip",       # 2
    "spine1",          # 3  lower back (lumbar)
    "left_knee",       # 4  rotates the shin
    "right_knee",      # 5
    "spine2",          # 6  mid back
    "left_ankle",      # 7  rotates the foot
    "right_ankle",     # 8
    "spine3",          # 9  chest: neck and collars branch here
    "left_toe",        # 10 ball of the foot (SMPL: left_foot); rotates the toes
    "right_toe",       # 11
    "neck",            # 12 base of the neck
    "left_collar",     # 13 sternoclavicular; rotates the clavicle
    "right_collar",    # 14
    "head",            # 15 top of the neck (atlas); rotates the head
    "left_shoulder",   # 16 glenohumeral; rotates the upper arm
    "right_shoulder",  # 17
    "left_elbow",      # 18 rotates the forearm
    "right_elbow",     # 19
    "left_wrist",      # 20 rotates the hand
    "right_wrist",     # 21
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {n: i for i, n in enumerate(JOINT_NAMES)}

# SMPL's kinematic tree (parent of each joint, in JOINT_NAMES order).
PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

# ---- axes (world frame of the canonical body) ----------------------------------------------------------

UP_AXIS = "y"
UP = np.array([0.0, 1.0, 0.0])
FORWARD = np.array([0.0, 0.0, 1.0])
LEFT = np.array([1.0, 0.0, 0.0])  # = UP x FORWARD: the character's left
for _a in (UP, FORWARD, LEFT):
    _a.setflags(write=False)

# ---- groups the retargeter, IK and mirroring use -------------------------------------------------------

SIDE_PAIRS: tuple[tuple[str, str], ...] = (
    ("left_hip", "right_hip"),
    ("left_knee", "right_knee"),
    ("left_ankle", "right_ankle"),
    ("left_toe", "right_toe"),
    ("left_collar", "right_collar"),
    ("left_shoulder", "right_shoulder"),
    ("left_elbow", "right_elbow"),
    ("left_wrist", "right_wrist"),
)
CENTRE_JOINTS: tuple[str, ...] = ("pelvis", "spine1", "spine2", "spine3", "neck", "head")
SPINE_CHAIN: tuple[str, ...] = CENTRE_JOINTS  # pelvis up to the head, in order

# Two-bone IK chains: (root of the chain, middle hinge, end effector).
LEG_CHAINS: dict[str, tuple[str, str, str]] = {
    "left": ("left_hip", "left_knee", "left_ankle"),
    "right": ("right_hip", "right_knee", "right_ankle"),
}
ARM_CHAINS: dict[str, tuple[str, str, str]] = {
    "left": ("left_shoulder", "left_elbow", "left_wrist"),
    "right": ("right_shoulder", "right_elbow", "right_wrist"),
}
LIMB_CHAINS: dict[str, tuple[str, ...]] = {  # every joint of each limb, root to tip
    "left_leg": ("left_hip", "left_knee", "left_ankle", "left_toe"),
    "right_leg": ("right_hip", "right_knee", "right_ankle", "right_toe"),
    "left_arm": ("left_collar", "left_shoulder", "left_elbow", "left_wrist"),
    "right_arm": ("right_collar", "right_shoulder", "right_elbow", "right_wrist"),
}
FOOT_JOINTS: tuple[str, ...] = ("left_ankle", "right_ankle")
TOE_JOINTS: tuple[str, ...] = ("left_toe", "right_toe")
CONTACT_JOINTS: tuple[str, ...] = FOOT_JOINTS + TOE_JOINTS  # joints whose floor contacts are kept
HAND_JOINTS: tuple[str, ...] = ("left_wrist", "right_wrist")
END_EFFECTORS: tuple[str, ...] = ("head", "left_wrist", "right_wrist", "left_ankle", "right_ankle")

# A retargetable rig must give these their own bone; the others may be merged into a neighbour (spine,
# neck) or be absent (collars, wrists, toes). See docs/rigs.md.
REQUIRED_JOINTS: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "head",
)
MERGEABLE_JOINTS: tuple[str, ...] = ("spine1", "spine2", "spine3", "neck")
OPTIONAL_JOINTS: tuple[str, ...] = ("left_toe", "right_toe", "left_collar", "right_collar", "left_wrist", "right_wrist")


def _mirror_index() -> tuple[int, ...]:
    idx = list(range(NUM_JOINTS))
    for a, b in SIDE_PAIRS:
        ia, ib = JOINT_INDEX[a], JOINT_INDEX[b]
        idx[ia], idx[ib] = ib, ia
    return tuple(idx)


# MIRROR_INDEX[j] is the joint that j becomes in a mirrored motion (left <-> right, centre unchanged).
MIRROR_INDEX: tuple[int, ...] = _mirror_index()

# ---- rest pose -------------------------------------------------------------------------------------

# Offsets of the left side and the midline from SMPL's neutral mean shape, metres, in the parent's frame
# (parallel to the world at rest). The right side is the mirror image (x negated): the left/right
# averages of SMPL's slightly asymmetric values, so mirroring a motion is exact.
_LEFT_AND_CENTRE: dict[str, tuple[float, float, float]] = {
    "left_hip": (0.0686, -0.09095, -0.00555),
    "left_knee": (0.0363, -0.3789, -0.0067),
    "left_ankle": (-0.0147, -0.3982, -0.0430),
    "left_toe": (0.0259, -0.05195, 0.1213),
    "spine1": (0.0, 0.1090, -0.0267),
    "spine2": (0.0, 0.1352, 0.0011),
    "spine3": (0.0, 0.0529, 0.0254),
    "neck": (0.0, 0.2139, -0.0429),
    "head": (0.0, 0.0650, 0.0513),
    "left_collar": (0.0803, 0.12025, -0.03635),
    "left_shoulder": (0.0935, 0.03155, -0.0090),
    "left_elbow": (0.25665, -0.01305, -0.02445),
    "left_wrist": (0.25225, 0.0084, -0.0034),
}
TOE_HEIGHT = 0.02  # metres from the floor to the toe (ball) joints at rest; the sole is below them
_HAND_TIP = (0.0843, -0.00715, -0.0126)  # wrist -> SMPL's hand joint (knuckles), left side
_TOE_TIP = (0.0, -TOE_HEIGHT, 0.05)      # ball of the foot -> tip of the toes, on the floor
_HEAD_TOP = (0.0, 0.19, 0.0)             # head joint -> top of the skull


def _rest_offsets() -> np.ndarray:
    off = np.zeros((NUM_JOINTS, 3))
    for name, value in _LEFT_AND_CENTRE.items():
        off[JOINT_INDEX[name]] = value
        if name.startswith("left_"):
            off[JOINT_INDEX["right_" + name[5:]]] = (-value[0], value[1], value[2])
    # Stand the body on the floor: the pelvis is as high above the toe joints as the leg hangs below it.
    leg = [JOINT_INDEX[n] for n in LIMB_CHAINS["left_leg"]]
    off[0] = (0.0, TOE_HEIGHT - off[leg, 1].sum(), 0.0)
    off.setflags(write=False)
    return off


REST_OFFSETS: np.ndarray = _rest_offsets()  # (22, 3) metres, local offsets from the parent; row 0 = pelvis position

END_SITES: dict[str, tuple[float, float, float]] = {
    "head": _HEAD_TOP,
    "left_wrist": _HAND_TIP,
    "right_wrist": (-_HAND_TIP[0], _HAND_TIP[1], _HAND_TIP[2]),
    "left_toe": _TOE_TIP,
    "right_toe": _TOE_TIP,
}


def canonical_skeleton() -> Skeleton:
    """The canonical body in its rest T-pose: 22 joints, metres, Y up, facing +Z, feet on ``y = 0``.

    ``pairs`` are the left/right pairs of ``SIDE_PAIRS`` as ``(left, right)`` indices; ``end_sites`` mark
    the top of the head, the hands' knuckles and the toe tips.
    """
    pairs = tuple((JOINT_INDEX[a], JOINT_INDEX[b]) for a, b in SIDE_PAIRS)
    ends = {JOINT_INDEX[n]: np.array(v) for n, v in END_SITES.items()}
    return Skeleton(
        names=JOINT_NAMES,
        parents=np.array(PARENTS),
        offsets=REST_OFFSETS.copy(),
        units="m",
        up_axis=UP_AXIS,
        pairs=pairs,
        end_sites=ends,
    )


def rest_positions() -> np.ndarray:
    """Global rest positions ``(22, 3)`` of the canonical joints, metres, world frame (Y up, floor y=0)."""
    pos = np.zeros((NUM_JOINTS, 3))
    for j, p in enumerate(PARENTS):
        pos[j] = REST_OFFSETS[j] if p < 0 else pos[p] + REST_OFFSETS[j]
    return pos


_POS = rest_positions()
ANKLE_HEIGHT = float(_POS[JOINT_INDEX["left_ankle"], 1])  # metres above the floor at rest (~0.072)
PELVIS_HEIGHT = float(REST_OFFSETS[0, 1])                  # (~0.94)
HEIGHT = float(_POS[JOINT_INDEX["head"], 1] + _HEAD_TOP[1])  # floor to top of head (~1.71)
# Hip socket to ankle along the bones, the length the retargeter scales root motion by (~0.78 m).
LEG_LENGTH = float(
    np.linalg.norm(REST_OFFSETS[JOINT_INDEX["left_knee"]]) + np.linalg.norm(REST_OFFSETS[JOINT_INDEX["left_ankle"]])
)
del _POS
