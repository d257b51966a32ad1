"""Sparse keys for a made motion: few Bezier keys per curve that an animator can edit, and that play the
motion back within a tolerance measured where it shows (world positions, not channel values).

A motion made by the model has a value on every frame. Written as one linear key per frame it plays back
exactly but cannot be edited (5,000 keys for two seconds of a full rig). ``fit`` picks, per group of curves
(a bone's rotation channels, its location channels), the frames to key, and gives every key the slope the
motion has there. A key at frame ``t`` with value ``v`` and slope ``s`` (value per frame) becomes a Bezier
key whose handles lie a third of the way to the neighbouring keys, on the line of slope ``s``: with handles
at thirds, Blender's Bezier segment is exactly the cubic Hermite curve through the two keys with those
slopes, which ``evaluate`` computes here, so what is fitted is what Blender plays.

The error is what the caller measures on the played-back curves (``error``: typically the worst distance
of any joint from where the made motion has it, by forward kinematics, ``point_error``), so a wrist 60 cm
from the shoulder gets the keys its rotation needs and a finger the few its own does. The search:

1. each group gets keys until its own channel error, turned into metres by ``scale`` (how far a unit of
   that channel moves the farthest point it carries), is within its budget: every segment whose worst
   frame is over budget is split at that frame, all segments of all groups at once;
2. the whole pose is measured; on the frames still over the tolerance the budgets shrink, and 1 runs again;
3. what is still over after a few rounds is keyed on every group (exact there: the curves pass through keys).

Frames in ``keep`` (the animator's keys, the ends) are always keyed. ``every_frame`` keys every frame.
Arrays: ``values (T, C)`` on frames ``0..T-1``; ``groups (C,)`` ints ``0..G-1``; ``keyed (T, G)`` bool.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from . import rotations as R
from .errors import LMMError
from .motion import Motion
from .skeleton import UNITS_TO_METRES

DEFAULT_TOLERANCE_M = 0.0009  # under the 1 mm an animator cannot see at the hands and feet of a full body
_ROUNDS = 6  # budget shrinks; the last resort (every group keyed on the frames still over) follows
_SHRINK = 0.3
_FIRST_BUDGET = 0.5  # of the tolerance, for each group alone before the whole pose is measured


@dataclass(frozen=True)
class Keys:
    """Where the keys go and their slopes.

    Attributes:
        keyed: ``(T, G)`` bool, frame ``t`` of group ``g`` holds a key (on every curve of the group).
        slopes: ``(T, C)`` value per frame of each curve at each frame (used where keyed).
        groups: ``(C,)`` the group of each curve.
    """

    keyed: np.ndarray
    slopes: np.ndarray
    groups: np.ndarray

    @property
    def count(self) -> int:
        """Keys over all curves."""
        return int(self.keyed[:, self.groups].sum())

    def frames(self, group: int) -> np.ndarray:
        """``(K,)`` the keyed frames of ``group``, ascending."""
        return np.flatnonzero(self.keyed[:, group])


def evaluate(values: np.ndarray, keys: Keys) -> np.ndarray:
    """The curves ``(T, C)`` that Bezier keys with handles at thirds give on every frame: cubic Hermite
    between consecutive keys of each curve's group, through ``values`` at keys with ``keys.slopes``.

    Frames before a group's first key or after its last hold that key's value.
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    frame = np.arange(n)
    keyed = keys.keyed
    before = np.maximum.accumulate(np.where(keyed, frame[:, None], -1), axis=0)  # (T, G) last key <= t
    after = np.minimum.accumulate(np.where(keyed, frame[:, None], n)[::-1], axis=0)[::-1]  # first key >= t
    empty = before[-1] < 0
    if empty.any():
        raise LMMError(f"curve group {int(np.flatnonzero(empty)[0])} has no key; give every group one key at least")
    first, last = after[0], before[-1]
    before = np.where(before < 0, first, before)  # hold the first key before it, the last one after it
    after = np.where(after >= n, last, after)
    g = keys.groups
    p0, p1 = before[:, g], after[:, g]  # (T, C)
    d = (p1 - p0).astype(np.float64)
    u = np.divide(frame[:, None] - p0, d, out=np.zeros_like(d), where=d > 0)
    cols = np.arange(values.shape[1])[None]
    v0, v1 = values[p0, cols], values[p1, cols]
    s0, s1 = keys.slopes[p0, cols] * d, keys.slopes[p1, cols] * d
    u2, u3 = u * u, u * u * u
    return ((2 * u3 - 3 * u2 + 1) * v0 + (u3 - 2 * u2 + u) * s0 + (-2 * u3 + 3 * u2) * v1 + (u3 - u2) * s1)


