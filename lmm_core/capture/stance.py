"""Feet held still while they stand (``lmm capture --pin-feet``): a flat foot keeps one orientation.

``feet.pin_feet`` holds one point of a planted foot, the heel or the ball, whichever moves less, and keeps
the foot's own orientation, so the other point follows the foot's turn. From a detector the foot's
orientation comes from two keypoints a few centimetres apart (BlazePose's heel and foot index), and it
wobbles while the foot stands flat: on Pose2Sim's demo the left foot, flat on the floor in the video from
frame 10 to 73, turned through 32 degrees about the vertical in the solved motion, its toe swinging 4-5 cm
about the pinned heel, and each hand-over between the heel and the ball pin (nine in that contact) walked
the ankle on by the foot's turn since the last one. With the cameras' image offsets on (``image_offsets``)
the contacts found were longer (the left foot 63 ankle and 56 toe frames down, against 40 and 25 without
them), so more of that showed: the median slide of a planted foot joint after pinning went from 0.28 to
1.28 cm (2026-12-05); with the flat foot held as below it is 0.0 cm (95th percentile 0.3, against 4.1).

A foot whose heel and ball are both down stands flat, and a flat foot cannot turn without one of them
sliding: while it does (``flat``), it is held at one orientation, the mean of its own over those frames,
eased in and out over ``EASE_S`` like the pin (``pin_feet``'s ``hold``). Heel and ball are then held
together, and hand-overs between them move nothing. Where only the heel or only the ball is down (heel
strike, heel off) the foot keeps turning as the motion has it.
"""
from __future__ import annotations

import numpy as np

from .. import rotations as R
from ..motion import Motion

# Seconds over which the pin and the foot's held orientation ease in and out: pin_feet's default of 4 frames
# at 30 fps. On Pose2Sim's demo (60 fps), 8 frames left the feet's 99th-percentile acceleration where the
# one-point pin with its 4 frames had it (27.9 against 28.0 m/s^2); 4 frames raised it to 31.3 (2026-12-05).
EASE_S = 0.13
# A foot flat again this soon after one of its points left the ground (the other staying down) stood flat
# all along: one keypoint's height noise, not a step. On Pose2Sim's demo the left foot's flat stance is
# broken twice for 4 frames (0.07 s) in which only the heel counts as down; held as three stances, the median slide of a planted
# foot joint was 0.26 cm (95th percentile 1.8), held as one 0.0 (0.27) (2026-12-05).
FLAT_GAP_S = 0.1


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def flat(ankle: np.ndarray, toe: np.ndarray, fps: float, gap_s: float = FLAT_GAP_S) -> np.ndarray:
    """``(T,)`` frames a foot stands flat: heel (``ankle (T,)``) and ball (``toe (T,)``) both down, with
    gaps of up to ``gap_s`` seconds inside one contact (one of them down all through) filled."""
    ankle, toe = np.asarray(ankle, dtype=bool), np.asarray(toe, dtype=bool)
    out = ankle & toe
    down = ankle | toe
    most = int(round(gap_s * fps))
    for a, b in _runs(~out):
        if a > 0 and b < len(out) and b - a <= most and down[a:b].all():
            out[a:b] = True
    return out


def _eased(distance: np.ndarray, ease: int) -> np.ndarray:
    """Smoothstep weight, 1 at ``distance`` 0 frames, 0 from ``ease + 1`` on."""
    x = np.clip(1.0 - distance / (ease + 1.0), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def ease_frames(fps: float) -> int:
    """``EASE_S`` in frames (at least 1)."""
    return max(1, int(round(EASE_S * fps)))


def flat_feet_held(motion: Motion, contacts: np.ndarray, *, ease: int | None = None, gap_s: float = FLAT_GAP_S) -> Motion:
    """The motion with each foot at one world orientation while it stands flat (``flat``), eased in and out
    over ``ease`` frames (default ``ease_frames``): ``pin_feet``'s ``hold``.

    Args:
        motion: on the canonical body.
        contacts: ``(T, 4)`` bool, ``left_ankle, right_ankle, left_toe, right_toe`` (``feet.foot_contacts``).

    Returns:
        A new motion; only the ankles' local rotations differ, on flat frames and the ``ease`` around them.
    """
    from ..feet import canonical_legs  # (feet imports the clean-up, which the rest does not need)

    t = motion.num_frames
    ease = ease_frames(motion.fps) if ease is None else ease
    contacts = np.asarray(contacts, dtype=bool)
    g_rot, _ = motion.fk()
    rotations = motion.rotations.copy()
    frames = np.arange(t)
    for i, leg in enumerate(canonical_legs(motion)):
        own = g_rot[:, leg.ankle]
        q = own.copy()
        for a, b in _runs(flat(contacts[:, i], contacts[:, 2 + i], motion.fps, gap_s)):
            run = own[a:b] * np.where(np.sum(own[a:b] * own[a], axis=-1) < 0, -1.0, 1.0)[:, None]
            mean = R.normalize(run.mean(axis=0))
            distance = np.where(frames < a, a - frames, np.where(frames >= b, frames - b + 1, 0)).astype(float)
            q = R.slerp(q, np.broadcast_to(mean, q.shape), _eased(distance, ease))
        parent = int(motion.skeleton.parents[leg.ankle])
        rotations[:, leg.ankle] = R.inv_mul(g_rot[:, parent], q)
    return Motion(motion.skeleton, rotations, motion.root_positions.copy(), motion.fps, dict(motion.labels),
                  None if motion.translations is None else motion.translations.copy())


def pin_planted(motion: Motion, floor: float | None = None) -> Motion:
    """``--pin-feet``: each foot held still on its "lock" contacts (``feet.pin_feet``), and at one orientation
    while it stands flat (``flat_feet_held``).

    Args:
        motion: on the canonical body.
        floor: the floor's height, or ``None``: contacts by the motion's own ground level (a calibration's
            floor need not be the one stood on) and no floor check.
    """
    from ..feet import foot_contacts, pin_feet

    contacts = foot_contacts(motion, rule="lock", floor=floor)
    ease = ease_frames(motion.fps)
    return pin_feet(motion, contacts, floor=floor, ease=ease, hold=flat_feet_held(motion, contacts, ease=ease))
