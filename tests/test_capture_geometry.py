"""Capture geometry: lens distortion, projection, robust triangulation, frame offsets, smoothing."""
from __future__ import annotations

import numpy as np
import pytest

from capture_fixtures import source
from lmm_core.capture import synthetic as S
from lmm_core.capture.cameras import Camera, distort, look_at, undistort
from lmm_core.capture.keypoints import COCO17
from lmm_core.capture.smoothing import smooth
from lmm_core.capture.sync import apply_offsets, estimate_offsets
from lmm_core.capture.triangulate import dlt, triangulate


@pytest.mark.parametrize("dist", [(-0.35, 0.12, 1e-3, -8e-4, -0.02), (0.1, -0.05, 0.0, 0.0, 0.0), (-0.1, 0.02, 5e-4, 5e-4, 0.0)])
def test_undistort_inverts_distort(dist):
    dist = np.array(dist)
    # A 1920x1080 image at f = 1400 spans about +-0.69 x +-0.39 in normalised coordinates.
    g = np.stack(np.meshgrid(np.linspace(-0.7, 0.7, 41), np.linspace(-0.4, 0.4, 23)), -1)
    back = undistort(distort(g, dist), dist)
    np.testing.assert_allclose(back, g, atol=1e-9)


def test_projection_matches_the_pinhole_model():
    eye, target = np.array([3.0, 2.0, -4.0]), np.array([0.0, 1.0, 0.0])
    Rm, t = look_at(eye, target)
    K = np.array([[1400.0, 0, 950], [0, 1400, 530], [0, 0, 1]])
    cam = Camera("c", K, np.array([-0.1, 0.01, 0, 0, 0]), Rm, t)
    np.testing.assert_allclose(cam.centre, eye, atol=1e-12)
    px, depth = cam.project(target)
    np.testing.assert_allclose(px, [950, 530], atol=1e-9)       # the aim lands on the principal point
    assert depth == pytest.approx(np.linalg.norm(target - eye))
    above, _ = cam.project(target + [0, 0.5, 0])
    assert above[1] < 530                                          # world up is up in the image
    p = np.array([0.4, 1.7, 0.3])
    px, _ = cam.project(p)
    np.testing.assert_allclose(cam.undistort(px), ((Rm @ p + t)[:2] / (Rm @ p + t)[2]), atol=1e-9)


def _rig_points(n_cams=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform([-1, 0, -1], [1, 2, 1], size=(200, 3))
    calib = S.camera_ring(n_cams, X[None], seed=seed)
    obs = np.stack([c.undistort(c.project(X)[0]) for c in calib.cameras])
    poses = np.stack([c.pose for c in calib.cameras])
    focal = np.array([c.focal for c in calib.cameras])
    return X, calib, obs, poses, focal, rng


def test_triangulation_is_exact_and_survives_outliers_and_missing_views():
    X, calib, obs, poses, focal, rng = _rig_points()
    conf = np.ones(obs.shape[:2])
    tri = triangulate(obs, conf, poses, focal)
    np.testing.assert_allclose(tri.points, X, atol=1e-6)
    assert np.all(tri.views == 4) and np.nanmax(tri.error_px) < 1e-4
    # One camera in four sees a wrong detection with high confidence (a 150 px jump, a left/right swap),
    # and a quarter of the points are missing in another camera.
    bad = obs.copy()
    bad[1] += 150.0 / focal[1] * rng.choice([-1, 1], size=(200, 2))
    conf2 = conf.copy()
    conf2[2, :50] = 0.0
    robust = triangulate(bad, conf2, poses, focal).points
    plain = dlt(bad, conf2, poses)
    assert np.linalg.norm(robust - X, axis=-1).max() < 1e-6
    assert np.median(np.linalg.norm(plain - X, axis=-1)) > 0.02   # what the outliers do without RANSAC
    # Seen by one camera only: no point rather than a made-up one.
    conf3 = np.zeros_like(conf)
    conf3[0] = 1.0
    assert np.all(np.isnan(triangulate(obs, conf3, poses, focal).points))


def test_frame_offsets_are_found_from_the_keypoints():
    motion = source(frames=None)  # CMU hop, 3 s at 30 fps
    P = S.keypoints_3d(motion, COCO17)
    for cams, seed in ((4, 0), (6, 1)):
        calib = S.camera_ring(cams, P, seed=seed)
        kp, truth = S.render(P, calib, COCO17, S.Corruption(noise_px=2.0, max_offset=6), seed=seed + 5)
        assert np.any(truth != 0)
        obs = np.stack([c.undistort(kp.data[i, ..., :2]) for i, c in enumerate(calib.cameras)])
        found = estimate_offsets(obs, kp.data[..., 2] > 0, list(calib.cameras), max_offset=10)
        np.testing.assert_array_equal(found, truth)
    # Shifting by the offsets lines frames up: aligned frame k of every camera shows the same instant.
    data = np.arange(3 * 10, dtype=float).reshape(3, 10) % 10  # camera c frame f shows instant f - o_c
    offs = np.array([0, 2, -1])
    shifted = np.stack([np.roll(data[c], offs[c]) for c in range(3)])
    aligned, start = apply_offsets(shifted[..., None], offs)
    k = np.arange(aligned.shape[1])
    for c in range(3):
        ok = (start + k + offs[c] >= 0) & (start + k + offs[c] < 10)
        np.testing.assert_array_equal(aligned[c, ok, 0], shifted[c, (start + k + offs[c])[ok]])


def test_smoothing_keeps_fast_motion_and_drops_outliers():
    fps, T = 30.0, 120
    t = np.arange(T) / fps
    # A fast swing (1.5 Hz, 30 cm: up to 2.8 m/s, a quick arm swing) with 8 mm noise and two wild frames.
    truth = np.zeros((T, 1, 3))
    truth[:, 0, 0] = 0.3 * np.sin(2 * np.pi * 1.5 * t)
    rng = np.random.default_rng(0)
    noisy = truth + rng.normal(0, 0.008, truth.shape)
    noisy[40, 0] += 0.4
    noisy[41, 0] -= 0.3
    w = np.ones((T, 1))
    w[70:73] = 0.0  # a gap
    out, filled = smooth(noisy, w, fps)
    err = np.linalg.norm(out - truth, axis=-1)
    keep = np.r_[0:38, 44:70, 73:T]
    assert filled[70:73].all() and filled[40:42].all() and not filled[keep].any()  # gaps and rejected outliers
    assert err[38:44].max() < 0.03                       # the wild frames are thrown out, not smeared
    raw_err = np.linalg.norm(noisy - truth, axis=-1)
    assert err[keep].mean() < 0.8 * raw_err[keep].mean()
    # A box filter of the same width averages the peaks away; the local quadratic keeps them.
    box = np.convolve(noisy[:, 0, 0], np.ones(5) / 5, mode="same")
    peaks = np.abs(truth[:, 0, 0]) > 0.29
    assert np.abs(out[peaks, 0, 0] - truth[peaks, 0, 0]).mean() < 0.5 * np.abs(box[peaks] - truth[peaks, 0, 0]).mean()
