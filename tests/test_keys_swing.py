"""``lmm_core.keys.swing_error``: the measure sparse keys on a control rig's controls are fitted with
(numpy only; the rig itself is tested in tests/test_addon_rigify.py)."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import LMMError
from lmm_core import keys
from lmm_core import rotations as R


def _chain(turn: np.ndarray):
    """Two quaternion groups: a hip at the origin carrying a knee 0.5 m down and a foot 1 m down, a knee
    group carrying the foot; ``turn (T, 4)`` is the hip's rotation on each frame (the knee stays straight)."""
    n = len(turn)
    values = np.concatenate([turn, np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))], axis=1)
    spans = [(slice(0, 4), "QUATERNION"), (slice(4, 8), "QUATERNION")]
    hip = R.to_matrix(turn)
    frames = np.stack([hip, hip], axis=1)
    pivots = np.stack([np.zeros((n, 3)), hip @ np.array([0.0, -0.5, 0.0])], axis=1)
    points = np.stack([hip @ np.array([0.0, -1.0, 0.0])], axis=1)
    carries = np.array([[True], [True]])
    return values, spans, frames, pivots, points, carries


def test_a_turn_moves_the_foot_by_its_distance_from_the_pivot():
    turn = R.from_axis_angle(np.array([1.0, 0.0, 0.0]), np.linspace(0.0, 0.8, 5))
    values, spans, frames, pivots, points, carries = _chain(turn)
    measure = keys.swing_error(values, spans, frames, pivots, points, carries, metres=1.0)
    assert np.allclose(measure(values), 0.0)
    small = R.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.array(0.002))  # 2 mrad about the bone's own z
    played = values.copy()
    played[:, 0:4] = R.mul(values[:, 0:4], small[None])
    assert np.allclose(measure(played), 0.002, rtol=1e-3)  # the foot is 1 m from the hip: 2 mm
    played[:, 4:8] = R.mul(values[:, 4:8], R.inv(small)[None]) * 3.0  # the knee back, unnormalised: half cancels
    assert np.allclose(measure(played), 0.001, rtol=1e-3)


def test_mismatched_shapes_name_the_fix():
    turn = R.from_axis_angle(np.array([1.0, 0.0, 0.0]), np.linspace(0.0, 0.8, 5))
    values, spans, frames, pivots, points, carries = _chain(turn)
    with pytest.raises(LMMError, match="same frames and groups"):
        keys.swing_error(values, spans, frames[:-1], pivots, points, carries, metres=1.0)
