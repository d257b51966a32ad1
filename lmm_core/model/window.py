"""One window of frames made ready for the network, and the network's output made back into frames.

Shared by the numpy runtime and the trainer, so training sees exactly what inference feeds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import features as Fe
from .config import GATE_FRAMES
from .network import KEY_TIME, positional

# Distances to keys are read up to this many frames (``key_times``): a key further away than two seconds
# is, for how a frame moves, as good as none.
KEY_HORIZON = 64.0


def key_distance(known: np.ndarray) -> np.ndarray:
    """Frames from each frame to the nearest known frame of the same group, ``(T, 22)`` (inf: never known)."""
    known = np.asarray(known, dtype=bool)
    T = known.shape[0]
    t = np.arange(T, dtype=np.float64)[:, None]
    prev = np.maximum.accumulate(np.where(known, t, -np.inf), axis=0)  # the last known frame at or before
    nxt = np.minimum.accumulate(np.where(known, t, np.inf)[::-1], axis=0)[::-1]  # the first at or after
    return np.minimum(t - prev, nxt - t)


def key_times(known: np.ndarray) -> np.ndarray:
    """Each frame's place between the keys, ``(T, KEY_TIME)`` float, from ``known (T, 22)`` (a key: a frame
    whose root is known, group 0; a frame whose root is known is its own key, at distance 0).

    Columns, with ``a`` the frames since the last key and ``b`` the frames to the next (each at most
    ``KEY_HORIZON``, which also stands for "none"): ``log1p(a) / log1p(H)``, ``exp(-a / 4)``, ``exp(-a / 16)``,
    the same three of ``b``, ``a / (a + b)`` (0.5 on a key), and ``log1p(a + b) / log1p(2 H)`` (the gap's
    length). Logarithms and decays because a frame next to a key and one 30 frames away differ far more
    than frames 30 and 40 away do.
    """
    root = np.asarray(known, dtype=bool)[:, 0]
    T = len(root)
    t = np.arange(T)
    keys = np.flatnonzero(root)
    a = np.full(T, KEY_HORIZON)
    b = np.full(T, KEY_HORIZON)
    if len(keys):
        prev = np.searchsorted(keys, t, side="right") - 1  # index into keys of the last key at or before t
        nxt = np.searchsorted(keys, t, side="left")  # of the first key at or after t
        has_prev, has_next = prev >= 0, nxt < len(keys)
        a[has_prev] = t[has_prev] - keys[prev[has_prev]]
        b[has_next] = keys[nxt[has_next]] - t[has_next]
    a, b = np.minimum(a, KEY_HORIZON), np.minimum(b, KEY_HORIZON)
    cols = []
    for d in (a, b):
        cols += [np.log1p(d) / np.log1p(KEY_HORIZON), np.exp(-d / 4.0), np.exp(-d / 16.0)]
    cols += [np.where(a + b > 0, a / np.maximum(a + b, 1e-9), 0.5), np.log1p(a + b) / np.log1p(2 * KEY_HORIZON)]
    out = np.stack(cols, axis=1)
    assert out.shape[1] == KEY_TIME
    return out


@dataclass
class Window:
    """Inputs of one window and what is needed to undo its anchoring.

    Attributes:
        x: ``(T, INPUT + 2 * pos_freqs)`` float32 network input.
        base: ``(T, F)`` normalised baseline features (known frames hold their known values).
        known: ``(T, F)`` bool, the feature entries fixed by keys.
        yaw, origin: the anchor transform (see ``features.anchor_transform``).
        gate: ``(T, F)`` how much of the network's correction each entry takes: ``1 - exp(-d / gate_frames)``
            with ``d`` the distance in frames to the nearest key of its joint group. Next to a key the
            baseline is nearly right and the motion must flow into the key, so corrections fade there.
    """

    x: np.ndarray
    base: np.ndarray
    known: np.ndarray
    yaw: np.ndarray
    origin: np.ndarray
    gate: np.ndarray


def choose_anchor(known: np.ndarray) -> int | None:
    """The frame whose pelvis defines the window's frame: the last root-known frame before the first gap.

    ``known`` is ``(T, 22)`` bool. ``None`` when the root is never known (generation from nothing).
    """
    root = known[:, 0]
    if not root.any():
        return None
    gaps = np.flatnonzero(~known.all(axis=1))
    first_gap = gaps[0] if len(gaps) else len(known) - 1
    before = np.flatnonzero(root[: first_gap + 1])
    return int(before[-1]) if len(before) else int(np.flatnonzero(root)[0])


def prepare(rotations: np.ndarray, root: np.ndarray, known: np.ndarray, mean: np.ndarray, std: np.ndarray,
            pos_freqs: int, anchor: int | None, forward: np.ndarray = Fe.FORWARD,
            baseline: str = "interpolation", vel_std: np.ndarray | None = None,
            gate_frames: float = GATE_FRAMES, key_time: bool = False) -> Window:
    """Window inputs from world-frame frames of the model's body.

    Args:
        rotations: ``(T, 22, 4)`` local rotations (joint 0 the pelvis in the world); unknown entries
            are ignored.
        root: ``(T, 3)`` pelvis positions in metres; unknown entries ignored.
        known: ``(T, 22)`` bool per frame and group (group 0: root position and pelvis rotation).
        mean, std: ``(F,)`` feature statistics of the training data.
        anchor: see ``choose_anchor``.
        forward: ``(3,)`` the body's pelvis-local facing axis (``Body.forward``).
        baseline: what the network corrects, one of ``features.BASELINES`` (``ModelConfig.baseline``).
        vel_std: ``(F,)`` for models with ``ModelConfig.velocity_inputs``: the typical frame-to-frame change
            of each normalised feature; each frame then also gets its change from the previous frame in
            those units. Velocities are what in-betweening turns on, and a transformer that sees only
            positions must learn to subtract neighbouring tokens through attention to find them.
        gate_frames: the gate's fade-in length in frames (``ModelConfig.gate_frames``; ``Window.gate``).
        key_time: add ``key_times`` (``ModelConfig.key_time_inputs``).
    """
    yaw, origin = Fe.anchor_transform(rotations, root, anchor, forward)
    rot = np.array(rotations, dtype=np.float64)
    rot[:, 0], pos = Fe.to_anchor(rot, root, yaw, origin)
    rot, pos, have = Fe.fill_baseline(rot, pos, known, baseline)
    base = (Fe.encode(rot, pos) - mean) / std
    # A group never given has no baseline: feed the mean (zero) and say so.
    have_f = have[:, Fe.GROUP_OF_FEATURE]
    base = np.where(have_f, base, 0.0)
    parts = [base, known.astype(np.float64), have.astype(np.float64)]
    if vel_std is not None:
        parts.append(np.diff(base, axis=0, prepend=base[:1]) / vel_std)
    if key_time:
        parts.append(key_times(known))
    x = np.concatenate(parts + [positional(len(base), pos_freqs)], axis=1)
    gate = 1.0 - np.exp(-key_distance(known) / gate_frames)
    return Window(x.astype(np.float32), base, known[:, Fe.GROUP_OF_FEATURE], yaw, origin, gate[:, Fe.GROUP_OF_FEATURE])


def finish(window: Window, out: np.ndarray, mean: np.ndarray, std: np.ndarray,
           scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World-frame ``(rotations (T, 22, 4), root (T, 3), contact probabilities (T, 4))`` from network output
    ``(T, F + 4)``; the correction is ``out * scale`` in normalised units; keyed entries come back as given."""
    feats = np.where(window.known, window.base, window.base + out[:, : Fe.FEATURES] * scale * window.gate)
    rot, pos = Fe.decode(feats * std + mean)
    rot[:, 0], pos = Fe.from_anchor(rot[:, 0], pos, window.yaw, window.origin)
    contacts = 1.0 / (1.0 + np.exp(-out[:, Fe.FEATURES:]))
    return rot, pos, contacts
