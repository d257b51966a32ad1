"""Bones that keep their length: the triangulated keypoints refitted to the cameras with the body's rigid
segments held near one length each for the take.

Triangulation places every keypoint of every frame on its own, so the detector's errors show as limbs
that stretch and shrink with the pose (on Pose2Sim's demo a forearm ran from 22 to 28 cm), and filtering
in time does not remove that: the error is slow and follows the pose. A person's thigh does not change
length, so the points are fitted again, frame by frame, to two kinds of evidence at once (the spatial
constraint of Anipose's triangulation, Karashchuk et al. 2021):

- each agreeing camera's detection: the image distance between the point's projection and the detection,
  in units of ``PIXEL_SD`` (the detector's typical error), Huber-weighted beyond two of them;
- each rigid segment (thigh, shin, upper arm, forearm, the hips' width, ankle to heel where the keypoints
  have heels): its length against the take's length of that segment, in units of
  ``LENGTH_SD`` of that length.

The take's lengths are the medians of the current lengths, updated between rounds (``ROUNDS``). A point
no camera pair triangulated stays missing (smoothing fills it), and keypoints on no rigid segment (face,
hands) are left as they are. Where the cameras pin a point firmly (four views, little error) the
length gives way; where one direction is poorly seen (two cameras, nearly parallel rays) the length
decides it. Pure numpy: a batched Gauss-Newton step per round on each frame's few dozen unknowns.
"""
from __future__ import annotations

import numpy as np

from .keypoints import ALIASES, JointSet

