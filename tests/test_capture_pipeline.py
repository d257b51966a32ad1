"""The capture pipeline end to end on real motion capture filmed by synthetic calibrated cameras: the
solved motion is compared with the clip that went in (not with the code's own output)."""
from __future__ import annotations

import numpy as np
import pytest

from capture_fixtures import HOP, IDLE, OBSERVED, footage, mpjpe_mm, overlap, source
from lmm_core import canonical as cn
from lmm_core import read_bvh
from lmm_core import rotations as R
from lmm_core.capture import synthetic as S
from lmm_core.capture.calibration import write_calibration
from lmm_core.capture.keypoints import BODY25, COCO17, write_coco_folder, write_openpose_folder
from lmm_core.capture.pipeline import CaptureOptions, capture
from lmm_core.capture.solve import fit_skeleton, solve
from lmm_core.cli import main


@pytest.mark.parametrize("js", [COCO17, BODY25])
def test_solver_puts_joints_on_exact_keypoints(js):
    motion = source()
    P = S.keypoints_3d(motion, js)
    sk, lengths = fit_skeleton(P, js)
    # Limb lengths measured exactly, whatever the poses.
    for side in ("left", "right"):
        assert lengths[f"{side}_thigh"] == pytest.approx(np.linalg.norm(cn.REST_OFFSETS[cn.JOINT_INDEX[f"{side}_knee"]]), abs=1e-6)
        assert lengths[f"{side}_forearm"] == pytest.approx(np.linalg.norm(cn.REST_OFFSETS[cn.JOINT_INDEX[f"{side}_wrist"]]), abs=1e-6)
    out = solve(P, js, motion.fps, limits=False, skeleton=sk)
    got, want = out.global_positions(), motion.global_positions()
    assert mpjpe_mm(got[:, OBSERVED], want[:, OBSERVED]) < 2.0
    # Bone lengths stay constant over the clip (a skeleton, not a point cloud).
    bone = np.linalg.norm(got[:, cn.JOINT_INDEX["left_elbow"]] - got[:, cn.JOINT_INDEX["left_shoulder"]], axis=-1)
    assert np.ptp(bone) < 1e-9
    # The joint limits move rotations, but the limbs still reach their keypoints.
    limited = solve(P, js, motion.fps, limits=True, skeleton=sk)
    assert mpjpe_mm(limited.global_positions()[:, OBSERVED], want[:, OBSERVED]) < 15.0
    # Keypoints the canonical body cannot place (the spine) come out plausible, not exact: bounded error.
    assert mpjpe_mm(got, want) < 40.0


@pytest.mark.parametrize("clip, js, cams, noise", [(str(HOP), COCO17, 4, 2.0), (str(IDLE), BODY25, 4, 2.0), (str(HOP), COCO17, 8, 5.0)])
def test_pipeline_recovers_real_motion_from_noisy_unsynchronised_cameras(clip, js, cams, noise):
    """4 or 8 cameras, 10% dropouts, occlusions, outliers, swaps and frame offsets; a hop (fast) and an idle
    (nearly still: its frame offsets cannot be told apart, and need not be)."""
    motion = source(clip, frames=150)
    corruption = S.Corruption(noise_px=noise, dropout=0.1, occlusion=0.05, outliers=0.01, swaps=0.01, max_offset=4)
    P, calib, kp, truth = footage(motion, js, cams, corruption, seed=cams)
    res = capture(calib, kp, CaptureOptions(fps=motion.fps))
    if clip == str(HOP):
        np.testing.assert_array_equal(res.offsets, truth)
    else:
        res.start -= int(res.offsets[0] - truth[0])  # (both are relative to the first camera: 0)
    a, b = overlap(res, motion)
    assert b.stop - b.start >= motion.num_frames - 2 * 4 - 2
    kp_err = mpjpe_mm(res.points[a], P[b])
    body_err = mpjpe_mm(res.motion.global_positions()[a][:, OBSERVED], motion.global_positions()[b][:, OBSERVED])
    limit = 20.0 if noise <= 2 else 30.0
    assert kp_err < limit and body_err < limit, (kp_err, body_err)
    # Rotations of the limbs' roots follow the source (twist about a bone is not observable: compare
    # where the bones point instead).
    g_got, _ = res.motion.fk()
    g_src, _ = motion.fk()
    for j in ("left_hip", "right_knee", "left_shoulder", "right_elbow"):
        i = cn.JOINT_INDEX[j]
        child = cn.PARENTS.index(i)
        d_got = R.mul_vec(g_got[a, i], cn.REST_OFFSETS[child])
        d_src = R.mul_vec(g_src[b, i], cn.REST_OFFSETS[child])
        cosine = np.sum(d_got * d_src, -1) / np.linalg.norm(d_got, axis=-1) / np.linalg.norm(d_src, axis=-1)
        assert np.degrees(np.arccos(np.clip(cosine, -1, 1))).mean() < 8.0, j


