"""Motion operations: resampling by slerp, scaling, slicing, height; validation of shapes."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import LMMError, Motion, read_bvh
from lmm_core import rotations as R


@pytest.fixture
def cmu(test_data):
    return read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")


def test_halving_the_rate_keeps_every_other_frame(cmu):
    half = cmu.resampled(60)
    assert half.fps == 60 and half.num_frames == 180
    np.testing.assert_allclose(half.global_positions(), cmu.global_positions()[::2], atol=1e-9)
    assert abs(half.duration - cmu.duration) < 1e-9


def test_resampling_interpolates_with_slerp_not_frame_dropping(cmu):
    # 120 -> 80 fps: new frame 1 sits at old frame 1.5, halfway between frames 1 and 2.
    r = cmu.resampled(80)
    assert r.num_frames == int(359 * 80 / 120) + 1
    a, b = R.unroll(cmu.rotations)[1], R.unroll(cmu.rotations)[2]
    expected = R.slerp(a, b, np.full(a.shape[:-1], 0.5))
    np.testing.assert_allclose(np.abs(np.sum(r.rotations[1] * expected, axis=-1)), 1.0, atol=1e-12)
    np.testing.assert_allclose(r.root_positions[1], cmu.root_positions[1:3].mean(axis=0), atol=1e-12)
    # Not equal to either neighbour, so no frame was simply picked.
    assert np.abs(r.root_positions[1] - cmu.root_positions[1]).max() > 0
    assert np.abs(r.root_positions[1] - cmu.root_positions[2]).max() > 0


def test_upsampling_keeps_the_original_frames(test_data):
    m = read_bvh(test_data / "reactidle_001_acted_excerpt.bvh.xz").slice(0, 25)
    up = m.resampled(48)
    assert up.num_frames == 49
    np.testing.assert_allclose(up.global_positions()[::2], m.global_positions(), atol=1e-9)


def test_scaled_scales_positions_and_height(cmu):
    s = cmu.scaled(0.5)
    np.testing.assert_allclose(s.global_positions(), cmu.global_positions() * 0.5, atol=1e-9)
    assert abs(s.height() - 0.5 * cmu.height()) < 1e-9


def test_shape_validation(cmu):
    with pytest.raises(LMMError, match="rotations must be"):
        Motion(cmu.skeleton, np.zeros((3, 5, 4)), np.zeros((3, 3)), 30)
    with pytest.raises(LMMError, match="at least one frame"):
        Motion(cmu.skeleton, np.zeros((0, 31, 4)), np.zeros((0, 3)), 30)
    with pytest.raises(LMMError, match="fps"):
        Motion(cmu.skeleton, cmu.rotations, cmu.root_positions, 0)
    with pytest.raises(LMMError, match="fps"):
        cmu.resampled(-1)


def test_rest_from_a_frame_keeps_every_joint_where_it_was(cmu):
    """Re-posing the rest moves no joint on any frame (end sites too) and makes that frame's pose the rest."""
    moved = cmu.slice(0, 40)
    r = moved.rest_from(12)
    assert np.allclose(r.global_positions(end_sites=True), moved.global_positions(end_sites=True), atol=1e-9)
    g_old, _ = moved.fk()
    g_new, _ = r.fk()
    # World turns differ by the rest's own turn, a constant per joint: the same on every frame.
    rel = R.inv_mul(g_old, g_new)
    assert np.allclose(np.abs(np.sum(rel * rel[12:13], axis=-1)), 1.0, atol=1e-9)
    assert np.allclose(np.abs(r.rotations[12, 1:, 0]), 1.0, atol=1e-9)  # the frame itself: no turn under the root
    assert np.allclose(r.rotations[:, 0], moved.rotations[:, 0]) and np.allclose(r.root_positions, moved.root_positions)
    rest = r.skeleton.rest_positions() - r.skeleton.offsets[0]
    pose = moved.global_positions()[12] - moved.global_positions()[12, 0]
    assert np.allclose(R.mul_vec(moved.rotations[12, 0], rest), pose, atol=1e-9)


def test_rest_pose_of_the_wrong_shape_or_frame_is_refused(cmu):
    with pytest.raises(LMMError, match="one turn per joint"):
        cmu.with_rest(np.tile([1.0, 0, 0, 0], (3, 1)))
    with pytest.raises(LMMError, match="outside the motion"):
        cmu.rest_from(cmu.num_frames)


def test_any_rest_turns_keep_positions_with_a_turned_root_and_animated_translations(cmu):
    """Random rest turns for every joint, the root's too, on a clip given animated joint translations: no joint
    moves on any frame, and turning back by the inverse gives the clip again."""
    rng = np.random.default_rng(3)
    moved = cmu.slice(0, 20)
    trans = np.broadcast_to(moved.skeleton.offsets, (20, moved.skeleton.num_joints, 3)).copy()
    trans += rng.normal(scale=0.5, size=trans.shape)
    moved = Motion(moved.skeleton, moved.rotations, moved.root_positions, moved.fps, translations=trans)
    turns = R.normalize(rng.normal(size=(moved.skeleton.num_joints, 4)))
    r = moved.with_rest(turns)
    assert np.allclose(r.global_positions(end_sites=True), moved.global_positions(end_sites=True), atol=1e-8)
    back = r.with_rest(R.conj(turns))
    assert np.allclose(np.abs(np.sum(back.rotations * moved.rotations, axis=-1)), 1.0, atol=1e-9)
    assert np.allclose(back.translations, moved.translations, atol=1e-9)
    assert np.allclose(back.skeleton.offsets, moved.skeleton.offsets, atol=1e-9)


def test_a_rest_turn_that_is_no_rotation_is_refused_by_joint(cmu):
    turns = np.tile([1.0, 0, 0, 0], (cmu.skeleton.num_joints, 1))
    turns[3] = 0.0
    turns[5, 1] = np.nan
    with pytest.raises(LMMError, match=f"{cmu.skeleton.names[3]}, {cmu.skeleton.names[5]} is not a rotation"):
        cmu.with_rest(turns)
    with pytest.raises(LMMError, match="outside the motion's frames"):
        cmu.rest_from(-1)
