"""Foot contacts from motion, and the foot-skate measure that judges retargeting and generation."""
from __future__ import annotations

import numpy as np


def _clean(mask: np.ndarray, min_run: int = 2) -> np.ndarray:
    """Fill one-frame gaps and drop contact runs shorter than ``min_run`` frames; ``(T, K)`` bool."""
    m = mask.copy()
    gap = ~m[1:-1] & m[:-2] & m[2:]
    m[1:-1] |= gap
    out = m.copy()
    for k in range(m.shape[1]):
        col = m[:, k]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], col.astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2]):
            if stop - start < min_run:
                out[start:stop, k] = False
    return out


def detect(positions: np.ndarray, fps: float, height: float, up_index: int = 1,
           max_speed: float = 0.15, max_lift: float = 0.05) -> np.ndarray:
    """Which foot joints touch the ground on which frames.

    Args:
        positions: ``(T, K, 3)`` world positions of foot joints (ankles, toes), in skeleton units.
        fps: frames per second.
        height: performer height in the same units; thresholds scale with it so units don't matter.
        up_index: 1 for Y up, 2 for Z up.
        max_speed: a contact moves slower than this many heights per second (0.15 is ~0.26 m/s).
        max_lift: and is within this many heights of that joint's own ground level, taken as its
            2nd-percentile height over the clip (ankles rest higher than toes).

    Returns:
        ``(T, K)`` bool.
    """
    t = positions.shape[0]
    if t < 2:
        return np.ones(positions.shape[:2], dtype=bool)
    vel = np.gradient(positions, axis=0) * fps
    speed = np.linalg.norm(vel, axis=-1)
    h = positions[..., up_index]
    ground = np.percentile(h, 2, axis=0)
    contact = (speed < max_speed * height) & (h - ground < max_lift * height)
    return _clean(contact)


def skate(positions: np.ndarray, contacts: np.ndarray, metres_per_unit: float, up_index: int = 1,
          threshold_m: float = 0.02) -> float:
    """Foot-skate ratio: the share of contact frames whose foot moves more than ``threshold_m`` horizontally.

    Args:
        positions: ``(T, K, 3)`` foot joint positions in skeleton units.
        contacts: ``(T, K)`` bool, contact on frame ``t`` and ``t - 1`` counts frame ``t``.
        metres_per_unit: ``UNITS_TO_METRES[skeleton.units]``.
        threshold_m: movement per frame that counts as skating (2 cm).
    """
    horiz = [i for i in range(3) if i != up_index]
    step = np.linalg.norm(np.diff(positions[..., horiz], axis=0), axis=-1) * metres_per_unit
    both = contacts[1:] & contacts[:-1]
    n = int(both.sum())
    return float((step[both] > threshold_m).sum() / n) if n else 0.0
