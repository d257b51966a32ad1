"""The built-in mannequin: a skinned mesh on the canonical body, made in code (no asset to download).

``mannequin()`` gives a neutral artist's mannequin in the canonical rest T-pose: a lofted torso (pelvis,
waist, chest), capsule limbs that taper, a neck, an egg-shaped head, flat hands and feet with toes. Every
vertex carries linear-blend skin weights over the 22 canonical joints (``canonical.JOINT_NAMES``; a
joint's bone runs from it to its child, as ``addon.bridge.create_armature`` builds it). Along a limb the
weights are the limb's own bone in the middle and a 50/50 blend with the neighbouring bone at each joint,
eased over a fifth of the limb, so knees and elbows bend without tearing; the torso's rings blend between
the spine bones the same way.

``rig_mesh(skeleton)`` dresses any other skeleton (a BVH rig given as a character) in one capsule per bone,
each bound rigidly to its bone: enough to see a motion on it.

Everything is in the skeleton's own world frame and units at rest (the canonical body: metres, Y up,
facing +Z). Faces are quads, with triangle fans closing the ends. ``face_parts`` says which part each face
belongs to (``PARTS``: body, left, right), so a renderer can tint the sides apart and a mirrored motion reads
at a glance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import canonical as cn
from . import kinematics
from . import rotations as R
from .skeleton import Skeleton

PARTS: tuple[str, ...] = ("body", "left", "right")


@dataclass(frozen=True)
class SkinnedMesh:
    """A mesh bound to a skeleton's bones.

    Attributes:
        vertices: ``(V, 3)`` rest positions, the skeleton's world frame and units.
        faces: vertex indices of each face (quads and triangles), outward facing (counter-clockwise).
        weights: ``(V, J)`` skin weights over the skeleton's joints (bone ``j`` = joint ``j``); rows sum to 1.
        bone_names: the joint (bone) name of each weight column.
        face_parts: ``(F,)`` index into ``PARTS`` for each face.
    """

    vertices: np.ndarray
    faces: list[tuple[int, ...]]
    weights: np.ndarray
    bone_names: tuple[str, ...]
    face_parts: np.ndarray


class _Builder:
    """Collects rings of vertices (each ring with one weight row) into a mesh."""

    def __init__(self, joints: int):
        self.vertices: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []
        self.faces: list[tuple[int, ...]] = []
        self.parts: list[int] = []
        self.count = 0
        self.joints = joints

    def _add(self, points: np.ndarray, weight: np.ndarray) -> int:
        start = self.count
        self.vertices.append(points)
        self.weights.append(np.repeat(weight[None], len(points), axis=0))
        self.count += len(points)
        return start

    def loft(self, centres, e1, e2, ra, rb, weights, start_pole=None, end_pole=None, segments: int = 12,
             part: int = 0) -> None:
        """A tube through rings ``centre + ra cos(a) e1 + rb sin(a) e2`` (one per row of the arrays), closed
        by triangle fans to ``start_pole`` and ``end_pole`` when given. ``e1 x e2`` must point from the first
        ring towards the last, so faces come out counter-clockwise seen from outside."""
        angles = 2 * np.pi * np.arange(segments) / segments
        cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
        rings = []
        for c, a, b, ra_i, rb_i, w in zip(centres, e1, e2, ra, rb, weights):
            rings.append(self._add(c[None] + ra_i * cos * a[None] + rb_i * sin * b[None], w))
        n = segments
        for r0, r1 in zip(rings[:-1], rings[1:]):
            for k in range(n):
                k1 = (k + 1) % n
                self.faces.append((r0 + k, r0 + k1, r1 + k1, r1 + k))
                self.parts.append(part)
        if start_pole is not None:
            p = self._add(np.asarray(start_pole, dtype=float)[None], weights[0])
            for k in range(n):
                self.faces.append((p, rings[0] + (k + 1) % n, rings[0] + k))
                self.parts.append(part)
        if end_pole is not None:
            p = self._add(np.asarray(end_pole, dtype=float)[None], weights[-1])
            for k in range(n):
                self.faces.append((rings[-1] + k, rings[-1] + (k + 1) % n, p))
                self.parts.append(part)

    def mesh(self, names: tuple[str, ...]) -> SkinnedMesh:
        weights = np.concatenate(self.weights)
        weights = weights / weights.sum(axis=1, keepdims=True)
        return SkinnedMesh(np.concatenate(self.vertices), self.faces, weights, names, np.array(self.parts))


def _frame(axis: np.ndarray, hint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors ``e1, e2`` across ``axis``, ``e1`` as close to ``hint`` as can be, ``e1 x e2 = axis``."""
    a = axis / np.linalg.norm(axis)
    if abs(float(hint @ a)) > 0.95 * np.linalg.norm(hint):
        hint = np.array([0.0, 1.0, 0.0]) if abs(a[1]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = hint - (hint @ a) * a
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(a, e1)


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _capsule(b: _Builder, start, end, r0: float, r1: float, bone: int, prev: int | None = None,
             nxt: int | None = None, blend: float = 0.2, hint=(0.0, 1.0, 0.0), flat: float = 1.0,
             segments: int = 12, cap_rings: int = 3, part: int = 0) -> None:
    """A tapered capsule from ``start`` (radius ``r0``) to ``end`` (``r1``), skinned to ``bone``, blending
    50/50 with ``prev`` at the start and ``nxt`` at the end over ``blend`` of its length. ``flat`` squashes
    the cross-section along ``e2`` (hands, feet)."""
    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    axis = end - start
    length = float(np.linalg.norm(axis))
    a = axis / length
    e1, e2 = _frame(a, np.asarray(hint, dtype=float))
    body = np.array([0.0, 0.06, 0.15, 0.3, 0.5, 0.7, 0.85, 0.94, 1.0])
    caps = np.sin(np.linspace(0, np.pi / 2, cap_rings + 1)[1:-1])  # ring radii on the hemispheres
    s_start = -np.sqrt(1 - caps**2)[::-1] * r0 / length          # centres behind the start
    s_end = 1 + np.sqrt(1 - caps[::-1] ** 2)[::-1] * r1 / length
    s = np.concatenate([s_start, body, s_end])
    radius = np.concatenate([caps[::-1] * r0, r0 + (r1 - r0) * body, caps * r1])
    t = np.clip(s, 0.0, 1.0)
    weights = np.zeros((len(s), b.joints))
    w_prev = 0.5 * _smooth(1 - t / blend) if prev is not None else 0 * t
    w_next = 0.5 * _smooth(1 - (1 - t) / blend) if nxt is not None else 0 * t
    weights[:, bone] = 1 - w_prev - w_next
    if prev is not None:
        weights[:, prev] += w_prev
    if nxt is not None:
        weights[:, nxt] += w_next
    centres = start[None] + s[:, None] * axis[None]
    n = len(s)
    b.loft(centres, np.repeat(e1[None], n, 0), np.repeat(e2[None], n, 0), radius, radius * flat, weights,
           start_pole=start - a * r0, end_pole=end + a * r1, segments=segments, part=part)


def _ellipsoid(b: _Builder, centre, radii, bone: int, segments: int = 16, rings: int = 10, part: int = 0) -> None:
    """An ellipsoid (axes along the world's), its poles on Y, skinned rigidly to ``bone``."""
    centre, radii = np.asarray(centre, dtype=float), np.asarray(radii, dtype=float)
    lat = np.linspace(-np.pi / 2, np.pi / 2, rings + 1)[1:-1]
    centres = centre[None] + np.outer(np.sin(lat) * radii[1], [0.0, 1.0, 0.0])
    n = len(lat)
    weights = np.zeros((n, b.joints))
    weights[:, bone] = 1.0
    # e1 x e2 must be +Y (bottom to top): e1 = +Z, e2 = +X.
    b.loft(centres, np.repeat([[0.0, 0.0, 1.0]], n, 0), np.repeat([[1.0, 0.0, 0.0]], n, 0),
           np.cos(lat) * radii[2], np.cos(lat) * radii[0], weights,
           start_pole=centre - [0, radii[1], 0], end_pole=centre + [0, radii[1], 0], segments=segments, part=part)


# Torso profile: height above the floor (metres, canonical rest), half-width (x) and half-depth (z).
_TORSO = np.array([
    (0.80, 0.115, 0.085),
    (0.85, 0.160, 0.100),
    (0.90, 0.168, 0.105),
    (0.96, 0.160, 0.102),
    (1.04, 0.138, 0.094),
    (1.12, 0.142, 0.096),
    (1.20, 0.156, 0.104),
    (1.28, 0.166, 0.110),
    (1.35, 0.170, 0.104),
    (1.41, 0.150, 0.088),
    (1.45, 0.090, 0.065),
])


def _torso(b: _Builder, pos: np.ndarray) -> None:
    """The torso: horizontal elliptical rings following the spine, skinned across the spine bones."""
    chain = [cn.JOINT_INDEX[n] for n in ("pelvis", "spine1", "spine2", "spine3", "neck")]
    ys = pos[chain, 1]
    heights = _TORSO[:, 0]
    centres = np.stack([np.zeros_like(heights), heights, np.interp(heights, ys, pos[chain, 2])], axis=1)
    # Hat functions peaking at each spine bone's middle: the weights sum to one, 50/50 at every joint.
    mids = 0.5 * (ys[:-1] + ys[1:])
    weights = np.zeros((len(heights), b.joints))
    for k, joint in enumerate(chain[:-1]):
        onehot = np.eye(len(mids))[k]
        weights[:, joint] = np.interp(heights, mids, onehot)
    n = len(heights)
    b.loft(centres, np.repeat([[0.0, 0.0, 1.0]], n, 0), np.repeat([[1.0, 0.0, 0.0]], n, 0),
           _TORSO[:, 2], _TORSO[:, 1], weights, start_pole=centres[0] - [0, 0.03, 0],
           end_pole=centres[-1] + [0, 0.015, 0], segments=20)


def mannequin() -> SkinnedMesh:
    """The neutral mannequin on the canonical body at rest (metres, Y up, facing +Z, feet on ``y = 0``)."""
    J = cn.JOINT_INDEX
    pos = cn.rest_positions()
    b = _Builder(cn.NUM_JOINTS)
    _torso(b, pos)
    _capsule(b, pos[J["neck"]] - [0, 0.02, 0], pos[J["head"]], 0.052, 0.047, J["neck"], J["spine3"], J["head"],
             blend=0.35, hint=(0.0, 0.0, 1.0))
    head = pos[J["head"]]
    _ellipsoid(b, head + [0.0, 0.085, 0.012], (0.082, 0.112, 0.098), J["head"])
    _capsule(b, head + [0.0, 0.06, 0.08], head + [0.0, 0.05, 0.112], 0.016, 0.012, J["head"], segments=8,
             cap_rings=2)  # a nose: which way the face looks
    for side, sign in (("left", 1.0), ("right", -1.0)):
        part = PARTS.index(side)

        def j(name: str) -> int:
            return J[f"{side}_{name}"]

        hip, knee, ankle, toe = (pos[j(n)] for n in ("hip", "knee", "ankle", "toe"))
        _capsule(b, hip, knee, 0.085, 0.057, j("hip"), J["pelvis"], j("knee"), hint=(0, 0, 1), part=part)
        _capsule(b, knee, ankle, 0.055, 0.038, j("knee"), j("hip"), j("ankle"), hint=(0, 0, 1), part=part)
        heel = np.array([ankle[0], 0.045, ankle[2] - 0.045])
        _capsule(b, heel, toe + [0, 0.005, 0], 0.046, 0.042, j("ankle"), None, j("toe"), blend=0.15,
                 hint=(sign, 0, 0), flat=0.75, part=part)
        tip = toe + np.array(cn.END_SITES[f"{side}_toe"]) * [1, 0, 1] + [0, 0.0, 0.01]
        _capsule(b, toe, tip, 0.040, 0.030, j("toe"), j("ankle"), None, blend=0.35, hint=(sign, 0, 0),
                 flat=0.6, segments=10, cap_rings=2, part=part)
        collar, shoulder, elbow, wrist = (pos[j(n)] for n in ("collar", "shoulder", "elbow", "wrist"))
        _capsule(b, collar + [0.0, 0.0, 0.005], shoulder, 0.05, 0.052, j("collar"), J["spine3"], j("shoulder"),
                 blend=0.3, hint=(0, 0, 1), part=part)
        _capsule(b, shoulder, elbow, 0.047, 0.037, j("shoulder"), j("collar"), j("elbow"), hint=(0, 0, 1), part=part)
        _capsule(b, elbow, wrist, 0.036, 0.028, j("elbow"), j("shoulder"), j("wrist"), hint=(0, 0, 1), part=part)
        hand_tip = wrist + np.array(cn.END_SITES[f"{side}_wrist"]) * 1.15
        _capsule(b, wrist, hand_tip, 0.040, 0.036, j("wrist"), j("elbow"), None, blend=0.25, hint=(0, 0, 1),
                 flat=0.42, segments=10, part=part)
    return b.mesh(cn.JOINT_NAMES)


def rig_mesh(skeleton: Skeleton, radius: float | None = None) -> SkinnedMesh:
    """One capsule per bone of ``skeleton`` (joint to each child, and to its end site), skinned rigidly to
    the bone; ``radius`` defaults to 2.5% of the skeleton's size. Sides are tinted by joint names."""
    rest = skeleton.rest_positions()
    ends = [rest[j] + off for j, off in skeleton.end_sites.items()]
    size = float(np.ptp(np.concatenate([rest, *(e[None] for e in ends)]) if ends else rest, axis=0).max()) or 1.0
    radius = radius or 0.025 * size
    up = np.zeros(3)
    up[skeleton.up_index] = 1.0
    b = _Builder(skeleton.num_joints)
    left = {a for a, _ in skeleton.pairs or ()}
    right = {r for _, r in skeleton.pairs or ()}
    for j in range(skeleton.num_joints):
        targets = [rest[c] for c in skeleton.children(j)]
        if j in skeleton.end_sites:
            targets.append(rest[j] + skeleton.end_sites[j])
        part = 1 if j in left else 2 if j in right else 0
        for target in targets:
            length = float(np.linalg.norm(target - rest[j]))
            if length < 0.2 * radius:
                continue
            r = min(radius, 0.3 * length)
            _capsule(b, rest[j], target, r, 0.8 * r, j, hint=up, segments=8, cap_rings=2, part=part)
    if not b.vertices:  # a skeleton of points: one ball at the root keeps the mesh non-empty
        _ellipsoid(b, rest[0], (radius, radius, radius), 0, segments=8, rings=6)
    return b.mesh(tuple(skeleton.names))


def skin(mesh: SkinnedMesh, skeleton: Skeleton, rotations: np.ndarray, root_position: np.ndarray) -> np.ndarray:
    """The mesh's vertices ``(V, 3)`` posed by one frame of local ``rotations (J, 4)`` and the root at
    ``root_position``: linear blend skinning, each bone moving rigidly with its joint (for tests and plots
    without Blender)."""
    local = skeleton.offsets.copy()
    local[0] = root_position
    g_rot, g_pos = kinematics.fk(np.asarray(rotations, dtype=float), local, skeleton.parents)
    rest = skeleton.rest_positions()
    moved = R.mul_vec(g_rot[None], mesh.vertices[:, None] - rest[None]) + g_pos[None]  # (V, J, 3)
    return np.einsum("vj,vjk->vk", mesh.weights, moved)
