"""Each camera's constant image offset, measured on the take: a light self-calibration.

A calibration that is slightly off (a principal point a few pixels away from the lens's, a camera nudged
by a fraction of a degree after calibrating) and a detector that places every keypoint a little to one
side in one view both show as a constant shift of that camera's detections against where the other
cameras put the points. With three or more cameras that shift is measurable: the median over the take
of each camera's residual (detection minus projection), over the detections that agree with the point.

Part of those medians is not the cameras' but the points': moving every point by the same 3D vector
shifts each camera's projections too, by an amount the cameras share out by their viewing directions (a
gauge: such a shift cannot be told from the points being elsewhere). That part is removed (projected out
through the Jacobian of the projections at the body's centre), so the offsets carry no common translation
of the body (to first order, at its centre), and repeated rounds converge instead of drifting. Only that
translation is removed: the offsets may still move the triangulated points otherwise (a rotation or
scaling of the body, or points moving relative to each other), which is what they are for.

Two numbers per camera, fitted to all keypoints of all frames (thousands of detections), and held
constant over the take: they cannot follow the pose, so they remove bias, not motion. Off for two
cameras (each one's offset would be the other's, mirrored).
"""
from __future__ import annotations

import numpy as np

from .triangulate import reprojection_errors

MIN_CAMERAS = 3
MIN_DETECTIONS = 50  # per camera; fewer agreeing detections measure no offset (left at 0)


def gauge_basis(centre: np.ndarray, poses: np.ndarray) -> np.ndarray:
    """``(2C, 3)`` how each camera's normalised projection of ``centre (3,)`` moves per metre of a
    translation of the point (the Jacobian), for ``poses (C, 3, 4)``."""
    cam = np.einsum("cij,j->ci", poses[:, :, :3], centre) + poses[:, :, 3]
    z = cam[:, 2]
    # d(x/z)/dX = (R0 - x R2) / z, and the same for y
    J = (poses[:, 0:2, :3] - (cam[:, 0:2] / z[:, None])[..., None] * poses[:, 2:3, :3]) / z[:, None, None]
    return J.reshape(-1, 3)


def measure(obs: np.ndarray, valid: np.ndarray, points: np.ndarray, poses: np.ndarray, focal: np.ndarray,
            threshold_px: float) -> np.ndarray:
    """The cameras' constant offsets in normalised image coordinates, ``(C, 2)``: detection minus
    projection, median over the agreeing detections, with the part a translation of the points would
    explain removed (module docstring). Zeros for fewer than ``MIN_CAMERAS`` cameras.

    Args:
        obs: ``(C, T, K, 2)`` normalised undistorted coordinates; ``valid (C, T, K)`` where detected.
        points: ``(T, K, 3)`` triangulated points, calibration world (NaN where none).
        poses: ``(C, 3, 4)``; ``focal (C,)`` pixels.
        threshold_px: the agreement threshold: only detections within it of the projection count.
    """
    C = obs.shape[0]
    out = np.zeros((C, 2))
    flat = points.reshape(-1, 3)
    have = np.all(np.isfinite(flat), axis=1)
    if C < MIN_CAMERAS or have.sum() < MIN_DETECTIONS:
        return out
    o = obs.reshape(C, -1, 2)
    err = reprojection_errors(flat, o, poses, focal)
    cam = np.einsum("cij,nj->cni", poses[:, :, :3], np.where(have[:, None], flat, 0.0)) + poses[:, None, :, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        proj = cam[..., :2] / cam[..., 2:3]
    agree = valid.reshape(C, -1) & have[None] & (err < threshold_px)
    for c in range(C):
        if agree[c].sum() >= MIN_DETECTIONS:
            out[c] = np.median(o[c, agree[c]] - proj[c, agree[c]], axis=0)
    J = gauge_basis(np.median(flat[have], axis=0), poses)
    b = out.reshape(-1)
    b = b - J @ np.linalg.lstsq(J, b, rcond=None)[0]
    return b.reshape(C, 2)