def fitted_slopes(values: np.ndarray, keyed: np.ndarray, groups: np.ndarray, guess: np.ndarray,
                  ridge: float = 1e-6) -> np.ndarray:
    """``(T, C)`` slopes for the keys ``keyed (T, G)`` that bring the Hermite curves through ``values (T, C)``
    closest to them over all frames (least squares), ``guess (T, C)`` elsewhere.

    A frame between keys ``k0 < t < k1`` plays ``h00 v0 + h10 d s0 + h01 v1 + h11 d s1``: linear in the two
    slopes, so the normal equations of a group's slopes are tridiagonal and its curves share them (one
    matrix, a right-hand side per curve), solved by the Thomas algorithm for all groups at once. ``ridge``
    pulls each slope towards its guess, so a slope no frame decides (a one-frame segment) is the guess.
    With fitted slopes the same key frames miss by less (a third fewer keys for the same tolerance on the
    model's in-betweens, whose small frame-to-frame jitter the motion's own slope at a key follows).
    """
    n, count = keyed.shape
    if n < 3 or count == 0:
        return guess.copy()
    frame = np.arange(n)
    index = np.cumsum(keyed, axis=0) - 1  # (T, G) the number of the key at or before each frame
    before = np.maximum.accumulate(np.where(keyed, frame[:, None], -1), axis=0)
    after = np.minimum.accumulate(np.where(keyed, frame[:, None], n)[::-1], axis=0)[::-1]
    inner = ~keyed & (before >= 0) & (after < n)
    t, g = np.nonzero(inner)
    k0, k1 = before[t, g], after[t, g]
    d = (k1 - k0).astype(np.float64)
    u = (t - k0) / d
    a, b = (u ** 3 - 2 * u ** 2 + u) * d, (u ** 3 - u ** 2) * d  # d(value)/d(s0), d(value)/d(s1)
    h00, h01 = 2 * u ** 3 - 3 * u ** 2 + 1, -2 * u ** 3 + 3 * u ** 2
    width = int(keyed.sum(axis=0).max())
    slot = np.zeros(len(groups), dtype=np.int64)  # each curve's place among its group's curves
    for c in range(len(groups)):
        slot[c] = np.count_nonzero(groups[:c] == groups[c])
    curves = int(slot.max()) + 1
    laid = np.zeros((n, count, curves))  # the curves by (group, place), and their guessed slopes
    laid[:, groups, slot] = values
    hint = np.zeros_like(laid)
    hint[:, groups, slot] = guess
    # Normal equations, laid out key number first (rows the solver steps through), summed by bincount.
    i0 = index[t, g]
    size = width * count
    first, second = i0 * count + g, (i0 + 1) * count + g
    diag = (np.bincount(first, a * a, size) + np.bincount(second, b * b, size)).reshape(width, count) + ridge
    off = np.bincount(first, a * b, size).reshape(width, count)
    r = laid[t, g] - h00[:, None] * laid[k0, g] - h01[:, None] * laid[k1, g]  # (M, curves)
    rhs = np.stack([np.bincount(first, a * r[:, j], size) + np.bincount(second, b * r[:, j], size)
                    for j in range(curves)], axis=-1).reshape(width, count, curves)
    key_t, key_g = np.nonzero(keyed)
    rhs[index[key_t, key_g], key_g] += ridge * hint[key_t, key_g]
    solved = _tridiagonal(off, diag, rhs)
    at_keys = np.zeros_like(laid)
    at_keys[key_t, key_g] = solved[index[key_t, key_g], key_g]
    return np.where(keyed[:, groups], at_keys[:, groups, slot], guess)


