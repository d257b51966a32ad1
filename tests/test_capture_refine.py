"""Two refinements of multi-camera capture, on synthetic cameras with known errors: each camera's constant
image offset measured on the take (``image_offsets``), and BlazePose's flip averaging (``video.merge_flipped``:
no MediaPipe needed, the merge is plain arrays)."""
from __future__ import annotations

import numpy as np
from capture_fixtures import HOP, OBSERVED, footage, mpjpe_mm, overlap, source
from lmm_core.capture import image_offsets
from lmm_core.capture import synthetic as S
from lmm_core.capture import video
from lmm_core.capture.keypoints import BLAZEPOSE, COCO17, Keypoints2D
from lmm_core.capture.pipeline import CaptureOptions, capture

SHIFT_PX = np.array([[0.0, 0.0], [7.0, -5.0], [-6.0, 4.0], [3.0, 6.0]])  # a camera nudged by a quarter of a degree


def _shifted(kp: Keypoints2D, shift: np.ndarray) -> Keypoints2D:
    data = kp.data.copy()
    data[..., :2] += np.where(data[..., 2:] > 0, shift[:, None, None], 0.0)
    return Keypoints2D(data, kp.joint_set, kp.cameras, kp.fps, kp.source)


def _gauge_free(px: np.ndarray, res, calib) -> np.ndarray:
    """``px (C, 2)`` offsets with the part a translation of the body would explain removed, pixels."""
    poses = np.stack([c.pose for c in calib.cameras])
    focal = np.array([c.focal for c in calib.cameras])
    centre = np.nanmedian((res.raw_points @ calib.to_y_up()).reshape(-1, 3), axis=0)
    J = image_offsets.gauge_basis(centre, poses)
    b = (px / focal[:, None]).reshape(-1)
    return (b - J @ np.linalg.lstsq(J, b, rcond=None)[0]).reshape(-1, 2) * focal[:, None]


def test_constant_camera_offsets_are_measured_and_taken_off():
    motion = source(str(HOP), frames=120)
    corruption = S.Corruption(noise_px=2.0, dropout=0.1, outliers=0.01, swaps=0.01)
    P, calib, kp, _ = footage(motion, COCO17, 4, corruption, seed=3)
    bad = _shifted(kp, SHIFT_PX)
    plain = capture(calib, bad, CaptureOptions(fps=motion.fps, refine_cameras=False))
    fixed = capture(calib, bad, CaptureOptions(fps=motion.fps))
    # What was put in comes out, to a pixel, up to what a translation of the whole body would explain (the
    # gauge: no camera can tell that part from the performer standing elsewhere).
    assert plain.image_offsets_px is not None and not plain.image_offsets_px.any()
    found = _gauge_free(fixed.image_offsets_px, fixed, calib)
    want = _gauge_free(SHIFT_PX, fixed, calib)
    assert np.abs(found - want).max() < 1.0, (found, want)
    # ... so the cameras agree again (the reprojection error falls to the noise's), and the keypoints come no
    # further from the truth (the gauge part of the shift moves the whole body, which no camera can see).
    assert np.nanmean(fixed.error_px) < 0.7 * np.nanmean(plain.error_px), (np.nanmean(fixed.error_px), np.nanmean(plain.error_px))
    a, b = overlap(fixed, motion)
    a0, b0 = overlap(plain, motion)
    assert mpjpe_mm(fixed.points[a], P[b]) < mpjpe_mm(plain.points[a0], P[b0])
    body = [mpjpe_mm(r.motion.global_positions()[x][:, OBSERVED], motion.global_positions()[y][:, OBSERVED])
            for r, x, y in ((fixed, a, b), (plain, a0, b0))]
    assert body[0] < body[1], body


def test_no_offset_is_invented_where_the_calibration_is_right():
    motion = source(str(HOP), frames=120)
    _, calib, kp, _ = footage(motion, COCO17, 4, S.Corruption(noise_px=3.0, dropout=0.1, outliers=0.02), seed=5)
    res = capture(calib, kp, CaptureOptions(fps=motion.fps))
    assert np.abs(res.image_offsets_px).max() < 0.6, res.image_offsets_px


def test_two_cameras_measure_no_offset():
    """With two cameras a shift of one is a shift of the other, mirrored: nothing is measured."""
    motion = source(str(HOP), frames=60)
    _, calib, kp, _ = footage(motion, COCO17, 2, S.Corruption(noise_px=1.0), seed=1)
    res = capture(calib, _shifted(kp, SHIFT_PX[:2]), CaptureOptions(fps=motion.fps))
    assert not res.image_offsets_px.any()


