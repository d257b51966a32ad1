"""Placing a motion where a character stands (``lmm_core.placement``) and guessing a BVH file's units from its
legs (``lmm_core.io.bvh.guess_motion_units``), on real motion capture."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmm_core import LMMError, read_bvh
from lmm_core import placement
from lmm_core.bonemap import bone_map_for
from lmm_core.io.bvh import leg_length
from lmm_core.skeleton import UNITS_TO_METRES, guess_units

WALK = "lafan1/walk4_subject1.bvh.xz"
BANDAI_WALK = "bandai/dataset-1/dataset-1_walk_normal_001.bvh.xz"


def _clip(shared_data: Path, name: str, frames: int = 120):
    path = shared_data / name
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    motion = read_bvh(path).slice(0, frames)
    joints = placement.stance_joints(motion.skeleton, bone_map_for(motion.skeleton, pose=motion.global_positions()[0]))
    return motion, joints


def _yaw(angle_deg: float) -> np.ndarray:
    """The horizontal direction (Y up) ``angle_deg`` degrees about +Y from +Z."""
    a = np.radians(angle_deg)
    return np.array([np.sin(a), 0.0, np.cos(a)])


@pytest.mark.parametrize("clip, sign", [(WALK, 1), ("bandai/dataset-1/dataset-1_walk-back_active_001.bvh.xz", -1)])
def test_a_walk_faces_where_it_goes(shared_data, clip, sign):
    # The facing read from the hips points along a walk, and against a walk backwards.
    motion, joints = _clip(shared_data, clip, 2000)
    pos = motion.global_positions()
    forward = np.array([placement.stance(p, joints, 1)[1] for p in pos[:-30]])
    step = (pos[30:, joints.pelvis] - pos[:-30, joints.pelvis]) * [1, 0, 1]  # over one second (30 fps)
    length = np.linalg.norm(step, axis=1)
    moving = length > 40.0  # centimetres a second: walking, not standing
    assert moving.sum() > 100
    cosine = (forward[moving] * step[moving]).sum(axis=1) / length[moving]
    assert sign * np.median(cosine) > 0.95


@pytest.mark.parametrize("clip", [WALK, BANDAI_WALK])
@pytest.mark.parametrize("angle", [90.0, -135.0])
def test_placed_motion_starts_where_asked_and_moves_rigidly(shared_data, clip, angle):
    motion, joints = _clip(shared_data, clip)
    ground, forward = np.array([300.0, 55.0, -200.0]), _yaw(angle)
    placed = placement.place(motion, ground, forward, joints)
    here, facing = placement.stance(placed.global_positions()[0], joints, 1)
    np.testing.assert_allclose(here[[0, 2]], ground[[0, 2]], atol=1e-6)
    np.testing.assert_allclose(facing, forward, atol=1e-9)
    # Every joint on every frame: the original turned about Y and moved over the ground, heights kept.
    before, after = motion.global_positions(end_sites=True), placed.global_positions(end_sites=True)
    np.testing.assert_allclose(after[..., 1], before[..., 1], atol=1e-6)
    _, was = placement.stance(before[0], joints, 1)
    turn = np.arctan2(np.cross(was, forward)[1], was @ forward)
    c, s = np.cos(turn), np.sin(turn)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    moved = before @ rot.T
    shift = (after - moved).reshape(-1, 3)
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-6)
    assert abs(np.degrees(turn)) > 10  # the clips do not already face that way: the test can fail


def test_a_rig_with_a_root_bone_above_the_pelvis_is_placed_by_its_pelvis(shared_data):
    motion, joints = _clip(shared_data, BANDAI_WALK)
    assert joints.pelvis != 0 and motion.translations is not None  # Bandai's joint_Root
    placed = placement.place(motion, np.array([-50.0, 0.0, 400.0]), _yaw(180.0), joints)
    here, facing = placement.stance(placed.global_positions()[0], joints, 1)
    np.testing.assert_allclose(here[[0, 2]], [-50.0, 400.0], atol=1e-6)
    np.testing.assert_allclose(facing, _yaw(180.0), atol=1e-9)
    np.testing.assert_allclose(placed.translations[:, 0], placed.root_positions)


def test_placing_a_later_frame(shared_data):
    motion, joints = _clip(shared_data, WALK)
    placed = placement.place(motion, np.zeros(3), _yaw(0.0), joints, frame=60)
    here, facing = placement.stance(placed.global_positions()[60], joints, 1)
    np.testing.assert_allclose(here, 0.0, atol=1e-6)
    np.testing.assert_allclose(facing, _yaw(0.0), atol=1e-9)


def test_bad_placements_are_clear_errors(shared_data):
    motion, joints = _clip(shared_data, WALK)
    with pytest.raises(LMMError, match="vertical or zero"):
        placement.place(motion, np.zeros(3), np.array([0.0, 1.0, 0.0]), joints)
    with pytest.raises(LMMError, match="outside the motion"):
        placement.place(motion, np.zeros(3), _yaw(0.0), joints, frame=motion.num_frames)
    stacked = motion.global_positions()[0].copy()
    for sideways in (0.0, 0.5):  # one hip above the other, exactly and 3 degrees off (float noise is no facing)
        stacked[joints.left] = stacked[joints.right] + [sideways, 10.0, 0.0]
        with pytest.raises(LMMError, match="one above the other"):
            placement.stance(stacked, joints, 1)
    stacked[joints.left] = stacked[joints.right] + [2.0, 10.0, 0.0]  # 11 degrees off: a facing (left +X: +Z)
    np.testing.assert_allclose(placement.stance(stacked, joints, 1)[1], [0.0, 0.0, 1.0], atol=1e-12)


# ---- units from the legs ----------------------------------------------------------------------------------


def test_every_lafan1_clip_reads_in_centimetres_with_a_human_leg(shared_data):
    # LAFAN1's floor-heavy clips (ground, fallAndGetUp) measure 34-77 cm tall: standing height guessed
    # inches or CMU units for 7 of them (a 2.2 m or 4.9 m leg). The leg is the same length in any pose.
    files = sorted((shared_data / "lafan1").glob("*.bvh.xz"))
    if not files:
        pytest.skip("no LAFAN1 clips")
    floor_heavy = 0
    for path in files:
        motion = read_bvh(path)
        assert motion.skeleton.units == "cm", path.name
        leg_m = leg_length(motion) * UNITS_TO_METRES["cm"]
        assert 0.75 < leg_m < 0.95, (path.name, leg_m)
        floor_heavy += guess_units(motion.height()) != "cm"
    assert floor_heavy >= 5  # the height alone would still get these wrong: the test is not vacuous


@pytest.mark.parametrize("name, units", [
    ("bandai/dataset-1/dataset-1_walk_normal_001.bvh.xz", "cm"),
    ("bandai/dataset-1/dataset-1_dash_tired_001.bvh.xz", "cm"),
    ("bandai/dataset-2/dataset-2_raise-up-both-hands_normal_009.bvh.xz", "cm"),
    ("cmu/131_01.bvh.xz", "cmu"),
    ("cmu/131_03.bvh.xz", "cmu"),
    ("cmu_iclone/001_01.bvh.xz", "cm"),
    ("reactidle/genuine/010_genuine.bvh.xz", "m"),
])
def test_other_datasets_keep_their_units(shared_data, name, units):
    path = shared_data / name
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    motion = read_bvh(path)
    assert motion.skeleton.units == units
    assert 0.6 < leg_length(motion) * UNITS_TO_METRES[units] < 1.1  # Character Creator: 0.97 m


def test_a_skeleton_without_legs_falls_back_on_its_height(tmp_path):
    # Two joints, 15 units tall: no legs to measure, so the height decides.
    path = tmp_path / "stick.bvh"
    path.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation "
                    "Yrotation Xrotation\n JOINT Spine\n {\n  OFFSET 0 10 0\n  CHANNELS 3 Xrotation Yrotation "
                    "Zrotation\n  End Site\n  {\n   OFFSET 0 5 0\n  }\n }\n}\nMOTION\nFrames: 1\nFrame Time: 0.0333333\n"
                    "0 0 0 0 0 0 0 0 0\n")
    motion = read_bvh(path)
    assert leg_length(motion) is None
    assert motion.height() == pytest.approx(15.0) and motion.skeleton.units == guess_units(15.0) == "cmu"
