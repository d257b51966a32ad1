"""Two-bone inverse kinematics (hip-knee-ankle, shoulder-elbow-wrist), vectorised over frames."""
from __future__ import annotations

import numpy as np

from . import rotations as R


def two_bone(a: np.ndarray, b: np.ndarray, c: np.ndarray, target: np.ndarray, eps: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Rotations that move the chain ``a -> b -> c`` so that ``c`` reaches ``target``.

    Args:
        a, b, c: ``(T, 3)`` world positions of the root (hip), middle (knee) and end (ankle) joints.
        target: ``(T, 3)`` where the end should go; clamped to the chain's reach.

    Returns:
        ``(qa, qb)``, ``(T, 4)`` world-space rotations to apply on top of the current global rotations
        of ``a`` and ``b`` (``G_a' = qa * G_a``, ``G_b' = qa * qb * G_b``). The middle joint bends in its
        current plane (the pole is where the knee points now), so knees keep pointing forward.
    """
    lab = np.linalg.norm(b - a, axis=-1)
    lcb = np.linalg.norm(b - c, axis=-1)
    lat = np.clip(np.linalg.norm(target - a, axis=-1), np.abs(lab - lcb) + eps, lab + lcb - eps)

    def angle_between(u, v):
        nu = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), eps)
        nv = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)
        return np.arccos(np.clip(np.sum(nu * nv, axis=-1), -1.0, 1.0))

    ac, ab, ba, bc = c - a, b - a, a - b, c - b
    ac_ab_0 = angle_between(ac, ab)
    ba_bc_0 = angle_between(ba, bc)
    ac_at_0 = angle_between(ac, target - a)
    # Law of cosines: the angles the triangle must have to span `lat`.
    ac_ab_1 = np.arccos(np.clip((lcb**2 - lab**2 - lat**2) / (-2 * lab * lat), -1, 1))
    ba_bc_1 = np.arccos(np.clip((lat**2 - lab**2 - lcb**2) / (-2 * lab * lcb), -1, 1))
    axis0 = np.cross(ac, ab)
    # A straight limb has no bend plane; bend it about an axis perpendicular to the limb.
    straight = np.linalg.norm(axis0, axis=-1) < eps
    if np.any(straight):
        alt = np.cross(ac, np.array([1.0, 0.0, 0.0]))
        alt = np.where(np.linalg.norm(alt, axis=-1, keepdims=True) < eps, np.cross(ac, np.array([0.0, 0.0, 1.0])), alt)
        axis0 = np.where(straight[..., None], alt, axis0)
    axis0 = axis0 / np.maximum(np.linalg.norm(axis0, axis=-1, keepdims=True), eps)
    axis1 = np.cross(ac, target - a)
    n1 = np.linalg.norm(axis1, axis=-1, keepdims=True)
    axis1 = np.where(n1 < eps, axis0, axis1 / np.maximum(n1, eps))
    r0 = R.from_axis_angle(axis0, ac_ab_1 - ac_ab_0)
    r1 = R.from_axis_angle(axis0, ba_bc_1 - ba_bc_0)
    r2 = R.from_axis_angle(axis1, ac_at_0)
    return R.mul(r2, r0), r1
