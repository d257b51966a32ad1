"""Synthetic multi-camera footage from real motion capture, to test and measure the capture pipeline the
way capture labs validate theirs: known motion in, detections out, and the solved motion compared with
what went in.

- ``source_motion``: a clip on the canonical body (retargeted from any BVH), at a chosen frame rate.
- ``keypoints_3d``: where a detector's keypoints sit on that body (``JointSet.markers``).
- ``camera_ring``: ``n`` calibrated cameras around the performer's area, looking at it, with realistic
  intrinsics (1920x1080, f about 1400 px) and lens distortion.
- ``render``: the keypoints as those cameras' detectors would report them: pixel noise, dropouts,
  occlusions of whole limbs for stretches of frames, outlier detections, left/right swaps, points that
  leave the image, and a frame offset per camera (unsynchronised starts).

Everything is seeded, so a test or benchmark draws the same footage every time.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import canonical as cn
from ..bonemap import bone_map_for
from ..io import read_bvh
from ..motion import Motion
from ..retarget import retarget
from .calibration import Calibration
from .cameras import Camera, look_at
from .keypoints import JointSet, Keypoints2D
from .solve import marker_positions


def source_motion(path: str | Path, fps: float | None = None, start: int = 0, frames: int | None = None) -> Motion:
    """A BVH clip (any rig) on the canonical body, frames ``start:start + frames`` after resampling to ``fps``."""
    motion = read_bvh(path)
    canon = cn.canonical_skeleton()
    out = retarget(motion, bone_map_for(motion.skeleton), canon, bone_map_for(canon, "canonical"), fix_feet=False)
    if fps is not None and abs(out.fps - fps) > 1e-6:
        out = out.resampled(fps)
    stop = None if frames is None else start + frames
    return out.slice(start, stop)


def keypoints_3d(motion: Motion, joint_set: JointSet) -> np.ndarray:
    """``(T, K, 3)`` world positions (metres, Y up) of the joint set's keypoints on a canonical-body motion."""
    g_rot, g_pos = motion.fk()
    return marker_positions(g_rot, g_pos, motion.skeleton, joint_set)


def camera_ring(n: int, points: np.ndarray, *, seed: int = 0, size: tuple[int, int] = (1920, 1080), focal: float = 1400.0,
                distortion: bool = True, up: str = "y") -> Calibration:
    """``n`` cameras evenly round the performer's area, 1.4 to 2.6 m high, aimed at its centre (1 m high).

    The radius grows with how far the performer travels (``points``: ``(T, K, 3)``, Y up), so the
    performer stays in view most of the time; each camera's angle, height, aim, focal length, principal
    point and distortion are jittered. ``up`` other than ``"y"`` expresses the calibration in a world with
    that up axis (points must then be turned by ``Calibration.to_y_up().T`` before rendering).
    """
    rng = np.random.default_rng(seed)
    flat = points.reshape(-1, 3)
    flat = flat[np.all(np.isfinite(flat), axis=1)]
    centre = np.array([np.median(flat[:, 0]), 1.0, np.median(flat[:, 2])])
    reach = float(np.percentile(np.linalg.norm(flat[:, [0, 2]] - centre[[0, 2]], axis=1), 95))
    radius = 4.0 + 1.5 * reach
    cams = []
    for i in range(n):
        a = 2 * np.pi * i / n + rng.uniform(-0.15, 0.15)
        eye = centre + np.array([radius * np.cos(a), rng.uniform(0.4, 1.6), radius * np.sin(a)])
        target = centre + np.array([rng.uniform(-0.2, 0.2), rng.uniform(-0.1, 0.1), rng.uniform(-0.2, 0.2)])
        Rm, t = look_at(eye, target)
        f = focal * rng.uniform(0.95, 1.05)
        K = np.array([[f * rng.uniform(0.998, 1.002), 0.0, size[0] / 2 + rng.uniform(-15, 15)],
                      [0.0, f, size[1] / 2 + rng.uniform(-15, 15)], [0.0, 0.0, 1.0]])
        dist = np.array([rng.uniform(-0.15, 0.05), rng.uniform(-0.05, 0.1), rng.uniform(-5e-4, 5e-4),
                         rng.uniform(-5e-4, 5e-4), 0.0]) if distortion else np.zeros(5)
        cams.append(Camera(f"cam{i + 1}", K, dist, Rm, t, size))
    calib = Calibration(tuple(cams), "y")
    if up != "y":
        # Same cameras, world turned so that `up` is up: X_y = W X_up, so R_up = R_y W and t stays.
        W = Calibration((), up).to_y_up()
        calib = Calibration(tuple(Camera(c.name, c.K, c.dist, c.R @ W, c.t, c.size) for c in cams), up)
    return calib