def _shift(x: np.ndarray, by: int) -> np.ndarray:
    """``x`` moved ``by`` rows along its first axis (``x[i - by]`` at row ``i``), zeros where it runs out."""
    out = np.zeros_like(x)
    if by > 0:
        out[by:] = x[:-by]
    else:
        out[:by] = x[-by:]
    return out


def _tridiagonal(off: np.ndarray, diag: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve symmetric tridiagonal systems by parallel cyclic reduction: ``diag (N, G)``, ``off (N, G)``
    (row ``i`` couples to ``i + 1``; the last row's is 0), ``rhs (N, G, R)``; returns ``(N, G, R)``.

    ``log2 N`` whole-array steps instead of ``2 N`` row steps (the normal equations of slopes are
    symmetric positive definite, for which the reduction needs no pivoting)."""
    lower = _shift(off, 1)  # row i couples to i - 1
    upper = off.copy()
    b, d = diag.copy(), rhs.copy()
    stride = 1
    while stride < len(b):
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(lower != 0, -lower / _shift(b, stride), 0.0)
            gamma = np.where(upper != 0, -upper / _shift(b, -stride), 0.0)
        b = b + alpha * _shift(upper, stride) + gamma * _shift(lower, -stride)
        d = d + alpha[..., None] * _shift(d, stride) + gamma[..., None] * _shift(d, -stride)
        lower, upper = alpha * _shift(lower, stride), gamma * _shift(upper, -stride)
        stride *= 2
    return d / b[..., None]


def _split(local: np.ndarray, over: np.ndarray, keyed: np.ndarray) -> np.ndarray:
    """Frames ``(T, G)`` bool to key: in every segment (between consecutive keys of a group) with a frame
    ``over`` its budget, the frame of that segment where ``local`` is largest."""
    n, groups = local.shape
    segment = np.cumsum(keyed, axis=0) + (n + 1) * np.arange(groups)[None]  # unique id per (group, segment)
    score = np.where(over, local, -1.0).T.ravel()  # group-major, like the ids below
    ids = segment.T.ravel()
    order = np.lexsort((score, ids))
    last = np.r_[ids[order][1:] != ids[order][:-1], True]  # the largest score of each segment
    best = order[last]
    best = best[score[best] >= 0]
    add = np.zeros(groups * n, dtype=bool)
    add[best] = True
    return add.reshape(groups, n).T


def fit(
    values: np.ndarray,
    groups: np.ndarray,
    scale: np.ndarray,
    error: Callable[[np.ndarray], np.ndarray],
    tolerance: float = DEFAULT_TOLERANCE_M,
    keep: Iterable[int] = (),
    every_frame: bool = False,
    slopes: np.ndarray | None = None,
) -> Keys:
    """Keys for the curves ``values (T, C)`` that play back within ``tolerance`` (see the module docstring).

    Args:
        values: the value of every curve on every frame.
        groups: ``(C,)`` the group of each curve (0..G-1); a group's curves share key frames.
        scale: ``(G,)`` metres that one unit of a group's channels moves the farthest point it carries (a
            bone's reach for rotation channels, the length of a location unit): how a channel error of
            a group is judged before the whole pose is.
        error: the played-back curves ``(T, C)`` -> ``(T,)`` the error on each frame, in metres.
        tolerance: the largest error allowed, metres (> 0).
        keep: frames keyed on every group whatever the fit (the animator's keys); the first and last frame
            are always keyed.
        every_frame: key every frame of every group.
        slopes: ``(T, C)`` the slopes to start from (default: the motion's own, central differences); a key's
            slope is then fitted to the frames around it (``fitted_slopes``).

    Returns:
        ``Keys`` whose ``evaluate`` is within ``tolerance`` of ``values`` by ``error`` on every frame.
    """
    values = np.asarray(values, dtype=np.float64)
    groups = np.asarray(groups, dtype=np.int64)
    scale = np.asarray(scale, dtype=np.float64)
    if values.ndim != 2 or len(values) == 0 or groups.shape != (values.shape[1],):
        raise LMMError(f"curves must be (T, C) with one group per curve, got {values.shape} and {groups.shape}")
    if not np.isfinite(values).all():
        raise LMMError("the motion to key has values that are not finite; check the made motion before keying it")
    if not (np.isfinite(tolerance) and tolerance > 0):
        raise LMMError(f"the key tolerance must be a positive length, got {tolerance}; try 0.001 (1 mm)")
    n, count = len(values), int(groups.max()) + 1 if len(groups) else 0
    if scale.shape != (count,):
        raise LMMError(f"scale must give one length per group ({count}), got {scale.shape}")
    if slopes is None:
        slopes = np.gradient(values, axis=0) if n > 1 else np.zeros_like(values)
    keyed = np.zeros((n, count), dtype=bool)
    keyed[[0, -1]] = True
    keep = np.asarray(sorted({int(t) for t in keep}), dtype=np.int64)
    if len(keep) and (keep[0] < 0 or keep[-1] >= n):
        raise LMMError(f"kept key frames must lie in 0..{n - 1}, got {keep[0]}..{keep[-1]}")
    keyed[keep] = True
    if every_frame or n <= 2 or count == 0:
        return Keys(np.ones((n, count), dtype=bool) if every_frame else keyed, slopes, groups)

    budget = np.full(n, _FIRST_BUDGET * tolerance)  # per frame: where the whole pose fails, its groups get less
    guess = slopes
    keys = Keys(keyed, fitted_slopes(values, keyed, groups, guess), groups)
    for _ in range(_ROUNDS):
        while True:
            more = refine(keys, np.abs(evaluate(values, keys) - values), scale, budget)
            if more is keys:
                break
            keys = Keys(more.keyed, fitted_slopes(values, more.keyed, groups, guess), groups)
        worst = np.asarray(error(evaluate(values, keys)), dtype=np.float64)
        bad = worst > tolerance
        if not bad.any():
            return keys
        budget[bad] *= _SHRINK
    return key_frames(keys, bad)


def refine(keys: Keys, miss: np.ndarray, scale: np.ndarray, budget: np.ndarray) -> Keys:
    """``keys`` with one more key in every segment (between consecutive keys of a group) where a curve of
    the group misses by more than ``budget (T,)`` metres (``miss (T, C)`` channel units, times ``scale``),
    at the segment's worst frame; ``keys`` itself when no segment does."""
    count = keys.keyed.shape[1]
    local = np.zeros(keys.keyed.shape)
    np.maximum.at(local.T, keys.groups, miss.T)  # (T, G) worst curve of each group
    local *= scale[None]
    over = local > budget[:, None]
    if not over.any():
        return keys
    add = _split(local, over, keys.keyed)
    if not (add & ~keys.keyed).any():
        return keys
    return Keys(keys.keyed | add, keys.slopes, keys.groups) if count else keys


def key_frames(keys: Keys, frames: np.ndarray) -> Keys:
    """``keys`` with every group keyed on ``frames`` (bool ``(T,)`` or indices): exact there."""
    keyed = keys.keyed.copy()
    keyed[frames] = True
    return Keys(keyed, keys.slopes, keys.groups)


def _points(skeleton, joints: Iterable[int] | None) -> np.ndarray:
    """Columns of ``Motion.global_positions(end_sites=True)`` for ``joints`` (default all) and their end sites."""
    if joints is None:
        return np.arange(skeleton.num_joints + len(skeleton.end_sites))
    chosen = sorted({int(j) for j in joints})
    tips = [skeleton.num_joints + i for i, j in enumerate(skeleton.end_sites) if j in chosen]
    return np.asarray(chosen + tips, dtype=np.int64)


def point_error(target: Motion, joints: Iterable[int] | None = None) -> Callable[[Motion], np.ndarray]:
    """A measure against ``target``: a motion on the same skeleton -> ``(T,)`` the largest distance of the
    ``joints`` (default: all) and their end sites from where ``target`` has them on each frame, in metres
    (forward kinematics)."""
    metres = UNITS_TO_METRES[target.skeleton.units]
    columns = _points(target.skeleton, joints)
    want = target.global_positions(end_sites=True)[:, columns]

    def measure(motion: Motion) -> np.ndarray:
        got = motion.global_positions(end_sites=True)[:, columns]
        return np.linalg.norm(got - want, axis=-1).max(axis=1) * metres

    return measure


def reach(motion: Motion, joints: Iterable[int] | None = None) -> np.ndarray:
    """``(J,)`` metres from each joint to the farthest of ``joints`` (default: all) and their end sites that it
    carries, along its bones (an upper bound on how far a radian of its rotation moves them, whatever the
    pose); 0 for a joint that carries none."""
    sk = motion.skeleton
    watched = np.ones(sk.num_joints, dtype=bool) if joints is None else np.isin(np.arange(sk.num_joints), list(joints))
    out = np.where(watched, 0.0, -np.inf)
    for j, off in sk.end_sites.items():
        if watched[j]:
            out[j] = float(np.linalg.norm(off))
    for j in range(sk.num_joints - 1, 0, -1):  # parents come before their children
        p = int(sk.parents[j])
        out[p] = max(out[p], float(np.linalg.norm(sk.offsets[j])) + out[j])
    return np.maximum(out, 0.0) * UNITS_TO_METRES[sk.units]


def swing_error(
    values: np.ndarray,
    spans: list[tuple[slice, str]],
    frames: np.ndarray,
    pivots: np.ndarray,
    points: np.ndarray,
    carries: np.ndarray,
    metres: float,
) -> Callable[[np.ndarray], np.ndarray]:
    """A measure for ``fit`` where the watched points are not computed from the curves here (a control rig,
    whose deforming bones Blender's constraints pose from its controls), to first order: a rotation group
    playing off by the small rotation ``d`` (its bone's own axes, ``played = values * d``) turns what it
    carries about its pivot by ``w = frame @ axis-angle(d)``, moving point ``p`` by ``w x (p - pivot)``;
    the moves of the groups that carry a point add up as vectors (a chain's errors may cancel, as they do
    on the rig), and a location group adds its distance (as a bound: its direction is not known here).

    Args:
        values: ``(T, C)`` the curves as they should play; ``spans``: per group, its columns and mode:
            ``"QUATERNION"`` (compared normalised, as Blender plays it), an Euler order in Blender's spelling
            (``"XYZ"``) or ``"LOCATION"``.
        frames: ``(T, G, 3, 3)`` each group's bone orientation on each frame (columns: its axes), the space
            of ``pivots`` and ``points``; unused for location groups.
        pivots: ``(T, G, 3)`` where each group's bone turns about (its head).
        points: ``(T, H, 3)`` the watched points on the made motion.
        carries: ``(G, H)`` bool, group ``g`` moves point ``h``.
        metres: metres per unit of ``pivots``, ``points`` and of the location channels.

    Returns:
        played ``(T, C)`` -> ``(T,)`` metres, the worst point on each frame.
    """
    values = np.asarray(values, dtype=np.float64)
    carries = np.asarray(carries, dtype=bool)
    shape = (len(values), len(spans))
    if carries.shape != (len(spans), points.shape[1]) or frames.shape[:2] != shape or pivots.shape[:2] != shape:
        raise LMMError(f"swing_error needs a frame and a pivot per frame and group {shape} and a row of carries per "
                       f"group, got {frames.shape}, {pivots.shape} and {carries.shape}; build them from the same "
                       "frames and groups as the curves")

    def rotation(v: np.ndarray, mode: str) -> np.ndarray:
        if mode == "QUATERNION":
            return R.normalize(v)
        order = mode[::-1].lower()  # Blender's "XYZ" applies X first: intrinsic z, y, x here
        return R.from_euler(np.stack([v[:, "xyz".index(k)] for k in order], axis=1), order)

    def measure(played: np.ndarray) -> np.ndarray:
        move = np.zeros(points.shape)
        shift = np.zeros(points.shape[:2])
        for g, (cols, mode) in enumerate(spans):
            if not carries[g].any():
                continue
            a, b = values[:, cols], played[:, cols]
            if mode == "LOCATION":
                shift += np.linalg.norm(b - a, axis=1)[:, None] * carries[g][None]
                continue
            turn = R.to_scaled_axis(R.inv_mul(rotation(a, mode), rotation(b, mode)))  # (T, 3) own axes
            w = np.einsum("tij,tj->ti", frames[:, g], turn)
            h = carries[g]
            move[:, h] += np.cross(w[:, None], points[:, h] - pivots[:, g, None])
        if not points.shape[1]:
            return np.zeros(len(values))
        return ((np.linalg.norm(move, axis=-1) + shift) * metres).max(axis=1)

    return measure
