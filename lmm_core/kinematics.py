"""Forward and inverse kinematics on joint trees, numpy.

Shapes: ``T`` frames, ``J`` joints. Local rotations are relative to the parent joint; global ones are
in the world frame. Parents come before children (see ``Skeleton``), so one pass over joints suffices.
"""
from __future__ import annotations

import numpy as np

from . import rotations as R


def fk(local_rot: np.ndarray, local_pos: np.ndarray, parents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations and positions from local ones.

    Args:
        local_rot: ``(..., J, 4)`` local joint rotations.
        local_pos: ``(..., J, 3)`` local joint translations (the root's is its world position).
        parents: ``(J,)`` parent indices, ``-1`` for the root, topologically ordered.

    Returns:
        ``(global_rot (..., J, 4), global_pos (..., J, 3))``.
    """
    g_rot = np.empty(np.broadcast_shapes(local_rot.shape[:-1], local_pos.shape[:-1]) + (4,))
    g_pos = np.empty(g_rot.shape[:-1] + (3,))
    for j, p in enumerate(parents):
        if p < 0:
            g_rot[..., j, :] = local_rot[..., j, :]
            g_pos[..., j, :] = local_pos[..., j, :]
        else:
            g_rot[..., j, :] = R.mul(g_rot[..., p, :], local_rot[..., j, :])
            g_pos[..., j, :] = g_pos[..., p, :] + R.mul_vec(g_rot[..., p, :], local_pos[..., j, :])
    return g_rot, g_pos


def global_to_local(global_rot: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Local rotations ``(..., J, 4)`` from global ones ``(..., J, 4)``."""
    local = np.array(global_rot, dtype=float, copy=True)
    for j, p in enumerate(parents):
        if p >= 0:
            local[..., j, :] = R.inv_mul(global_rot[..., p, :], global_rot[..., j, :])
    return local


def end_site_positions(global_rot: np.ndarray, global_pos: np.ndarray, end_sites: dict[int, np.ndarray]) -> np.ndarray:
    """World positions ``(..., E, 3)`` of end sites (leaf tips), in the order of ``end_sites``."""
    if not end_sites:
        return np.zeros(global_pos.shape[:-2] + (0, 3))
    idx = np.array(list(end_sites.keys()))
    offs = np.stack(list(end_sites.values()))
    return global_pos[..., idx, :] + R.mul_vec(global_rot[..., idx, :], offs)
