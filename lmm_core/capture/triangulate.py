"""Triangulation of keypoints seen by several calibrated cameras: confidence-weighted DLT, made robust
by trying every pair of cameras as a hypothesis (exhaustive RANSAC; a rig has few cameras, so all
``C (C - 1) / 2`` pairs are cheaper than random draws and never miss the good one).

Observations are normalised, undistorted image coordinates (``Camera.undistort``), so the projection
matrices are the cameras' ``[R | t]``; pixel errors are normalised errors times the focal length.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Callable

import numpy as np


@dataclass(eq=False)
class Triangulation:
    """Points triangulated from ``C`` cameras.

    Attributes:
        points: ``(N, 3)`` world positions, metres; NaN where fewer than ``min_views`` cameras agree.
        error_px: ``(N,)`` mean reprojection error over the inlier cameras, pixels (NaN with the point).
        inliers: ``(C, N)`` bool, the cameras whose detection the point explains within the threshold.
        confidence: ``(N,)`` mean detector confidence of the inliers (0 where the point is NaN).
    """

    points: np.ndarray
    error_px: np.ndarray
    inliers: np.ndarray
    confidence: np.ndarray

    @property
    def views(self) -> np.ndarray:
        """``(N,)`` number of inlier cameras."""
        return self.inliers.sum(axis=0)


def dlt(obs: np.ndarray, weights: np.ndarray, poses: np.ndarray, refine: int = 1) -> np.ndarray:
    """Weighted linear triangulation (DLT) of ``N`` points.

    Each camera adds the rows ``w (x P3 - P1)`` and ``w (y P3 - P2)``; the point is the null vector of
    the stacked rows (smallest eigenvector of ``A^T A``). The algebraic residual of a camera is its
    image error times the point's depth, so far cameras would count more; ``refine`` passes divide each
    camera's rows by the depth found by the previous pass, which makes the fit minimise (weighted)
    image errors to first order.

    Args:
        obs: ``(C, N, 2)`` normalised image coordinates (any value where the weight is 0).
        weights: ``(C, N)`` non-negative weights (detector confidence; 0 leaves the camera out).
        poses: ``(C, 3, 4)`` ``[R | t]`` per camera.
    Returns:
        ``(N, 3)`` points, NaN where fewer than two cameras have weight.
    """
    obs = np.where(np.isfinite(obs), obs, 0.0)
    w = np.where(np.isfinite(weights), weights, 0.0)
    enough = (w > 0).sum(axis=0) >= 2
    scale = np.ones_like(w)
    X = np.full((obs.shape[1], 3), np.nan)
    for _ in range(refine + 1):
        # rows (C, N, 2, 4)
        rows = obs[..., :, None] * poses[:, None, 2:3, :] - poses[:, None, 0:2, :]
        rows = rows * (w * scale)[..., None, None]
        ata = np.einsum("cnri,cnrj->nij", rows, rows)
        _, vecs = np.linalg.eigh(ata)
        h = vecs[..., 0]  # eigenvector of the smallest eigenvalue
        with np.errstate(divide="ignore", invalid="ignore"):
            X = h[:, :3] / h[:, 3:4]
        depth = np.einsum("cj,nj->cn", poses[:, 2, :3], X) + poses[:, 2, 3][:, None]
        good = np.isfinite(depth) & (depth > 1e-3)
        scale = np.where(good, 1.0 / np.where(good, depth, 1.0), scale)
    X[~enough | ~np.all(np.isfinite(X), axis=-1)] = np.nan
    return X


def reprojection_errors(points: np.ndarray, obs: np.ndarray, poses: np.ndarray, focal: np.ndarray) -> np.ndarray:
    """``(C, N)`` image distance in pixels between each camera's observation and the point's projection
    (inf where the point is behind the camera or undefined)."""
    cam = np.einsum("cij,nj->cni", poses[:, :, :3], points) + poses[:, None, :, 3]
    z = cam[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        proj = cam[..., :2] / z[..., None]
        err = np.linalg.norm(proj - obs, axis=-1) * focal[:, None]
    return np.where((z > 1e-3) & np.isfinite(err), err, np.inf)


def penalty_at(penalty: Callable[[np.ndarray], np.ndarray], X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``penalty`` of the points ``X[idx]`` (it sees all ``N`` points, NaN where not proposed)."""
    full = np.full(X.shape, np.nan)
    full[idx] = X[idx]
    return penalty(full)[idx]


