"""Bones held to one length (``rigid.hold_lengths``): on synthetic footage of real motion, whose keypoints sit on
rigid bones, the refit brings the points nearer the truth, the limbs' lengths steady, the cameras' agreement
nearly unchanged, and it leaves alone what it should (missing points, the face, a disabled refit)."""
from __future__ import annotations

import numpy as np
import pytest
from capture_fixtures import HOP, OBSERVED, footage, mpjpe_mm, overlap, source
from lmm_core.capture import rigid
from lmm_core.capture import synthetic as S
from lmm_core.capture.keypoints import BLAZEPOSE, BODY25, COCO17
from lmm_core.capture.pipeline import CaptureOptions, capture
from lmm_core.capture.triangulate import reprojection_errors


def _cv(points: np.ndarray, segs) -> np.ndarray:
    L = np.stack([np.linalg.norm(points[:, a] - points[:, b], axis=-1) for a, b in segs], axis=1)
    return np.nanstd(L, axis=0) / np.nanmean(L, axis=0)


def test_segments_of_each_keypoint_set():
    names = {js.name: {(js.names[a], js.names[b]) for a, b in rigid.rigid_segments(js)} for js in (COCO17, BODY25, BLAZEPOSE)}
    assert len(names["coco17"]) == 9  # limbs and hips: COCO-17 has no heels or toes
    assert ("LAnkle", "LHeel") in names["body25"] and len(names["body25"]) == 11
    assert ("left_ankle", "left_heel") in names["blazepose"] and len(names["blazepose"]) == 11
    assert not any("foot_index" in a or "foot_index" in b for a, b in names["blazepose"])  # the toes bend
    assert not any("shoulder" in a and "shoulder" in b for a, b in names["blazepose"])  # the collar bones move


def test_held_bones_come_nearer_the_truth_on_noisy_cameras():
    motion = source(str(HOP), frames=90)
    corruption = S.Corruption(noise_px=5.0, dropout=0.1, outliers=0.0, swaps=0.0, max_offset=0)
    P, calib, kp, _ = footage(motion, BLAZEPOSE, 4, corruption, seed=11)
    free = capture(calib, kp, CaptureOptions(fps=motion.fps, sync=False, length_sd=0.0))
    held = capture(calib, kp, CaptureOptions(fps=motion.fps, sync=False))
    a, b = overlap(held, motion)
    segs = rigid.rigid_segments(BLAZEPOSE)
    # the truth's limbs are rigid; the free triangulation's stretch with the noise, the held ones far less
    assert _cv(held.raw_points[a], segs).max() < 0.5 * _cv(free.raw_points[a], segs).max()
    # nearer the truth, the points and the solved joints both
    assert mpjpe_mm(held.raw_points[a], P[b]) < 0.95 * mpjpe_mm(free.raw_points[a], P[b])
    want = motion.global_positions()[b][:, OBSERVED]
    assert mpjpe_mm(held.motion.global_positions()[a][:, OBSERVED], want) < mpjpe_mm(free.motion.global_positions()[a][:, OBSERVED], want)
    # and the cameras still agree with them: a rigid body explains rigid-body footage as well
    assert np.nanmean(held.error_px) < np.nanmean(free.error_px) + 0.5


def test_hold_lengths_leaves_missing_points_and_the_face_alone():
    motion = source(str(HOP), frames=30)
    P, calib, kp, _ = footage(motion, BLAZEPOSE, 3, S.Corruption(noise_px=3.0, dropout=0.0, outliers=0.0, swaps=0.0, max_offset=0), seed=5)
    poses = np.stack([c.pose for c in calib.cameras])
    focal = np.array([c.focal for c in calib.cameras])
    obs = np.stack([cam.undistort(kp.data[c, ..., :2]) for c, cam in enumerate(calib.cameras)])
    conf = kp.data[..., 2]
    pts = P + np.random.default_rng(0).normal(0, 0.01, P.shape)
    knee = BLAZEPOSE.index("left_knee")
    pts[4:9, knee] = np.nan
    held, lengths = rigid.hold_lengths(pts, obs, conf, poses, focal, BLAZEPOSE)
    assert np.isnan(held[4:9, knee]).all() and np.isfinite(held[:4, knee]).all()
    face = [BLAZEPOSE.index(n) for n in ("nose", "left_eye", "mouth_left", "left_pinky")]
    np.testing.assert_array_equal(held[:, face], pts[:, face])
    assert np.all(lengths > 0.05)
    # the refit moves the noisy points towards the true ones, and a disabled refit moves nothing
    used = sorted({k for s in rigid.rigid_segments(BLAZEPOSE) for k in s})
    assert mpjpe_mm(held[:, used], P[:, used]) < mpjpe_mm(pts[:, used], P[:, used])
    same, none = rigid.hold_lengths(pts, obs, conf, poses, focal, BLAZEPOSE, length_sd=0.0)
    np.testing.assert_array_equal(same, pts)
    assert none.size == 0
    # a detection without coordinates counts for nothing, whatever weight it comes with
    lost = obs.copy()
    lost[0, :, knee] = np.nan
    again, _ = rigid.hold_lengths(pts, lost, conf, poses, focal, BLAZEPOSE)
    without, _ = rigid.hold_lengths(pts, obs, np.where(np.arange(len(poses))[:, None, None] == 0, 0.0, conf) *
                                    (np.arange(pts.shape[1]) == knee) + conf * (np.arange(pts.shape[1]) != knee), poses, focal, BLAZEPOSE)
    np.testing.assert_allclose(again, without, atol=1e-9)
    # and the points it kept still project onto their detections
    err = reprojection_errors(held[:, used].reshape(-1, 3), obs[:, :, used].reshape(len(poses), -1, 2), poses, focal)
    assert np.nanmedian(err[np.isfinite(err)]) < 10.0


@pytest.mark.parametrize("value", ["-0.01", "nan", "inf"])
def test_command_refuses_a_negative_length_spread(tmp_path, capsys, value):
    from lmm_core.cli import main

    assert main(["capture", str(tmp_path / "calib.toml"), str(tmp_path / "kp.npz"), "-o", str(tmp_path / "take.bvh"),
                 "--length-sd", value]) == 2
    assert "--length-sd" in capsys.readouterr().err
    assert not (tmp_path / "take.bvh").exists()


def test_the_python_api_refuses_a_spread_that_is_no_number():
    from lmm_core.errors import LMMError

    motion = source(str(HOP), frames=20)
    _, calib, kp, _ = footage(motion, COCO17, 3, S.Corruption(noise_px=1.0), seed=2)
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(LMMError, match="length_sd"):
            capture(calib, kp, CaptureOptions(fps=motion.fps, length_sd=bad))
