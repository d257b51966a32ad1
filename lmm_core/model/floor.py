"""Where the ground is under a window, from its keys: the network knows one floor, at height 0.

The network reads the pelvis height above the floor as a feature and learned it on capture whose feet
stand on ``y = 0``. Keys that stand higher (a character stepping onto a box or up stairs; LAFAN1's
obstacle takes) look to it like a body floating, and it pulls the frames between keys back down: a
Bandai validation window lifted 0.3 m came out 8.8 times further from the capture than interpolation
with a key every 8 frames (1.1 times on the floor). So the window is shown to the network standing on
its own ground: at each whole key the support is the lower ankle's height above where a standing ankle
is (``STANDING_ANKLE``; ankles, not toes: the retargeter puts every source's ankles on the canonical
body's standing height, while toe heights differ by source), the ground at a key is the lowest support
among the keys within ``REACH`` frames of it (so a key in mid-jump does not lift the ground), supports
within ``SNAP`` of 0 count as the floor, and between keys the ground is interpolated. The runtime lowers the
root path by that ground before the network and raises its answer by it after.
"""
from __future__ import annotations

import numpy as np

from ..kinematics import fk

# Keys this many frames apart or nearer share their lowest support (a jump's flight is under a second,
# a running stride's under half of one).
REACH = 45
# Supports this close to the floor (metres) are the floor: a window on the ground is left bit for bit.
# Held-out in-domain windows (keys every 8 or 30 frames, 20 each) got no ground at 0.05 or 0.1; measured
# from the toes instead of the ankles, one in five did (toes sit at different heights by source).
SNAP = 0.1
# Where a standing ankle joint is above the floor on the canonical body, metres: the 2nd percentile of
# ankle heights per clip, median over the training sources, 0.068-0.082 (the rest pose's 0.072).
STANDING_ANKLE = 0.08


def ground(rotations: np.ndarray, root: np.ndarray, known: np.ndarray, offsets: np.ndarray, parents,
           ankles: list[int]) -> np.ndarray | None:
    """The ground height under each frame ``(T,)`` in metres, or ``None`` where it is the floor throughout.
    A platform or a box: the lowest support within ``REACH`` frames of each key, so a slope or a step up within
    that reach reads as the lower ground.

    Args:
        rotations, root: ``(T, J, 4)`` local rotations and ``(T, 3)`` root positions (Y up, metres).
        known: ``(T, J)`` bool; only frames with every joint known (whole keys) say where the feet are.
        offsets, parents: the body; ``ankles``: its ankle joints.
    """
    keys = np.flatnonzero(np.asarray(known, dtype=bool).all(axis=1))
    if not len(keys):
        return None
    local = np.broadcast_to(np.asarray(offsets, dtype=np.float64), (len(keys),) + np.shape(offsets)).copy()
    local[:, 0] = root[keys]
    _, pos = fk(np.asarray(rotations[keys], dtype=np.float64), local, parents)
    support = pos[:, ankles, 1].min(axis=1) - STANDING_ANKLE  # (K,)
    level = np.array([support[np.abs(keys - k) <= REACH].min() for k in keys])
    level = np.where(np.abs(level) < SNAP, 0.0, level)
    if not level.any():
        return None
    return np.interp(np.arange(len(root)), keys, level)


# A start (motion carried on from) is read for its ground over its last this many frames (a second: a jump's
# flight is shorter, so its landing or take-off is among them), and only when it holds at least ``START_LEAST``
# frames: from a few frames a body in mid-air cannot be told from one standing on a box.
START_FRAMES = 30
START_LEAST = 20


def start_level(rotations: np.ndarray, root: np.ndarray, offsets: np.ndarray, parents, ankles: list[int]) -> float:
    """The ground height (metres) a start ``rotations (S, J, 4)``, ``root (S, 3)`` ends on: ``ground`` over its
    last ``START_FRAMES`` frames, at its last; 0 (the floor) where that is the floor or the start is shorter
    than ``START_LEAST`` frames. Not a slope: the lowest support over that second."""
    rotations, root = np.asarray(rotations, dtype=np.float64), np.asarray(root, dtype=np.float64)
    if len(root) < START_LEAST:
        return 0.0
    rotations, root = rotations[-START_FRAMES:], root[-START_FRAMES:]
    level = ground(rotations, root, np.ones(rotations.shape[:2], dtype=bool), offsets, parents, ankles)
    return 0.0 if level is None else float(level[-1])
