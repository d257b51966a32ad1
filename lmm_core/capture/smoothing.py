"""Temporal smoothing of triangulated keypoints that keeps fast motion.

A box filter averages a punch or a kick away. Instead each frame gets a *local quadratic* fit over a
short Gaussian window (LOESS-like): a parabola follows a peak of a fast motion where an average cuts it,
so only the noise goes. Each sample is weighted by how much it is trusted (detector confidence, number
of cameras that agree, reprojection error), and the fit is repeated with Tukey's biweight on its
residuals, so a wrong triangulation (a swap of left and right in most cameras, an unlucky RANSAC) is
ignored instead of smeared over its neighbours. Frames without any sample are filled by linear
interpolation of the smoothed track (held at the ends) and reported as filled.
"""
from __future__ import annotations

import warnings

import numpy as np


def sample_weights(confidence: np.ndarray, views: np.ndarray, error_px: np.ndarray, error_scale_px: float = 10.0) -> np.ndarray:
    """Trust in each triangulated point ``(...)``: confidence times the number of agreeing cameras, less
    for large reprojection errors (``1 / (1 + (e / scale)^2)``); 0 where the point is missing."""
    e = np.where(np.isfinite(error_px), error_px, np.inf)
    w = confidence * views / (1.0 + (e / error_scale_px) ** 2)
    return np.where(np.isfinite(e) & (views >= 2), w, 0.0)


