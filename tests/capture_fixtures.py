"""Shared by the capture tests: real clips on the canonical body and their synthetic footage (cached per process)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from lmm_core.capture import synthetic as S
from lmm_core.capture.keypoints import JointSet

TEST_DATA = Path(__file__).resolve().parent / "data"
HOP = TEST_DATA / "cmu_131_03_hop_excerpt.bvh.xz"        # CMU, 120 fps, 3 s
IDLE = TEST_DATA / "reactidle_001_acted_excerpt.bvh.xz"  # ReActIdle, 24 fps, 10 s

# The body keypoints COCO-17 marks directly (hips, knees, ankles, shoulders, elbows, wrists), canonical indices.
OBSERVED = (1, 2, 4, 5, 7, 8, 16, 17, 18, 19, 20, 21)


@lru_cache(maxsize=8)
def source(path: str = str(HOP), fps: float = 30.0, frames: int | None = None, start: int = 0):
    """A real clip on the canonical body at ``fps``."""
    return S.source_motion(path, fps=fps, start=start, frames=frames)


def footage(motion, joint_set: JointSet, cameras: int = 4, corruption: S.Corruption = S.Corruption(), seed: int = 0):
    """``(points3d, calibration, keypoints, true offsets)`` of a motion filmed by a synthetic camera ring."""
    P = S.keypoints_3d(motion, joint_set)
    calib = S.camera_ring(cameras, P, seed=seed)
    kp, offsets = S.render(P, calib, joint_set, corruption, seed=seed + 1, fps=motion.fps)
    return P, calib, kp, offsets


def overlap(result, motion) -> tuple[slice, slice]:
    """Frames of the result and of the source motion that show the same instants (the result's frame
    ``k`` is the first camera's frame ``start + k``, which the synthetic cameras put at source frame ``start + k``)."""
    a = max(0, -result.start)
    b = min(result.motion.num_frames, motion.num_frames - result.start)
    return slice(a, b), slice(result.start + a, result.start + b)


def mpjpe_mm(a: np.ndarray, b: np.ndarray) -> float:
    return float(1000 * np.nanmean(np.linalg.norm(a - b, axis=-1)))
