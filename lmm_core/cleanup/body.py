"""What clean-up needs to know about the body it works on: the canonical check and per-joint bone frames.

A *bone frame* is a fixed rotation per joint, ``(J, 4)``, that carries vectors from the bone's own axes into
the joint's frame. Its Y axis runs along the bone (head to tail, as Blender's bones do) and its roll puts
Z towards the character's up, or towards the front for bones that are nearly vertical: the same axes the
add-on's ``create_armature`` gives a canonical rig, so limits expressed in these frames are what a
Blender Limit Rotation constraint on such a rig sees.
"""
from __future__ import annotations

import numpy as np

from .. import canonical as cn
from .. import rotations as R
from ..errors import LMMError
from ..motion import Motion
from ..skeleton import Skeleton

_FIX = (
    "retarget it onto the canonical body first: lmm_core.retarget.retarget(motion, bone_map_for(motion.skeleton, RIG), "
    "canonical.canonical_skeleton(), {n: n for n in canonical.JOINT_NAMES})"
)


def require_canonical(motion: Motion, what: str = "clean-up") -> None:
    """Raise ``LMMError`` naming the fix unless ``motion`` is on the 22-joint canonical body.

    Proportions and units may differ (a scaled canonical body is fine); the joint names, their order and
    the Y-up axis may not, because the learned limits are rotations away from the canonical T-pose.
    """
    sk = motion.skeleton
    if sk.num_joints != cn.NUM_JOINTS or tuple(sk.names) != cn.JOINT_NAMES:
        raise LMMError(
            f"{what} works on the {cn.NUM_JOINTS}-joint canonical body, but this motion has {sk.num_joints} joints "
            f"({', '.join(sk.names[:4])}{', ...' if sk.num_joints > 4 else ''}); {_FIX}"
        )
    if sk.up_axis != cn.UP_AXIS or tuple(int(p) for p in sk.parents) != cn.PARENTS:
        raise LMMError(f"{what} needs the canonical body's joint tree with Y up; {_FIX}")


def bone_vectors(skeleton: Skeleton) -> np.ndarray:
    """Rest head-to-tail vectors ``(J, 3)`` in the skeleton's units, in each joint's (rest) frame.

    A bone points at the mean of its children's heads (its longest child where they cancel out, as the
    hips do under the pelvis), else at its end site, else along its parent's bone. This mirrors
    ``addon.bridge.write._bone_vectors`` so the frames below match armatures the add-on builds.
    """
    vectors = np.zeros((skeleton.num_joints, 3))
    tiny = 1e-6 * max(1.0, float(np.abs(skeleton.offsets).max()))
    for j, parent in enumerate(skeleton.parents):
        kids = [skeleton.offsets[c] for c in skeleton.children(j) if np.linalg.norm(skeleton.offsets[c]) > tiny]
        end = skeleton.end_sites.get(j)
        if kids:
            mean = np.mean(kids, axis=0)
            vectors[j] = mean if np.linalg.norm(mean) > tiny else max(kids, key=np.linalg.norm)
        elif end is not None and np.linalg.norm(end) > tiny:
            vectors[j] = end
        else:
            vectors[j] = cn.UP if parent < 0 else vectors[parent]
    return vectors


def bone_frames(skeleton: Skeleton | None = None) -> np.ndarray:
    """Bone frames ``(J, 4)``: bone axes -> joint frame, Y along the bone, Z rolled towards up (or front).

    For the canonical body (the default) every joint frame is parallel to the world at rest, so these
    are also the bones' rest axes in the canonical world (+Y up, +Z forward, metres).
    """
    skeleton = skeleton or cn.canonical_skeleton()
    frames = np.empty((skeleton.num_joints, 4))
    for j, v in enumerate(bone_vectors(skeleton)):
        y = v / np.linalg.norm(v)
        ref = cn.FORWARD if abs(float(y @ cn.UP)) > 0.9 else cn.UP
        z = ref - (ref @ y) * y
        z /= np.linalg.norm(z)
        x = np.cross(y, z)
        frames[j] = R.from_matrix(np.stack([x, y, z], axis=-1))
    return frames
