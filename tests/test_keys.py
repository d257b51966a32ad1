"""``lmm_core.keys``: sparse keys that play a real motion back within a tolerance measured by FK."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lmm_core import LMMError, keys, read_bvh
from lmm_core import rotations as R


@pytest.fixture(scope="module")
def clip(test_data):
    return read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz").slice(0, 90)


def _curves(motion, held=None):
    """Quaternion components per joint and the root position: ``(T, 4J + 3)``, groups, and a decoder."""
    t, j = motion.rotations.shape[:2]
    values = np.concatenate([R.unroll(motion.rotations).reshape(t, -1), motion.root_positions], axis=1)
    groups = np.r_[np.repeat(np.arange(j), 4), [j] * 3]

    def decode(v):
        return replace(motion, rotations=R.normalize(v[:, :4 * j].reshape(t, j, 4)), root_positions=v[:, 4 * j:])

    metres = keys.UNITS_TO_METRES[motion.skeleton.units]
    scale = np.r_[2 * np.maximum(keys.reach(motion, held), 1e-3), metres]
    return values, groups, decode, scale


def test_fit_holds_every_joint_within_the_tolerance_with_fewer_keys(clip):
    values, groups, decode, scale = _curves(clip)
    measure = keys.point_error(clip)
    for tolerance in (0.001, 0.005):
        fitted = keys.fit(values, groups, scale, lambda v: measure(decode(v)), tolerance, keep=[0, 40, 89])
        played = keys.evaluate(values, fitted)
        assert measure(decode(played)).max() <= tolerance
        assert fitted.keyed[[0, 40, 89]].all()  # the animator's keys always stay
        np.testing.assert_allclose(played[fitted.keyed[:, groups]], values[fitted.keyed[:, groups]], atol=1e-12)
        assert fitted.count < 0.8 * values.size
    loose = keys.fit(values, groups, scale, lambda v: measure(decode(v)), 0.02)
    assert loose.count < fitted.count < values.size  # a looser tolerance needs fewer keys


def test_every_frame_and_held_joints(clip):
    values, groups, decode, scale = _curves(clip)
    every = keys.fit(values, groups, scale, lambda v: np.zeros(len(v)), 0.001, every_frame=True)
    assert every.count == values.size
    feet = [clip.skeleton.names.index(n) for n in ("LeftAnkle", "RightAnkle", "LeftToe", "RightToe")]
    _, _, _, feet_scale = _curves(clip, feet)
    held = keys.point_error(clip, feet)
    both = keys.point_error(clip)
    fitted = keys.fit(values, groups, feet_scale, lambda v: held(decode(v)), 0.001)
    assert held(decode(keys.evaluate(values, fitted))).max() <= 0.001
    everything = keys.fit(values, groups, scale, lambda v: both(decode(v)), 0.001)
    assert fitted.count < everything.count  # the arms, which carry no foot, needed fewer keys


def test_bad_input_names_the_problem(clip):
    values, groups, decode, scale = _curves(clip)
    with pytest.raises(LMMError, match="tolerance must be a positive length"):
        keys.fit(values, groups, scale, lambda v: np.zeros(len(v)), 0.0)
    with pytest.raises(LMMError, match="not finite"):
        keys.fit(np.full_like(values, np.nan), groups, scale, lambda v: np.zeros(len(v)))
    with pytest.raises(LMMError, match="kept key frames must lie in"):
        keys.fit(values, groups, scale, lambda v: np.zeros(len(v)), keep=[500])


def test_fitted_slopes_are_the_least_squares_ones(clip):
    """Against a dense least-squares solve of the same Hermite curves (real joint curves, uneven keys)."""
    values, groups, _, _ = _curves(clip)
    values, groups = values[:60, :9], groups[:9]  # the hips' and two joints' quaternions
    keyed = np.zeros((60, 3), dtype=bool)
    keyed[[0, 7, 9, 10, 25, 59], 0] = keyed[[0, 30, 59], 1] = keyed[[0, 2, 13, 40, 59], 2] = True
    guess = np.gradient(values, axis=0)
    fitted = keys.fitted_slopes(values, keyed, groups, guess, ridge=1e-12)
    frames = np.arange(60)
    for c in range(values.shape[1]):
        k = np.flatnonzero(keyed[:, groups[c]])
        pos = np.clip(np.searchsorted(k, frames, side="right") - 1, 0, len(k) - 2)
        d = (k[pos + 1] - k[pos]).astype(float)
        u = (frames - k[pos]) / d
        a = np.zeros((60, len(k)))
        a[frames, pos] += (u ** 3 - 2 * u ** 2 + u) * d
        a[frames, pos + 1] += (u ** 3 - u ** 2) * d
        rest = values[:, c] - (2 * u ** 3 - 3 * u ** 2 + 1) * values[k[pos], c] - (-2 * u ** 3 + 3 * u ** 2) * values[
            k[pos + 1], c]
        best, *_ = np.linalg.lstsq(a, rest, rcond=None)
        decided = np.abs(a).sum(axis=0) > 0  # a key whose segments hold no frame keeps its guess
        np.testing.assert_allclose(fitted[k[decided], c], best[decided], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(fitted[k[~decided], c], guess[k[~decided], c])
        assert np.all(fitted[~keyed[:, groups[c]], c] == guess[~keyed[:, groups[c]], c])
    played = keys.evaluate(values, keys.Keys(keyed, fitted, groups))
    plain = keys.evaluate(values, keys.Keys(keyed, guess, groups))
    assert np.square(played - values).sum() < np.square(plain - values).sum()
