"""Cutting a long take into clips at the pauses: stretches where the body hardly moves for a while.

The measure is the mean speed of all joints (m/s, root included, so walking counts as moving), lightly
smoothed over ``smooth_s`` so one still frame in the middle of a movement is no pause. A pause is at least
``min_pause_s`` seconds under ``speed_threshold``; the clips are the movements between pauses, each
taking ``margin_s`` of the neighbouring pauses so it starts and ends at rest. Movements shorter than
``min_clip_s`` are dropped (a shuffle of the feet is not a clip).
"""
from __future__ import annotations

import numpy as np

from ..motion import Motion
from ..skeleton import UNITS_TO_METRES


def joint_speed(positions: np.ndarray, fps: float) -> np.ndarray:
    """``(T,)`` mean joint speed in units per second of positions ``(T, J, 3)`` (central differences)."""
    if positions.shape[0] < 2:
        return np.zeros(positions.shape[0])
    v = np.gradient(positions, axis=0) * fps
    return np.linalg.norm(v, axis=-1).mean(axis=1)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` runs of True."""
    d = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def segment(motion_or_positions, fps: float | None = None, *, speed_threshold: float = 0.15, min_pause_s: float = 0.5,
            min_clip_s: float = 0.5, margin_s: float = 0.2, smooth_s: float = 0.1) -> list[tuple[int, int]]:
    """Frame ranges ``[(start, stop), ...]`` (stop exclusive) of the movements between pauses.

    Args:
        motion_or_positions: a ``Motion`` (positions in metres after its units) or joint positions
            ``(T, J, 3)`` in metres with ``fps``.
        speed_threshold: mean joint speed, m/s, under which the body counts as still.
    Returns:
        the clips in order; ``[(0, T)]`` when the take holds no pause, ``[]`` when it never moves.
    """
    if isinstance(motion_or_positions, Motion):
        fps = motion_or_positions.fps
        positions = motion_or_positions.global_positions() * UNITS_TO_METRES[motion_or_positions.skeleton.units]
    else:
        positions = np.asarray(motion_or_positions, dtype=np.float64)
        if fps is None:
            raise ValueError("segment: give fps with positions")
    T = positions.shape[0]
    speed = joint_speed(positions, fps)
    k = max(1, int(round(smooth_s * fps)))
    if k > 1:
        speed = np.convolve(np.pad(speed, (k // 2, k - 1 - k // 2), mode="edge"), np.ones(k) / k, mode="valid")
    still = speed < speed_threshold
    pauses = [(a, b) for a, b in _runs(still) if b - a >= min_pause_s * fps]
    moving = np.ones(T, dtype=bool)
    for a, b in pauses:
        moving[a:b] = False
    margin = int(round(margin_s * fps))
    clips = []
    for a, b in _runs(moving):
        if b - a < min_clip_s * fps:
            continue
        clips.append((max(0, a - margin), min(T, b + margin)))
    if not pauses and clips:
        return [(0, T)]
    return clips
