"""Generation: real segments of the asked-for action, joined end to start by the network's in-betweens.

Why not let the network continue a start pose on its own: trained by regression, it predicts the
average of what may follow, and its own averages fed back in shrink every window. Measured on the
shipped model (2026-12-02): continuing a real walk or run for 6 s, the pelvis slowed to 0.40-0.50 of
the start's speed whatever the window, and the feet glided on half their ground-contact frames
(foot-skate ratio 0.45-0.53; real clips 0.04). In-betweening, where keys on both sides pin the
motion down, is what it does well. So a generated clip is a chain of segments of real motion capture
from the model's bank (``lmm_core.train.export.segment_bank``; up to 4 s each, per action and style),
each entered at the frame most like where the previous one left off (and, where another is drawn, the
best joining of a few) and turned and moved to carry on its path, with ``TRANSITION`` frames between
them made by the network from ``CONTEXT`` frames on either side: the setting it was trained and measured on.

All arrays are on the model's body: rotations ``(T, 22, 4)`` local (joint 0 the pelvis in the world),
root ``(T, 3)`` pelvis positions in metres (Y up), at the model's frame rate.
"""
from __future__ import annotations

import numpy as np

from .. import rotations as R
from ..errors import LMMError
from . import features as Fe

# Frames the network makes between two segments (a third of a second at 30 fps). Its transitions
# slide the feet more than real motion does (a foot-skate ratio of 0.45-0.83 on a locomotion
# transition's ground-contact frames before clean-up, 0.07-0.14 on the recorded ones), so they are
# short: generated clips measured 0.065 / 0.067 / 0.069 at 6 / 10 / 14 frames (2026-12-02), and 10
# leaves the network a third of a second to bend one motion into the next.
TRANSITION = 10
CONTEXT = 10  # frames of motion given on either side of a transition, as in training and the benchmarks
MIN_PLAY = 20  # frames of each segment played at least
# Segments drawn at a join where another is wanted: the one whose best entry frame is most like the last
# frame played is taken (motion matching's rule, over a random few so that seeds still differ). Measured
# with the model of model card step 13 and its bank (2026-12-05, 16 actions x 12 seeds, 6 s, no style
# given): 1 / 4 / 8 candidates gave foot skate 0.049 / 0.045 / 0.047 over the clip and
# 0.070 / 0.057 / 0.061 on the network's transitions, diversity between seeds 10.5 / 10.1 / 9.5 cm.
CANDIDATES = 4
_Y = np.array([0.0, 1.0, 0.0])


def _flat(bank: dict[str, np.ndarray]):
    """``(rotations (F, 22, 4), root (F, 3), contacts (F, 4) bool, starts (N,), lengths (N,))``: the bank's
    segments one after another. Banks written before segments could differ in length hold
    ``(N, S, ...)`` arrays and no contacts."""
    rot, root = bank["bank_rotations"], bank["bank_root"]
    if rot.ndim == 4:
        n, s = rot.shape[:2]
        rot, root = rot.reshape(n * s, *rot.shape[2:]), root.reshape(n * s, 3)
        lengths = np.full(n, s)
    else:
        lengths = np.asarray(bank["bank_lengths"], dtype=int)
    con = bank.get("bank_contacts")
    con = np.zeros((len(root), 4), dtype=bool) if con is None else con.reshape(len(root), 4).astype(bool)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
    return rot, root, con, starts, lengths


def pool(bank: dict[str, np.ndarray], action: int, style: int) -> np.ndarray:
    """Bank indices to draw from: the action and style's segments, else the action's (any style); all of
    them when no action is given (0). Empty when the bank holds nothing of the action."""
    acts, stys = bank["bank_action"], bank["bank_style"]
    found = np.flatnonzero((acts == action) & (stys == style)) if action and style else np.array([], dtype=int)
    if len(found) == 0:
        found = np.flatnonzero(acts == action) if action else np.arange(len(acts))
    return found


