"""Capture file formats: OpenCV FileStorage YAML, calibrations (TOML, JSON, YAML), detector keypoints
(COCO-17 JSON, OpenPose BODY_25 JSON, npz), and the errors bad files get."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lmm_core.capture import synthetic as S
from lmm_core.capture.calibration import Calibration, read_calibration, write_calibration
from lmm_core.capture.cameras import Camera, rodrigues
from lmm_core.capture.keypoints import (BODY25, COCO17, Keypoints2D, read_keypoints, write_coco_folder, write_npz,
                                        write_openpose_folder)
from lmm_core.capture.opencv_yaml import parse_opencv_yaml
from lmm_core.capture.pipeline import CaptureOptions, capture
from lmm_core.errors import LMMError, MotionFileError

# As cv::FileStorage writes it (OpenCV's calibration sample), comments and a matrix over two lines included.
OPENCV_SAMPLE = """%YAML:1.0
---
calibration_time: "Tue 12 Nov 2024 10:00:00 CET"
image_width: 1920
image_height: 1080
# intrinsics
camera_matrix: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ 1.4e+03, 0., 9.6e+02, 0., 1.41e+03,
       5.4e+02, 0., 0., 1. ]
distortion_coefficients: !!opencv-matrix
   rows: 1
   cols: 5
   dt: d
   data: [ -1.2e-01, 3.e-02, 1.e-04, -2.e-04, 0. ]
rvec: !!opencv-matrix
   rows: 3
   cols: 1
   dt: d
   data: [ 0.1, -0.2, 0.05 ]
tvec: !!opencv-matrix
   rows: 3
   cols: 1
   dt: d
   data: [ 0.3, -1.0, 5.5 ]