def test_a_world_with_z_up_comes_out_y_up():
    motion = source(frames=60)
    P = S.keypoints_3d(motion, COCO17)
    calib = S.camera_ring(4, P, seed=2, up="z")
    P_z = P @ calib.to_y_up()  # world points in the calibration's Z-up frame (row vectors: W^T)
    kp, _ = S.render(P_z, calib, COCO17, S.Corruption(noise_px=0.5, dropout=0, occlusion=0, outliers=0, swaps=0, max_offset=0))
    res = capture(calib, kp, CaptureOptions(fps=30, sync=False))
    assert mpjpe_mm(res.points, P) < 5.0


def test_command_line_from_openpose_folders_and_a_calibration(tmp_path):
    motion = source(frames=90)
    P, calib, kp, truth = footage(motion, BODY25, 4, S.Corruption(noise_px=1.0, max_offset=3), seed=7)
    write_calibration(calib, tmp_path / "calib.toml")
    folders = [write_openpose_folder(kp.data[c], tmp_path / name, prefix=name) for c, name in enumerate(calib.names)]
    out = tmp_path / "take.bvh"
    assert main(["capture", str(tmp_path / "calib.toml"), *map(str, folders), "-o", str(out)]) == 0
    back = read_bvh(out)
    assert set(back.skeleton.names) == set(cn.JOINT_NAMES) and back.fps == 30
    order = [back.skeleton.index(n) for n in cn.JOINT_NAMES]  # the BVH lists joints depth first
    got = back.global_positions()[:, order][:, OBSERVED]
    want = motion.global_positions()[:, OBSERVED]
    # The take starts where the first camera's frame 0 is (offsets found from the keypoints): frame k of
    # the file is source frame k, give or take the frames the others lacked at the start.
    n = min(len(got), len(want))
    assert mpjpe_mm(got[:n], want[:n]) < 25.0
    # COCO JSON, one results file per camera, and a rig to write onto.
    P, calib, kp, _ = footage(motion, COCO17, 4, S.Corruption(noise_px=1.0, max_offset=0), seed=8)
    write_calibration(calib, tmp_path / "calib.yml")
    folders = [write_coco_folder(kp.data[c], tmp_path / "coco" / name, one_file=True) for c, name in enumerate(calib.names)]
    rig = tmp_path / "rig.bvh"
    from lmm_core.io import write_bvh

    write_bvh(read_bvh(HOP).slice(0, 1), rig)
    out2 = tmp_path / "on_rig.bvh"
    assert main(["capture", str(tmp_path / "calib.yml"), str(tmp_path / "coco"), "-o", str(out2), "--rig", str(rig), "--no-sync"]) == 0
    assert read_bvh(out2).skeleton.names == read_bvh(rig).skeleton.names


def test_command_line_errors_are_one_line(tmp_path, capsys):
    motion = source(frames=30)
    _, calib, kp, _ = footage(motion, COCO17, 2, S.Corruption(max_offset=0), seed=1)
    write_calibration(calib, tmp_path / "calib.toml")
    np.savez(tmp_path / "kp.npz", keypoints=kp.data, cameras=np.array(["cam1", "camX"]))
    code = main(["capture", str(tmp_path / "calib.toml"), str(tmp_path / "kp.npz"), "-o", str(tmp_path / "o.bvh")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "camX" in err and "cam1, cam2" in err and len(err.splitlines()) == 1
    np.savez(tmp_path / "one.npz", keypoints=kp.data[:1], cameras=np.array(["cam1"]))
    assert main(["capture", str(tmp_path / "calib.toml"), str(tmp_path / "one.npz"), "-o", str(tmp_path / "o.bvh")]) == 2
    assert "at least 2 cameras" in capsys.readouterr().err
    assert main(["capture", str(tmp_path / "calib.toml"), str(tmp_path / "kp.npz"), "-o", str(tmp_path / "no" / "o.bvh")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.bvh"))
