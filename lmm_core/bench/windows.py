"""Cutting clips into the benchmark's windows, and framing each window the way the LAFAN1 protocol does.

The protocol (Harvey et al. 2020, Ubisoft La Forge's public ``lafan1`` benchmark code):

- quaternions without sign flips along time, per clip, before cutting;
- windows of ``length`` frames starting every ``step`` frames while ``start + length < T`` (strictly
  less: a clip of exactly ``length`` frames gives no window, as in the original);
- each window moved so its root's mean X and Z over *all* the window's frames are 0, then turned about
  +Y (about the origin) so that the root's forward axis at frame ``N_PAST - 1`` (frame 9), projected on
  the floor, points along +X.

Everything here works on a Y-up skeleton (LAFAN1 and the canonical body are both Y up).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .. import rotations as R
from ..errors import LMMError
from ..skeleton import Skeleton

N_PAST = 10                    # context frames; the first keyframe is frame N_PAST - 1 = 9
LENGTHS = (5, 15, 30, 45)      # transition lengths n; the target keyframe is frame N_PAST + n
TEST_WINDOW, TEST_STEP = 65, 40
TRAIN_WINDOW, TRAIN_STEP = 50, 20
FACING = np.array([1.0, 0.0, 0.0])  # where the root faces at frame 9 after framing (+X)


@dataclass(frozen=True)
class Clip:
    """One clip of benchmark data.

    Attributes:
        name: where it came from (a file name or a corpus take), for messages.
        rotations: ``(T, J, 4)`` local joint rotations ``(w, x, y, z)``.
        root: ``(T, 3)`` root position in the skeleton's units, world frame, Y up.
    """

    name: str
    rotations: np.ndarray
    root: np.ndarray


@dataclass(frozen=True)
class WindowSet:
    """Framed windows of one skeleton.

    Attributes:
        skeleton: the joint tree; its ``offsets`` place the non-root joints.
        rotations: ``(W, L, J, 4)`` local rotations, continuous in sign along ``L``.
        root: ``(W, L, 3)`` root positions in the window's frame (mean root XZ at the origin, root facing
            +X at frame 9), skeleton units.
        clip: ``(W,)`` name of the clip each window comes from.
        fps: frames per second.
    """

    skeleton: Skeleton
    rotations: np.ndarray
    root: np.ndarray
    clip: tuple[str, ...]
    fps: float

    @property
    def num_windows(self) -> int:
        return self.rotations.shape[0]


def window_starts(num_frames: int, length: int, step: int) -> np.ndarray:
    """First frames ``(W,)`` of the windows of a clip of ``num_frames``: ``0, step, 2 step, ...`` while
    ``start + length < num_frames`` (the original's ``while i + window < T``)."""
    if length < 1 or step < 1:
        raise LMMError(f"window length and step must be positive, got {length} and {step}")
    return np.arange(0, max(num_frames - length, 0), step, dtype=np.int64)


def cut(rotations: np.ndarray, root: np.ndarray, length: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of one clip: ``rotations (T, J, 4)``, ``root (T, 3)`` -> ``(W, L, J, 4)``, ``(W, L, 3)``."""
    starts = window_starts(rotations.shape[0], length, step)
    idx = starts[:, None] + np.arange(length)[None, :]
    return rotations[idx], root[idx]


def frame_windows(rotations: np.ndarray, root: np.ndarray, root_forward: np.ndarray,
                  key_frame: int = N_PAST - 1) -> tuple[np.ndarray, np.ndarray]:
    """Centre and turn windows as the protocol does.

    Args:
        rotations: ``(W, L, J, 4)`` local rotations; only the root's (joint 0) change.
        root: ``(W, L, 3)`` root positions, world frame, Y up.
        root_forward: ``(3,)`` the direction the body faces, in the root joint's own frame (LAFAN1's Hips:
            +Y; the canonical pelvis: +Z).
        key_frame: the frame whose facing is made +X (frame 9, the last context frame).

    Returns:
        ``(rotations, root)`` of the same shapes: root XZ minus its mean over the window's frames, then
        everything turned about +Y through the origin so that ``root_forward`` at ``key_frame``, projected
        on the floor, points along +X. Turning the root's rotation and position turns every joint, since
        the others are relative to it.
    """
    root = np.array(root, dtype=float, copy=True)
    root[..., [0, 2]] -= root[..., [0, 2]].mean(axis=1, keepdims=True)
    forward = R.mul_vec(rotations[:, key_frame, 0], np.asarray(root_forward, dtype=float))  # (W, 3)
    forward[:, 1] = 0.0
    yrot = R.between(np.broadcast_to(FACING, forward.shape), forward)  # +X -> the facing, about Y
    inv = R.conj(yrot)[:, None]  # (W, 1, 4): the facing -> +X, the same for every frame of a window
    out = np.array(rotations, dtype=float, copy=True)
    out[..., 0, :] = R.mul(inv, out[..., 0, :])
    return out, R.mul_vec(inv, root)


def make_windows(clips: Iterable[Clip], skeleton: Skeleton, root_forward: np.ndarray, fps: float,
                 length: int = TEST_WINDOW, step: int = TEST_STEP) -> WindowSet:
    """The framed windows of every clip, in the clips' order.

    Sign flips are removed along each whole clip first (the protocol's "quaternion continuity"), so
    windows start from the same signs the original would have.
    """
    if skeleton.up_axis != "y":
        raise LMMError(f"the benchmark expects a Y-up skeleton; this one is {skeleton.up_axis.upper()} up")
    rots, roots, names = [], [], []
    j = skeleton.num_joints
    for clip in clips:
        if clip.rotations.ndim != 3 or clip.rotations.shape[1:] != (j, 4) or clip.root.shape != (len(clip.rotations), 3):
            raise LMMError(f"{clip.name}: rotations {clip.rotations.shape} and root {clip.root.shape} do not fit "
                           f"a {j}-joint skeleton")
        r, p = cut(R.unroll(np.asarray(clip.rotations, dtype=float)), np.asarray(clip.root, dtype=float), length, step)
        if len(r):
            r, p = frame_windows(r, p, root_forward)
            rots.append(r)
            roots.append(p)
            names += [clip.name] * len(r)
    if not rots:
        return WindowSet(skeleton, np.zeros((0, length, j, 4)), np.zeros((0, length, 3)), (), fps)
    return WindowSet(skeleton, np.concatenate(rots), np.concatenate(roots), tuple(names), fps)