def triangulate(obs: np.ndarray, conf: np.ndarray, poses: np.ndarray, focal: np.ndarray, *,
                threshold_px: float = 20.0, min_views: int = 2,
                penalty: Callable[[np.ndarray], np.ndarray] | None = None) -> Triangulation:
    """Robust, confidence-weighted triangulation of ``N`` points from ``C`` cameras.

    1. Every pair of cameras that both see a point proposes it (two-view DLT).
    2. Each proposal is scored by the confidence of the cameras that see it within ``threshold_px``
       (ties go to the smaller total truncated error); the best one wins.
    3. The point is refitted by weighted DLT on the winner's inliers, and the inliers re-decided once.

    A wrong detection (an outlier, a left/right swap) in a minority of cameras is thus left out instead
    of dragging the point; a keypoint missing in some cameras just has fewer views.

    Args:
        obs: ``(C, N, 2)`` normalised undistorted image coordinates (NaN where missing).
        conf: ``(C, N)`` detector confidence, 0 where missing.
        poses: ``(C, 3, 4)`` ``[R | t]``.
        focal: ``(C,)`` focal lengths in pixels (to express errors in pixels).
        threshold_px: reprojection error under which a camera agrees with a point.
        min_views: fewer agreeing cameras than this leave the point NaN.
        penalty: ``(N, 3) -> (N,)``, subtracted from each proposal's score (in units of one fully
            confident camera): what else is known against a point there (``consistency``: a body whose
            bones would change length). Decides between proposals the cameras split on evenly.
    """
    C, N = conf.shape
    valid = (conf > 0) & np.all(np.isfinite(obs), axis=-1)
    w = np.where(valid, conf, 0.0)
    best_score = np.full(N, -np.inf)
    best = np.full((N, 3), np.nan)
    for a, b in combinations(range(C), 2):
        pair = np.zeros_like(w)
        pair[[a, b]] = w[[a, b]]
        has = valid[a] & valid[b]
        if not has.any():
            continue
        X = np.full((N, 3), np.nan)
        X[has] = dlt(obs[:, has], pair[:, has], poses, refine=0)
        err = reprojection_errors(X[has], obs[:, has], poses, focal)
        agree = valid[:, has] & (err < threshold_px)
        score = (w[:, has] * agree).sum(axis=0) - 1e-3 * np.where(valid[:, has], np.minimum(err, threshold_px) / threshold_px, 0).sum(axis=0)
        idx = np.flatnonzero(has)
        if penalty is not None:
            score = score - np.nan_to_num(penalty_at(penalty, X, idx), nan=0.0)
        better = score > best_score[idx]
        best_score[idx[better]] = score[better]
        best[idx[better]] = X[has][better]
    inliers = valid & (reprojection_errors(best, obs, poses, focal) < threshold_px)
    points = best
    for _ in range(2):
        points = dlt(obs, np.where(inliers, w, 0.0), poses, refine=1)
        err = reprojection_errors(points, obs, poses, focal)
        inliers = valid & (err < threshold_px)
    n_in = inliers.sum(axis=0)
    ok = (n_in >= min_views) & np.all(np.isfinite(points), axis=-1)
    points[~ok] = np.nan
    inliers &= ok[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_err = np.where(ok, np.where(inliers, err, 0.0).sum(axis=0) / np.maximum(n_in, 1), np.nan)
        mean_conf = np.where(ok, np.where(inliers, conf, 0.0).sum(axis=0) / np.maximum(n_in, 1), 0.0)
    return Triangulation(points, mean_err, inliers, mean_conf)
