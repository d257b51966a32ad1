"""Forward kinematics on hand-built chains whose answers are worked out by hand."""
from __future__ import annotations

import numpy as np

from lmm_core import kinematics
from lmm_core import rotations as R
from lmm_core.motion import Motion
from lmm_core.skeleton import Skeleton


def arm() -> Skeleton:
    # root at (0, 1, 0); shoulder 0.2 along +x; elbow 0.3 further; wrist 0.25 further.
    return Skeleton(
        names=("root", "shoulder", "elbow", "wrist"),
        parents=np.array([-1, 0, 1, 2]),
        offsets=np.array([[0, 1, 0], [0.2, 0, 0], [0.3, 0, 0], [0.25, 0, 0]]),
        units="m",
    )


def test_fk_bends_the_elbow_by_hand():
    sk = arm()
    rot = R.identity((1, 4))
    rot[0, 2] = R.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.pi / 2)  # elbow bends up
    motion = Motion(sk, rot, np.array([[0.0, 1.0, 0.0]]), fps=30)
    pos = motion.global_positions()[0]
    np.testing.assert_allclose(pos, [[0, 1, 0], [0.2, 1, 0], [0.5, 1, 0], [0.5, 1.25, 0]], atol=1e-12)


def test_fk_root_rotation_carries_the_chain():
    sk = arm()
    rot = R.identity((1, 4))
    rot[0, 0] = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.pi)  # face the other way
    pos = Motion(sk, rot, np.array([[1.0, 0.0, 2.0]]), fps=30).global_positions()[0]
    np.testing.assert_allclose(pos[-1], [1.0 - 0.75, 0.0, 2.0], atol=1e-12)


def test_global_to_local_inverts_fk():
    rng = np.random.default_rng(1)
    parents = np.array([-1, 0, 1, 0, 3, 4])
    rot = R.normalize(rng.normal(size=(10, 6, 4)))
    g_rot, _ = kinematics.fk(rot, rng.normal(size=(10, 6, 3)), parents)
    back = kinematics.global_to_local(g_rot, parents)
    np.testing.assert_allclose(np.abs(np.sum(back * rot, axis=-1)), 1.0, atol=1e-12)


def test_end_sites_follow_their_joint():
    sk = Skeleton(("a", "b"), np.array([-1, 0]), np.array([[0, 0, 0], [0, 1, 0]]), end_sites={1: np.array([0, 0.5, 0])})
    rot = R.identity((1, 2))
    rot[0, 1] = R.from_axis_angle(np.array([1.0, 0.0, 0.0]), np.pi / 2)  # tip swings to +z
    pos = Motion(sk, rot, np.zeros((1, 3)), fps=24).global_positions(end_sites=True)[0]
    np.testing.assert_allclose(pos[2], [0, 1, 0.5], atol=1e-12)
