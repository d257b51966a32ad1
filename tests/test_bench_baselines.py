"""The zero-velocity and interpolation baselines, on any mask of known frames."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import LMMError
from lmm_core import rotations as R
from lmm_core.bench.baselines import interpolation, protocol_slerp, zero_velocity


def protocol_window(n: int = 6, joints: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = 10 + n + 1
    rot = R.from_scaled_axis(rng.normal(scale=1.0, size=(t, joints, 3)))
    root = rng.normal(size=(t, 3))
    known = np.zeros(t, dtype=bool)
    known[:10] = known[-1] = True
    return rot, root, known


def test_interpolation_hits_keyframes_and_is_the_exact_slerp_at_the_midpoint():
    n = 5  # odd: frame 12 is half way between keyframes 9 and 15
    rot, root, known = protocol_window(n)
    out_rot, out_root = interpolation(rot, root, known)
    np.testing.assert_array_equal(out_rot[known], rot[known])
    np.testing.assert_array_equal(out_root[known], root[known])
    np.testing.assert_allclose(out_root[12], 0.5 * (root[9] + root[15]), atol=1e-12)
    mid = R.slerp(rot[9], rot[15], np.full(rot.shape[1], 0.5))
    np.testing.assert_allclose(out_rot[12] * np.sign(np.sum(out_rot[12] * mid, -1, keepdims=True)), mid, atol=1e-12)
    # A third of the way: weight (t - 9) / (15 - 9).
    third = R.slerp(rot[9], rot[15], np.full(rot.shape[1], 2 / 6))
    big = R.angle(R.inv_mul(rot[9], rot[15])) > 0.3  # not in the original's linear blend zone
    np.testing.assert_allclose(np.abs(np.sum(out_rot[11][big] * third[big], -1)), 1.0, atol=1e-12)


def test_protocol_slerp_blends_linearly_only_for_close_rotations():
    axis = np.array([0.0, 0.0, 1.0])
    a = R.identity()
    far = R.from_axis_angle(axis, 1.0)
    np.testing.assert_allclose(protocol_slerp(a, far, 0.25), R.from_axis_angle(axis, 0.25), atol=1e-12)
    near = R.from_axis_angle(axis, 0.2)  # 1 - cos(0.1) < 0.01: normalised lerp, as the original
    q = protocol_slerp(a, near, 0.25)
    assert 0 < abs(R.angle(q) - 0.05) < 1e-4
    # The short way round: -near is the same rotation.
    np.testing.assert_allclose(protocol_slerp(a, -near, 0.25), q, atol=1e-12)


def test_zero_velocity_repeats_the_last_context_frame():
    rot, root, known = protocol_window()
    out_rot, out_root = zero_velocity(rot, root, known)
    np.testing.assert_array_equal(out_rot[10:-1], np.broadcast_to(rot[9], out_rot[10:-1].shape))
    np.testing.assert_array_equal(out_root[10:-1], np.broadcast_to(root[9], out_root[10:-1].shape))
    np.testing.assert_array_equal(out_rot[known], rot[known])


def test_baselines_fill_every_gap_of_a_many_key_mask():
    rot, root, _ = protocol_window(n=9)
    known = np.zeros(len(rot), dtype=bool)
    known[[2, 6, 12]] = True  # gaps before, between and after the keys
    out_rot, out_root = interpolation(rot, root, known)
    np.testing.assert_allclose(out_root[4], 0.5 * (root[2] + root[6]), atol=1e-12)
    np.testing.assert_allclose(out_root[8], root[6] + (2 / 6) * (root[12] - root[6]), atol=1e-12)
    np.testing.assert_array_equal(out_root[:2], [root[2], root[2]])  # before the first key: hold it
    np.testing.assert_array_equal(out_root[13:], np.broadcast_to(root[12], out_root[13:].shape))
    z_rot, _ = zero_velocity(rot, root, known)
    np.testing.assert_array_equal(z_rot[7:12], np.broadcast_to(rot[6], z_rot[7:12].shape))


def test_bad_inputs_are_named():
    rot, root, known = protocol_window()
    with pytest.raises(LMMError, match="at least one known"):
        interpolation(rot, root, np.zeros_like(known))
    with pytest.raises(LMMError, match=r"root \(T, 3\)"):
        zero_velocity(rot, root[:-1], known)
