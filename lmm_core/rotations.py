"""Pure rotation functions in numpy.

Conventions, used everywhere in the project:
- Quaternions are ``(..., 4)`` arrays ``(w, x, y, z)``, unit length, rotating column vectors
  (``v' = q v q*``).
- Matrices are ``(..., 3, 3)`` and act on column vectors: ``v' = R @ v``.
- The 6D representation (Zhou et al. 2019) is the first two *columns* of the matrix, ``(..., 6)``
  laid out as ``[c0x, c0y, c0z, c1x, c1y, c1z]``.
- Euler angles are in radians, ``(..., 3)``, and an order string such as ``"zyx"`` names the axes in
  the order the angles are stored. Rotations are *intrinsic*, as in BVH channel lists: order ``"zyx"``
  means ``R = Rz(a0) @ Ry(a1) @ Rx(a2)``. (Blender's extrinsic mode ``'XYZ'`` is order ``"zyx"`` here
  with the angles reversed.)

The torch twin of the functions that training needs is ``lmm_core.train.rotations_torch``.
"""
from __future__ import annotations

import numpy as np

EULER_ORDERS = ("xyz", "xzy", "yxz", "yzx", "zxy", "zyx")
_AXIS = {"x": 0, "y": 1, "z": 2}


def identity(shape: tuple[int, ...] = ()) -> np.ndarray:
    """Identity quaternions of the given batch shape, ``(*shape, 4)``."""
    q = np.zeros(tuple(shape) + (4,))
    q[..., 0] = 1.0
    return q


