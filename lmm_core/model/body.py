"""The skeleton a model works on: the canonical body (the shipped models) or a rig's own 22 joints.

The network only needs, for its 22 joint groups: the tree (parents), bone offsets in metres (forward
kinematics for the position loss), which pelvis axis points forward (to turn windows to face +Z),
which joint mirrors which (augmentation) and which four joints touch the ground (contacts). A ``Body``
holds exactly that and travels in the model's configuration, so a model trained on a benchmark's own
skeleton (LAFAN1, for the published protocol) is scored on that skeleton with no retargeting between.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .. import canonical as cn
from .. import rotations as R
from ..errors import LMMError
from ..mirror import mirror_frames
from ..motion import Motion
from ..skeleton import UNITS_TO_METRES, Skeleton

NUM_JOINTS = cn.NUM_JOINTS  # one joint per canonical joint (22)
# Contact joints, in the order every contact array uses: left ankle, right ankle, left toe, right toe.
CONTACT_NAMES = ("left_ankle", "right_ankle", "left_toe", "right_toe")


@dataclass(frozen=True, eq=False)
class Body:
    """A 22-joint, Y-up skeleton as the model sees it.

    Attributes:
        names: ``(22,)`` joint names; ``parents``: ``(22,)`` parent indices (-1 for the root, joint 0).
        offsets: ``(22, 3)`` rest offsets from the parent, metres.
        forward: ``(3,)`` unit axis in the pelvis's local frame that points where the body faces.
        mirror: ``(22,)`` the joint each joint swaps with when mirrored (itself on the midline).
        contacts: indices of the left ankle, right ankle, left toe and right toe.
        symmetric_rest: every joint frame is the world frame at rest (the canonical body): mirroring
            is then a side swap and the reflection ``(w, x, y, z) -> (w, x, -y, -z)``; other bodies
            mirror through ``lmm_core.mirror``.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    forward: np.ndarray
    mirror: tuple[int, ...]
    contacts: tuple[int, ...]
    symmetric_rest: bool = False

    def __post_init__(self) -> None:
        if len(self.names) != NUM_JOINTS or len(self.parents) != NUM_JOINTS or np.shape(self.offsets) != (NUM_JOINTS, 3):
            raise LMMError(f"a model body has {NUM_JOINTS} joints; got {len(self.names)} names, "
                           f"{len(self.parents)} parents and offsets of shape {np.shape(self.offsets)}")
        if self.parents[0] != -1 or any(not 0 <= p < j for j, p in enumerate(self.parents) if j):
            raise LMMError("a model body's joints must be in tree order with the root first")
        if sorted(self.mirror) != list(range(NUM_JOINTS)) or len(self.contacts) != 4:
            raise LMMError("a model body needs a mirror permutation of its joints and four contact joints")

    @property
    def num_joints(self) -> int:
        """Joints of the body (``NUM_JOINTS``), which are also the network's joint groups."""
        return len(self.names)

    @property
    def is_canonical(self) -> bool:
        return self.names == cn.JOINT_NAMES

    def skeleton(self) -> Skeleton:
        """The body as a ``Skeleton`` in metres, Y up."""
        return Skeleton(names=self.names, parents=self.parents, offsets=np.array(self.offsets, dtype=np.float64),
                        units="m", up_axis="y")

    def mirror_frames(self) -> np.ndarray:
        """``(22, 3, 3)`` each joint's mirror frame (``lmm_core.mirror.mirror_frames`` of the rest pose),
        worked out once per body. The canonical body's joint frames are the world's at rest, so every
        one is the reflection across its sagittal plane, ``diag(-1, 1, 1)``."""
        cached = self.__dict__.get("_mirror_frames")
        if cached is None:
            if self.symmetric_rest:
                cached = np.broadcast_to(np.diag([-1.0, 1.0, 1.0]), (NUM_JOINTS, 3, 3)).copy()
            else:
                rest = Motion(self.skeleton(), np.broadcast_to(R.identity(), (1, NUM_JOINTS, 4)).copy(),
                              np.zeros((1, 3)), 30.0)
                cached = mirror_frames(rest, pairs=[(j, m) for j, m in enumerate(self.mirror) if j < m])
            object.__setattr__(self, "_mirror_frames", cached)
        return cached

    def mirrored(self, rotations: np.ndarray, root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frames mirrored across the world's YZ plane (x -> -x), left and right swapped: local rotations
        ``(T, 22, 4)`` and root positions ``(T, 3)``. Mirroring twice gives the frames back."""
        k = self.mirror_frames()
        sigma = np.array(self.mirror)
        parents = np.maximum(np.array(self.parents), 0)
        # L'_j = K_parent^T L_sigma(j) K_j, the root's parent being the world, reflected by M.
        left = np.swapaxes(k[parents], -1, -2).copy()
        left[0] = np.diag([-1.0, 1.0, 1.0])
        local = R.to_matrix(np.asarray(rotations, dtype=np.float64))[:, sigma]
        out = R.from_matrix(left @ local @ k)
        return out, np.asarray(root, dtype=np.float64) * [-1.0, 1.0, 1.0]

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "parents": list(self.parents),
                "offsets": np.asarray(self.offsets, dtype=float).round(6).tolist(),
                "forward": np.asarray(self.forward, dtype=float).round(6).tolist(), "mirror": list(self.mirror),
                "contacts": list(self.contacts), "symmetric_rest": self.symmetric_rest}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "Body":
        """The body a model configuration names (``None``: the canonical body)."""
        if data is None:
            return canonical_body()
        try:
            return cls(names=tuple(data["names"]), parents=tuple(int(p) for p in data["parents"]),
                       offsets=np.array(data["offsets"], dtype=np.float64),
                       forward=np.array(data["forward"], dtype=np.float64), mirror=tuple(int(m) for m in data["mirror"]),
                       contacts=tuple(int(c) for c in data["contacts"]), symmetric_rest=bool(data["symmetric_rest"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise LMMError(f"the model's body record is incomplete or malformed ({exc!r})") from None


def canonical_body() -> Body:
    sk = cn.canonical_skeleton()
    return Body(names=sk.names, parents=tuple(sk.parents), offsets=sk.offsets.copy(), forward=cn.FORWARD.copy(),
                mirror=tuple(cn.MIRROR_INDEX), contacts=tuple(cn.JOINT_INDEX[n] for n in CONTACT_NAMES),
                symmetric_rest=True)


def body_from_motions(motions: Sequence, joint_map) -> Body:
    """The body of a rig whose 22 joints each stand for one canonical joint, measured from its motion.

    Args:
        motions: clips on that rig (``Motion``; Y up); the forward axis is measured from them, because
            rest poses (LAFAN1's lie along each bone's X) say nothing about where a pelvis faces.
        joint_map: ``{canonical joint: rig joint}`` covering all 22 canonical joints.

    The forward axis is the pelvis-local direction of ``(left hip - right hip) x up`` (horizontal,
    pointing where the hips face), averaged over every frame.
    """
    sk: Skeleton = motions[0].skeleton
    if sk.num_joints != NUM_JOINTS:
        raise LMMError(f"a model on a rig's own skeleton needs exactly {NUM_JOINTS} joints, one per canonical "
                       f"joint; this rig has {sk.num_joints}. Train on the canonical corpus instead")
    if sk.up_axis != "y":
        raise LMMError("a model body must be Y up; convert the clips first")
    rig_index = {n: i for i, n in enumerate(sk.names)}
    try:
        canon_of = {rig_index[joint_map[c]]: k for k, c in enumerate(cn.JOINT_NAMES)}
    except KeyError as exc:
        raise LMMError(f"the bone map does not place canonical joint {exc.args[0]!r} on this rig") from None
    if len(canon_of) != NUM_JOINTS:
        raise LMMError("the bone map puts two canonical joints on one bone; a model body needs one bone each")
    rig_of = {k: j for j, k in canon_of.items()}
    mirror = tuple(rig_of[cn.MIRROR_INDEX[canon_of[j]]] for j in range(NUM_JOINTS))
    contacts = tuple(rig_index[joint_map[n]] for n in CONTACT_NAMES)
    left, right = rig_index[joint_map["left_hip"]], rig_index[joint_map["right_hip"]]
    acc = np.zeros(3)
    for m in motions:
        if m.skeleton.names != sk.names:
            raise LMMError("all clips of a model body must share one skeleton")
        pos = m.global_positions()
        fwd = np.cross(pos[:, left] - pos[:, right], np.array([0.0, 1.0, 0.0]))
        fwd /= np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-9)
        acc += R.mul_vec(R.conj(m.rotations[:, 0]), fwd).sum(axis=0)
    forward = acc / max(np.linalg.norm(acc), 1e-9)
    return Body(names=sk.names, parents=tuple(int(p) for p in sk.parents),
                offsets=sk.offsets * UNITS_TO_METRES[sk.units], forward=forward, mirror=mirror, contacts=contacts,
                symmetric_rest=False)
