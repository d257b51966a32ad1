"""Frames <-> the model's per-frame feature vectors, on the model's 22-joint body (numpy only).

A window of ``T`` frames is first put in its *anchor frame*: moved so the anchor frame's pelvis is
above the origin and turned about Y so it faces +Z. Then each frame becomes ``F = 9 + 21 * 6 = 135``
numbers:

    [0:3]    pelvis position in metres, anchor frame (x, z horizontal, y the height above the floor)
    [3:9]    pelvis rotation, 6D (first two matrix columns), anchor frame
    [9:135]  local rotations of joints 1..21 (the body's joint order), 6D each

Features come in 22 *groups* (the root = position + pelvis rotation, then one per joint), the unit in
which keys may be partial: a key may fix only the root path, or only some joints.
"""
from __future__ import annotations

import numpy as np

from .. import canonical as cn
from .. import rotations as R
from .body import NUM_JOINTS

NUM_GROUPS = NUM_JOINTS  # the root (pelvis position and rotation), then one per other joint
FEATURES = 9 + (NUM_JOINTS - 1) * 6
# Feature columns of each group.
GROUP_SLICES = [slice(0, 9)] + [slice(9 + 6 * (j - 1), 9 + 6 * j) for j in range(1, NUM_JOINTS)]
GROUP_OF_FEATURE = np.concatenate([np.full(s.stop - s.start, g) for g, s in enumerate(GROUP_SLICES)])


FORWARD = cn.FORWARD  # the canonical pelvis faces its local +Z (its frame is the world's at rest)


def heading(q: np.ndarray, forward: np.ndarray = FORWARD) -> np.ndarray:
    """Yaw angles ``(...)`` in radians of rotations ``(..., 4)``: where they turn the pelvis-local axis
    ``forward (3,)`` (the body's facing direction), about +Y."""
    fwd = R.mul_vec(q, forward)
    return np.arctan2(fwd[..., 0], fwd[..., 2])


def anchor_transform(rotations: np.ndarray, root: np.ndarray, anchor: int | None,
                     forward: np.ndarray = FORWARD) -> tuple[np.ndarray, np.ndarray]:
    """``(yaw_quat (4,), origin (3,))`` that put frame ``anchor`` at the origin facing +Z (identity if None);
    ``forward`` is the body's pelvis-local facing axis (``Body.forward``)."""
    if anchor is None:
        return R.identity(), np.zeros(3)
    yaw = heading(rotations[anchor, 0], forward)
    q = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), -yaw)
    return q, np.array([root[anchor, 0], 0.0, root[anchor, 2]])


def to_anchor(rotations: np.ndarray, root: np.ndarray, yaw: np.ndarray, origin: np.ndarray):
    """Pelvis rotation and position ``(T, 4), (T, 3)`` expressed in the anchor frame."""
    return R.mul(yaw, rotations[:, 0]), R.mul_vec(yaw, root - origin)


def from_anchor(pelvis: np.ndarray, root: np.ndarray, yaw: np.ndarray, origin: np.ndarray):
    """Inverse of ``to_anchor``."""
    inv = R.conj(yaw)
    return R.mul(inv, pelvis), R.mul_vec(inv, root) + origin


