"""The canonical body: SMPL topology, metres, Y up, facing +Z, a symmetric T-pose standing on y = 0."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import canonical as C
from lmm_core.motion import Motion
from lmm_core.skeleton import Skeleton


@pytest.fixture(scope="module")
def body() -> Skeleton:
    return C.canonical_skeleton()


def test_topology_is_smpls_first_22_joints(body):
    # SMPL's kintree_table for joints 0..21.
    assert body.parents.tolist() == [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19]
    assert body.num_joints == C.NUM_JOINTS == 22
    assert body.names[10] == "left_toe" and body.names[15] == "head" and body.names[20] == "left_wrist"
    assert body.units == "m" and body.up_axis == "y"
    # Named chains agree with the tree: each joint's parent is the previous one.
    for chain in list(C.LEG_CHAINS.values()) + list(C.ARM_CHAINS.values()) + [C.SPINE_CHAIN]:
        idx = [C.JOINT_INDEX[n] for n in chain]
        assert all(body.parents[b] == a for a, b in zip(idx, idx[1:])), chain


def test_axes_are_smpls():
    np.testing.assert_array_equal(C.UP, [0, 1, 0])
    np.testing.assert_array_equal(C.FORWARD, [0, 0, 1])
    np.testing.assert_array_equal(np.cross(C.UP, C.FORWARD), C.LEFT)  # right-handed: left = up x forward


def test_rest_pose_stands_on_the_floor_facing_forward(body):
    pos = body.rest_positions()
    i = C.JOINT_INDEX
    ends = {j: pos[j] + off for j, off in body.end_sites.items()}
    # Toe tips touch the floor, the toe joints sit TOE_HEIGHT above it, nothing is below it.
    assert ends[i["left_toe"]][1] == pytest.approx(0.0, abs=1e-12)
    assert pos[i["left_toe"], 1] == pytest.approx(C.TOE_HEIGHT) == pytest.approx(0.02)
    assert min(p[1] for p in list(pos) + list(ends.values())) == pytest.approx(0.0, abs=1e-12)
    assert pos[i["left_ankle"], 1] == pytest.approx(C.ANKLE_HEIGHT) == pytest.approx(0.07195)
    assert pos[0, 1] == pytest.approx(C.PELVIS_HEIGHT) == pytest.approx(0.94)
    # Height: floor to the top of the head, about SMPL's neutral mean (1.71 m).
    assert body.height() == pytest.approx(C.HEIGHT) == pytest.approx(1.706, abs=1e-3)
    # Facing +Z: toes ahead of ankles. Left is +X.
    assert pos[i["left_toe"], 2] - pos[i["left_ankle"], 2] == pytest.approx(0.1213)
    for a, b in C.SIDE_PAIRS:
        assert pos[i[a], 0] > 0.05 and pos[i[b], 0] < -0.05, a


def test_t_pose_arms_out_level(body):
    pos = body.rest_positions()
    i = C.JOINT_INDEX
    for side, sign in (("left", 1), ("right", -1)):
        shoulder, elbow, wrist = (pos[i[f"{side}_{n}"]] for n in ("shoulder", "elbow", "wrist"))
        arm = wrist - shoulder
        # Straight out sideways: within 6 degrees of +-X, wrist within 1 cm of shoulder height.
        assert sign * arm[0] / np.linalg.norm(arm) > np.cos(np.radians(6))
        assert abs(wrist[1] - shoulder[1]) < 0.01
        assert wrist[0] * sign == pytest.approx(0.683, abs=1e-3)


def test_proportions_are_smpls_mean_shape():
    off = C.REST_OFFSETS
    i = C.JOINT_INDEX
    length = lambda n: float(np.linalg.norm(off[i[n]]))  # noqa: E731
    assert length("left_knee") == pytest.approx(0.3808, abs=1e-3)   # thigh
    assert length("left_ankle") == pytest.approx(0.4007, abs=1e-3)  # shin
    assert length("left_elbow") == pytest.approx(0.2581, abs=1e-3)  # upper arm
    assert length("left_wrist") == pytest.approx(0.2524, abs=1e-3)  # forearm
    assert C.LEG_LENGTH == pytest.approx(length("left_knee") + length("left_ankle"))
    assert not off.flags.writeable


def test_body_is_mirror_symmetric(body):
    off = body.offsets
    flip = np.array([-1.0, 1.0, 1.0])
    mirrored = off[list(C.MIRROR_INDEX)] * flip
    np.testing.assert_allclose(mirrored, off, atol=1e-12)
    for name in C.CENTRE_JOINTS:
        assert off[C.JOINT_INDEX[name], 0] == 0.0
    # MIRROR_INDEX swaps each pair and is its own inverse.
    assert [C.MIRROR_INDEX[k] for k in C.MIRROR_INDEX] == list(range(22))
    assert C.MIRROR_INDEX[C.JOINT_INDEX["left_elbow"]] == C.JOINT_INDEX["right_elbow"]


def test_pairs_end_sites_and_groups(body):
    names = body.names
    assert [(names[a], names[b]) for a, b in body.pairs] == list(C.SIDE_PAIRS)
    assert {names[j] for j in body.end_sites} == {"head", "left_wrist", "right_wrist", "left_toe", "right_toe"}
    assert set(C.CONTACT_JOINTS) == {"left_ankle", "right_ankle", "left_toe", "right_toe"}
    # Every joint is required, mergeable or optional, exactly once.
    groups = C.REQUIRED_JOINTS + C.MERGEABLE_JOINTS + C.OPTIONAL_JOINTS
    assert sorted(groups) == sorted(C.JOINT_NAMES)


def test_fk_of_identity_pose_is_the_rest_pose(body):
    rot = np.zeros((2, 22, 4))
    rot[..., 0] = 1.0
    motion = Motion(body, rot, np.tile(body.offsets[0], (2, 1)), fps=30)
    np.testing.assert_allclose(motion.global_positions()[1], C.rest_positions(), atol=1e-12)
    assert motion.height() == pytest.approx(C.HEIGHT)