def held_styles(bank: dict[str, np.ndarray], action: int) -> np.ndarray:
    """Style indices ``(S,)`` (sorted) the bank holds segments of ``action`` in: the styles that generating
    the action in can honour (``pool`` falls back on any style for the others)."""
    return np.unique(bank["bank_style"][bank["bank_action"] == action])


def _velocity(root: np.ndarray, rot: np.ndarray, forward: np.ndarray, at_end: bool, n: int = 5):
    """Mean horizontal velocity ``(3,)`` (metres per frame) and yaw rate (radians per frame) over the first or
    last ``n`` frames of a segment."""
    r, q = (root[-n - 1:], rot[-n - 1:, 0]) if at_end else (root[: n + 1], rot[: n + 1, 0])
    if len(r) < 2:
        return np.zeros(3), 0.0
    v = (r[-1] - r[0]) / (len(r) - 1)
    v[1] = 0.0
    yaw = np.unwrap(Fe.heading(q, forward))
    return v, float(yaw[-1] - yaw[0]) / (len(r) - 1)


def _pose(rot: np.ndarray) -> np.ndarray:
    """``(T, 2 * 21 * 6)`` what frames are matched on: each joint's local rotation (6D, pelvis excluded: the
    chain turns segments to face on) and its change from the frame before (the first frame takes the
    second's), weighted as a third of a second."""
    d6 = R.to_6d(rot[:, 1:]).reshape(len(rot), -1)
    vel = np.diff(d6, axis=0, prepend=d6[:1])
    if len(d6) > 1:
        vel[0] = vel[1]
    return np.concatenate([d6, 10.0 * vel], axis=1)


def _match(prev_rot: np.ndarray, seg_rot: np.ndarray) -> tuple[int | None, float]:
    """``(frame, cost)``: the frame of a segment most like the last frame played (pose and joint
    velocities, ``_pose``), among those that leave ``TRANSITION`` frames and then ``MIN_PLAY`` frames of it
    to play, and its squared distance; ``(None, inf)`` for a segment too short for that."""
    room = len(seg_rot) - TRANSITION - 1 - MIN_PLAY
    if room < 0:
        return None, np.inf
    last = _pose(prev_rot[-2:])[-1]
    cost = ((_pose(seg_rot[: room + 1]) - last) ** 2).sum(axis=1)
    k = int(np.argmin(cost))
    return k, float(cost[k])


def _place(rot: np.ndarray, root: np.ndarray, yaw: float, xz: np.ndarray, forward: np.ndarray, at: int = 0):
    """A segment turned about Y so its frame ``at`` faces ``yaw`` and moved so that frame's pelvis stands at
    ``xz`` (heights kept)."""
    turn = R.from_axis_angle(_Y, np.array(yaw - Fe.heading(rot[at, 0], forward)))
    rot = rot.copy()
    rot[:, 0] = R.mul(turn, rot[:, 0])
    origin = root[at] * [1.0, 0.0, 1.0]
    root = R.mul_vec(turn, root - origin) + [xz[0], 0.0, xz[2]]
    return rot, root