def encode(rotations: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Features ``(T, F)`` from anchor-frame rotations ``(T, 22, 4)`` (joint 0 = pelvis, already in the
    anchor frame) and pelvis positions ``(T, 3)``."""
    d6 = R.to_6d(rotations)  # (T, 22, 6)
    return np.concatenate([root, d6[:, 0], d6[:, 1:].reshape(len(root), -1)], axis=1)


def decode(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Anchor-frame rotations ``(T, 22, 4)`` and pelvis positions ``(T, 3)`` from features ``(T, F)``."""
    t = features.shape[0]
    d6 = np.concatenate([features[:, 3:9, None].transpose(0, 2, 1), features[:, 9:].reshape(t, NUM_JOINTS - 1, 6)], axis=1)
    return R.from_6d(d6), features[:, :3].copy()


BASELINES = ("interpolation", "hermite")
# How many frames a joint's angular velocity at a key is carried into a gap (the root's velocity is
# carried over the whole gap): limbs swing back within a fraction of a second, the body keeps going.
ROTATION_HORIZON = 20.0


def fill_baseline(rotations: np.ndarray, root: np.ndarray, known: np.ndarray,
                  kind: str = "interpolation") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The simple guess the network corrects: unknown frames of each group interpolated between the
    nearest known frames of that group (lerp for the root position, slerp for rotations), held when
    known on one side only.

    With ``kind="hermite"`` a gap whose key has a known neighbour outside the gap (the context frame
    before it, or the frame after the closing key) also keeps that side's velocity: cubic Hermite
    instead of linear, the key's velocity measured from the neighbour. Rotations carry it for at most
    ``ROTATION_HORIZON`` frames' worth; keys without known neighbours (sparse animator keys) stay linear.
    On LAFAN1 this alone scores 0.65-0.83 of interpolation's L2P (docs/bench.md).

    Args:
        rotations: ``(T, 22, 4)`` (unknown entries may hold anything).
        root: ``(T, 3)``.
        known: ``(T, 22)`` bool, per frame and group (group 0 = root position and pelvis rotation).
        kind: one of ``BASELINES``.

    Returns:
        ``(rotations, root, have)``: the filled arrays and ``have (T, 22)`` bool, False where a group has
        no known frame at all (those entries are left as identity / zero; the network fills them).
    """
    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; one of {', '.join(BASELINES)}")
    # Every group at once (a loop over the 22 groups made this half of a training step's time).
    known = np.asarray(known, dtype=bool)
    T, G = known.shape
    src = R.unroll(np.array(rotations, dtype=np.float64))
    src_pos = np.array(root, dtype=np.float64)
    if T == 0:
        return src, src_pos, known.copy()
    have = np.broadcast_to(known.any(axis=0), (T, G)).copy()
    t = np.arange(T)[:, None]
    # The known frame at or before / at or after each frame of each group; before the first key its
    # first, after the last its last (held), (T, G) each.
    first = known.argmax(axis=0)
    last = T - 1 - known[::-1].argmax(axis=0)
    prev_i = np.maximum.accumulate(np.where(known, t, -1), axis=0)
    prev_i = np.where(prev_i < 0, first, prev_i)
    next_i = np.minimum.accumulate(np.where(known, t, T)[::-1], axis=0)[::-1]
    next_i = np.where(next_i >= T, last, next_i)
    w = np.where(next_i == prev_i, 0.0, (t - prev_i) / np.maximum(next_i - prev_i, 1))
    cols = np.arange(G)
    rot = R.slerp(src[prev_i, cols], src[next_i, cols], w)
    pos = src_pos[prev_i[:, 0]] * (1 - w[:, :1]) + src_pos[next_i[:, 0]] * w[:, :1]
    if kind == "hermite":
        _keep_key_velocities(rot, pos, src, src_pos, known, prev_i, next_i, w)
    rot[:, ~have[0]] = R.identity()
    if not have[0, 0]:
        pos[:] = 0.0
    return rot, pos, have


def _keep_key_velocities(rot: np.ndarray, pos: np.ndarray, src: np.ndarray, src_pos: np.ndarray,
                         known: np.ndarray, prev_i: np.ndarray, next_i: np.ndarray, s: np.ndarray) -> None:
    """Turn the linear fill into cubic Hermite where a gap's key has a known outer neighbour, in place.

    ``rot (T, G, 4)`` the slerped groups, ``pos (T, 3)`` the lerped root (group 0's), ``src (T, G, 4)`` /
    ``src_pos (T, 3)`` the inputs, ``known``, ``prev_i``, ``next_i``, ``s`` ``(T, G)``: each frame's keys
    and blend weight per group. Hermite minus lerp is ``h10(s) n (m0 - m) + h11(s) n (m1 - m)`` with ``m``
    the gap's mean velocity, ``m0``/``m1`` the velocities at its keys, ``h10 = s (1 - s)^2`` and
    ``h11 = s^2 (s - 1)``."""
    T, G = known.shape
    cols = np.arange(G)
    gap = ~known & (next_i > prev_i)
    a, b = prev_i, next_i
    am, bp = np.maximum(a - 1, 0), np.minimum(b + 1, T - 1)
    start = gap & (a >= 1) & known[am, cols]
    end = gap & (b + 1 < T) & known[bp, cols]
    if not (start.any() or end.any()):
        return
    n = np.maximum(b - a, 1).astype(np.float64)
    h0 = np.where(start, s * (1 - s) ** 2, 0.0)
    h1 = np.where(end, s * s * (s - 1), 0.0)
    a0, b0, am0, bp0, n0 = a[:, 0], b[:, 0], am[:, 0], bp[:, 0], n[:, :1]
    mean_v = (src_pos[b0] - src_pos[a0]) / n0
    # np.where, not a zero weight: an unknown neighbour may hold anything, NaN included, and 0 * NaN is NaN.
    d0 = np.where(start[:, :1], src_pos[a0] - src_pos[am0] - mean_v, 0.0)
    d1 = np.where(end[:, :1], src_pos[bp0] - src_pos[b0] - mean_v, 0.0)
    pos += (h0[:, :1] * n0) * d0 + (h1[:, :1] * n0) * d1
    # Angular velocities as axis-angle per frame in the joint's own (local) frame; only the entries that
    # move (a frame with neither weight keeps its slerp exactly).
    moved = (h0 != 0) | (h1 != 0)
    if not moved.any():
        return
    ti, gi = np.nonzero(moved)
    sa, sb, sam, sbp = src[a[moved], gi], src[b[moved], gi], src[am[moved], gi], src[bp[moved], gi]
    nm = n[moved][:, None]
    mean_w = R.to_scaled_axis(R.inv_mul(sa, sb)) / nm
    w0 = np.where(start[moved][:, None], R.to_scaled_axis(R.inv_mul(sam, sa)) - mean_w, 0.0)
    w1 = np.where(end[moved][:, None], R.to_scaled_axis(R.inv_mul(sb, sbp)) - mean_w, 0.0)
    reach = np.minimum(nm, ROTATION_HORIZON)
    offset = reach * (h0[moved][:, None] * w0 + h1[moved][:, None] * w1)
    rot[ti, gi] = R.mul(rot[ti, gi], R.from_scaled_axis(offset))
