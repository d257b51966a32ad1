"""Generation's plan: recorded segments placed end to start, transitions left to the network (numpy only)."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import LMMError
from lmm_core import rotations as R
from lmm_core.model import segments
from lmm_core.model.features import heading

Y = np.array([0.0, 1.0, 0.0])


def walk_bank(lengths=(90, 70), turn=0.0) -> dict[str, np.ndarray]:
    """Synthetic walks at 1.2 m/s along each segment's own heading, a 30-frame gait cycle in the knees
    (joints 4 and 5 swing in antiphase), segment ``i`` facing ``0.7 * i`` radians, turning ``turn`` rad/frame."""
    rots, roots = [], []
    for i, n in enumerate(lengths):
        t = np.arange(n)
        yaw = 0.7 * i + turn * t
        rot = np.broadcast_to(R.identity(), (n, 22, 4)).copy()
        rot[:, 0] = R.from_axis_angle(Y, yaw)
        phase = 2 * np.pi * (t + 7 * i) / 30
        rot[:, 4] = R.from_axis_angle(np.array([1.0, 0, 0]), 0.6 * np.sin(phase))
        rot[:, 5] = R.from_axis_angle(np.array([1.0, 0, 0]), -0.6 * np.sin(phase))
        step = 1.2 / 30 * np.stack([np.sin(yaw), np.zeros(n), np.cos(yaw)], axis=1)
        roots.append(np.cumsum(step, axis=0) + [3.0 * i, 0.9, -2.0])
        rots.append(rot)
    k = len(lengths)
    return {"bank_rotations": np.concatenate(rots).astype(np.float16), "bank_root": np.concatenate(roots).astype(np.float16),
            "bank_contacts": np.zeros((sum(lengths), 4), dtype=bool), "bank_lengths": np.array(lengths, dtype=np.int32),
            "bank_action": np.ones(k, dtype=np.int16), "bank_style": np.ones(k, dtype=np.int16)}


def test_segments_carry_on_in_place_and_in_phase():
    bank = walk_bank()
    rot, root, con, known, first = segments.plan(bank, 300, 1, 1, seed=3, variation=1.0)
    assert first == 0 and len(root) >= 300 and rot.shape == (len(root), 22, 4) and con.shape == (len(root), 4)
    gaps = np.flatnonzero(np.diff(known.astype(int)) == -1) + 1  # first frame of each transition
    assert len(gaps) >= 2 and all(not known[g:g + segments.TRANSITION].any() and known[g + segments.TRANSITION] for g in gaps)
    # The first segment starts at the origin facing +Z.
    assert np.allclose(root[0, [0, 2]], 0.0, atol=1e-6) and abs(heading(rot[0, 0])) < 1e-3
    # Across each transition the walk goes on at its own speed and heading: the pelvis covers what the
    # segment covers in TRANSITION + 1 frames, and faces the way it faced.
    for g in gaps:
        a, b = g - 1, g + segments.TRANSITION
        assert np.linalg.norm(root[b, [0, 2]] - root[a, [0, 2]]) == pytest.approx(1.2 / 30 * (b - a), rel=0.02)
        assert abs(np.angle(np.exp(1j * (heading(rot[b, 0]) - heading(rot[a, 0]))))) < 1e-2
        # In phase: the knee after the transition is where the gait cycle puts it b - a frames on.
        knee = 2 * np.arctan2(rot[[a - 1, a, b], 4, 1], rot[[a - 1, a, b], 4, 0])  # angle about +X
        cycle = 0.6 * np.sin(2 * np.pi * np.arange(30) / 30)  # every segment's knee, frame by frame
        j = np.argmin(np.abs(cycle - knee[1]) + np.abs(np.roll(cycle, 1) - knee[0]))  # frame a's place in it
        assert knee[2] == pytest.approx(cycle[(j + b - a) % 30], abs=0.01)
    # Known frames are the bank's own local joint rotations, untouched.
    walk = bank["bank_rotations"].astype(np.float64)
    kn = rot[known][:, 4]
    d = np.abs(np.einsum("nc,mc->nm", kn, R.normalize(walk[:, 4]))).max(axis=1)
    assert d.min() > 1 - 1e-6


def test_variation_zero_repeats_the_seeds_segment_and_seeds_differ():
    bank = walk_bank()
    a = segments.plan(bank, 240, 1, 1, seed=0, variation=0.0)
    b = segments.plan(bank, 240, 1, 1, seed=5, variation=0.0)
    assert not np.allclose(a[1][:100], b[1][:100])
    # At variation 0 every played frame comes from one segment: all face that segment's way (+ the turn to
    # align it), so the heading never jumps between segments' 0.7 rad apart directions.
    assert len(np.unique(np.round(np.diff(np.unwrap(heading(a[0][a[3], 0]))), 3))) == 1


def test_start_motion_is_kept_and_the_rest_counted_after_it():
    bank = walk_bank()
    start_rot = np.broadcast_to(R.identity(), (12, 22, 4)).copy()
    start_root = np.zeros((12, 3)) + [5.0, 0.9, 5.0]
    rot, root, con, known, first = segments.plan(bank, 60, 1, 1, seed=0, variation=0.5, start=(start_rot, start_root))
    assert first == 12 and known[:12].all() and not known[12:12 + segments.TRANSITION].any()
    np.testing.assert_array_equal(root[:12], start_root)
    assert len(root) >= 72


def test_old_fixed_length_banks_and_short_segments_still_plan():
    """Banks written before segments could differ in length (N, S, ...) with 16-frame snippets: too short
    to match in, they are placed by their ends' velocities."""
    flat = walk_bank(lengths=(16, 16))
    old = {"bank_rotations": flat["bank_rotations"].reshape(2, 16, 22, 4), "bank_root": flat["bank_root"].reshape(2, 16, 3),
           "bank_action": flat["bank_action"], "bank_style": flat["bank_style"]}
    rot, root, con, known, first = segments.plan(old, 100, 1, 0, seed=1, variation=0.5)
    assert len(root) >= 100 and not con.any()
    assert np.isfinite(root).all() and np.allclose(np.linalg.norm(rot, axis=-1), 1.0, atol=1e-3)


