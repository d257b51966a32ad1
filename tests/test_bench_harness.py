"""Scoring in-betweeners: what a method sees, what it must return, and how signs are treated."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import LMMError, canonical
from lmm_core import rotations as R
from lmm_core.bench.baselines import interpolation, zero_velocity
from lmm_core.bench.harness import evaluate, format_table, known_mask, training_stats
from lmm_core.bench.windows import Clip, make_windows

SK = canonical.canonical_skeleton()


@pytest.fixture(scope="module")
def windows():
    rng = np.random.default_rng(3)
    frames = 150
    # Smooth random motion: a random walk of rotation vectors, low-pass filtered.
    drift = np.cumsum(rng.normal(scale=0.05, size=(frames, SK.num_joints, 3)), axis=0)
    rot = R.from_scaled_axis(drift)
    root = np.cumsum(rng.normal(scale=0.02, size=(frames, 3)), axis=0) + [0.0, 0.9, 0.0]
    return make_windows([Clip("random", rot, root)], SK, canonical.FORWARD, fps=30.0)


@pytest.fixture(scope="module")
def stats(windows):
    clip = Clip("random", windows.rotations[0], windows.root[0])
    return training_stats([clip], SK, canonical.FORWARD)


def test_known_mask_is_ten_context_frames_and_the_target():
    known = known_mask(5)
    assert len(known) == 16 and known[:10].all() and known[15] and not known[10:15].any()


def test_methods_see_no_ground_truth_in_the_unknown_frames(windows, stats):
    seen = []

    def spy(rot, root, known):
        seen.append((rot.copy(), root.copy(), known.copy()))
        return rot, root  # returning the inputs unchanged is exactly zero-velocity

    res = evaluate(windows, {"spy": spy, "zerovel": zero_velocity}, *stats, lengths=(5, 15))
    rot, root, known = seen[0]
    assert known.tolist() == [True] * 10 + [False] * 5 + [True]
    np.testing.assert_array_equal(rot[10:15], np.broadcast_to(rot[9], rot[10:15].shape))
    np.testing.assert_array_equal(root[15], windows.root[0, 15])  # the target keyframe is given
    assert res["spy"] == res["zerovel"]


def test_quaternion_signs_of_a_method_do_not_count(windows, stats):
    def flippy(rot, root, known):
        out_rot, out_root = interpolation(rot, root, known)
        out_rot[~known] *= -1  # the same rotations, other signs (as from_matrix might give)
        return out_rot, out_root

    res = evaluate(windows, {"interp": interpolation, "flippy": flippy}, *stats, lengths=(15,))
    for metric in ("L2Q", "L2P", "NPSS"):
        assert res["flippy"][metric]["15"] == pytest.approx(res["interp"][metric]["15"], rel=1e-12)
    assert res["interp"]["L2P"]["15"] < evaluate(windows, {"z": zero_velocity}, *stats, lengths=(15,))["z"]["L2P"]["15"]


def test_a_method_that_moves_known_frames_or_returns_junk_is_stopped(windows, stats):
    def cheat(rot, root, known):
        return rot, root + 0.01

    with pytest.raises(LMMError, match="changed the known frames"):
        evaluate(windows, {"cheat": cheat}, *stats, lengths=(5,))
    with pytest.raises(LMMError, match="returned rotations"):
        evaluate(windows, {"short": lambda r, p, k: (r[:-1], p)}, *stats, lengths=(5,))
    with pytest.raises(LMMError, match="NaN"):
        evaluate(windows, {"nan": lambda r, p, k: (r, p * np.nan)}, *stats, lengths=(5,))


def test_too_few_windows_is_an_error(stats):
    empty = make_windows([Clip("short", R.identity((40, SK.num_joints)), np.zeros((40, 3)))], SK, canonical.FORWARD, 30.0)
    with pytest.raises(LMMError, match="no test windows"):
        evaluate(empty, {"interp": interpolation}, *stats)


def test_table_shows_every_method_and_the_ratio_to_interpolation():
    row = {"5": 1.0, "15": 2.0, "30": 3.0, "45": 4.0}
    half = {k: v / 2 for k, v in row.items()}
    res = {"interp": {m: row for m in ("L2Q", "L2P", "NPSS")}, "model": {m: half for m in ("L2Q", "L2P", "NPSS")}}
    table = format_table(res)
    assert table.count("model / interp") == 3
    assert "0.500" in table and "4.0000" in table