def normalize(q: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Unit quaternions ``(..., 4)``."""
    return q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), eps)


def conj(q: np.ndarray) -> np.ndarray:
    """Conjugate, the inverse of a unit quaternion, ``(..., 4)``."""
    return q * np.array([1.0, -1.0, -1.0, -1.0])


inv = conj


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` (apply ``b`` first, then ``a``); broadcasting ``(..., 4)``."""
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def inv_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``inv(a) * b``, the rotation ``b`` seen from frame ``a``; ``(..., 4)``."""
    return mul(conj(a), b)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a x b`` for ``(..., 3)`` arrays, broadcasting. Written out because ``np.cross`` costs about ten
    times as much on the small arrays kinematics passes it (a joint at a time)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def mul_vec(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v (..., 3)`` by quaternions ``q (..., 4)``."""
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * _cross(u, v)
    return v + w * t + _cross(u, t)


def inv_mul_vec(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v (..., 3)`` by the inverse of ``q (..., 4)``."""
    return mul_vec(conj(q), v)


def from_axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Quaternions from unit axes ``(..., 3)`` and angles in radians ``(...)``."""
    axis = np.asarray(axis, dtype=float)
    half = 0.5 * np.asarray(angle, dtype=float)[..., None]
    return np.concatenate([np.cos(half), np.sin(half) * axis], axis=-1)


def from_scaled_axis(v: np.ndarray) -> np.ndarray:
    """Quaternions from axis-angle vectors ``(..., 3)`` (axis times angle in radians), as SMPL stores them."""
    angle = np.linalg.norm(v, axis=-1)
    safe = np.where(angle > 1e-12, angle, 1.0)[..., None]
    return from_axis_angle(np.where(angle[..., None] > 1e-12, v / safe, 0.0), angle)


def to_scaled_axis(q: np.ndarray) -> np.ndarray:
    """Axis-angle vectors ``(..., 3)`` from quaternions ``(..., 4)``; angles in ``[0, pi]``."""
    q = np.where(q[..., :1] < 0, -q, q)
    s = np.linalg.norm(q[..., 1:], axis=-1)
    angle = 2.0 * np.arctan2(s, q[..., 0])
    scale = np.where(s > 1e-12, angle / np.where(s > 1e-12, s, 1.0), 2.0)
    return q[..., 1:] * scale[..., None]


def to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` from unit quaternions ``(..., 4)``."""
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    m = np.stack(
        [
            1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
            2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
            2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
        ],
        axis=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def from_matrix(m: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` (w >= 0) from rotation matrices ``(..., 3, 3)``.

    Uses the numerically stable branch (largest of w, x, y, z) per element.
    """
    m = np.asarray(m, dtype=float)
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # Four candidate solutions; each is exact where its leading term is largest.
    cands = np.stack(
        [
            np.stack([1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01], -1),
            np.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], -1),
            np.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], -1),
            np.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], -1),
        ],
        axis=-2,
    )
    diag = np.stack([m00 + m11 + m22, m00, m11, m22], -1)
    best = np.argmax(diag, axis=-1)
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = normalize(q)
    return np.where(q[..., :1] < 0, -q, q)


def to_6d(q: np.ndarray) -> np.ndarray:
    """6D rotation features ``(..., 6)``: the first two matrix columns."""
    m = to_matrix(q)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def matrix_from_6d(d6: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` from (not necessarily orthonormal) 6D features ``(..., 6)``.

    Gram-Schmidt on the two columns, so any network output maps to a valid rotation.
    """
    a, b = d6[..., :3], d6[..., 3:]
    c0 = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b - np.sum(c0 * b, axis=-1, keepdims=True) * c0
    c1 = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    c2 = _cross(c0, c1)
    return np.stack([c0, c1, c2], axis=-1)


def from_6d(d6: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` from 6D features ``(..., 6)``."""
    return from_matrix(matrix_from_6d(d6))


def _check_order(order: str) -> str:
    order = order.lower()
    if order not in EULER_ORDERS:
        raise ValueError(f"unknown Euler order {order!r}; expected one of {', '.join(EULER_ORDERS)}")
    return order


def from_euler(angles: np.ndarray, order: str) -> np.ndarray:
    """Quaternions ``(..., 4)`` from intrinsic Euler angles in radians ``(..., 3)``.

    ``order`` names the axis of each angle column: ``"zyx"`` gives ``Rz(a0) Ry(a1) Rx(a2)``.
    """
    order = _check_order(order)
    angles = np.asarray(angles, dtype=float)
    q = None
    for i, axis_name in enumerate(order):
        axis = np.zeros(3)
        axis[_AXIS[axis_name]] = 1.0
        qi = from_axis_angle(axis, angles[..., i])
        q = qi if q is None else mul(q, qi)
    return q


def to_euler(q: np.ndarray, order: str) -> np.ndarray:
    """Intrinsic Euler angles in radians ``(..., 3)`` from quaternions ``(..., 4)``.

    The middle angle is in ``[-pi/2, pi/2]``; at gimbal lock (middle angle at +-90 degrees) the
    third angle is set to zero and the first absorbs the rest, so ``from_euler`` returns the same
    rotation.
    """
    order = _check_order(order)
    i, j, k = (_AXIS[c] for c in order)
    # +1 for cyclic orders (xyz, yzx, zxy), -1 for the others.
    s = 1.0 if (j - i) % 3 == 1 else -1.0
    m = to_matrix(q)
    sin_b = np.clip(s * m[..., i, k], -1.0, 1.0)
    b = np.arcsin(sin_b)
    cos_b = np.sqrt(np.maximum(1.0 - sin_b * sin_b, 0.0))
    locked = cos_b < 1e-7
    a = np.where(locked, np.arctan2(s * m[..., k, j], m[..., j, j]), np.arctan2(-s * m[..., j, k], m[..., k, k]))
    c = np.where(locked, 0.0, np.arctan2(-s * m[..., i, j], m[..., i, i]))
    return np.stack([a, b, c], axis=-1)


def unroll(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Remove sign flips along a time axis so consecutive quaternions lie in one hemisphere.

    ``q`` is ``(T, ..., 4)`` (time on ``axis``); ``q`` and ``-q`` are the same rotation, and
    interpolation and learning need the continuous choice.
    """
    q = np.moveaxis(np.array(q, dtype=float, copy=True), axis, 0)
    if q.shape[0] > 1:
        dots = np.sum(q[1:] * q[:-1], axis=-1)
        flips = np.cumsum(dots < 0, axis=0) % 2
        q[1:] *= np.where(flips[..., None] == 1, -1.0, 1.0)
    return np.moveaxis(q, 0, axis)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation from ``a`` to ``b`` (``(..., 4)``) at fractions ``t`` (``(...)``).

    Takes the short way round; falls back to normalised lerp for nearly equal rotations.
    """
    t = np.asarray(t, dtype=float)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-6
    safe = np.where(near, 1.0, sin_theta)
    wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    wb = np.where(near, t, np.sin(t * theta) / safe)
    return normalize(wa * a + wb * b)


def between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shortest-arc quaternions ``(..., 4)`` that rotate directions ``u`` onto ``v`` (``(..., 3)``)."""
    u = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)
    v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
    w = 1.0 + np.sum(u * v, axis=-1, keepdims=True)
    xyz = np.cross(u, v)
    # Opposite vectors: any axis perpendicular to u.
    opposite = w[..., 0] < 1e-9
    if np.any(opposite):
        alt = np.cross(u, np.array([1.0, 0.0, 0.0]))
        alt = np.where(np.linalg.norm(alt, axis=-1, keepdims=True) < 1e-6, np.cross(u, np.array([0.0, 1.0, 0.0])), alt)
        xyz = np.where(opposite[..., None], alt, xyz)
        w = np.where(opposite[..., None], 0.0, w)
    return normalize(np.concatenate([w, xyz], axis=-1))


def angle(q: np.ndarray) -> np.ndarray:
    """Rotation angle in radians ``(...)`` of quaternions ``(..., 4)``, in ``[0, pi]``."""
    return 2.0 * np.arctan2(np.linalg.norm(q[..., 1:], axis=-1), np.abs(q[..., 0]))


def vector_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles in radians ``(...)`` between vectors ``(..., 3)`` (pi / 2 where either has zero length)."""
    dot = np.sum(a * b, axis=-1)
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.arccos(np.clip(dot / np.maximum(norms, 1e-300), -1.0, 1.0))


def align(u: np.ndarray, v: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Rotations ``(..., 4)`` that best carry vector sets ``u`` onto ``v`` (both ``(..., N, 3)``).

    Least squares over the ``N`` pairs (Kabsch / Wahba's problem, by SVD); with ``N == 1`` use
    ``between``, since one pair leaves the twist about it free. Lengths matter only as weights.
    """
    w = np.ones(u.shape[:-1]) if weights is None else np.broadcast_to(weights, u.shape[:-1])
    h = np.einsum("...n,...ni,...nj->...ij", w, u, v)
    uu, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(uu, -1, -2)))
    fix = np.ones(d.shape + (3,))
    fix[..., 2] = d
    m = np.swapaxes(vt, -1, -2) @ (fix[..., :, None] * np.swapaxes(uu, -1, -2))
    return from_matrix(m)