def test_plan_bad_inputs():
    with pytest.raises(LMMError, match="no bank of motion segments"):
        segments.plan({}, 30, 1, 0, 0, 0.5)
    with pytest.raises(LMMError, match="holds no motion of action #2"):
        segments.plan(walk_bank(), 30, 2, 0, 0, 0.5)
    with pytest.raises(LMMError, match="start motion has no frames"):
        segments.plan(walk_bank(), 30, 1, 0, 0, 0.5, start=(np.zeros((0, 22, 4)), np.zeros((0, 3))))


def test_a_drawn_segment_is_the_one_that_joins_best(monkeypatch):
    # Two segments of one action: a walk, and a crouch held still (knees at 1.2 rad, far from any walking
    # frame). Drawing both at every join, a clip that starts walking walks on and one that starts
    # crouching stays crouched; drawing one at random, the two mix.
    walk = walk_bank(lengths=(90,))
    crouch = walk_bank(lengths=(90,))
    bent = R.from_axis_angle(np.array([1.0, 0, 0]), 1.2)
    crouch["bank_rotations"][:, 4] = crouch["bank_rotations"][:, 5] = bent
    bank = {k: np.concatenate([walk[k], crouch[k]]) for k in walk}
    assert segments.CANDIDATES >= 2

    def kinds(plan):
        rot, known = plan[0], plan[3]
        crouched = np.abs(R.angle(R.inv_mul(rot[known, 4], np.broadcast_to(bent, rot[known, 4].shape)))) < 1e-3
        return set(crouched.tolist())

    for seed in range(6):
        assert len(kinds(segments.plan(bank, 400, 1, 1, seed=seed, variation=1.0))) == 1
    monkeypatch.setattr(segments, "CANDIDATES", 1)
    assert any(len(kinds(segments.plan(bank, 400, 1, 1, seed=seed, variation=1.0))) == 2 for seed in range(6))