def _local_quadratic(y: np.ndarray, w: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted local quadratic fits of ``y (T, K, 3)`` with weights ``w (T, K)`` and a Gaussian window of
    ``sigma`` frames; returns the fitted values ``(T, K, 3)`` (NaN where the window holds too little) and
    the window's total weight ``(T, K)``."""
    T = y.shape[0]
    h = max(1, int(np.ceil(2.5 * sigma)))
    y0 = np.where(np.isfinite(y), y, 0.0)
    S = np.zeros((5,) + w.shape)           # sum g w u^p, p = 0..4
    B = np.zeros((3,) + y.shape)           # sum g w u^p y, p = 0..2
    for u in range(-h, h + 1):
        g = np.exp(-0.5 * (u / sigma) ** 2)
        lo, hi = max(0, -u), min(T, T - u)
        if hi <= lo:
            continue
        wu = g * w[lo + u:hi + u]
        yu = y0[lo + u:hi + u]
        for p in range(5):
            S[p, lo:hi] += wu * float(u) ** p
        for p in range(3):
            B[p, lo:hi] += (wu * float(u) ** p)[..., None] * yu
    M = np.stack([np.stack([S[0], S[1], S[2]], -1), np.stack([S[1], S[2], S[3]], -1), np.stack([S[2], S[3], S[4]], -1)], -2)
    rhs = np.moveaxis(B, 0, -1)  # (T, K, 3 coords, 3 powers)
    det = np.linalg.det(M)
    # Where the window cannot pin a parabola (one-sided support, few samples), fall back to a line or the mean.
    scale = np.maximum(S[0], 1e-12) ** 3
    quad_ok = det > 1e-6 * scale
    out = np.full(y.shape, np.nan)
    if quad_ok.any():
        Mq = M[quad_ok]
        # The value at the window's centre is the constant term: the first row of M^-1 times the moments.
        out[quad_ok] = np.einsum("nj,ncj->nc", np.linalg.inv(Mq)[:, 0, :], rhs[quad_ok])
    lin = ~quad_ok & (S[0] > 0)
    if lin.any():
        d2 = S[0] * S[2] - S[1] ** 2
        line_ok = lin & (d2 > 1e-6 * np.maximum(S[0], 1e-12) ** 2)
        a0 = (S[2][..., None] * B[0] - S[1][..., None] * B[1]) / np.where(d2 > 0, d2, 1.0)[..., None]
        out[line_ok] = a0[line_ok]
        mean_only = lin & ~line_ok
        out[mean_only] = (B[0] / np.maximum(S[0], 1e-12)[..., None])[mean_only]
    return out, S[0]


def _running_median(x: np.ndarray, half: int) -> np.ndarray:
    """Median over frames ``t - half .. t + half`` of ``x (T, ...)``, ignoring NaN (NaN where all are)."""
    T = x.shape[0]
    pad = np.full((half,) + x.shape[1:], np.nan)
    xp = np.concatenate([pad, x, pad])
    stack = np.stack([xp[i:i + T] for i in range(2 * half + 1)], axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows are expected (gaps)
        return np.nanmedian(stack, axis=-1)


def smooth(points: np.ndarray, weights: np.ndarray, fps: float, sigma_s: float = 0.05, robust_iterations: int = 2,
           reject: float = 4.685) -> tuple[np.ndarray, np.ndarray]:
    """Smooth keypoint tracks, reject outliers, fill gaps.

    Args:
        points: ``(T, K, 3)`` triangulated positions, metres (NaN where missing).
        weights: ``(T, K)`` trust per sample (``sample_weights``), 0 where missing.
        fps: frames per second; the window is ``sigma_s`` seconds whatever the frame rate.
        sigma_s: standard deviation of the Gaussian window, seconds (0 switches smoothing off but keeps
            the gap filling).
        robust_iterations: fits with Tukey's biweight of the residuals (from a running median first,
            then from the previous fit).
        reject: the biweight's cut-off in robust standard deviations (4.685: 95% efficiency for Gaussian noise).
    Returns:
        ``(T, K, 3)`` smoothed, gap-free positions (NaN only for a keypoint never seen) and ``filled (T, K)``:
        frames where the keypoint had no sample, or only one that the outlier rejection threw out.
    """
    points = np.asarray(points, dtype=np.float64)
    w = np.where(np.all(np.isfinite(points), axis=-1), np.asarray(weights, dtype=np.float64), 0.0)
    observed = w > 0
    sigma = sigma_s * fps
    if sigma_s > 0 and sigma >= 0.3:
        # The first reference is a running median over 5 frames, which two wild frames in a row cannot
        # move; later ones are the robust fits themselves.
        fit = _running_median(np.where(observed[..., None], points, np.nan), 2)
        wr = w.copy()
        for it in range(robust_iterations + 1):
            r = np.linalg.norm(points - fit, axis=-1)
            r = np.where(observed & np.isfinite(r), r, np.nan)
            # Robust scale per keypoint (median absolute residual), floored so noise-free data is not cut.
            s = 1.4826 * np.nanmedian(np.where(observed, r, np.nan), axis=0)
            s = np.maximum(np.where(np.isfinite(s), s, 0.0), 1e-3)
            u = r / (reject * s[None])
            wr = np.where(observed & (np.nan_to_num(u, nan=2.0) < 1), w * (1 - np.nan_to_num(u, nan=1.0) ** 2) ** 2, 0.0)
            fit, _ = _local_quadratic(points, wr, sigma)
        # Short gaps (missing samples, and samples the biweight threw out) take the local fit of their
        # neighbours when the window holds samples on both sides: a parabola through a fast swing beats a
        # straight line. Anything else is left to the linear fill below.
        h = max(1, int(np.ceil(2.5 * sigma)))
        have = np.concatenate([np.zeros((1,) + wr.shape[1:]), np.cumsum(wr > 0, axis=0)])  # (T + 1, K)
        t = np.arange(points.shape[0])
        before = have[t] - have[np.maximum(t - h, 0)]
        after = have[np.minimum(t + h + 1, len(t))] - have[t + 1]
        bridged = (before > 0) & (after > 0)
        out = np.where(((wr > 0) | bridged)[..., None] & np.isfinite(fit), fit, np.nan)
        filled = ~(wr > 0)
    else:
        out = np.where(observed[..., None], points, np.nan)
        filled = ~observed
    missing = ~np.all(np.isfinite(out), axis=-1)
    t = np.arange(points.shape[0])
    for k in range(points.shape[1]):
        have = ~missing[:, k]
        if not have.any() or have.all():
            continue
        for c in range(3):
            out[~have, k, c] = np.interp(t[~have], t[have], out[have, k, c])
    return out, filled