def plan(bank: dict[str, np.ndarray], frames: int, action: int, style: int, seed: int, variation: float,
         forward: np.ndarray = Fe.FORWARD, start: tuple[np.ndarray, np.ndarray] | None = None):
    """Lay out a generated clip: real segments placed end to start, with ``TRANSITION`` unknown frames
    between them (and after ``start``, when given).

    Args:
        bank: the model's segment bank (``lmm_core.train.export.segment_bank``): ``bank_rotations
            (F, 22, 4)``, ``bank_root (F, 3)``, ``bank_contacts (F, 4)``, the ``N`` segments one after
            another, ``bank_lengths``, ``bank_action``, ``bank_style`` ``(N,)``.
        frames: frames wanted after ``start``.
        seed: picks the segments and where the first one starts.
        variation: 0 to 1, the chance at each join of drawing ``CANDIDATES`` segments of the action and
            going on with the one that joins best, rather than repeating the one just played (seeds
            differ at 0 too: each picks its own segment).
        forward: the body's pelvis-local facing axis.
        start: ``(rotations (S, 22, 4), root (S, 3))`` real frames to carry on from, kept as they are.

    Returns:
        ``(rotations (T, 22, 4), root (T, 3), contacts (T, 4), known (T,) bool, first)``: frames from the
        bank or ``start`` are known (their contacts from the bank, False elsewhere), the rest are for the
        network; the clip asked for is ``[first, first + frames)`` (``first = len(start)`` or 0).
    """
    if not bank:
        raise LMMError("this model has no bank of motion segments to generate from; export it with one "
                       "(`lmm train --export`) or use a model that has one")
    rng = np.random.default_rng(seed)
    choices = pool(bank, action, style)
    if len(choices) == 0:
        raise LMMError(f"the model's bank holds no motion of action #{action} to generate from (no training clip "
                       "of it was long enough); choose another action")
    seg_rot, seg_root, seg_con, starts, lengths = _flat(bank)
    rots, roots, cons, known = [], [], [], []

    def add(r, p, c, k):
        rots.append(r)
        roots.append(p)
        cons.append(c)
        known.append(np.full(len(p), k))

    def segment(i: int, offset: int = 0):
        f = slice(starts[i] + offset, starts[i] + lengths[i])
        return R.normalize(seg_rot[f].astype(np.float64)), seg_root[f].astype(np.float64), seg_con[f]

    first = 0
    current = int(rng.choice(choices))
    if start is not None:
        s_rot, s_root = (np.asarray(a, dtype=np.float64) for a in start)
        if len(s_root) == 0:
            raise LMMError("the start motion has no frames")
        add(s_rot, s_root, np.zeros((len(s_root), 4), dtype=bool), True)
        first = len(s_root)
        made = 0
    else:
        # The first segment starts at a point the seed picks, facing +Z at the origin.
        r, p, c = segment(current, int(rng.integers(0, max(lengths[current] // 2, 1))))
        r, p = _place(r, p, 0.0, np.zeros(3), forward)
        add(r, p, c, True)
        made = len(p)
    while made < frames:
        prev_rot, prev_root = rots[-1], roots[-1]
        drawn = [current]
        if rng.random() < variation:
            drawn = rng.choice(choices, size=min(CANDIDATES, len(choices)), replace=False)
        k, _, current = min((_match(prev_rot, segment(int(i))[0]) + (int(i),) for i in drawn), key=lambda m: m[1])
        r, p, c = segment(current)
        yaw = float(Fe.heading(prev_rot[-1, 0], forward))
        if k is not None:
            # The segment's frame k goes where the last frame played is, facing the same way: the
            # transition stands in for its next TRANSITION frames, so a step carries on in phase and
            # covers the ground the segment itself would.
            r, p = _place(r, p, yaw, prev_root[-1], forward, at=k)
            # The feet come down where the segment's own would have: its contacts serve the transition.
            bridge = c[k + 1:k + TRANSITION + 1]
            r, p, c = r[k + TRANSITION + 1:], p[k + TRANSITION + 1:], c[k + TRANSITION + 1:]
        else:
            bridge = np.zeros((TRANSITION, 4), dtype=bool)
            # A segment too short to match in: keep turning as the two ends do and cover the ground at
            # their mean speed.
            v0, w0 = _velocity(prev_root, prev_rot, forward, at_end=True)
            v1, w1 = _velocity(p, r, forward, at_end=False)
            gap = TRANSITION + 1
            r, p = _place(r, p, yaw + 0.5 * (w0 + w1) * gap, np.zeros(3), forward)
            v1, _ = _velocity(p, r, forward, at_end=False)
            p = p + (prev_root[-1] + 0.5 * (v0 + v1) * gap) * [1.0, 0.0, 1.0]
        add(np.repeat(prev_rot[-1:], TRANSITION, axis=0), np.repeat(prev_root[-1:], TRANSITION, axis=0), bridge, False)
        add(r, p, c, True)
        made += TRANSITION + len(p)
    return (np.concatenate(rots), np.concatenate(roots), np.concatenate(cons), np.concatenate(known), first)