def _person(rng, centre=(500.0, 900.0), height=1200.0) -> np.ndarray:
    kp = np.zeros((BLAZEPOSE.size, 3))
    kp[:, 0] = centre[0] + rng.uniform(-0.15, 0.15, BLAZEPOSE.size) * height
    kp[:, 1] = centre[1] + rng.uniform(-0.5, 0.5, BLAZEPOSE.size) * height
    kp[:, 2] = rng.uniform(0.6, 1.0, BLAZEPOSE.size)
    return kp


def test_a_mirrored_detection_comes_back_onto_the_frame_with_sides_swapped():
    rng = np.random.default_rng(0)
    width = 1088
    kp = _person(rng)
    world = rng.normal(size=(BLAZEPOSE.size, 3))
    # What a detector would return on the mirrored frame: x mirrored, and the performer's left called right.
    mirrored = kp[video.MIRROR].copy()
    mirrored[:, 0] = (width - 1) - mirrored[:, 0]
    w_m = world[video.MIRROR].copy()
    w_m[:, 0] *= -1
    back, w_back = video.unmirror(mirrored, w_m, width)
    np.testing.assert_allclose(back, kp)
    np.testing.assert_allclose(w_back, world)
    assert BLAZEPOSE.names[video.MIRROR[BLAZEPOSE.index("left_wrist")]] == "right_wrist"
    assert BLAZEPOSE.names[video.MIRROR[BLAZEPOSE.index("nose")]] == "nose"
    assert BLAZEPOSE.names[video.MIRROR[BLAZEPOSE.index("mouth_left")]] == "mouth_right"


def test_flip_merge_averages_by_visibility_and_refuses_to_mix_two_people():
    rng = np.random.default_rng(1)
    a = _person(rng)
    world = np.zeros((BLAZEPOSE.size, 3))
    b = a.copy()
    b[:, :2] += 6.0  # the mirrored pass, 6 px off everywhere
    b[:, 2] = a[:, 2] / 3  # and a third as sure
    kp, _ = video.merge_flipped(a, world, b, world)
    np.testing.assert_allclose(kp[:, :2], a[:, :2] + 6.0 * 0.25)  # weights 3:1
    np.testing.assert_allclose(kp[:, 2], (a[:, 2] + b[:, 2]) / 2)
    # One landmark far apart (its sides swapped in one pass): the more visible pass's, not a point between.
    c = a.copy()
    k = BLAZEPOSE.index("left_ankle")
    c[k, 0] += 300.0
    c[k, 2] = 0.1
    kp, _ = video.merge_flipped(a, world, c, world)
    np.testing.assert_allclose(kp[k], a[k])
    # A pass that found nobody leaves the other as it was.
    none = np.zeros_like(a)
    kp, w = video.merge_flipped(none, np.full_like(world, np.nan), a, world)
    np.testing.assert_allclose(kp, a)
    # The two passes follow two people: the surer pass whole.
    other = _person(rng, centre=(900.0, 800.0))
    other[:, 2] = 0.99
    kp, _ = video.merge_flipped(a, world, other, world)
    np.testing.assert_allclose(kp, other)


def test_a_cache_made_without_flip_is_not_read_as_flipped(tmp_path):
    clip = tmp_path / "cam01.mp4"
    clip.write_bytes(b"not decoded here")
    det = video.Detections(np.zeros((3, 33, 3)), np.zeros((3, 33, 3)), 60.0, (1088, 1920))
    video.write_cache(tmp_path / "take.keypoints", clip, det)
    assert video.read_cache(tmp_path / "take.keypoints", clip, flip=False) is not None
    assert video.read_cache(tmp_path / "take.keypoints", clip, flip=True) is None  # detected again, with flip
    flipped = video.Detections(det.keypoints, det.world, det.fps, det.size, flip=True)
    video.write_cache(tmp_path / "take.keypoints", clip, flipped)
    back = video.read_cache(tmp_path / "take.keypoints", clip, flip=True)
    assert back is not None and back.flip


def test_the_command_line_switches_the_refinements_off(tmp_path, monkeypatch):
    from lmm_core.capture import command
    from lmm_core.cli import main

    seen = {}

    def fake(calibration, keypoints, options, **kw):
        seen["options"] = options
        raise command.LMMError("stop here")

    monkeypatch.setattr(command, "capture_files", fake)
    args = ["capture", str(tmp_path / "c.toml"), str(tmp_path / "kp.npz"), "-o", str(tmp_path / "out.bvh")]
    assert main(args) != 0
    assert seen["options"].flip and seen["options"].refine_cameras  # on by default
    assert main(args + ["--no-flip", "--no-refine-cameras"]) != 0
    assert not seen["options"].flip and not seen["options"].refine_cameras
