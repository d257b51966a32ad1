"""One person, one body: the checks after the first triangulation that keep a take on one performer.

A detector that follows one person per camera (BlazePose) can, in some frames, follow somebody else, or
swap a performer's left and right. Per keypoint, the triangulation already leaves out the cameras that
disagree with the others (``triangulate``). Two things it cannot see from one keypoint alone are handled
here, on the whole take:

- **Another person** (``foreign``): a camera whose detections of a frame lie, by their median over the
  body, further than the agreement threshold from the triangulated points is watching someone else (or
  nobody) in that frame. Its whole detection of that frame is dropped, rather than letting the few
  keypoints that happen to line up with the performer count. Needs three cameras (two always agree).
- **An even split** (``body_penalty``): where the cameras split two against two on a keypoint, the
  proposal the most confident pair agree with is a coin toss. The body decides: each keypoint on a limb
  or the torso lies at a known distance from its neighbours (the take's median length of that segment),
  so a proposal that would stretch a thigh from 40 to 54 cm is the wrong one. Keypoints whose segments
  deviate more than ``SUSPECT`` from their medians are triangulated again with that cost (``WEIGHT``
  cameras per unit of relative deviation) against each proposal, two rounds.
"""
from __future__ import annotations

import numpy as np

from .keypoints import ALIASES, JointSet
from .triangulate import reprojection_errors, triangulate

SEGMENTS = (("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
            ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"),
            ("right_elbow", "right_wrist"), ("left_hip", "right_hip"), ("left_shoulder", "right_shoulder"),
            ("left_hip", "left_shoulder"), ("right_hip", "right_shoulder"))
SUSPECT = 0.12   # a segment this far (relative) from its median length makes its two ends suspect
WEIGHT = 4.0     # penalty per unit of relative deviation, in fully confident cameras (30% off: 1.2 cameras)
ROUNDS = 2


def segments(joint_set: JointSet) -> list[tuple[int, int]]:
    """The ``SEGMENTS`` as keypoint index pairs of this joint set."""
    alias = ALIASES[joint_set.name]
    return [(joint_set.index(alias[a]), joint_set.index(alias[b])) for a, b in SEGMENTS]


def segment_lengths(points: np.ndarray, segs: list[tuple[int, int]]) -> np.ndarray:
    """``(T, S)`` lengths of the segments in ``points (T, K, 3)`` (NaN where an end is missing)."""
    return np.stack([np.linalg.norm(points[:, a] - points[:, b], axis=-1) for a, b in segs], axis=1)


def foreign(obs: np.ndarray, valid: np.ndarray, points: np.ndarray, poses: np.ndarray, focal: np.ndarray,
            threshold_px: float) -> np.ndarray:
    """``(C, T)`` True where a camera's detections of a frame are, by their median, further than
    ``threshold_px`` from where the triangulated ``points (T, K, 3)`` project: another person.

    Args:
        obs: ``(C, T, K, 2)`` normalised undistorted coordinates; ``valid (C, T, K)`` where detected.
    """
    C, T, K = valid.shape
    if C < 3:
        return np.zeros((C, T), dtype=bool)
    err = reprojection_errors(points.reshape(-1, 3), obs.reshape(C, -1, 2), poses, focal).reshape(C, T, K)
    seen = valid & np.isfinite(points[None, ..., 0])
    err = np.where(seen, err, np.nan)
    counted = seen.sum(axis=2) >= max(3, K // 4)  # judge a frame on a good part of the body only
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(err, axis=2)
    return counted & (med > threshold_px)


def body_penalty(neighbours: np.ndarray, lengths: np.ndarray):
    """The cost of a proposal ``X (N, 3)`` given its neighbours ``(N, M, 3)`` (NaN where none) and the
    segments' median lengths ``(N, M)``: ``WEIGHT`` x the summed relative deviations (each at most 1)."""
    def penalty(X: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(X[:, None] - neighbours, axis=-1)
        dev = np.minimum(np.abs(d - lengths) / lengths, 1.0)
        return WEIGHT * np.nansum(dev, axis=1)
    return penalty


def refine(obs: np.ndarray, conf: np.ndarray, poses: np.ndarray, focal: np.ndarray, joint_set: JointSet,
           threshold_px: float, raw: np.ndarray, err: np.ndarray, views: np.ndarray, tconf: np.ndarray) -> int:
    """Triangulate again, with the body's cost, the keypoints whose segments are off their median lengths.

    Args:
        obs: ``(C, T, K, 2)`` normalised coordinates (NaN where missing); ``conf (C, T, K)``.
        raw, err, views, tconf: ``(T, K, 3)``, ``(T, K)`` x 3: the first triangulation's points (world
            frame), errors, views and confidences, updated in place.
    Returns:
        how many points were triangulated again.
    """
    segs = segments(joint_set)
    count = 0
    for _ in range(ROUNDS):
        lengths = segment_lengths(raw, segs)
        with np.errstate(all="ignore"):
            median = np.nanmedian(lengths, axis=0) if np.isfinite(lengths).any() else np.full(len(segs), np.nan)
            off = np.abs(lengths - median) / median > SUSPECT
        suspect = np.zeros(raw.shape[:2], dtype=bool)
        for s, (a, b) in enumerate(segs):
            suspect[:, a] |= off[:, s]
            suspect[:, b] |= off[:, s]
        if not suspect.any():
            break
        for k in np.flatnonzero(suspect.any(axis=0)):
            ts = np.flatnonzero(suspect[:, k])
            mine = [(b if a == k else a, median[s]) for s, (a, b) in enumerate(segs) if k in (a, b) and median[s] > 0]
            if not mine:
                continue
            nb = raw[ts][:, [o for o, _ in mine]]
            L = np.broadcast_to(np.array([m for _, m in mine]), nb.shape[:2])
            tri = triangulate(obs[:, ts, k], conf[:, ts, k], poses, focal, threshold_px=threshold_px,
                              penalty=body_penalty(nb, L))
            raw[ts, k], err[ts, k], views[ts, k], tconf[ts, k] = tri.points, tri.error_px, tri.views, tri.confidence
            count += len(ts)
    return count
