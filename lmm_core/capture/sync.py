"""Frame offsets between unsynchronised cameras, found from the keypoints themselves.

Two calibrated cameras that film the same instant see each keypoint on corresponding epipolar lines:
``x2^T E x1 = 0`` with the essential matrix ``E = [t]x R`` of their relative pose. Shifting one camera's
frames by the wrong amount breaks this for everything that moves. For each pair of cameras and each
candidate shift, the cost is the squared Sampson (first-order geometric) epipolar distance in pixels,
averaged over the best 90% of the detection pairs: wrong detections (outliers, left/right swaps), whose
number varies from shift to shift, then neither dominate the cost nor decide between two shifts of a
slow movement.
The offsets of all cameras are then chosen together (one fixed at 0) to minimise the sum of the pair
costs, by coordinate descent started from each camera's best shift against the reference.

Convention: ``offsets[c]`` is the number of frames camera ``c`` runs *ahead*: its frame ``t + offsets[c]``
shows the instant the reference camera shows at frame ``t``.
"""
from __future__ import annotations

import numpy as np

from .cameras import Camera


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])


def essential(a: Camera, b: Camera) -> np.ndarray:
    """``(3, 3)`` essential matrix with ``xb^T E xa = 0`` for normalised points of cameras ``a`` and ``b``."""
    Rab = b.R @ a.R.T
    tab = b.t - Rab @ a.t
    return _skew(tab) @ Rab