# Segments between points that sit on one bone (or on the rigid pelvis and foot), by the solver's names.
RIGID = (("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
         ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"),
         ("right_elbow", "right_wrist"), ("left_hip", "right_hip"))
# The heel hangs from the ankle on one bone. The toe points the keypoint sets have (BlazePose's foot index,
# BODY_25's big toe) are the tips of the toes, which bend at the ball of the foot: the heel-to-tip distance
# shortens as the heel lifts, so it is not held.
FOOT = (("left_ankle", "left_heel"), ("right_ankle", "right_heel"))
PIXEL_SD = 8.0     # px: BlazePose places a landmark within about 9 px (median) on 1088x1920 frames
LENGTH_SD = 0.02   # a segment's length may differ from the take's by about 2% (skin over the joint, landmark placement)
HUBER = 2.0        # image errors beyond this many PIXEL_SD count linearly
ROUNDS = 4         # Gauss-Newton steps; the take's lengths are re-measured before each
CHUNK = 256        # frames solved at once (bounded memory on long takes)


def rigid_segments(joint_set: JointSet) -> list[tuple[int, int]]:
    """The rigid segments this keypoint set has, as index pairs."""
    alias = ALIASES[joint_set.name]
    out = []
    for a, b in RIGID + FOOT:
        if a in alias and b in alias and joint_set.has(alias[a]) and joint_set.has(alias[b]):
            out.append((joint_set.index(alias[a]), joint_set.index(alias[b])))
    return out


def hold_lengths(points: np.ndarray, obs: np.ndarray, weights: np.ndarray, poses: np.ndarray, focal: np.ndarray,
                 joint_set: JointSet, *, pixel_sd: float = PIXEL_SD, length_sd: float = LENGTH_SD,
                 rounds: int = ROUNDS) -> tuple[np.ndarray, np.ndarray]:
    """Refit the keypoints on rigid segments to the cameras and to one length per segment.

    Args:
        points: ``(T, K, 3)`` triangulated keypoints, the calibration's world frame, metres (NaN: missing).
        obs: ``(C, T, K, 2)`` normalised undistorted image coordinates (NaN, or any value where the weight is 0,
            where a camera has none).
        weights: ``(C, T, K)`` trust in each detection (confidence; 0 for cameras that did not agree).
        poses: ``(C, 3, 4)`` ``[R | t]``; ``focal``: ``(C,)`` pixels.
        length_sd: the segments' allowed spread, relative to their length (0 disables the refit).
    Returns:
        the refitted points ``(T, K, 3)`` (the others unchanged, missing ones still NaN) and the take's
        segment lengths ``(S,)`` in ``rigid_segments`` order.
    """
    segs = rigid_segments(joint_set)
    out = points.copy()
    if not segs or length_sd <= 0:
        return out, np.zeros(0)
    used = sorted({k for s in segs for k in s})
    slot = {k: i for i, k in enumerate(used)}
    X = points[:, used].copy()                        # (T, P, 3)
    known = np.all(np.isfinite(X), axis=-1)           # (T, P)
    X = np.where(known[..., None], X, 0.0)
    seen = np.all(np.isfinite(obs[:, :, used]), axis=-1)  # a detection without coordinates counts for nothing
    o = np.where(seen[..., None], obs[:, :, used], 0.0)  # (C, T, P, 2)
    w = np.where(known[None] & seen & np.isfinite(weights[:, :, used]), weights[:, :, used], 0.0)
    ia = np.array([slot[a] for a, _ in segs])
    ib = np.array([slot[b] for _, b in segs])
    both = known[:, ia] & known[:, ib]                 # (T, S)
    T = X.shape[0]
    lengths = np.zeros(len(segs))
    for _ in range(rounds):
        ln = np.linalg.norm(X[:, ia] - X[:, ib], axis=-1)
        for s in range(len(segs)):
            lengths[s] = np.median(ln[both[:, s], s]) if both[:, s].any() else 0.0
        # With the take's lengths fixed the frames are independent: solved a chunk at a time, so a long take
        # needs no more memory than ``CHUNK`` frames.
        for a in range(0, T, CHUNK):
            f = slice(a, min(T, a + CHUNK))
            X[f] += _step(X[f], o[:, f], w[:, f], known[f], both[f], poses, focal, ia, ib, lengths, pixel_sd, length_sd)
    out[:, used] = np.where(known[..., None], X, np.nan)
    return out, lengths


def _step(X: np.ndarray, o: np.ndarray, w: np.ndarray, known: np.ndarray, both: np.ndarray, poses: np.ndarray,
          focal: np.ndarray, ia: np.ndarray, ib: np.ndarray, lengths: np.ndarray, pixel_sd: float,
          length_sd: float) -> np.ndarray:
    """One Gauss-Newton step ``(T, P, 3)`` for the points ``X (T, P, 3)`` of ``T`` frames (see ``hold_lengths``)."""
    T, P = known.shape
    R, t = poses[:, :, :3], poses[:, :, 3]
    H = np.zeros((T, P, 3, P, 3))
    g = np.zeros((T, P, 3))
    # the cameras: r = sqrt(w) (proj - obs) f / pixel_sd, per camera and point
    cam = np.einsum("cij,tpj->ctpi", R, X) + t[:, None, None, :]
    z = np.maximum(cam[..., 2], 1e-6)
    proj = cam[..., :2] / z[..., None]
    scale = focal[:, None, None] / pixel_sd
    res = (proj - o) * scale[..., None]                                    # (C, T, P, 2)
    size = np.linalg.norm(res, axis=-1)
    huber = np.where(size > HUBER, HUBER / np.maximum(size, 1e-12), 1.0)
    ww = w * huber                                                          # (C, T, P)
    Jp = np.zeros(cam.shape[:3] + (2, 3))
    Jp[..., 0, 0] = 1.0 / z
    Jp[..., 1, 1] = 1.0 / z
    Jp[..., 0, 2] = -cam[..., 0] / z ** 2
    Jp[..., 1, 2] = -cam[..., 1] / z ** 2
    J = np.einsum("ctpab,cbj->ctpaj", Jp, R) * scale[..., None, None]     # (C, T, P, 2, 3)
    block = np.einsum("ctp,ctpai,ctpaj->tpij", ww, J, J)
    g += np.einsum("ctp,ctpai,ctpa->tpi", ww, J, res)
    idx = np.arange(P)
    H[:, idx, :, idx, :] += block.transpose(1, 0, 2, 3)
    # the segments: r = (length - L) / (length_sd L)
    d = X[:, ia] - X[:, ib]                                                 # (T, S, 3)
    ln = np.linalg.norm(d, axis=-1)
    sd = length_sd * np.maximum(lengths, 1e-3)
    u = d / np.maximum(ln, 1e-9)[..., None]
    r = np.where(both, (ln - lengths) / sd, 0.0)
    uu = np.einsum("tsi,tsj->tsij", u, u) * (both / sd ** 2)[..., None, None]
    gu = u * (r / sd)[..., None]
    for s, (a, b) in enumerate(zip(ia, ib)):
        H[:, a, :, a, :] += uu[:, s]
        H[:, b, :, b, :] += uu[:, s]
        H[:, a, :, b, :] -= uu[:, s]
        H[:, b, :, a, :] -= uu[:, s]
        g[:, a] += gu[:, s]
        g[:, b] -= gu[:, s]
    # Missing points stay put (a huge diagonal); the tiny one elsewhere only keeps the system solvable where
    # a point has neither a camera nor a segment (one camera's term is about 1e3, a segment's 1e4).
    Hm = H.reshape(T, 3 * P, 3 * P)
    Hm[:, np.arange(3 * P), np.arange(3 * P)] += np.repeat(np.where(known, 1e-3, 1e6), 3, axis=1)
    step = np.linalg.solve(Hm, -g.reshape(T, 3 * P, 1))[..., 0].reshape(T, P, 3)
    return np.where(known[..., None], step, 0.0)
