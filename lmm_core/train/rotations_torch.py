"""Torch twin of the rotation and kinematics functions that training needs.

Same names, conventions and shapes as ``lmm_core.rotations`` and ``lmm_core.kinematics`` (quaternions
``(w, x, y, z)``, matrices acting on column vectors, 6D = first two matrix columns), so a loss written
against one reads the same against the other. ``tests/test_rotations.py`` keeps the twins equal.
"""
from __future__ import annotations

import torch


def normalize(q: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Unit quaternions ``(..., 4)``."""
    return q / q.norm(dim=-1, keepdim=True).clamp_min(eps)


def conj(q: torch.Tensor) -> torch.Tensor:
    """Conjugate (inverse of a unit quaternion), ``(..., 4)``."""
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


inv = conj


def mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``a * b``; broadcasting ``(..., 4)``."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def inv_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``inv(a) * b``; ``(..., 4)``."""
    return mul(conj(a), b)


def mul_vec(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``v (..., 3)`` by quaternions ``q (..., 4)``."""
    w = q[..., :1]
    u = q[..., 1:]
    u, v = torch.broadcast_tensors(u, v)
    t = 2.0 * torch.linalg.cross(u, v, dim=-1)
    return v + w * t + torch.linalg.cross(u, t, dim=-1)


def to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` from unit quaternions ``(..., 4)``."""
    w, x, y, z = q.unbind(-1)
    m = torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def to_6d(q: torch.Tensor) -> torch.Tensor:
    """6D rotation features ``(..., 6)``: the first two matrix columns."""
    m = to_matrix(q)
    return torch.cat([m[..., :, 0], m[..., :, 1]], dim=-1)


def matrix_from_6d(d6: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``(..., 3, 3)`` from 6D features ``(..., 6)`` by Gram-Schmidt."""
    a, b = d6[..., :3], d6[..., 3:]
    c0 = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    b = b - (c0 * b).sum(-1, keepdim=True) * c0
    c1 = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    c2 = torch.linalg.cross(c0, c1, dim=-1)
    return torch.stack([c0, c1, c2], dim=-1)


def fk(local_rot: torch.Tensor, local_pos: torch.Tensor, parents) -> tuple[torch.Tensor, torch.Tensor]:
    """Global rotations and positions ``(..., J, 3)`` from local ones (see ``kinematics.fk``).

    ``local_rot`` is quaternions ``(..., J, 4)`` or rotation matrices ``(..., J, 3, 3)`` (what the network's
    6D features give, ``matrix_from_6d``); the global rotations come back in the same form. Builds lists
    and stacks once, so autograd sees no in-place writes.
    """
    if local_rot.shape[-2:] == (3, 3):
        rot_of = lambda j: local_rot[..., j, :, :]  # noqa: E731
        compose, rotate, axis = torch.matmul, lambda r, v: (r @ v.unsqueeze(-1)).squeeze(-1), -3
    else:
        rot_of = lambda j: local_rot[..., j, :]  # noqa: E731
        compose, rotate, axis = mul, mul_vec, -2
    g_rot: list[torch.Tensor] = []
    g_pos: list[torch.Tensor] = []
    for j, p in enumerate(list(parents)):
        p = int(p)
        if p < 0:
            g_rot.append(rot_of(j))
            g_pos.append(local_pos[..., j, :])
        else:
            g_rot.append(compose(g_rot[p], rot_of(j)))
            g_pos.append(g_pos[p] + rotate(g_rot[p], local_pos[..., j, :]))
    return torch.stack(g_rot, dim=axis), torch.stack(g_pos, dim=-2)
