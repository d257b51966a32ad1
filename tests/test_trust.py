"""The key check (``model/trust.py``) and the clean-up's limits widened to the keys, on real capture."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core import rotations as R
from lmm_core.canonical import JOINT_INDEX
from lmm_core.cleanup.limits import HYPEREXTENSION, JointLimits
from lmm_core.model import runtime, tasks
from lmm_core.model.trust import OUTLIER_Z, check_frames, trust, trust_parts, unusual


def every(spacing: int, length: int) -> np.ndarray:
    known = np.zeros((length, 22), dtype=bool)
    known[::spacing] = True
    known[-1] = True
    return known


def test_check_frames_hide_every_other_isolated_inner_key():
    assert check_frames(every(8, 41)).tolist() == [8, 24]  # inner keys 8, 16, 24, 32
    assert check_frames(every(8, 17)).tolist() == [8]
    assert check_frames(every(30, 31)).tolist() == []  # two keys: nothing to check against
    context = np.zeros((40, 22), dtype=bool)
    context[:10] = True
    context[-1] = True
    assert check_frames(context).tolist() == []  # context frames then one key, as the benchmarks pose
    partial = every(8, 41)
    partial[16, 5] = False  # a key missing a joint is not a whole key
    assert check_frames(partial).tolist() == [8, 32]


def test_trust_is_the_least_squares_share_of_a_correction_that_hurts():
    rng = np.random.default_rng(0)
    guess = rng.normal(size=(3, 22, 3))
    truth = guess + rng.normal(size=guess.shape) * 0.05
    assert trust(truth, guess, truth) == 1.0  # right: whole
    assert trust(guess - (truth - guess), guess, truth) == 0.0  # the wrong way: none
    assert trust(guess + 1.5 * (truth - guess), guess, truth) == 1.0  # overshoots but beats the guess
    wrong = guess + 4.0 * (truth - guess)  # four times too far: worse than the guess, best scaled by 1/4
    assert trust(wrong, guess, truth) == pytest.approx(0.25)
    assert trust(guess + 1e-5, guess, truth) == 1.0  # no correction worth checking


def test_trust_parts_weighs_the_pelvis_path_and_the_pose_apart():
    """``trust_parts``: the shares of the pelvis's move and of the pose's correction (the rest) that bring the
    guess nearest the truth, each in [0, 1] (least squares on joint positions)."""
    rng = np.random.default_rng(2)
    guess = rng.normal(size=(3, 22, 3))
    shift = rng.normal(size=(3, 3)) * 0.1  # the truth's pelvis move, per hidden key
    pose = rng.normal(size=guess.shape) * 0.1  # the truth's pose correction
    pose -= pose.mean(axis=1, keepdims=True)  # a pose's correction moves no joint on average: apart from the path
    truth = guess + shift[:, None, :] + pose
    assert trust_parts(truth, guess, truth, shift) == (1.0, 1.0)  # right: both whole
    path, share = trust_parts(guess + shift[:, None, :] - pose, guess, truth, shift)  # the pose the wrong way
    assert path == pytest.approx(1.0) and share == 0.0
    path, share = trust_parts(guess - shift[:, None, :] + pose, guess, truth, -shift)  # the path the wrong way
    assert path == 0.0 and share == pytest.approx(1.0)
    path, share = trust_parts(guess + 4 * shift[:, None, :] + pose, guess, truth, 4 * shift)  # four times too far
    assert path == pytest.approx(0.25) and share == pytest.approx(1.0)
    # Better than the guess but too far: not kept whole (``trust`` would keep it), each part scaled back.
    path, share = trust_parts(guess + 1.5 * shift[:, None, :] + 0.5 * pose, guess, truth, 1.5 * shift)
    assert path == pytest.approx(1 / 1.5) and share == pytest.approx(1.0)
    assert trust_parts(guess + 1e-5, guess, truth, np.zeros((3, 3))) == (1.0, 1.0)  # nothing worth checking
    # A part that changes nothing is kept whole (a tie would read 0 to the user), the other fitted alone.
    assert trust_parts(guess + pose, guess, truth, np.zeros((3, 3))) == (1.0, pytest.approx(1.0))
    assert trust_parts(guess - pose, guess, truth, np.zeros((3, 3))) == (1.0, 0.0)
    assert trust_parts(guess + 4 * shift[:, None, :], guess, truth, 4 * shift) == (pytest.approx(0.25), 1.0)
    # Any correction: no pair of shares on a fine grid brings the guess nearer the truth.
    for seed in range(20):
        r = np.random.default_rng(seed)
        move = r.normal(size=(3, 3)) * 0.2
        corrected = guess + move[:, None, :] + r.normal(size=guess.shape) * r.uniform(0.02, 0.3)
        a, b = trust_parts(corrected, guess, truth, move)
        assert 0.0 <= a <= 1.0 and 0.0 <= b <= 1.0
        rest = corrected - guess - move[:, None, :]

        def miss(x, y):
            return float(np.sum((guess + x * move[:, None, :] + y * rest - truth) ** 2))
        grid = min(miss(x, y) for x in np.linspace(0, 1, 41) for y in np.linspace(0, 1, 41))
        assert miss(a, b) <= grid + 1e-12


def test_unusual_keys_are_those_far_off_the_training_statistics():
    rng = np.random.default_rng(1)
    ordinary = rng.normal(size=5000)
    assert not unusual(ordinary)
    odd = ordinary.copy()
    odd[:500] = OUTLIER_Z + 1.0
    assert unusual(odd)
    assert not unusual(np.zeros(0))


def test_widening_a_twist_range_goes_the_short_way_round():
    """Two keys just across the far side of the circle from a joint's twist range grow it by the shorter
    way (about 2 radians), not into a full circle: a twist between them and the range is still clamped."""
    from lmm_core.cleanup.limits import from_swing_twist, swing_twist

    limits = JointLimits.load()
    j = JOINT_INDEX["left_elbow"]
    centre = limits.twist_centre[j]

    def twisted(rel):
        q = np.tile(R.identity(), (len(rel), 22, 1))
        q[:, j] = from_swing_twist(np.zeros((len(rel), 1, 2)), (centre + np.asarray(rel))[:, None],
                                   limits.frames[j:j + 1])[:, 0]
        return q

    keys = twisted([np.pi - 0.05, -np.pi + 0.05])
    wide = limits.widened(keys)
    grown = (wide.twist_hi[j] - wide.twist_lo[j]) - (limits.twist_hi[j] - limits.twist_lo[j])
    assert 0 < grown < 2.5
    assert np.allclose(np.abs(np.sum(wide.clamp_rotations(keys)[:, j] * keys[:, j], axis=-1)), 1.0)  # keys stand
    inside = 0.5 * (limits.twist_lo[j] + limits.twist_hi[j])
    beyond = twisted([limits.twist_hi[j] + 0.6])  # past the range's far end, away from the keys
    assert not np.allclose(np.abs(np.sum(wide.clamp_rotations(beyond)[:, j] * beyond[:, j], axis=-1)), 1.0)
    _, tw = swing_twist(wide.clamp_rotations(twisted([inside])), limits.frames)
    assert tw[0, j] == pytest.approx(centre + inside)


def test_widened_limits_hold_the_keys_and_nothing_else_changes():
    limits = JointLimits.load()
    elbow = JOINT_INDEX["left_elbow"]
    knee = JOINT_INDEX["left_knee"]
    q = np.tile(R.identity(), (3, 22, 1))
    q[0, elbow] = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.radians(170.0))  # a twist no elbow makes
    q[1, knee] = R.from_axis_angle(np.array([1.0, 0.0, 0.0]), np.radians(-40.0))  # bent backwards
    assert not np.allclose(limits.clamp_rotations(q[:1])[0, elbow], q[0, elbow])
    wide = limits.widened(q[:2])
    assert np.allclose(wide.clamp_rotations(q[:1])[0, elbow], q[0, elbow])  # the key's pose stands
    inside = limits.clamp_rotations(q[2:])
    assert np.array_equal(wide.clamp_rotations(inside), inside)
    # A knee bent backwards is not a rig's convention: the cap stays.
    assert wide.swing_h[knee, 0] == pytest.approx(min(limits.swing_h[knee, 0], HYPEREXTENSION["left_knee"]))
    assert np.all(wide.swing_h >= limits.swing_h - 1e-12)


@pytest.fixture(scope="module")
def model() -> runtime.Model:
    return runtime.load()


def canonical_clip(path, frames: int, start: int = 0):
    motion = tasks.to_canonical(read_bvh(path), 30.0)
    return motion.rotations[start:start + frames], motion.root_positions[start:start + frames]


def error(model, rot, root, known, fps=30.0):
    from lmm_core.canonical import canonical_skeleton
    from lmm_core.motion import Motion

    r, p, _ = model.fill(rot, root, known)
    made = ~known.all(axis=1)
    truth = Motion(canonical_skeleton(), rot, root, fps).global_positions()
    got = Motion(canonical_skeleton(), r, p, fps).global_positions()
    assert np.array_equal(r[~made], rot[~made]) and np.array_equal(p[~made], root[~made])  # keys exact
    return float(np.linalg.norm(got - truth, axis=-1)[made].mean())


def checked_against_whole(model, rot, root, known):
    """``(share, made-frame error with the check, without it, the model without it)``."""
    whole = runtime.load()
    whole.check_keys = False
    return model.key_trust(rot, root, known), error(model, rot, root, known), error(whole, rot, root, known), whole


def test_a_rig_unlike_the_training_sources_falls_back_towards_interpolation(model, shared_data):
    """LAFAN1 (never trained on; its spine and neck come out of the retargeter unlike Bandai's): with a key
    every 8 frames the network alone moved the made frames far from the capture; checked on the window's
    own keys it takes little of its correction, and the frames come out much nearer the capture."""
    rot, root = canonical_clip(shared_data / "lafan1" / "obstacles3_subject4.bvh.xz", 121, start=600)
    known = every(8, 121)
    share, checked, unchecked, _ = checked_against_whole(model, rot, root, known)
    assert share < 0.5
    assert checked < 0.6 * unchecked


def test_motion_like_the_training_data_keeps_the_whole_correction(model, test_data):
    rot, root = canonical_clip(test_data / "reactidle_001_acted_excerpt.bvh.xz", 97)
    known = every(8, len(root))
    assert model.key_trust(rot, root, known) == 1.0
    whole = runtime.load()
    whole.check_keys = False
    a, b = model.fill(rot, root, known), whole.fill(rot, root, known)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_the_user_is_told_when_the_network_was_held_back(shared_data, tmp_path):
    """``lmm inbetween`` on a LAFAN1 take (its own rig, keys every 8 frames) says so on stderr; the written
    file's keys are the input's."""
    import subprocess
    import sys

    from lmm_core import write_bvh

    take = read_bvh(shared_data / "lafan1" / "obstacles3_subject4.bvh.xz")
    clip = take.slice(600, 721)
    src = tmp_path / "take.bvh"
    write_bvh(clip, src)
    out = tmp_path / "made.bvh"
    keys = ",".join(str(k) for k in range(0, 121, 8)) + ",120"
    run = subprocess.run([sys.executable, "-m", "lmm_core", "inbetween", str(src), "--keys", keys, "-o", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "note: the keys look unlike the model's training data" in run.stderr
    made = tasks.inbetween(clip, list(range(0, 121, 8)) + [120], method="network")
    path, pose = (float(v) for v in made.labels[tasks.NETWORK_SHARE].split(","))  # the window network: one for both
    assert path == pose < 0.5 and f"taken at {path * 100:.0f}%: the rest is" in tasks.network_note(made)
    # The next-frame in-betweener's check takes the pelvis path and the poses apart: the note says both.
    parts = replace(made, labels=made.labels | {tasks.NETWORK_SHARE: "0.30,1.00"})
    assert "taken at 30% for the pelvis's path and 100% for the poses" in tasks.network_note(parts)
    assert tasks.network_note(tasks.inbetween(clip, [0, 120], method="network")) is None  # no inner key: nothing checked
    # A note an input carries (a result in-betweened again) is not passed on: only this run's is said.
    noted = made.slice(0, 121)
    assert tasks.NETWORK_SHARE in noted.labels
    assert tasks.network_note(tasks.inbetween(noted, [0, 120], method="network")) is None


def test_a_clip_longer_than_a_window_takes_one_share_for_all_its_gaps(model, shared_data):
    """300 frames (the window holds 192) are filled gap by gap; the check pools every window's hidden keys
    into one share, so neighbouring gaps do not swing between the network and the baseline."""
    rot, root = canonical_clip(shared_data / "lafan1" / "obstacles3_subject4.bvh.xz", 300, start=600)
    known = every(8, 300)
    assert len(model._check_spans(known)) == 2
    share, checked, unchecked, whole = checked_against_whole(model, rot, root, known)
    assert share < 0.5
    assert checked < 0.8 * unchecked
    r1, p1, _ = model.fill(rot, root, known)
    r2, p2, _ = whole.fill(rot, root, known, correction=share)  # the same share, given: the same frames
    assert np.array_equal(r1, r2) and np.array_equal(p1, p2)


def test_fill_checked_scales_the_networks_contacts_by_the_share(model, shared_data, test_data):
    """Where the correction is mistrusted its foot contacts are too: the clean-up then pins feet on its own
    contact detection, not where the network put them down; in-domain nothing changes."""
    rot, root = canonical_clip(shared_data / "lafan1" / "obstacles3_subject4.bvh.xz", 121, start=600)
    known = every(8, 121)
    r, p, con, share = tasks.fill_checked(model, rot, root, known)
    r0, p0, con0 = model.fill(rot, root, known, correction=share)
    assert share < 0.5 and np.array_equal(r, r0) and np.allclose(con, con0 * share)
    assert (con > 0.5).sum() < (con0 > 0.5).sum()
    rot, root = canonical_clip(test_data / "reactidle_001_acted_excerpt.bvh.xz", 97)
    r, p, con, share = tasks.fill_checked(model, rot, root, every(8, 97))
    assert share == 1.0 and np.array_equal(con, model.fill(rot, root, every(8, 97))[2])
