"""Rotation functions against hand-built matrices, and the torch twin against numpy."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import kinematics
from lmm_core import rotations as R


def _axis_matrix(axis: str, a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    rows = {
        "x": [[o, z, z], [z, c, -s], [z, s, c]],
        "y": [[c, z, s], [z, o, z], [-s, z, c]],
        "z": [[c, -s, z], [s, c, z], [z, z, o]],
    }[axis]
    return np.moveaxis(np.array(rows), (0, 1), (-2, -1))


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def random_quats(rng, n):
    return R.normalize(rng.normal(size=(n, 4)))


@pytest.mark.parametrize("order", R.EULER_ORDERS)
def test_euler_matches_hand_built_matrices(order, rng):
    angles = rng.uniform(-np.pi, np.pi, size=(50, 3))
    angles[:, 1] = rng.uniform(-1.4, 1.4, size=50)
    expected = _axis_matrix(order[0], angles[:, 0]) @ _axis_matrix(order[1], angles[:, 1]) @ _axis_matrix(order[2], angles[:, 2])
    got = R.to_matrix(R.from_euler(angles, order))
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # And back: same angles (middle angle kept in range, so the solution is unique).
    np.testing.assert_allclose(R.to_euler(R.from_euler(angles, order), order), angles, atol=1e-9)


@pytest.mark.parametrize("order", R.EULER_ORDERS)
def test_euler_gimbal_lock_keeps_the_rotation(order, rng):
    angles = rng.uniform(-np.pi, np.pi, size=(20, 3))
    angles[:10, 1] = np.pi / 2
    angles[10:, 1] = -np.pi / 2
    q = R.from_euler(angles, order)
    back = R.from_euler(R.to_euler(q, order), order)
    np.testing.assert_allclose(R.to_matrix(back), R.to_matrix(q), atol=1e-6)


def test_matrix_quaternion_round_trip(rng):
    q = random_quats(rng, 500)
    q2 = R.from_matrix(R.to_matrix(q))
    # Same rotation up to sign.
    np.testing.assert_allclose(np.abs(np.sum(q * q2, axis=-1)), 1.0, atol=1e-12)
    # A 180 degree rotation (trace -1) is the hard case for naive conversions.
    flip = R.to_matrix(R.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.pi))
    np.testing.assert_allclose(np.abs(R.from_matrix(flip)), [0, 0, 1, 0], atol=1e-12)


def test_mul_vec_is_matrix_product(rng):
    q = random_quats(rng, 100)
    v = rng.normal(size=(100, 3))
    np.testing.assert_allclose(R.mul_vec(q, v), np.einsum("nij,nj->ni", R.to_matrix(q), v), atol=1e-12)
    np.testing.assert_allclose(R.inv_mul_vec(q, R.mul_vec(q, v)), v, atol=1e-12)
    # mul composes like matrices: (a*b) v = A (B v)
    a, b = q[:50], q[50:]
    np.testing.assert_allclose(R.to_matrix(R.mul(a, b)), R.to_matrix(a) @ R.to_matrix(b), atol=1e-12)


def test_quarter_turn_about_z_takes_x_to_y():
    q = R.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.pi / 2)
    np.testing.assert_allclose(R.mul_vec(q, np.array([1.0, 0.0, 0.0])), [0, 1, 0], atol=1e-15)


def test_6d_round_trip_and_gram_schmidt(rng):
    q = random_quats(rng, 200)
    d6 = R.to_6d(q)
    np.testing.assert_allclose(R.to_matrix(R.from_6d(d6)), R.to_matrix(q), atol=1e-10)
    # A perturbed 6D vector still maps to a proper rotation.
    m = R.matrix_from_6d(d6 + rng.normal(scale=0.3, size=d6.shape))
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-10)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-10)


def test_slerp_constant_speed_and_short_way(rng):
    a = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), 0.0)
    b = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), 1.2)
    mid = R.slerp(a, -b, np.array(0.25))  # -b is the same rotation; slerp must take the short way
    np.testing.assert_allclose(R.angle(mid), 0.3, atol=1e-12)
    np.testing.assert_allclose(R.slerp(a, b, np.array(1.0)), b, atol=1e-12)


def test_unroll_removes_sign_flips(rng):
    q = R.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.linspace(0, 6, 100))
    flipped = q * np.where(rng.random(100) < 0.5, -1.0, 1.0)[:, None]
    un = R.unroll(flipped)
    assert np.all(np.sum(un[1:] * un[:-1], axis=-1) > 0)
    np.testing.assert_allclose(np.abs(np.sum(un * q, axis=-1)), 1.0, atol=1e-12)


def test_scaled_axis_and_between(rng):
    v = rng.normal(size=(100, 3))
    v *= (rng.uniform(0.1, 3.0, 100) / np.linalg.norm(v, axis=-1))[:, None]
    np.testing.assert_allclose(R.to_scaled_axis(R.from_scaled_axis(v)), v, atol=1e-10)
    u, w = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    q = R.between(u, w)
    np.testing.assert_allclose(
        R.mul_vec(q, u / np.linalg.norm(u, axis=-1, keepdims=True)), w / np.linalg.norm(w, axis=-1, keepdims=True), atol=1e-10
    )
    opposite = R.between(np.array([1.0, 0, 0]), np.array([-1.0, 0, 0]))
    np.testing.assert_allclose(R.mul_vec(opposite, np.array([1.0, 0, 0])), [-1, 0, 0], atol=1e-12)


def test_unknown_euler_order_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown Euler order 'xyx'"):
        R.from_euler(np.zeros(3), "xyx")


def test_torch_twin_agrees_with_numpy(rng):
    torch = pytest.importorskip("torch")
    from lmm_core.train import rotations_torch as T

    a, b = random_quats(rng, 64), random_quats(rng, 64)
    v = rng.normal(size=(64, 3))
    t = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    np.testing.assert_allclose(T.mul(t(a), t(b)).numpy(), R.mul(a, b), atol=1e-12)
    np.testing.assert_allclose(T.inv_mul(t(a), t(b)).numpy(), R.inv_mul(a, b), atol=1e-12)
    np.testing.assert_allclose(T.mul_vec(t(a), t(v)).numpy(), R.mul_vec(a, v), atol=1e-12)
    np.testing.assert_allclose(T.to_matrix(t(a)).numpy(), R.to_matrix(a), atol=1e-12)
    np.testing.assert_allclose(T.to_6d(t(a)).numpy(), R.to_6d(a), atol=1e-12)
    d6 = rng.normal(size=(64, 6))
    np.testing.assert_allclose(T.matrix_from_6d(t(d6)).numpy(), R.matrix_from_6d(d6), atol=1e-12)
    parents = np.array([-1, 0, 1, 1, 3])
    rot = R.normalize(rng.normal(size=(8, 5, 4)))
    pos = rng.normal(size=(8, 5, 3))
    g_rot, g_pos = kinematics.fk(rot, pos, parents)
    tr, tp = T.fk(t(rot), t(pos), parents)
    np.testing.assert_allclose(tr.numpy(), g_rot, atol=1e-12)
    np.testing.assert_allclose(tp.numpy(), g_pos, atol=1e-12)


def test_vector_angle():
    a = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [1.0, 1.0, 0.0]])
    b = np.array([[0.0, 3.0, 0.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(R.vector_angle(a, b), [np.pi / 2, np.pi, np.pi / 4], atol=1e-12)