"""


def test_opencv_yaml_reads_what_filestorage_writes():
    d = parse_opencv_yaml(OPENCV_SAMPLE)
    assert d["image_width"] == 1920 and d["calibration_time"].startswith("Tue")
    np.testing.assert_array_equal(d["camera_matrix"], [[1400, 0, 960], [0, 1410, 540], [0, 0, 1]])
    assert d["distortion_coefficients"].shape == (1, 5) and d["distortion_coefficients"][0, 0] == -0.12
    seq = parse_opencv_yaml('%YAML:1.0\n---\nnames:\n   - "01"\n   - "02"\nsizes: [ 3, 4 ]\n')
    assert seq == {"names": ["01", "02"], "sizes": [3, 4]}


@pytest.mark.parametrize("text, line, words", [
    ("camera_matrix: 1\n", 1, "%YAML"),
    ("%YAML:1.0\nK: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 1., 2. ]\n", 2, "needs 9 numbers"),
    ("%YAML:1.0\nK: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 1., 2.\n", 6, "never closed"),
    ("%YAML:1.0\na: 1\n  b: 2\n", 3, "indentation"),
    ("%YAML:1.0\nK: !!opencv-matrix\n   rows: 1\n   cols: 1\n   dt: d\n   data: [ x ]\n", 2, "numbers"),
])
def test_opencv_yaml_errors_name_the_line(text, line, words):
    with pytest.raises(MotionFileError) as e:
        parse_opencv_yaml(text, "calib.yml")
    assert e.value.line == line and words in e.value.problem


def _ring():
    pts = np.zeros((1, 1, 3))
    return S.camera_ring(4, pts, seed=3)


@pytest.mark.parametrize("suffix", [".toml", ".json", ".yml"])
def test_calibration_round_trip(tmp_path, suffix):
    calib = _ring()
    path = write_calibration(calib, tmp_path / f"calib{suffix}")
    back = read_calibration(path)
    assert back.names == calib.names and back.up == "y"
    for a, b in zip(calib.cameras, back.cameras):
        np.testing.assert_allclose(b.K, a.K, atol=1e-9)
        np.testing.assert_allclose(b.R, a.R, atol=1e-9)
        np.testing.assert_allclose(b.t, a.t, atol=1e-9)
        np.testing.assert_allclose(b.dist, a.dist, atol=1e-12)


def test_folder_of_opencv_files_and_units(tmp_path):
    (tmp_path / "left.yml").write_text(OPENCV_SAMPLE)
    (tmp_path / "right.yml").write_text(OPENCV_SAMPLE.replace("0.3, -1.0, 5.5", "-0.3, -1.0, 5.5"))
    calib = read_calibration(tmp_path)
    assert calib.names == ("left", "right") and calib.cameras[0].size == (1920, 1080)
    np.testing.assert_allclose(calib.cameras[0].R, rodrigues(np.array([0.1, -0.2, 0.05])))
    np.testing.assert_allclose(calib.cameras[1].t, [-0.3, -1.0, 5.5])
    # Anipose-style TOML in millimetres: translations come back in metres.
    toml = tmp_path / "anipose.toml"
    toml.write_text('units = "mm"\n[cam_0]\nname = "A"\nsize = [1920, 1080]\nmatrix = [[1400, 0, 960], [0, 1400, 540], [0, 0, 1]]\n'
                    'distortions = [0, 0, 0, 0, 0]\nrotation = [0, 0, 0]\ntranslation = [100, 0, 5000]\n')
    cam = read_calibration(toml).cameras[0]
    assert cam.name == "A"
    np.testing.assert_allclose(cam.t, [0.1, 0.0, 5.0])


@pytest.mark.parametrize("text, words", [
    ('[cameras.a]\nmatrix = [[1, 0, 0], [0, 1, 0]]\nrotation = [0, 0, 0]\ntranslation = [0, 0, 1]\n', "wrong shape"),
    ('[cameras.a]\nmatrix = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\ntranslation = [0, 0, 1]\n', "missing 'rotation'"),
    ('[cameras.a]\nmatrix = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\nrotation = [[1, 0, 0], [0, 2, 0], [0, 0, 1]]\ntranslation = [0, 0, 1]\n', "not a rotation"),
    ('units = "furlong"\n[cameras.a]\n', "units"),
    ('[cameras.a\n', "not valid TOML"),
    ('title = "no cameras"\n', "no cameras"),
])
def test_bad_calibrations(tmp_path, text, words):
    path = tmp_path / "calib.toml"
    path.write_text(text)
    with pytest.raises(MotionFileError) as e:
        read_calibration(path)
    assert words in str(e.value) and str(path) in str(e.value)


def _frames(js, T=6, seed=0):
    rng = np.random.default_rng(seed)
    kp = np.concatenate([rng.uniform(0, 1000, (T, js.size, 2)), rng.uniform(0.2, 1, (T, js.size, 1))], axis=-1).round(2)
    kp[2, 3] = 0.0  # one missing point
    kp[4] = 0.0     # a frame without detection
    return kp


@pytest.mark.parametrize("fmt, writer", [("body25", write_openpose_folder), ("coco17", write_coco_folder),
                                          ("coco17", lambda f, d: write_coco_folder(f, d, one_file=True))])
def test_json_keypoints_round_trip(tmp_path, fmt, writer):
    js = BODY25 if fmt == "body25" else COCO17
    frames = [_frames(js, seed=i) for i in range(2)]
    for i, f in enumerate(frames):
        writer(f, tmp_path / f"cam{i}")
    kp = read_keypoints([tmp_path / "cam0", tmp_path / "cam1"])
    assert kp.joint_set is js and kp.cameras == ("cam0", "cam1")
    # The one-file COCO variant has no detection for frame 4 and so no way to know it exists past the end.
    np.testing.assert_allclose(kp.data[:, :4], np.stack(frames)[:, :4], atol=1e-3)
    assert np.all(kp.data[:, 4, :, 2] == 0) and kp.data[0, 2, 3, 2] == 0
    # a single folder whose subfolders are the cameras reads the same
    assert read_keypoints(tmp_path).cameras == ("cam0", "cam1")


def test_npz_round_trip_and_person_choice(tmp_path):
    data = np.stack([_frames(COCO17, seed=i) for i in range(3)])
    kp = Keypoints2D(data, COCO17, ("a", "b", "c"), 25.0)
    back = read_keypoints(write_npz(kp, tmp_path / "kp.npz"))
    np.testing.assert_array_equal(back.data, kp.data)
    assert back.cameras == ("a", "b", "c") and back.fps == 25.0 and back.joint_set is COCO17
    # Two people in a frame: the more confident one is the performer. COCO visibility flags 2/1 read as 1/0.5.
    folder = tmp_path / "cam"
    folder.mkdir()
    weak = {"image_id": 0, "keypoints": [5.0, 5.0, 1] * 17}
    strong = {"image_id": 0, "keypoints": [100.0, 200.0, 2] * 16 + [7.0, 8.0, 1]}
    (folder / "000000.json").write_text(json.dumps({"annotations": [weak, strong]}))
    one = read_keypoints([folder, folder])  # same folder twice: two "cameras"
    np.testing.assert_allclose(one.data[0, 0, 0], [100.0, 200.0, 1.0])
    np.testing.assert_allclose(one.data[0, 0, 16], [7.0, 8.0, 0.5])


def test_bad_keypoint_files(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a_000000000000_keypoints.json").write_text('{"people": [{"pose_keypoints_2d": [1, 2, 3]}]}')
    with pytest.raises(MotionFileError, match="has 3 numbers; 75 expected"):
        read_keypoints([bad, bad])
    (bad / "a_000000000000_keypoints.json").write_text('{"people": [\n{"pose_keypoints_2d": [1, 2,, 3]}]}')
    with pytest.raises(MotionFileError) as e:
        read_keypoints([bad, bad])
    assert e.value.line == 2 and "not valid JSON" in e.value.problem
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MotionFileError, match="no .json"):
        read_keypoints([empty, empty])
    np.savez(tmp_path / "shape.npz", keypoints=np.zeros((2, 5, 17, 2)))
    with pytest.raises(MotionFileError, match="got shape"):
        read_keypoints(tmp_path / "shape.npz")
    np.savez(tmp_path / "joints.npz", keypoints=np.zeros((2, 5, 18, 3)))
    with pytest.raises(MotionFileError, match="neither COCO-17 nor BODY_25"):
        read_keypoints(tmp_path / "joints.npz")
    with pytest.raises(MotionFileError, match="not found"):
        read_keypoints(tmp_path / "nothing.npz")


def test_pipeline_input_errors():
    calib = _ring()
    data = np.zeros((4, 10, 17, 3))
    data[..., 2] = 1.0
    with pytest.raises(MotionFileError, match="no calibration for camera"):
        capture(calib, Keypoints2D(data, COCO17, ("cam1", "cam2", "cam3", "cam9")))
    with pytest.raises(MotionFileError, match="hold 3 cameras but the calibration has 4"):
        capture(calib, Keypoints2D(data[:3], COCO17))
    with pytest.raises(LMMError, match="at least 2 cameras"):
        capture(calib, Keypoints2D(data[:1], COCO17, ("cam1",)))
    with pytest.raises(MotionFileError, match="no keypoint was detected"):
        capture(calib, Keypoints2D(np.zeros((4, 10, 17, 3)), COCO17))
    with pytest.raises(MotionFileError, match="has 17 keypoints, the data has 25"):
        Keypoints2D(np.zeros((4, 10, 25, 3)), COCO17)
    # Detections that no pair of cameras agrees on (random pixels) triangulate nothing.
    rng = np.random.default_rng(0)
    noise = np.concatenate([rng.uniform(0, 1000, (4, 10, 17, 2)), np.ones((4, 10, 17, 1))], axis=-1)
    with pytest.raises(LMMError, match="agree|never triangulated"):
        capture(calib, Keypoints2D(noise, COCO17), CaptureOptions(sync=False, threshold_px=0.5))
    with pytest.raises(LMMError):
        Calibration((Camera("a", np.eye(3)), Camera("a", np.eye(3))))
