"""Windows of the LAFAN1 protocol: how many, and how each is centred and turned."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import canonical
from lmm_core import rotations as R
from lmm_core.bench.harness import global_pose
from lmm_core.bench.windows import Clip, cut, frame_windows, make_windows, window_starts

UP = np.array([0.0, 1.0, 0.0])


@pytest.mark.parametrize("frames, count", [(64, 0), (65, 0), (66, 1), (105, 1), (106, 2), (4918, 122)])
def test_test_windows_65_every_40(frames, count):
    # The original loops `while i + 65 < T`: a window must leave at least one frame after it.
    starts = window_starts(frames, 65, 40)
    assert len(starts) == count
    assert np.all(starts == 40 * np.arange(count))


def test_training_windows_50_every_20():
    assert len(window_starts(3066, 50, 20)) == 151  # 0, 20, ..., 3000 (3000 + 50 < 3066)
    rot, root = cut(R.identity((100, 2)), np.arange(300.0).reshape(100, 3), 50, 20)
    assert rot.shape == (3, 50, 2, 4) and root.shape == (3, 50, 3)
    np.testing.assert_array_equal(root[1, 0], [60.0, 61.0, 62.0])  # window 1 starts at frame 20


def walking_clip(frames: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A canonical-body clip that walks off somewhere, turning, with random limbs."""
    rng = np.random.default_rng(seed)
    yaw = np.linspace(0.3, 2.5, frames)
    rot = R.from_scaled_axis(rng.normal(scale=0.3, size=(frames, canonical.NUM_JOINTS, 3)))
    rot[:, 0] = R.mul(R.from_axis_angle(UP, yaw), R.from_axis_angle(np.array([1.0, 0, 0]), 0.2))
    root = np.stack([np.linspace(3.0, 7.0, frames), 0.9 + 0.05 * np.sin(np.arange(frames)), np.linspace(-2.0, 1.0, frames)], -1)
    return rot, root


@pytest.mark.parametrize("forward", [np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])])
def test_windows_are_centred_and_face_plus_x_at_frame_9(forward):
    sk = canonical.canonical_skeleton()
    rot, root = walking_clip()
    w_rot, w_root = cut(rot, root, 65, 40)
    f_rot, f_root = frame_windows(w_rot, w_root, forward)
    # Mean root XZ over the whole window at the origin; heights untouched.
    np.testing.assert_allclose(f_root[..., [0, 2]].mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(f_root[..., 1], w_root[..., 1], atol=1e-12)
    # At frame 9 the root's forward axis, on the floor, points along +X.
    facing = R.mul_vec(f_rot[:, 9, 0], forward)
    facing[:, 1] = 0.0
    np.testing.assert_allclose(facing / np.linalg.norm(facing, axis=-1, keepdims=True), [[1.0, 0.0, 0.0]], atol=1e-12)
    # A rigid turn about Y: every joint keeps its height and its distances to the others.
    _, before = global_pose(sk, w_rot, w_root)
    _, after = global_pose(sk, f_rot, f_root)
    np.testing.assert_allclose(after[..., 1], before[..., 1], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(after - after[..., :1, :], axis=-1),
                               np.linalg.norm(before - before[..., :1, :], axis=-1), atol=1e-12)
    np.testing.assert_array_equal(f_rot[..., 1:, :], w_rot[..., 1:, :])  # only the root's rotation changes


def test_make_windows_removes_sign_flips_along_the_clip():
    sk = canonical.canonical_skeleton()
    rot, root = walking_clip(120)
    flipped = rot.copy()
    flipped[::3] *= -1  # the same rotations, signs flipping every few frames
    ws = make_windows([Clip("flippy", flipped, root)], sk, canonical.FORWARD, fps=30.0)
    assert ws.num_windows == 2 and ws.clip == ("flippy", "flippy")
    dots = np.sum(ws.rotations[:, 1:] * ws.rotations[:, :-1], axis=-1)
    assert np.all(dots > 0)