def pair_costs(obs: np.ndarray, valid: np.ndarray, cameras: list[Camera], max_offset: int, cap_px: float = 20.0,
               min_pairs: int = 30, trim: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Costs of every relative shift for every pair of cameras.

    Args:
        obs: ``(C, T, K, 2)`` normalised undistorted coordinates.
        valid: ``(C, T, K)`` bool, detections present.
        max_offset: shifts ``-2 max_offset .. 2 max_offset`` are scored (relative shifts of two cameras
            each up to ``max_offset`` from the reference).
    Returns:
        ``cost (C, C, S)`` (squared Sampson distance, px^2, truncated at ``cap_px`` and averaged over the best
        ``1 - trim`` of the pairs; inf without enough overlap)
        and ``count (C, C, S)`` (detection pairs compared), where ``S = 4 max_offset + 1`` and index
        ``s`` stands for shift ``d = s - 2 max_offset``: camera ``i``'s frame ``t + d`` against camera ``j``'s frame ``t``.
    """
    C, T = valid.shape[:2]
    span = 2 * max_offset
    S = 2 * span + 1
    cost = np.full((C, C, S), np.inf)
    count = np.zeros((C, C, S), dtype=np.int64)
    for i in range(C):
        for j in range(C):
            if i == j:
                cost[i, j, span] = 0.0
                continue
            if j < i:  # cost[i, j, d] is cost[j, i, -d]
                cost[i, j] = cost[j, i, ::-1]
                count[i, j] = count[j, i, ::-1]
                continue
            E = essential(cameras[j], cameras[i])  # x_i^T E x_j = 0
            f = 0.5 * (cameras[i].focal + cameras[j].focal)
            # The products with E do not depend on the shift: compute them once per pair.
            hj = np.concatenate([np.where(valid[j, ..., None], obs[j], 0.0), np.ones(valid.shape[1:] + (1,))], axis=-1)
            hi = np.concatenate([np.where(valid[i, ..., None], obs[i], 0.0), np.ones(valid.shape[1:] + (1,))], axis=-1)
            Ej = hj @ E.T   # E x_j, (T, K, 3)
            Ei = hi @ E     # E^T x_i
            den_j = Ej[..., 0] ** 2 + Ej[..., 1] ** 2
            den_i = Ei[..., 0] ** 2 + Ei[..., 1] ** 2
            for s in range(S):
                d = s - span
                lo, hi_ = max(0, -d), min(T, T - d)
                if hi_ - lo <= 0:
                    continue
                both = valid[i, lo + d:hi_ + d] & valid[j, lo:hi_]
                n = int(both.sum())
                count[i, j, s] = n
                if n < min_pairs:
                    continue
                num = np.sum(hi[lo + d:hi_ + d] * Ej[lo:hi_], axis=-1)
                den = den_j[lo:hi_] + den_i[lo + d:hi_ + d]
                dist = (np.abs(num) / np.sqrt(np.maximum(den, 1e-18)) * f)[both]
                # Trimmed mean: the worst `trim` of the pairs (wrong detections, swaps) are left out, so
                # that how many of them a shift happens to pair up does not decide it.
                keep = max(1, int(round(n * (1.0 - trim))))
                d2 = np.partition(np.minimum(dist, cap_px) ** 2, keep - 1)[:keep]
                cost[i, j, s] = float(d2.mean())
    return cost, count


def search_limit(max_offset: int, frames: int, window: int = 1500) -> int:
    """The largest offset ``estimate_offsets`` searches, either way, for a take of ``frames`` frames: at most
    ``max_offset`` and half of the frames compared."""
    return int(max(0, min(max_offset, min(frames, window) // 2)))


def estimate_offsets(obs: np.ndarray, valid: np.ndarray, cameras: list[Camera], max_offset: int = 30,
                     reference: int | None = None, cap_px: float = 20.0, sweeps: int = 4, window: int = 1500) -> np.ndarray:
    """Integer frame offsets ``(C,)`` of every camera (see the module docstring); the first camera's is 0.

    Args:
        obs: ``(C, T, K, 2)`` normalised undistorted coordinates; ``valid``: ``(C, T, K)``.
        max_offset: the largest offset considered, frames, either way.
        reference: the camera the search starts from (default: the one with the most detections); the
            offsets returned are relative to the first camera whichever it is.
        window: at most this many frames (the middle of the take) are compared.
    """
    C = valid.shape[0]
    if C < 2:
        return np.zeros(C, dtype=int)
    if valid.shape[1] > window:
        # A long take: offsets are constant, so the middle `window` frames tell them as well as all would.
        a = (valid.shape[1] - window) // 2
        obs, valid = obs[:, a:a + window], valid[:, a:a + window]
    max_offset = search_limit(max_offset, valid.shape[1], window)
    if max_offset == 0:
        return np.zeros(C, dtype=int)
    ref = int(np.argmax(valid.sum(axis=(1, 2)))) if reference is None else reference
    cost, count = pair_costs(obs, valid, cameras, max_offset, cap_px)
    span = 2 * max_offset
    cands = np.arange(-max_offset, max_offset + 1)
    # A pair that shares little (or faces the same way) says little: weight a pair's cost by its overlap,
    # and break exact ties towards small offsets.
    weight = np.sqrt(count.max(axis=2).astype(float))
    offsets = np.zeros(C, dtype=int)
    for c in range(C):
        if c == ref:
            continue
        row = cost[c, ref, cands + span]
        offsets[c] = int(cands[np.argmin(row + 1e-9 * np.abs(cands))]) if np.isfinite(row).any() else 0
    for _ in range(sweeps):
        changed = False
        for c in range(C):
            if c == ref:
                continue
            total = np.zeros(len(cands))
            for d in range(C):
                if d == c or weight[c, d] == 0:
                    continue
                rel = cands - offsets[d] + span
                inside = (rel >= 0) & (rel < cost.shape[2])
                pc = np.full(len(cands), np.inf)
                pc[inside] = cost[c, d, rel[inside]]
                # A shift with too little overlap is unknown, not impossible: give it the pair's worst cost.
                finite = pc[np.isfinite(pc)]
                pc[~np.isfinite(pc)] = finite.max() if finite.size else 0.0
                total += weight[c, d] * pc
            new = int(cands[np.argmin(total + 1e-9 * np.abs(cands))])
            changed |= new != offsets[c]
            offsets[c] = new
        if not changed:
            break
    # Report against the first camera, the one users think of as the reference.
    return offsets - offsets[0]


def apply_offsets(data: np.ndarray, offsets: np.ndarray, min_cameras: int = 2) -> tuple[np.ndarray, int]:
    """Per-camera arrays ``(C, T, ...)`` on one timeline: camera ``c``'s frame ``t + offsets[c]`` lands at ``t``.

    The timeline covers every instant that at least ``min_cameras`` cameras recorded; frames a camera did
    not record are zero (confidence 0: missing). Returns the aligned ``(C, T', ...)`` and the reference
    frame index of its first frame (``start``: aligned frame ``k`` is reference frame ``start + k``).
    """
    C, T = data.shape[:2]
    offsets = np.asarray(offsets, dtype=int)
    start = int(-offsets.max())
    stop = int(T - offsets.min())
    L = stop - start
    out = np.zeros((C, L) + data.shape[2:], dtype=data.dtype)
    covered = np.zeros((C, L), dtype=bool)
    for c in range(C):
        # aligned index k <-> reference frame start + k <-> camera frame start + k + offsets[c]
        lo = max(0, -(start + offsets[c]))
        hi = min(L, T - (start + offsets[c]))
        if hi > lo:
            out[c, lo:hi] = data[c, start + offsets[c] + lo:start + offsets[c] + hi]
            covered[c, lo:hi] = True
    keep = np.flatnonzero(covered.sum(axis=0) >= min_cameras)
    if keep.size == 0:
        return out[:, :0], start
    return out[:, keep[0]:keep[-1] + 1], start + int(keep[0])
