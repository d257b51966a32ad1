"""``lmm capture --pin-feet``: a foot held still while it is down, and at one orientation while it stands flat
(``capture.stance``), on real clips whose feet are made to turn as a detector's noisy foot keypoints turn them."""
from __future__ import annotations

import numpy as np
from capture_fixtures import HOP, IDLE, source
from lmm_core import canonical as cn
from lmm_core import rotations as R
from lmm_core.capture.stance import ease_frames, flat, flat_feet_held, pin_planted
from lmm_core.feet import canonical_legs, drift, foot_contacts, pin_feet
from lmm_core.motion import Motion

FEET = [cn.JOINT_INDEX[n] for n in cn.CONTACT_JOINTS]


def _wobbled(motion: Motion, degrees: float = 12.0, period_s: float = 1.3) -> Motion:
    """The motion with each foot turning back and forth about the vertical (about its ankle), as the solved
    foot of a detector's heel and toe keypoints does while it stands."""
    g_rot, _ = motion.fk()
    rotations = motion.rotations.copy()
    t = np.arange(motion.num_frames) / motion.fps
    for side, leg in enumerate(canonical_legs(motion)):
        yaw = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.radians(degrees) * np.sin(2 * np.pi * t / period_s + side))
        parent = motion.skeleton.parents[leg.ankle]
        rotations[:, leg.ankle] = R.inv_mul(g_rot[:, parent], R.mul(yaw, g_rot[:, leg.ankle]))
    return Motion(motion.skeleton, rotations, motion.root_positions.copy(), motion.fps, dict(motion.labels))


def _slide_cm(motion: Motion, contacts: np.ndarray) -> np.ndarray:
    """Per planted foot joint and frame, how far it is from where it landed, cm."""
    return 100 * np.concatenate(drift(motion.global_positions()[:, FEET], contacts, 1.0))


def test_a_flat_foot_is_held_at_heel_and_ball_together():
    # A performer standing (ReActIdle, 10 s): both feet flat all along, each turning through 24 degrees.
    motion = _wobbled(source(str(IDLE), fps=30.0))
    contacts = foot_contacts(motion, rule="lock", floor=None)
    assert contacts.all(axis=0).all()
    # Holding one point (the heel or the ball, whichever moves less) leaves the other swinging with the foot.
    one_point = _slide_cm(pin_feet(motion, contacts, floor=None), contacts)
    held = _slide_cm(pin_planted(motion), contacts)
    assert np.percentile(one_point, 95) > 3.0
    assert np.median(held) < 0.05 and np.percentile(held, 95) < 0.3, (np.median(held), np.percentile(held, 95))


def test_the_foot_turns_as_it_did_where_it_does_not_stand_flat():
    # A hop (CMU): the feet leave the ground, land, roll. Flat stances are held at one orientation; frames
    # further than the easing from every flat stance keep the foot's own.
    motion = source(str(HOP), fps=30.0)
    contacts = foot_contacts(motion, rule="lock", floor=None)
    held = flat_feet_held(motion, contacts)
    g_own, _ = motion.fk()
    g_held, _ = held.fk()
    ease = ease_frames(motion.fps)
    for side, leg in enumerate(canonical_legs(motion)):
        standing = flat(contacts[:, side], contacts[:, 2 + side], motion.fps)
        assert standing.any() and not standing.all()
        near = np.convolve(standing.astype(float), np.ones(2 * ease + 1), mode="same") > 0
        turn = np.degrees(R.angle(R.inv_mul(g_own[:, leg.ankle], g_held[:, leg.ankle])))
        assert np.all(turn[~near] < 1e-6)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], standing.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2]):  # one orientation per stance
            assert np.degrees(R.angle(R.inv_mul(g_held[a, leg.ankle], g_held[a:b, leg.ankle]))).max() < 1e-4
    others = [j for j in range(motion.skeleton.num_joints) if j not in {leg.ankle for leg in canonical_legs(motion)}]
    np.testing.assert_array_equal(held.rotations[:, others], motion.rotations[:, others])


def test_a_flat_stance_broken_for_a_moment_is_one_stance():
    heel = np.array([0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0], dtype=bool)
    ball = np.array([0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0], dtype=bool)
    # 30 fps: the heel alone down for 2 frames (0.07 s) between two flat stretches: still standing flat. The
    # foot off the ground between frames 9 and 11 is a step, and a flat stretch does not grow past its ends.
    np.testing.assert_array_equal(flat(heel, ball, 30.0), [0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0])
    # at 10 fps two frames are 0.2 s, longer than a moment
    np.testing.assert_array_equal(flat(heel, ball, 10.0), heel & ball)
