"""One camera, no calibration: a motion from BlazePose's own 3D landmarks and an assumed focal length.

BlazePose gives, besides the 2D keypoints, 33 "world" landmarks per frame: metres, centred between the
hips, in the camera's axes (x right, y down, z away from the camera). They hold the pose but not where
the body is. This module puts the body in the room and on the canonical body:

1. **Where**: for each frame, the translation that carries the world landmarks onto the rays of their
   2D keypoints (linear least squares, weighted by visibility) through a pinhole camera whose focal
   length is assumed (``--focal``, default ``DEFAULT_FOV_DEG`` of horizontal field of view: a phone's
   main camera) and whose centre is the image's. The depth that comes out is only as good as that
   focal length and BlazePose's idea of the body's size.
2. **Which way is up**: the camera may look down or be rolled; the body's median vertical over the take
   (mid-ankles to mid-shoulders) is taken as up, so a take where the performer mostly leans (lying,
   crawling) comes out tilted.
3. **Smoothing and the skeleton solve** as for several cameras (``smoothing``, ``solve``): the
   performer's bone lengths, joint rotations within the limits.
4. **The floor**: the body is lowered so that its heel and toe-tip keypoints touch ``y = 0`` where they are
   lowest (the 5th percentile over the take of each frame's lowest).

What one camera cannot recover, whatever is done: absolute depth and scale (a small person near the
camera and a tall one further away look the same; BlazePose's landmarks have an average body's scale,
and the distance follows the assumed focal length), motion along the camera's axis (only BlazePose's
learned guess of depth), and body parts hidden behind the body (guessed by the detector). The model is
not used as a prior here yet.
"""
from __future__ import annotations

import numpy as np

from .. import rotations as R
from ..errors import LMMError
from ..motion import Motion
from .keypoints import BLAZEPOSE
from .smoothing import smooth
from .solve import fit_skeleton, marker_positions, solve
from .stance import pin_planted
from .video import Detections

DEFAULT_FOV_DEG = 65.0
FLOOR_PERCENTILE = 5.0
_CAMERA_TO_Y_UP = np.diag([1.0, -1.0, -1.0])  # camera axes (x right, y down, z away) -> x right, y up, z towards the camera


def focal_length(size: tuple[int, int], focal_px: float | None = None) -> float:
    """The focal length in pixels: given, or from ``DEFAULT_FOV_DEG`` across the frame's width."""
    if focal_px is not None:
        if not focal_px > 0:
            raise LMMError(f"--focal must be a positive number of pixels, got {focal_px}")
        return float(focal_px)
    return 0.5 * size[0] / np.tan(np.radians(DEFAULT_FOV_DEG) / 2)


def place(world: np.ndarray, keypoints: np.ndarray, size: tuple[int, int], focal_px: float) -> np.ndarray:
    """Per frame, the translation ``(T, 3)`` (camera axes, metres) that puts the world landmarks ``(T, K, 3)``
    on the rays of their keypoints ``(T, K, 3)`` (pixels and visibility); NaN where a frame has too little.

    With ``u = (px - cx) / f``: ``(X + t) / (Z + tz) = u`` gives ``tx - u tz = u Z - X`` (and the same in y),
    linear in ``t``.
    """
    c = np.array([(size[0] - 1) / 2, (size[1] - 1) / 2])
    uv = (keypoints[..., :2] - c) / focal_px
    w = np.where(np.all(np.isfinite(world), axis=-1), keypoints[..., 2], 0.0)
    X = np.nan_to_num(world)
    T, K = w.shape
    A = np.zeros((T, K, 2, 3))
    b = np.zeros((T, K, 2))
    for i in range(2):
        A[..., i, i] = 1.0
        A[..., i, 2] = -uv[..., i]
        b[..., i] = uv[..., i] * X[..., 2] - X[..., i]
    A = A * np.sqrt(w)[..., None, None]
    b = b * np.sqrt(w)[..., None]
    ata = np.einsum("tkij,tkil->tjl", A, A)
    atb = np.einsum("tkij,tki->tj", A, b)
    enough = (w > 0.5).sum(axis=1) >= 6
    t = np.full((T, 3), np.nan)
    if enough.any():
        t[enough] = np.linalg.solve(ata[enough], atb[enough][..., None])[..., 0]
    t[(t[:, 2] <= 0.1)] = np.nan  # behind or at the camera: no answer
    return t


def monocular(det: Detections, *, focal_px: float | None = None, smooth_s: float = 0.05, limits: bool = True,
              pin_feet: bool = False) -> tuple[Motion, np.ndarray]:
    """A motion on the canonical body from one camera's BlazePose detections (see the module docstring).

    Returns:
        the motion (metres, Y up, the floor at ``y = 0``, frame ``k`` = video frame ``k``) and the keypoints
        it was solved from ``(T, 33, 3)`` in the same frame.
    """
    f = focal_length(det.size, focal_px)
    t = place(det.world, det.keypoints, det.size, f)
    raw = (det.world + t[:, None]) @ _CAMERA_TO_Y_UP  # (T, K, 3), camera at the origin, Y up (camera's)
    if not np.isfinite(raw).any():
        raise LMMError("BlazePose found nobody in the video (no frame has a person); check the footage")
    weights = np.where(np.all(np.isfinite(raw), axis=-1), np.clip(det.keypoints[..., 2], 0.05, 1.0), 0.0)
    points, _ = smooth(raw, weights, det.fps, smooth_s)
    if not np.all(np.isfinite(points)):
        raise LMMError("BlazePose found the performer in too few frames to solve the body")
    J = BLAZEPOSE.index
    body = 0.5 * (points[:, J("left_shoulder")] + points[:, J("right_shoulder")]) \
        - 0.5 * (points[:, J("left_ankle")] + points[:, J("right_ankle")])
    up = np.median(body / np.linalg.norm(body, axis=-1, keepdims=True), axis=0)
    level = R.to_matrix(R.between(up / np.linalg.norm(up), np.array([0.0, 1.0, 0.0])))
    points = points @ level.T
    skeleton, _ = fit_skeleton(points, BLAZEPOSE)
    motion = solve(points, BLAZEPOSE, det.fps, limits=limits, skeleton=skeleton)
    g_rot, g_pos = motion.fk()
    feet = [J(n) for n in ("left_heel", "right_heel", "left_foot_index", "right_foot_index")]
    soles = marker_positions(g_rot, g_pos, motion.skeleton, BLAZEPOSE)[:, feet, 1].min(axis=1)
    floor = float(np.percentile(soles, FLOOR_PERCENTILE))
    motion.root_positions = motion.root_positions - np.array([0.0, floor, 0.0])
    points = points - np.array([0.0, floor, 0.0])
    motion.labels["source"] = "capture (one camera)"
    if pin_feet:
        motion = pin_planted(motion, floor=0.0)
    return motion, points