@dataclass(frozen=True)
class Corruption:
    """How far detections are from perfect.

    Attributes:
        noise_px: standard deviation of Gaussian pixel noise, per coordinate.
        dropout: share of detections missing at random.
        occlusion: share of each camera's frames in which one limb (or the head) is hidden, in runs of
            5 to 20 frames.
        outliers: share of detections replaced by a confident detection somewhere else in the image.
        swaps: share of frames per camera in which the detector swaps left and right.
        max_offset: each camera but the first starts up to this many frames early or late.
    """

    noise_px: float = 2.0
    dropout: float = 0.1
    occlusion: float = 0.05
    outliers: float = 0.01
    swaps: float = 0.01
    max_offset: int = 5


# Groups hidden together by an occlusion (keypoint names of each set).
_OCCLUDE = {
    "coco17": (("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"), ("left_knee", "left_ankle"),
               ("right_knee", "right_ankle"), ("nose", "left_eye", "right_eye"), ("left_hip", "left_knee")),
    "body25": (("LElbow", "LWrist"), ("RElbow", "RWrist"), ("LKnee", "LAnkle", "LBigToe", "LSmallToe", "LHeel"),
               ("RKnee", "RAnkle", "RBigToe", "RSmallToe", "RHeel"), ("Nose", "LEye", "REye"), ("LHip", "LKnee")),
    "blazepose": (("left_elbow", "left_wrist", "left_pinky", "left_index", "left_thumb"),
                  ("right_elbow", "right_wrist", "right_pinky", "right_index", "right_thumb"),
                  ("left_knee", "left_ankle", "left_heel", "left_foot_index"),
                  ("right_knee", "right_ankle", "right_heel", "right_foot_index"),
                  ("nose", "left_eye", "right_eye", "mouth_left", "mouth_right"), ("left_hip", "left_knee")),
}


def _swap_index(js: JointSet) -> np.ndarray:
    idx = np.arange(js.size)
    for k, name in enumerate(js.names):
        for a, b in (("left_", "right_"), ("right_", "left_"), ("L", "R"), ("R", "L")):
            if name.startswith(a) and (other := b + name[len(a):]) in js.names:
                idx[k] = js.names.index(other)
                break
    return idx


def render(points: np.ndarray, calib: Calibration, joint_set: JointSet, corruption: Corruption = Corruption(), *,
           seed: int = 0, fps: float | None = None) -> tuple[Keypoints2D, np.ndarray]:
    """Detections of keypoints ``(T, K, 3)`` (world frame of ``calib``, metres) in every camera.

    Returns the keypoints ``(C, T, K, 3)`` (x, y in distorted pixels, confidence) and the true offsets
    ``(C,)``: camera ``c``'s frame ``f`` shows the instant ``f - offsets[c]`` (first camera: 0), so
    ``sync.estimate_offsets`` should find exactly these.
    """
    rng = np.random.default_rng(seed)
    C, (T, K) = len(calib.cameras), points.shape[:2]
    offsets = np.zeros(C, dtype=int)
    if corruption.max_offset > 0 and C > 1:
        offsets[1:] = rng.integers(-corruption.max_offset, corruption.max_offset + 1, size=C - 1)
    data = np.zeros((C, T, K, 3))
    swap = _swap_index(joint_set)
    groups = [[joint_set.index(n) for n in g] for g in _OCCLUDE[joint_set.name]]
    for c, cam in enumerate(calib.cameras):
        src = np.arange(T) - offsets[c]
        have = (src >= 0) & (src < T)
        px, depth = cam.project(points[np.clip(src, 0, T - 1)])
        conf = rng.uniform(0.5, 1.0, size=(T, K))
        px = px + rng.normal(0.0, corruption.noise_px, size=px.shape) if corruption.noise_px > 0 else px
        w, h = cam.size or (1920, 1080)
        inside = (depth > 0.1) & (px[..., 0] >= 0) & (px[..., 0] < w) & (px[..., 1] >= 0) & (px[..., 1] < h)
        conf = np.where(have[:, None] & inside & np.all(np.isfinite(points[np.clip(src, 0, T - 1)]), axis=-1), conf, 0.0)
        # left/right swaps of whole frames
        sw = rng.random(T) < corruption.swaps
        px[sw] = px[sw][:, swap]
        # occlusions: a limb hidden for a run of frames
        n_runs = int(round(corruption.occlusion * T / 12.0))
        for _ in range(n_runs):
            g = groups[rng.integers(len(groups))]
            t0 = int(rng.integers(T))
            conf[t0:t0 + int(rng.integers(5, 21)), g] = 0.0
        # outliers: a confident detection in the wrong place
        out = (rng.random((T, K)) < corruption.outliers) & (conf > 0)
        px[out] = rng.uniform((0, 0), (w, h), size=(int(out.sum()), 2))
        conf[out] = rng.uniform(0.3, 0.9, size=int(out.sum()))
        conf[rng.random((T, K)) < corruption.dropout] = 0.0
        data[c, ..., :2] = px
        data[c, ..., 2] = conf
    return Keypoints2D(data, joint_set, calib.names, fps), offsets
