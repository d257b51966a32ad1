"""LAFAN1 metrics on hand-built inputs whose values are known in closed form."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from lmm_core import LMMError
from lmm_core import rotations as R
from lmm_core.bench.metrics import PositionStats, l2p, l2q, load_stats, npss, save_stats


def test_l2q_of_a_known_rotation_difference():
    # |identity - q(theta)| = sqrt((1 - cos(theta/2))^2 + sin(theta/2)^2) = 2 sin(theta / 4).
    gt = R.identity((2, 4, 3))  # 2 windows, 4 frames, 3 joints
    pred = gt.copy()
    pred[:, :, 1] = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.pi / 2)
    assert l2q(pred, gt) == pytest.approx(2 * np.sin(np.pi / 8))  # 0.7654
    pred[:, :, 2] = pred[:, :, 1]  # two joints off: the norm runs over the whole pose
    assert l2q(pred, gt) == pytest.approx(np.sqrt(2) * 2 * np.sin(np.pi / 8))
    pred[:, 2:] = gt[:, 2:]  # half the frames right: the mean over frames halves
    assert l2q(pred, gt) == pytest.approx(np.sqrt(2) * np.sin(np.pi / 8))
    # Signs are compared as they are, as in the original: -q is 2 away from q.
    assert l2q(-gt[:, :, :1], gt[:, :, :1]) == pytest.approx(2.0)


def test_l2p_normalises_each_coordinate_by_its_std():
    gt = np.zeros((1, 2, 2, 3))
    pred = gt.copy()
    pred[..., 0, 1] = 3.0   # joint 0, y: 3 units, std 2 -> 1.5
    pred[..., 1, 2] = -4.0  # joint 1, z: 4 units, std 0.5 -> 8
    mean = np.full(6, 10.0)  # the mean cancels in a difference
    std = np.array([1.0, 2.0, 1.0, 1.0, 1.0, 0.5])
    assert l2p(pred, gt, mean, std) == pytest.approx(np.hypot(1.5, 8.0))


def cosine(freq: int, n: int = 30, amplitude: float = 1.0, phase: float = 0.0) -> np.ndarray:
    return amplitude * np.cos(2 * np.pi * freq * np.arange(n) / n + phase)


def test_npss_of_identical_sequences_is_zero():
    x = np.random.default_rng(0).normal(size=(3, 20, 8))
    assert npss(x, x) == pytest.approx(0.0, abs=1e-12)


def test_npss_of_shifted_frequencies_is_their_distance_in_bins():
    # A cosine at bin k puts half its power at k and half at N - k; moving it to bin k' moves both halves
    # |k' - k| bins, so the earth mover's distance is exactly |k' - k|.
    gt = cosine(2)[None, :, None]
    assert npss(gt, cosine(3)[None, :, None]) == pytest.approx(1.0)
    assert npss(gt, cosine(5)[None, :, None]) == pytest.approx(3.0)
    # The original squares the real part only, so a phase shift at the same frequency is invisible.
    assert npss(gt, cosine(2, phase=0.7)[None, :, None]) == pytest.approx(0.0, abs=1e-12)


def test_npss_weights_series_by_their_ground_truth_power():
    gt = np.stack([cosine(2), cosine(2, amplitude=2.0)], axis=-1)[None]  # powers 1 : 4
    pred = np.stack([cosine(5), cosine(2, amplitude=2.0)], axis=-1)[None]  # only the weak one is off, by 3
    assert npss(gt, pred) == pytest.approx(3.0 * 1 / 5)


def test_position_stats_merge_batches_exactly():
    rng = np.random.default_rng(1)
    batches = [rng.normal(5.0, 3.0, size=(n, 4, 3)) for n in (7, 1, 30)]
    acc = PositionStats()
    for b in batches:
        acc.add(b)
    mean, std = acc.result()
    flat = np.concatenate(batches).reshape(-1, 12)
    np.testing.assert_allclose(mean, flat.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, flat.std(axis=0), rtol=1e-12)  # population std, as np.std


def test_stats_files_round_trip_and_bad_ones_are_named(tmp_path):
    mean, std = np.arange(66.0), np.linspace(1, 2, 66)
    path = save_stats(tmp_path / "s.npz", mean.reshape(1, 66, 1), std.reshape(1, 66, 1))  # the original's shape
    m, s = load_stats(path, 22)
    np.testing.assert_array_equal(m, mean)
    np.testing.assert_array_equal(s, std)
    with pytest.raises(LMMError, match="not found"):
        load_stats(tmp_path / "missing.npz", 22)
    with pytest.raises(LMMError, match="x_std"):
        np.savez(tmp_path / "half.npz", x_mean=mean)
        load_stats(tmp_path / "half.npz", 22)
    with pytest.raises(LMMError, match="got 66 and 66"):
        load_stats(path, 24)
    with pytest.raises(LMMError, match="positive"):
        np.savez(tmp_path / "zero.npz", x_mean=mean, x_std=np.zeros(66))
        load_stats(tmp_path / "zero.npz", 22)
    with pytest.raises(LMMError, match="npz"):
        (tmp_path / "stats.pkl").write_bytes(pickle.dumps({"x_mean": mean, "x_std": std}))
        load_stats(tmp_path / "stats.pkl", 22)
